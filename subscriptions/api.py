"""Carts, checkout and subscriptions under ``/v1/customers/{tenantId}/``, in Partner Center's
shapes (SPEC §4, §5, §10; PARTNER-CENTER.md §4, §6).

Rules enforced here, on top of the services':

- the customer comes out of ``customer_or_404`` and every cart or subscription out of the
  partner's scoped queryset: another partner's (or another customer's) object is 404;
- buying and changing need ``permissions.BUY`` (403 for billing admins, helpdesk agents and
  every user of an indirect reseller); reading needs ``permissions.VIEW``;
- a subscription the partner only sees as reseller of record cannot be changed (403);
- bad input is a 400 with Partner Center's body and writes nothing; a PATCH applies all of its
  fields in one transaction or none of them;
- checkout is idempotent by the ``Idempotency-Key`` header, else ``MS-RequestId``;
- a subscription answers with its ``ETag`` (also ``attributes.etag``); a PATCH with an
  ``If-Match`` that names no current ETag is a 412, and one whose subscription changed
  between this request's read and its write (without If-Match) a 409: nothing is changed.

The router is mounted at ``/customers`` after the overage router: the literal
``/subscriptions/...`` paths must match before ``/subscriptions/{subscription_id}``.
"""

import datetime
import uuid

from django.db import transaction
from django.http import HttpResponse
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.http import parse_etags
from django.utils.translation import gettext_lazy as _
from ninja import Query, Router, Schema, Status
from pydantic import Field, StrictBool, StrictInt

from catalog.models import BillingCycle, TermDuration
from portal import permissions
from portal.api import (
    INVALID_INPUT_CODE,
    ApiError,
    ApiForbidden,
    ApiNotFound,
    AttributesOut,
    InputSchema,
    IsoDate,
    LinkOut,
    any_case,
    attributes,
    collection,
    collection_schema,
    customer_or_404,
    documented,
    link,
    require,
    responses,
)
from portal.errors import ErrorCode
from portal.models import Partner
from subscriptions import errors
from subscriptions.models import Cart, CartLine, Order, SeatChange, Subscription, SubscriptionStatus
from subscriptions.selectors import allowed_custom_term_end_dates
from subscriptions.services.cart import LineInput, cart_create, cart_update
from subscriptions.services.changes import subscription_align_end_date
from subscriptions.services.checkout import cart_checkout
from subscriptions.services.lifecycle import (
    CODE_CHANGED,
    SubscriptionChanged,
    can_cancel,
    cancellation_deadline,
    refundable_batches,
    subscription_cancel,
    subscription_lock,
    subscription_schedule_next_term,
    subscription_set_auto_renew,
    subscription_set_friendly_name,
    subscription_set_quantity,
    subscription_set_status,
)

router = Router(tags=["carts and subscriptions"])

CART_NOT_FOUND_CODE = ErrorCode.CART_NOT_ACTIVE  # PC: unable to retrieve cart
SUBSCRIPTION_NOT_FOUND_CODE = ErrorCode.SUBSCRIPTION_NOT_FOUND
TRANSACTION_RESELLER = "TransactionReseller"
# Partner Center's REST docs spell the participant type in snake case too.
TRANSACTION_RESELLER_KEYS = ("transactionreseller", "transaction_reseller")
# What a PATCH may set ``status`` to: cancel, suspend, reactivate.
PATCHABLE_STATUSES = ("active", "suspended", "deleted")

