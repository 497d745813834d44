"""The helpers every app's API router shares (SPEC §10): bearer-token auth, Partner Center's
error body and the errors that produce it, the schemas and validators of request bodies, the
collection envelope. It imports no app but ``portal``'s own low-level modules; the NinjaAPI
instance, its error handlers and the mounting of every router are ``config.api``'s.

Rules enforced with these helpers, for every router:

- a request carries ``Authorization: Bearer <token>``; the token acts as its user, with that
  user's partner and roles (``request.user``, ``request.membership``, ``request.partner``);
  a missing, unknown or revoked token is 401, a user without a membership 403;
- every error answers ``{"code", "description", "data"}`` with a fitting status, never a 500
  for bad input: routers raise ``ApiError`` (or a subclass) for their domain failures;
- a partner-owned object outside the caller's scope is 404, exactly like an unknown one;
- calls are throttled per token, per client address, and per address that sends bad tokens
  (``portal.throttles``): over a rate, 429 with ``Retry-After``.
"""

import datetime
import math
import re
import uuid
from typing import Annotated

from django.utils.translation import gettext_lazy as _
from ninja import Schema
from ninja.responses import codes_4xx
from ninja.schema import DjangoGetter
from ninja.security import HttpBearer
from pydantic import BeforeValidator, TypeAdapter, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from portal import permissions
from portal.logs import log_context_bind
from portal.errors import ErrorCode, PortalError
from portal.models import Customer
from portal.throttles import AddressRateThrottle, AuthFailureThrottle
from portal.tokens import api_token_authenticate

UNAUTHORIZED_MESSAGE = _("Send a valid API token: Authorization: Bearer <token>. The token is missing, unknown or revoked.")
NOT_FOUND_MESSAGE = _("Not found.")
CUSTOMER_NOT_FOUND_MESSAGE = _("No customer with tenant id %(tenant_id)s.")
INVALID_JSON_MESSAGE = _("The request body is not valid JSON: %(error)s.")
UNPARSABLE_BODY_MESSAGE = _("The request body could not be read as JSON.")
REQUEST_TOO_LARGE_MESSAGE = _("The request body is larger than the %(max)s bytes accepted. Send it in smaller requests.")
INVALID_INPUT_MESSAGE = _("Invalid request input: %(fields)s.")
THROTTLED_MESSAGE = _("Too many requests. Retry after %(seconds)s seconds.")
INTERNAL_ERROR_MESSAGE = _("Something went wrong on our side. Quote request id %(request_id)s to the operator.")


class ApiError(PortalError):
    """A failure only the API has (a request it cannot read, a missing token): services raise
    ``PortalError``, routers this or a subclass with a fixed code/status; the handler of
    ``PortalError`` answers both with Partner Center's error body."""


class ApiNotFound(ApiError):
    status = 404
    code = ErrorCode.NOT_FOUND


class ApiForbidden(ApiError):
    status = 403
    code = ErrorCode.FORBIDDEN


class ApiUnauthorized(ApiError):
    status = 401
    code = ErrorCode.UNAUTHORIZED


class ApiThrottled(ApiError):
    """Over a rate: 429 with ``Retry-After`` (whole seconds, at least 1)."""

    status = 429
    code = ErrorCode.THROTTLED

    def __init__(self, retry_after):
        self.retry_after = max(1, math.ceil(retry_after or 1))
        super().__init__(description=THROTTLED_MESSAGE % {"seconds": self.retry_after})


# --- Schemas shared by routers ------------------------------------------------------------
# The schema says exactly what an operation accepts (issue 11): a body's objects are objects,
# dates are ISO dates, and a code the operation reads in any letter case (Partner Center
# writes "Monthly" and "monthly") is documented with the pattern it really matches.


OBJECT_EXPECTED = _("Input should be a JSON object")
DATE_EXPECTED = _("Input should be a date written YYYY-MM-DD")


class InputSchema(Schema):
    """A request body's object. Only a JSON object validates: ninja's ``Schema`` reads the
    attributes of any value, so ``"product": 5`` passed as an object whose fields are all
    missing."""

    @model_validator(mode="before")
    @classmethod
    def _a_json_object(cls, value):
        # ninja's own validator has already wrapped the value in its attribute reader.
        received = value._obj if isinstance(value, DjangoGetter) else value
        if isinstance(received, (dict, Schema)):
            return value
        raise PydanticCustomError("object_type", str(OBJECT_EXPECTED))


# A date is written YYYY-MM-DD, or as Partner Center writes one in a resource (its
# customTermEndDates answer 2026-10-31T00:00:00, which a client sends back in a cart line).
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T00:00:00Z?)?$"


