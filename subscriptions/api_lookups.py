"""What the operations of ``subscriptions/api.py`` read from the request: the caller's carts
and subscriptions of a customer (scoped: another partner's or another customer's object is the
same 404), the transaction reseller the cart's lines name, the lines and the idempotency key.
"""

from django.db.models import Prefetch
from django.utils.http import parse_etags
from django.utils.translation import gettext_lazy as _

from portal.api import ApiError, ApiNotFound
from portal.errors import RESELLER_NOT_LINKED, ErrorCode
from portal.models import Partner
from subscriptions import errors
from subscriptions.api_json import _cycle, _term, _uuid_or_none, etag
from subscriptions.api_schemas import TRANSACTION_RESELLER_KEYS
from subscriptions.models import Cart, CartLine, SeatChange, Subscription
from subscriptions.services.cart import LineInput

CART_NOT_FOUND_MESSAGE = _("Cart %(id)s was not found for this customer.")
SUBSCRIPTION_NOT_FOUND_MESSAGE = _("Subscription %(id)s was not found for this customer.")
PARTICIPANT_NOT_SUPPORTED = _("Participant type '%(key)s' is not supported. Use TransactionReseller.")
RESELLERS_DIFFER = _("Every line item of a cart must name the same transaction reseller.")
IDEMPOTENCY_KEY_TOO_LONG = _("The Idempotency-Key (or MS-RequestId) header can be at most 100 characters.")


def _carts(request, customer):
    lines = CartLine.objects.select_related("availability__sku").order_by("line_number")
    return (
        Cart.objects.owned_by(request.partner)
        .filter(customer=customer)
        .select_related("customer", "reseller", "created_by")
        .prefetch_related(Prefetch("lines", queryset=lines))
    )


def _cart_or_404(request, customer, cart_id):
    """The caller's cart of this customer; a malformed, unknown, another customer's or
    another partner's cart id is the same 404."""
    cart_uuid = _uuid_or_none(cart_id)
    cart = _carts(request, customer).filter(pk=cart_uuid).first() if cart_uuid else None
    if cart is None:
        raise ApiNotFound(ErrorCode.CART_NOT_ACTIVE, CART_NOT_FOUND_MESSAGE, params={"id": cart_id})
    return cart


def _subscriptions(request, customer):
    seat_changes = SeatChange.objects.order_by("occurred_at", "id")
    return (
        Subscription.objects.transacted_by(request.partner)
        .filter(customer=customer)
        .select_related("customer", "reseller", "sku__product", "availability__sku")
        .prefetch_related(Prefetch("seat_changes", queryset=seat_changes))
    )


def _if_match_names(header, subscription):
    etags = parse_etags(header)
    return "*" in etags or etag(subscription) in etags


def _subscription_or_404(request, customer, subscription_id):
    subscription_uuid = _uuid_or_none(subscription_id)
    subscription = (
        _subscriptions(request, customer).filter(pk=subscription_uuid).first() if subscription_uuid else None
    )
    if subscription is None:
        raise ApiNotFound(
            ErrorCode.SUBSCRIPTION_NOT_FOUND, SUBSCRIPTION_NOT_FOUND_MESSAGE % {"id": subscription_id}
        )
    return subscription


def _transaction_reseller(request, body):
    """The indirect reseller the lines name as ``TransactionReseller`` (one for the whole
    cart), looked up among the caller's own resellers; None when no line names one."""
    mpns = set()
    for line in body.lineItems:
        for participant in line.participants:
            if participant.key.strip().lower() not in TRANSACTION_RESELLER_KEYS:
                raise ApiError(ErrorCode.INVALID_INPUT, PARTICIPANT_NOT_SUPPORTED, params={"key": participant.key})
            mpns.add(participant.value.strip())
    if not mpns:
        return None
    if len(mpns) > 1:
        raise ApiError(ErrorCode.INVALID_INPUT, RESELLERS_DIFFER)
    mpn = mpns.pop()
    if not request.partner.is_indirect_provider:
        raise ApiError(ErrorCode.INVALID_RESELLER, errors.RESELLER_NOT_ALLOWED)
    reseller = Partner.objects.resellers_of(request.partner).filter(mpn_id=mpn).first()
    if reseller is None:
        raise ApiError(ErrorCode.INVALID_RESELLER, RESELLER_NOT_LINKED, params={"mpn": mpn})
    return reseller


def _line_inputs(body):
    return [
        LineInput(
            catalog_item_id=line.catalogItemId.strip().upper(),
            quantity=line.quantity,
            term_duration=_term(line.termDuration),
            billing_cycle=_cycle(line.billingCycle),
            custom_term_end_date=line.customTermEndDate,
            friendly_name=line.friendlyName or "",
        )
        for line in body.lineItems
    ]


def _idempotency_key(request):
    key = (request.headers.get("Idempotency-Key") or request.headers.get("MS-RequestId") or "").strip()
    if len(key) > 100:
        raise ApiError(ErrorCode.INVALID_INPUT, IDEMPOTENCY_KEY_TOO_LONG)
    return key or None