CART_NOT_FOUND_MESSAGE = _("Cart %(id)s was not found for this customer.")
SUBSCRIPTION_NOT_FOUND_MESSAGE = _("Subscription %(id)s was not found for this customer.")
PRECONDITION_FAILED_CODE = ErrorCode.PRECONDITION_FAILED
SUBSCRIPTION_CHANGED_CODE = CODE_CHANGED
STALE_ETAG_MESSAGE = _(
    "If-Match %(sent)s names no current version of this subscription: it is at ETag %(current)s. GET it again "
    "and make your change from its current state."
)
PARTICIPANT_NOT_SUPPORTED = _("Participant type '%(key)s' is not supported. Use TransactionReseller.")
RESELLERS_DIFFER = _("Every line item of a cart must name the same transaction reseller.")
NOT_TRANSACTING_PARTNER = _(
    "Your organisation is the reseller of record of this subscription, not its transacting partner: "
    "ask your indirect provider to change it."
)
STATUS_NOT_ALLOWED = _("Status '%(status)s' cannot be set. Use active, suspended or deleted.")
START_DATE_IN_PAST = _("term_start_date cannot be in the past.")
START_DATE_TOO_FAR = _("term_start_date is too far in the future.")
IDEMPOTENCY_KEY_TOO_LONG = _("The Idempotency-Key (or MS-RequestId) header can be at most 100 characters.")


# --- Formats ------------------------------------------------------------------------------


def _day(value):
    """A date as Partner Center writes it in a resource: midnight UTC."""
    return f"{value.isoformat()}T00:00:00Z" if value else None


def _instant(value):
    return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z") if value else None


def _cycle(value):
    return str(value or "").strip().lower()


def _term(value):
    return str(value or "").strip().upper()