def _date_text(value):
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str) and re.fullmatch(DATE_PATTERN, value):
        return value[:10]
    raise PydanticCustomError("date_type", str(DATE_EXPECTED))


# Not a number of seconds, nor another time of day (pydantic would read both).
IsoDate = Annotated[
    datetime.date,
    BeforeValidator(_date_text),
    WithJsonSchema({"type": "string", "pattern": DATE_PATTERN, "description": "YYYY-MM-DD (or YYYY-MM-DDT00:00:00)."}),
]


def documented(annotation=str, **json_schema):
    """``annotation`` documented with ``json_schema`` (a pattern, an enum, bounds) that the
    operation checks itself, to answer with Partner Center's codes and words rather than
    pydantic's. Tests hold the two to the same values."""
    return Annotated[annotation, WithJsonSchema({**TypeAdapter(annotation).json_schema(), **json_schema})]


def any_case(*values, optional=False):
    """The pattern of ``values`` in any letter case, with surrounding spaces (how operations
    compare codes: ``value.strip().lower()``); ``optional`` also allows the empty string."""
    words = "|".join(
        "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in value) for value in values
    )
    return rf"^(?:\s*(?:{words})\s*){'?' if optional else ''}$"


class ErrorOut(Schema):
    code: int | str
    description: str
    data: list = []


class LinkOut(Schema):
    uri: str
    method: str = "GET"
    headers: list = []


class AttributesOut(Schema):
    objectType: str


def responses(schema, status=200):
    """An operation's ``response=``: ``schema`` on success, Partner Center's error body on any
    4xx, so the OpenAPI schema documents both."""
    return {status: schema, codes_4xx: ErrorOut}


def error_body(code, description, data=None):
    return {"code": code, "description": str(description), "data": list(data or [])}


def collection(items):
    """Partner Center's collection envelope around ``items`` (a list, already serialised)."""
    items = list(items)
    return {"totalCount": len(items), "items": items, "attributes": {"objectType": "Collection"}}


def collection_schema(item_schema):
    """The OpenAPI shape of ``collection(items of item_schema)``."""
    return type(
        f"{item_schema.__name__}Collection",
        (Schema,),
        {"__annotations__": {"totalCount": int, "items": list[item_schema], "attributes": AttributesOut}},
    )


def link(uri, method="GET"):
    return {"uri": uri, "method": method, "headers": []}


def attributes(object_type):
    return {"objectType": object_type}


# --- Auth ---------------------------------------------------------------------------------


_address_throttle = AddressRateThrottle()
_auth_failures = AuthFailureThrottle()


class ApiTokenAuth(HttpBearer):
    """Bearer token → the token's user, membership and partner on the request, as the session
    middleware does for the pages; a user without a membership is refused (403).

    Before the token is read, the client address must be under its rates (every call, and calls
    with bad tokens); a missing, unknown or revoked token counts against the second."""

    def __call__(self, request):
        if _auth_failures.exceeded(request):
            raise ApiThrottled(_auth_failures.wait())
        if not _address_throttle.allow_request(request):
            raise ApiThrottled(_address_throttle.wait())
        result = super().__call__(request)
        if result is None:
            _auth_failures.record(request)
        return result

    def authenticate(self, request, token):
        api_token = api_token_authenticate(token.strip())
        if api_token is None:
            return None
        user = api_token.user
        membership = getattr(user, "membership", None)
        request.user = user
        request.membership = membership
        request.partner = membership.partner if membership else None
        log_context_bind(user=user.pk, partner=request.partner.mpn_id if request.partner else "")
        if membership is None:
            raise ApiForbidden(description=permissions.denial_reason(None, permissions.VIEW))
        return api_token


def require(request, action):
    """403 with the reason from the role table when the caller may not do ``action``."""
    if not permissions.can(request.membership, action):
        raise ApiForbidden(description=permissions.denial_reason(request.membership, action))


def customer_or_404(request, tenant_id):
    """The caller's customer with ``tenant_id``; a malformed, unknown or another partner's
    tenant id is the same 404 (ids must not leak)."""
    not_found = ApiNotFound(
        code=ErrorCode.CUSTOMER_NOT_FOUND, description=CUSTOMER_NOT_FOUND_MESSAGE % {"tenant_id": tenant_id}
    )
    try:
        tenant_uuid = uuid.UUID(str(tenant_id))
    except ValueError:
        raise not_found from None
    customer = Customer.objects.transacted_by(request.partner).filter(tenant_id=tenant_uuid).first()
    if customer is None:
        raise not_found
    return customer
