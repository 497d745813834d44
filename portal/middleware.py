"""Request id and current-partner resolution."""

import re
import uuid


_REQUEST_ID = re.compile(r"^[A-Za-z0-9\-]{1,64}$")


class RequestIdMiddleware:
    """Takes Partner Center's ``MS-RequestId``/``MS-CorrelationId`` when the caller sent
    well-formed ones (else makes a request id), and echoes both on the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        sent = request.headers.get("MS-RequestId", "")
        request.request_id = sent if _REQUEST_ID.match(sent) else str(uuid.uuid4())
        correlation = request.headers.get("MS-CorrelationId", "")
        request.correlation_id = correlation if _REQUEST_ID.match(correlation) else ""
        response = self.get_response(request)
        response["MS-RequestId"] = request.request_id
        if request.correlation_id:
            response["MS-CorrelationId"] = request.correlation_id
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
        return self.get_response(request)
