"""The JSON API under ``/v1/`` (SPEC §10), assembled: the NinjaAPI instance, its error
handlers (every failure answers Partner Center's error body, ``portal.api.error_body``) and
every app's router. ``config.urls`` serves ``api.urls`` at ``v1/``.

This module sits above every app: it imports the routers, and no app imports it. The helpers
the routers share (auth, errors, schemas, pagination of collections) are ``portal.api``'s.
To add an app's router, add it at the bottom (explicit, so "find usages" finds every endpoint).
"""

import json
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from billing.api import router as usage_router
from billing.reconciliation_api import router as reconciliation_router
from catalog.api import router as catalog_router
from overage.api import router as overage_router
from portal import permissions
from portal.api import (
    INTERNAL_ERROR_MESSAGE,
    INVALID_INPUT_MESSAGE,
    INVALID_JSON_MESSAGE,
    NOT_FOUND_MESSAGE,
    REQUEST_TOO_LARGE_MESSAGE,
    UNAUTHORIZED_MESSAGE,
    UNPARSABLE_BODY_MESSAGE,
    ApiError,
    ApiForbidden,
    ApiNotFound,
    ApiThrottled,
    ApiTokenAuth,
    ApiUnauthorized,
)
from portal.errors import ErrorCode, PortalError
from portal.api_customers import router as customers_router
from portal.throttles import TokenRateThrottle
from subscriptions.api import router as subscriptions_router

logger = logging.getLogger(__name__)

api = NinjaAPI(
    title="Partner portal API",
    version="1.0",
    description="Partner Center shaped JSON API. Authenticate with `Authorization: Bearer <token>`.",
    auth=ApiTokenAuth(),
    throttle=[TokenRateThrottle()],
    urls_namespace="v1",
    openapi_url="/openapi.json",
    docs_url="/docs",
)


def _field_name(loc):
    # ninja's loc is (source, field, ...): ("query", "country") → "country (query)"
    source, *path = [str(part) for part in loc] or ["body"]
    return f"{'.'.join(path) or source} ({source})" if path else source


@api.exception_handler(PortalError)
def _api_error(request, exc):
    response = api.create_response(request, exc.api_body(), status=exc.status)
    if exc.status == 401:
        response["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, ApiThrottled):
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(AuthenticationError)
def _authentication_error(request, exc):
    return _api_error(request, ApiUnauthorized(description=UNAUTHORIZED_MESSAGE))


@api.exception_handler(ValidationError)
def _validation_error(request, exc):
    details = [{"field": _field_name(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors]
    fields = "; ".join(f"{d['field']}: {d['message']}" for d in details)
    return _api_error(
        request, ApiError(ErrorCode.INVALID_INPUT, INVALID_INPUT_MESSAGE % {"fields": fields}, 400, details)
    )


@api.exception_handler(Throttled)
def _throttled(request, exc):
    # ninja's per-operation throttles (the token rate); ninja sets Retry-After itself as well.
    return _api_error(request, ApiThrottled(exc.wait))


@api.exception_handler(HttpError)
def _http_error(request, exc):
    # ninja raises HttpError(400) for a body it cannot parse; say what is wrong with it.
    if exc.status_code == 400 and isinstance(exc.__cause__, json.JSONDecodeError):
        description = INVALID_JSON_MESSAGE % {"error": exc.__cause__}
    elif exc.status_code == 400 and str(exc).startswith("Cannot parse request body"):
        description = UNPARSABLE_BODY_MESSAGE
    else:
        description = str(exc)
    code = ErrorCode.INVALID_INPUT if exc.status_code == 400 else exc.status_code
    return _api_error(request, ApiError(code, description, exc.status_code))


@api.exception_handler(RequestDataTooBig)
def _request_too_large(request, exc):
    # Django will not read a body over DATA_UPLOAD_MAX_MEMORY_SIZE: the caller's fault, not a 500.
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return _api_error(request, ApiError(ErrorCode.INVALID_INPUT, REQUEST_TOO_LARGE_MESSAGE % {"max": limit}, 413))


@api.exception_handler(Http404)
def _not_found(request, exc):
    return _api_error(request, ApiNotFound(description=NOT_FOUND_MESSAGE))


@api.exception_handler(PermissionDenied)
def _permission_denied(request, exc):
    reason = str(exc) or permissions.denial_reason(getattr(request, "membership", None), permissions.VIEW)
    return _api_error(request, ApiForbidden(description=reason))


@api.exception_handler(Exception)
def _unexpected(request, exc):
    # A bug, not bad input: log it with the request id the caller got, answer PC's body.
    request_id = getattr(request, "request_id", "")
    logger.exception("Unhandled API error (request id %s)", request_id)
    return _api_error(
        request, ApiError(ErrorCode.INTERNAL_ERROR, INTERNAL_ERROR_MESSAGE % {"request_id": request_id}, 500)
    )


# --- Every app's router ---------------------------------------------------------------------

api.add_router("/products", catalog_router)
# Before any router with /customers/{tenantId}/subscriptions/{subscriptionId}: the
# fixed path .../subscriptions/overage must not be taken for a subscription id.
api.add_router("/customers", overage_router)
api.add_router("/customers", customers_router)
# After the overage router (see above); carts, checkout and subscriptions.
api.add_router("/customers", subscriptions_router)
api.add_router("/usage", usage_router)
api.add_router("/reconciliation", reconciliation_router)