def _uuid_or_none(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


# --- Request shapes -----------------------------------------------------------------------


# What each code field accepts, for the schema; the operation checks it with PC's messages.
CATALOG_ITEM_ID_PATTERN = r"^\s*[A-Za-z0-9]{12}:[A-Za-z0-9]{4}:[A-Za-z0-9]{1,12}\s*$"
TERM_PATTERN = any_case(*TermDuration.values)
CYCLE_PATTERN = any_case(BillingCycle.MONTHLY, BillingCycle.ANNUAL, BillingCycle.TRIENNIAL)
TERM_TEXT = documented(pattern=TERM_PATTERN, description="P1M, P1Y or P3Y (any letter case).")
CYCLE_TEXT = documented(pattern=CYCLE_PATTERN, description="monthly, annual or triennial (any letter case).")
SEATS = documented(StrictInt, minimum=1)


class ParticipantIn(InputSchema):
    key: documented(pattern=any_case(*TRANSACTION_RESELLER_KEYS), description="TransactionReseller.")
    value: str = Field(..., description="The MPN id of your indirect reseller.")


class CartLineIn(InputSchema):
    catalogItemId: documented(pattern=CATALOG_ITEM_ID_PATTERN, description="productId:skuId:availabilityId.")
    # Strict: "5" or 2.5 is bad input, not five seats or two.
    quantity: documented(StrictInt, minimum=1, maximum=errors.MAX_LINE_QUANTITY)
    termDuration: TERM_TEXT
    billingCycle: CYCLE_TEXT
    customTermEndDate: IsoDate | None = None
    friendlyName: str | None = Field(None, max_length=errors.FRIENDLY_NAME_MAX_LENGTH)
    participants: list[ParticipantIn] = []


class CartIn(InputSchema):
    lineItems: list[CartLineIn] = Field(..., min_length=1)


class NextTermProductIn(InputSchema):
    # Empty means "no change", like a missing field.
    termDuration: documented(pattern=any_case(*TermDuration.values, optional=True)) | None = None
    billingCycle: documented(
        pattern=any_case(BillingCycle.MONTHLY, BillingCycle.ANNUAL, BillingCycle.TRIENNIAL, optional=True)
    ) | None = None


class NextTermIn(InputSchema):
    quantity: SEATS | None = None
    product: NextTermProductIn | None = None
    customTermEndDate: IsoDate | None = None


class SubscriptionPatchIn(InputSchema):
    """Any of these; other fields of a full Subscription resource sent back are ignored."""

    quantity: SEATS | None = None
    autoRenewEnabled: StrictBool | None = None
    status: documented(pattern=any_case(*PATCHABLE_STATUSES), description="active, suspended or deleted.") | None = None
    friendlyName: str | None = Field(None, max_length=errors.FRIENDLY_NAME_MAX_LENGTH)
    scheduledNextTermInstructions: NextTermIn | None = None


class CustomTermEndDatesQuery(Schema):
    term_duration: TERM_TEXT
    term_start_date: IsoDate | None = None
    target_coterm_subscription_id: uuid.UUID | None = None


# --- Response shapes ----------------------------------------------------------------------


class SelfLinksOut(Schema):
    self: LinkOut


class CartErrorOut(Schema):
    errorCode: int
    errorDescription: str


class ParticipantOut(Schema):
    key: str
    value: str


class CartLineOut(Schema):
    id: int
    catalogItemId: str
    quantity: int
    termDuration: str
    billingCycle: str
    customTermEndDate: str | None = None
    friendlyName: str | None = None
    currencyCode: str
    participants: list[ParticipantOut]
    error: CartErrorOut | None = None


class CartOut(Schema):
    id: str
    creationTimestamp: str
    lastModifiedTimestamp: str
    expirationTimestamp: str
    lastModifiedUser: str | None = None
    status: str
    lineItems: list[CartLineOut]
    links: SelfLinksOut
    attributes: AttributesOut


class OrderLineOut(Schema):
    lineItemNumber: int
    offerId: str
    subscriptionId: str | None = None
    termDuration: str
    transactionType: str
    friendlyName: str
    quantity: int
    partnerIdOnRecord: str | None = None


class OrderOut(Schema):
    id: str
    alternateId: str
    referenceCustomerId: str
    billingCycle: str
    currencyCode: str
    lineItems: list[OrderLineOut]
    creationDate: str
    status: str
    transactionType: str
    links: SelfLinksOut
    attributes: AttributesOut


class OrderErrorOut(Schema):
    orderGroupId: str
    code: int
    description: str
    lineItemNumber: int | None = None


class CheckoutResultOut(Schema):
    orders: list[OrderOut]
    orderErrors: list[OrderErrorOut]
    attributes: AttributesOut


class RefundDetailOut(Schema):
    quantity: int
    allowedUntilDateTime: str


class RefundableQuantityOut(Schema):
    totalQuantity: int
    details: list[RefundDetailOut]


class NextTermProductOut(Schema):
    productId: str
    skuId: str
    availabilityId: str | None
    billingCycle: str
    termDuration: str


class NextTermOut(Schema):
    product: NextTermProductOut
    quantity: int
    customTermEndDate: str | None


class ProductTypeOut(Schema):
    id: str
    displayName: str


class SubscriptionAttributesOut(Schema):
    objectType: str
    etag: str


class SubscriptionOut(Schema):
    id: str
    offerId: str
    offerName: str
    friendlyName: str
    quantity: int
    unitType: str
    status: str
    termDuration: str
    billingCycle: str
    effectiveStartDate: str
    commitmentEndDate: str
    creationDate: str
    autoRenewEnabled: bool
    consumptionType: str | None
    refundableQuantity: RefundableQuantityOut
    cancellationAllowedUntilDate: str | None
    scheduledNextTermInstructions: NextTermOut | None
    partnerId: str | None
    isTrial: bool
    productType: ProductTypeOut
    links: SelfLinksOut
    attributes: SubscriptionAttributesOut


class CustomTermEndDateOut(Schema):
    allowedCustomTermEndDateType: str
    allowedCustomTermEndDate: str
    cotermSubscriptionIds: list[str]


SubscriptionCollectionOut = collection_schema(SubscriptionOut)
CustomTermEndDateCollectionOut = collection_schema(CustomTermEndDateOut)


# --- Serialisers --------------------------------------------------------------------------


def _participants(reseller):
    return [{"key": TRANSACTION_RESELLER, "value": reseller.mpn_id}] if reseller else []


def cart_json(cart):
    """Needs ``customer``, ``reseller``, ``created_by`` and the lines with their
    availability's SKU loaded (see ``_carts``)."""
    tenant_id = str(cart.customer.tenant_id)
    currency = cart.customer.currency
    participants = _participants(cart.reseller)
    line_items = []
    for line in cart.lines.all():
        item = {
            "id": line.line_number,
            "catalogItemId": line.availability.catalog_item_id,
            "quantity": line.quantity,
            "termDuration": line.term_duration,
            "billingCycle": line.billing_cycle,
            "customTermEndDate": _day(line.custom_term_end_date),
            "friendlyName": line.friendly_name or None,
            "currencyCode": currency,
            "participants": participants,
        }
        if line.error_code is not None:
            item["error"] = {"errorCode": line.error_code, "errorDescription": line.error_description}
        line_items.append(item)
    # The model keeps the cart's creator only; a later PUT by someone else is in the audit log.
    user = cart.created_by
    return {
        "id": str(cart.pk),
        "creationTimestamp": _instant(cart.created_at),
        "lastModifiedTimestamp": _instant(cart.updated_at),
        "expirationTimestamp": _instant(cart.expires_at),
        "lastModifiedUser": (user.email or user.username) if user else None,
        "status": cart.status,
        "lineItems": line_items,
        "links": {"self": link(f"/customers/{tenant_id}/carts/{cart.pk}")},
        "attributes": attributes("Cart"),
    }


def order_json(order):
    """An order in Partner Center's shape: one line per cart line, each with the
    subscription it created (checkout creates them in line order, with one license each)."""
    tenant_id = str(order.customer.tenant_id)
    lines = list(order.cart.lines.select_related("availability__sku").order_by("line_number"))
    subscription_ids = list(order.subscriptions.order_by("license_id", "purchased_at").values_list("pk", flat=True))
    partner_on_record = order.reseller.mpn_id if order.reseller_id else None
    line_items = [
        {
            "lineItemNumber": line.line_number,
            "offerId": line.availability.catalog_item_id,
            "subscriptionId": str(subscription_ids[n]) if n < len(subscription_ids) else None,
            "termDuration": line.term_duration,
            "transactionType": "New",
            "friendlyName": line.friendly_name,
            "quantity": line.quantity,
            "partnerIdOnRecord": partner_on_record,
        }
        for n, line in enumerate(lines)
    ]
    return {
        "id": str(order.pk),
        # Partner Center's alternate id is a short form of the order id.
        "alternateId": order.pk.hex[:12],
        "referenceCustomerId": tenant_id,
        "billingCycle": lines[0].billing_cycle if lines else "",
        "currencyCode": order.currency,
        "lineItems": line_items,
        "creationDate": _instant(order.created_at),
        "status": "completed",
        "transactionType": "UserPurchase",
        "links": {"self": link(f"/customers/{tenant_id}/orders/{order.pk}")},
        "attributes": attributes("Order"),
    }


def _next_term_json(subscription):
    if not any(
        (
            subscription.next_term_quantity,
            subscription.next_term_duration,
            subscription.next_term_billing_cycle,
            subscription.next_term_end_date,
        )
    ):
        return None
    sku = subscription.sku
    return {
        "product": {
            "productId": sku.product_id,
            "skuId": sku.sku_id,
            "availabilityId": subscription.availability.availability_id if subscription.availability_id else None,
            "billingCycle": subscription.next_term_billing_cycle or subscription.billing_cycle,
            "termDuration": subscription.next_term_duration or subscription.term_duration,
        },
        "quantity": subscription.next_term_quantity or subscription.quantity,
        "customTermEndDate": _day(subscription.next_term_end_date),
    }


def subscription_json(subscription, now):
    """Needs ``customer``, ``reseller``, ``sku__product``, ``availability__sku`` and the
    ``seat_changes`` (in order) loaded: see ``_subscriptions``."""
    tenant_id = str(subscription.customer.tenant_id)
    batches = refundable_batches(subscription, now, seat_changes=list(subscription.seat_changes.all()))
    product = subscription.sku.product
    return {
        "id": str(subscription.pk),
        "offerId": subscription.offer_id,
        "offerName": subscription.sku.title,
        "friendlyName": subscription.friendly_name,
        "quantity": subscription.quantity,
        "unitType": "Licenses",
        "status": subscription.status,
        "termDuration": subscription.term_duration,
        "billingCycle": subscription.billing_cycle,
        "effectiveStartDate": _day(subscription.start_date),
        "commitmentEndDate": _day(subscription.commitment_end_date),
        "creationDate": _instant(subscription.purchased_at),
        "autoRenewEnabled": subscription.auto_renew_enabled,
        "consumptionType": subscription.consumption_type or None,
        "refundableQuantity": {
            "totalQuantity": sum(b.quantity for b in batches),
            "details": [{"quantity": b.quantity, "allowedUntilDateTime": _instant(b.allowed_until)} for b in batches],
        },
        "cancellationAllowedUntilDate": (
            _instant(cancellation_deadline(subscription)) if can_cancel(subscription, now) else None
        ),
        "scheduledNextTermInstructions": _next_term_json(subscription),
        "partnerId": subscription.reseller.mpn_id if subscription.reseller_id else None,
        "isTrial": False,
        "productType": {"id": product.product_type, "displayName": product.product_type},
        "links": {"self": link(f"/customers/{tenant_id}/subscriptions/{subscription.pk}")},
        "attributes": attributes("Subscription") | {"etag": etag(subscription)},
    }


# --- Lookups ------------------------------------------------------------------------------


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
        raise ApiNotFound(CART_NOT_FOUND_CODE, CART_NOT_FOUND_MESSAGE, params={"id": cart_id})
    return cart


def _subscriptions(request, customer):
    seat_changes = SeatChange.objects.order_by("occurred_at", "id")
    return (
        Subscription.objects.transacted_by(request.partner)
        .filter(customer=customer)
        .select_related("customer", "reseller", "sku__product", "availability__sku")
        .prefetch_related(Prefetch("seat_changes", queryset=seat_changes))
    )


def etag(subscription):
    """The subscription's ETag: its version, quoted (a strong validator)."""
    return f'"{subscription.version}"'


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
            SUBSCRIPTION_NOT_FOUND_CODE, SUBSCRIPTION_NOT_FOUND_MESSAGE % {"id": subscription_id}
        )
    return subscription


