"""Request id (and the request's log line), current-partner resolution, the user's language
and time zone, and the refusal of control characters in input."""

import json
import re
import time
import uuid
import zoneinfo

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.http import JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.functional import empty
from django.utils.translation import gettext_lazy as _
from django_htmx.http import reswap, retarget

from portal import preferences
from portal.api import error_body
from portal.errors import ErrorCode
from portal.htmx import REFUSED
from portal.logs import log_context, log_context_bind, log_request_line
from portal.text import control_character


# The API answers in English and UTC whatever the user chose (SPEC's error texts are English).
API_PATH_PREFIX = "/v1/"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9\-]{1,64}$")


def _user_id(request):
    """The signed-in user's id, without loading a user nobody asked for (static files)."""
    user = request.__dict__.get("user")
    if user is None or getattr(user, "_wrapped", None) is empty:
        return ""
    return user.pk if user.is_authenticated else ""


class RequestIdMiddleware:
    """Takes Partner Center's ``MS-RequestId``/``MS-CorrelationId`` when the caller sent
    well-formed ones (else makes a request id), and echoes both on the response. The first
    middleware: every log line of the request carries the id, and the request's own line
    (``portal.logs``) is written here once the answer is known."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        sent = request.headers.get("MS-RequestId", "")
        request.request_id = sent if _REQUEST_ID.match(sent) else str(uuid.uuid4())
        correlation = request.headers.get("MS-CorrelationId", "")
        request.correlation_id = correlation if _REQUEST_ID.match(correlation) else ""
        with log_context(request_id=request.request_id):
            response = self.get_response(request)
            response["MS-RequestId"] = request.request_id
            if request.correlation_id:
                response["MS-CorrelationId"] = request.correlation_id
            partner = getattr(request, "partner", None)
            log_context_bind(user=_user_id(request), partner=partner.mpn_id if partner else "")
            log_request_line(method=request.method, path=request.path, status=response.status_code, started=started)
        return response


def _membership(user):
    if not user.is_authenticated:
        return None
    from portal.models import Membership

    # The user's preference (language, time zone) comes in the same query: UserPreferenceMiddleware.
    return Membership.objects.select_related("partner", "user__preference").filter(user=user).first()


class CurrentPartnerMiddleware:
    """Resolves the user's membership once per request: ``request.membership`` and
    ``request.partner`` (None for anonymous users and users without a membership)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.membership = _membership(request.user)
        request.partner = request.membership.partner if request.membership else None
        log_context_bind(user=_user_id(request), partner=request.partner.mpn_id if request.partner else "")
        return self.get_response(request)


class UserPreferenceMiddleware:
    """Activates the user's language and time zone for the request (``portal.preferences``):
    a saved language wins over the browser's, which ``LocaleMiddleware`` chose before; the time
    zone is the saved one or the partner country's. The API keeps English and UTC. Placed
    after ``CurrentPartnerMiddleware``, whose membership query brings the preference along."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(API_PATH_PREFIX):
            translation.activate(preferences.DEFAULT_LANGUAGE)
            request.LANGUAGE_CODE = preferences.DEFAULT_LANGUAGE
            timezone.deactivate()
            return self.get_response(request)
        preference = _preference(request)
        language = preferences.preferred_language(preference)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        timezone.activate(zoneinfo.ZoneInfo(preferences.preferred_time_zone(preference, request.partner)))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def _preference(request):
    """The preference loaded with the membership; a query only for a user without one."""
    if request.membership is not None:
        try:
            return request.membership.user.preference
        except ObjectDoesNotExist:
            return None
    return preferences.preference_of(request.user)



# --- Control characters -------------------------------------------------------------------

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

CONTROL_CHARACTER_MESSAGE = _(
    "The request was refused: %(where)s contains a control character (%(character)s). Remove it and send "
    "the request again."
)
IN_ADDRESS = _("the address")
IN_QUERY_PARAMETER = _("the query parameter “%(name)s”")
IN_FORM_FIELD = _("the form field “%(name)s”")
IN_JSON_FIELD = _("the JSON field “%(name)s”")
IN_JSON_BODY = _("the JSON body")


class _Refused(Exception):
    def __init__(self, where, field, character):
        self.where, self.field, self.character = where, field, character


def _printable(name):
    # A field name is echoed in the answer: never echo the character refused.
    return "".join("\ufffd" if control_character(c) else c for c in str(name))


def _check(text, where, field, *, line_breaks=False):
    character = control_character(text, line_breaks=line_breaks)
    if character:
        raise _Refused(where, field, character)


def _check_pairs(querydict, where_template, source, *, line_breaks=False):
    for name, values in querydict.lists():
        for text in (name, *values):
            printable = _printable(name)
            _check(text, where_template % {"name": printable}, f"{printable} ({source})", line_breaks=line_breaks)


def _check_json(value, path=""):
    if isinstance(value, str):
        where = IN_JSON_FIELD % {"name": path} if path else IN_JSON_BODY
        _check(value, where, path or "body", line_breaks=True)
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{_printable(key)}" if path else _printable(key)
            _check(str(key), IN_JSON_FIELD % {"name": name}, name)
            _check_json(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]")


def _is_json(content_type):
    return content_type == "application/json" or content_type.endswith("+json")


class RejectControlCharactersMiddleware:
    """Refuses, with a 400 that names the field and the character, any request carrying a
    control character (NUL, the other C0 characters, DEL, C1) or a lone surrogate in:

    - the address (``/v1/products/%00/skus``) and every query-string name and value;
    - every key of an ``application/json`` body, whatever the method;
    - every JSON string and every form field name and value (not uploaded files: their
      importers check their rows), except tab, CR and LF: multi-line text legitimately holds
      them (a textarea sends CR LF). Whether a single-line field accepts them is that field's
      business: a friendly name refuses them, the usage API refuses such a record by its index
      and imports the others.

    One place for the whole portal, before any view reads the input: pages get a 400 page
    (HTMX a message swapped into ``#messages``), ``/v1/`` Partner Center's error body
    (800002). A body that is not JSON, or too large to read, is left to the view to refuse."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            self._inspect(request)
        except _Refused as refused:
            return self._refusal(request, refused)
        return self.get_response(request)

    def _inspect(self, request):
        _check(request.path, IN_ADDRESS, "path")
        _check_pairs(request.GET, IN_QUERY_PARAMETER, "query")
        content_type = request.content_type or ""
        if _is_json(content_type):
            try:
                body = json.loads(request.body or b"null")
            except (ValueError, UnicodeDecodeError, RequestDataTooBig):
                return
            _check_json(body)
        elif request.method == "POST" and content_type in _FORM_TYPES:
            try:
                form = request.POST
            except (MultiPartParserError, RequestDataTooBig):
                return
            _check_pairs(form, IN_FORM_FIELD, "form", line_breaks=True)

    def _refusal(self, request, refused):
        message = CONTROL_CHARACTER_MESSAGE % {"where": refused.where, "character": refused.character}
        if request.path.startswith("/v1/"):
            return JsonResponse(
                error_body(ErrorCode.INVALID_INPUT, message, [{"field": refused.field}]), status=400
            )
        if getattr(request, "htmx", False):
            response = render(request, "partials/alert.html", {"message": message, "level": "danger"}, status=REFUSED)
            return reswap(retarget(response, "#messages"), "innerHTML")
        return render(request, "400.html", {"reason": message}, status=400)
