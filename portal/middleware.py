"""Request id (and the request's log line) and current-partner resolution."""

import re
import time
import uuid

from django.utils.functional import empty

from portal.logs import log_context, log_context_bind, log_request_line


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

    return Membership.objects.select_related("partner").filter(user=user).first()


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