def _transaction_reseller(request, body):
    """The indirect reseller the lines name as ``TransactionReseller`` (one for the whole
    cart), looked up among the caller's own resellers; None when no line names one."""
    mpns = set()
    for line in body.lineItems:
        for participant in line.participants:
            if participant.key.strip().lower() not in TRANSACTION_RESELLER_KEYS:
                raise ApiError(INVALID_INPUT_CODE, PARTICIPANT_NOT_SUPPORTED, params={"key": participant.key})
            mpns.add(participant.value.strip())
    if not mpns:
        return None
    if len(mpns) > 1:
        raise ApiError(INVALID_INPUT_CODE, RESELLERS_DIFFER)
    mpn = mpns.pop()
    if not request.partner.is_indirect_provider:
        raise ApiError(errors.INVALID_RESELLER, errors.RESELLER_NOT_ALLOWED)
    reseller = Partner.objects.resellers_of(request.partner).filter(mpn_id=mpn).first()
    if reseller is None:
        raise ApiError(errors.INVALID_RESELLER, errors.RESELLER_NOT_LINKED, params={"mpn": mpn})
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
        raise ApiError(INVALID_INPUT_CODE, IDEMPOTENCY_KEY_TOO_LONG)
    return key or None


# --- Carts --------------------------------------------------------------------------------


@router.post(
    "/{tenant_id}/carts", response=responses(CartOut, status=201), exclude_none=True, summary="Create a cart"
)
def create_cart(request, tenant_id: str, body: CartIn):
    """201 with the cart, also when lines carry errors (e.g. 400041: an add-on whose
    prerequisite is not in the customer's tenant). Malformed input writes nothing (400)."""
    customer = customer_or_404(request, tenant_id)
    require(request, permissions.BUY)
    reseller = _transaction_reseller(request, body)
    cart = cart_create(
        partner=request.partner,
        customer=customer,
        acting_user=request.user,
        lines=_line_inputs(body),
        reseller=reseller,
        request_id=request.request_id,
    )
    return Status(201, cart_json(_carts(request, customer).get(pk=cart.pk)))


@router.get("/{tenant_id}/carts/{cart_id}", response=responses(CartOut), exclude_none=True, summary="Get a cart")
def get_cart(request, tenant_id: str, cart_id: str):
    customer = customer_or_404(request, tenant_id)
    require(request, permissions.VIEW)
    return cart_json(_cart_or_404(request, customer, cart_id))


@router.put(
    "/{tenant_id}/carts/{cart_id}", response=responses(CartOut), exclude_none=True, summary="Replace a cart's lines"
)
def update_cart(request, tenant_id: str, cart_id: str, body: CartIn):
    """Replaces every line of an Active cart (Partner Center's PUT of the full cart). The
    transaction reseller stays the cart's own."""
    customer = customer_or_404(request, tenant_id)
    cart = _cart_or_404(request, customer, cart_id)
    require(request, permissions.BUY)
    reseller = _transaction_reseller(request, body)
    if reseller is not None and reseller.pk != cart.reseller_id:
        raise ApiError(INVALID_INPUT_CODE, RESELLERS_DIFFER)
    cart_update(cart=cart, acting_user=request.user, lines=_line_inputs(body), request_id=request.request_id)
    return cart_json(_carts(request, customer).get(pk=cart.pk))


@router.post(
    "/{tenant_id}/carts/{cart_id}/checkout",
    response=responses(CheckoutResultOut),
    exclude_none=True,
    summary="Check out a cart",
)
def checkout_cart(request, tenant_id: str, cart_id: str):
    """One order for the cart, with one new subscription per line. A retried request (same
    ``Idempotency-Key`` or ``MS-RequestId``) or a cart already checked out answers the same
    order. Lines with errors create nothing: ``orderErrors`` says why."""
    customer = customer_or_404(request, tenant_id)
    cart = _cart_or_404(request, customer, cart_id)
    require(request, permissions.BUY)
    result = cart_checkout(
        cart=cart,
        acting_user=request.user,
        idempotency_key=_idempotency_key(request),
        request_id=request.request_id,
    )
    orders = []
    if result.order is not None:
        scoped = Order.objects.transacted_by(request.partner)
        order = scoped.select_related("customer", "reseller", "cart").get(pk=result.order.pk)
        orders.append(order_json(order))
    return {"orders": orders, "orderErrors": result.order_errors, "attributes": attributes("CartCheckoutResult")}


# --- Subscriptions ------------------------------------------------------------------------
# The literal paths come before "/{tenant_id}/subscriptions/{subscription_id}", which would
# otherwise capture them.


@router.get(
    "/{tenant_id}/subscriptions/customTermEndDates",
    response=responses(CustomTermEndDateCollectionOut),
    summary="List the allowed custom term end dates",
)
def list_custom_term_end_dates(request, tenant_id: str, query: Query[CustomTermEndDatesQuery]):
    """End dates a new line of ``term_duration`` may use (coterminosity): month ends, and the
    end dates of the customer's active subscriptions of this partner (an annual or triennial
    term never aligns to a monthly one). ``target_coterm_subscription_id`` keeps that
    subscription's date only."""
    customer = customer_or_404(request, tenant_id)
    require(request, permissions.VIEW)
    term = _term(query.term_duration)
    if term not in TermDuration.values:
        raise ApiError(INVALID_INPUT_CODE, errors.INVALID_TERM, params={"term": query.term_duration})
    today = timezone.localdate()
    start = query.term_start_date or today
    if start < today:
        raise ApiError(INVALID_INPUT_CODE, START_DATE_IN_PAST)
    if start.year > datetime.date.max.year - 4:  # a triennial term from it would end past year 9999
        raise ApiError(INVALID_INPUT_CODE, START_DATE_TOO_FAR)
    items = allowed_custom_term_end_dates(
        customer=customer, partner=request.partner, term_duration=term, start_date=start
    )
    if query.target_coterm_subscription_id:
        target = str(query.target_coterm_subscription_id)
        items = [i for i in items if target in i["cotermSubscriptionIds"]]
    return collection(
        {
            "allowedCustomTermEndDateType": item["allowedCustomTermEndDateType"],
            "allowedCustomTermEndDate": f"{item['allowedCustomTermEndDate'].isoformat()}T00:00:00",
            "cotermSubscriptionIds": list(item["cotermSubscriptionIds"]),
        }
        for item in items
    )


@router.get(
    "/{tenant_id}/subscriptions",
    response=responses(SubscriptionCollectionOut),
    summary="List a customer's subscriptions",
)
def list_subscriptions(request, tenant_id: str):
    """The customer's subscriptions this partner transacts or is reseller of record of,
    the Azure plan included. A fixed number of queries, whatever their number."""
    customer = customer_or_404(request, tenant_id)
    require(request, permissions.VIEW)
    now = timezone.now()
    subscriptions = _subscriptions(request, customer).order_by("purchased_at", "pk")
    return collection(subscription_json(s, now) for s in subscriptions)


@router.get(
    "/{tenant_id}/subscriptions/{subscription_id}", response=responses(SubscriptionOut), summary="Get a subscription"
)
def get_subscription(request, response: HttpResponse, tenant_id: str, subscription_id: str):
    customer = customer_or_404(request, tenant_id)
    require(request, permissions.VIEW)
    subscription = _subscription_or_404(request, customer, subscription_id)
    response["ETag"] = etag(subscription)
    return subscription_json(subscription, timezone.now())


def _status(value):
    status = str(value).strip().lower()
    if status not in PATCHABLE_STATUSES:
        raise ApiError(INVALID_INPUT_CODE, STATUS_NOT_ALLOWED, params={"status": value})
    return SubscriptionStatus(status)


def _next_term_values(instructions):
    """(term, billing cycle) asked for the next term, checked; None where not given."""
    product = instructions.product
    term = _term(product.termDuration) if product and product.termDuration else None
    cycle = _cycle(product.billingCycle) if product and product.billingCycle else None
    if term is not None and term not in TermDuration.values:
        raise ApiError(INVALID_INPUT_CODE, errors.INVALID_TERM, params={"term": product.termDuration})
    if cycle is not None and cycle not in (BillingCycle.MONTHLY, BillingCycle.ANNUAL, BillingCycle.TRIENNIAL):
        raise ApiError(INVALID_INPUT_CODE, errors.INVALID_BILLING_CYCLE, params={"cycle": product.billingCycle})
    return term, cycle


def _apply_next_term(subscription, instructions, sent, acting_user, request_id):
    """Schedule (or, for an explicit null, clear) the next-term changes. A value equal to
    the current term's means "no change", so a full resource sent back unchanged is a no-op."""
    if instructions is None:
        if not sent:
            return subscription
        if subscription.next_term_quantity or subscription.next_term_duration or subscription.next_term_billing_cycle:
            subscription = subscription_schedule_next_term(
                subscription=subscription, acting_user=acting_user, request_id=request_id
            )
        if subscription.next_term_end_date:
            subscription = subscription_align_end_date(
                subscription=subscription, end_date=None, acting_user=acting_user, request_id=request_id
            )
        return subscription
    term, cycle = _next_term_values(instructions)
    quantity = instructions.quantity
    wanted = (
        None if quantity == subscription.quantity else quantity,
        None if term == subscription.term_duration else term,
        None if cycle == subscription.billing_cycle else cycle,
    )
    scheduled = (subscription.next_term_quantity, subscription.next_term_duration, subscription.next_term_billing_cycle)
    if wanted != scheduled:
        subscription = subscription_schedule_next_term(
            subscription=subscription,
            acting_user=acting_user,
            quantity=wanted[0],
            term_duration=wanted[1],
            billing_cycle=wanted[2],
            request_id=request_id,
        )
    if instructions.customTermEndDate != subscription.next_term_end_date:
        subscription = subscription_align_end_date(
            subscription=subscription,
            end_date=instructions.customTermEndDate,
            acting_user=acting_user,
            request_id=request_id,
        )
    return subscription


@router.patch(
    "/{tenant_id}/subscriptions/{subscription_id}", response=responses(SubscriptionOut), summary="Change a subscription"
)
def update_subscription(
    request, response: HttpResponse, tenant_id: str, subscription_id: str, body: SubscriptionPatchIn
):
    """Any of ``quantity``, ``autoRenewEnabled``, ``status`` (``deleted`` cancels,
    ``suspended``/``active``), ``friendlyName`` and ``scheduledNextTermInstructions``; a
    field equal to the current value changes nothing. All or nothing: the first refused
    change (e.g. 800090, a reduction outside its 168-hour window) rolls back the others.

    Optimistic concurrency: ``If-Match`` must name the current ETag (else 412); without it,
    the subscription must still be the version this request read when it is locked (else
    409), so a change decided on one state is never applied to another."""
    customer = customer_or_404(request, tenant_id)
    subscription = _subscription_or_404(request, customer, subscription_id)
    require(request, permissions.BUY)
    if subscription.partner_id != request.partner.pk:
        raise ApiForbidden(description=NOT_TRANSACTING_PARTNER)
    status = _status(body.status) if body.status is not None else None
    if body.scheduledNextTermInstructions is not None:
        _next_term_values(body.scheduledNextTermInstructions)
    if_match = request.headers.get("If-Match")
    if if_match is not None and not _if_match_names(if_match, subscription):
        raise _precondition_failed(if_match, subscription)
    sent = body.model_fields_set
    kwargs = {"acting_user": request.user, "request_id": request.request_id}
    with transaction.atomic():
        try:
            subscription = subscription_lock(subscription=subscription, version=subscription.version)
        except SubscriptionChanged as exc:
            if if_match is not None and if_match.strip() != "*":
                raise _precondition_failed(if_match, exc.current) from exc
            raise ApiError(exc.code, exc.description, exc.status, [{"currentETag": etag(exc.current)}]) from exc
        # Cancelling first: any other change asked with it is then refused (2011) and
        # the whole request rolls back, rather than charging seats and refunding them.
        if status == SubscriptionStatus.DELETED and subscription.status != status:
            subscription = subscription_cancel(subscription=subscription, **kwargs)
        if body.friendlyName is not None and body.friendlyName.strip() != subscription.friendly_name:
            subscription = subscription_set_friendly_name(
                subscription=subscription, friendly_name=body.friendlyName, **kwargs
            )
        if body.quantity is not None and body.quantity != subscription.quantity:
            subscription = subscription_set_quantity(subscription=subscription, quantity=body.quantity, **kwargs)
        if body.autoRenewEnabled is not None and body.autoRenewEnabled != subscription.auto_renew_enabled:
            subscription = subscription_set_auto_renew(
                subscription=subscription, enabled=body.autoRenewEnabled, **kwargs
            )
        subscription = _apply_next_term(
            subscription,
            body.scheduledNextTermInstructions,
            "scheduledNextTermInstructions" in sent,
            **kwargs,
        )
        if status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED) and subscription.status != status:
            subscription = subscription_set_status(subscription=subscription, status=status, **kwargs)
    subscription = _subscription_or_404(request, customer, subscription.pk)
    response["ETag"] = etag(subscription)
    return subscription_json(subscription, timezone.now())


def _precondition_failed(sent, current):
    return ApiError(
        PRECONDITION_FAILED_CODE,
        STALE_ETAG_MESSAGE % {"sent": sent, "current": etag(current)},
        412,
        [{"currentETag": etag(current)}],
    )
