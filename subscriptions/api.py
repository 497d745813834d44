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

from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja import Query, Router, Status

from catalog.models import BillingCycle, TermDuration
from portal import permissions
from portal.api import (
    ApiError,
    ApiForbidden,
    attributes,
    collection,
    customer_or_404,
    require,
    responses,
)
from portal.errors import ErrorCode
from subscriptions import errors
from subscriptions.api_json import _cycle, _term, cart_json, etag, order_json, subscription_json
from subscriptions.api_lookups import (
    RESELLERS_DIFFER,
    _cart_or_404,
    _carts,
    _idempotency_key,
    _if_match_names,
    _line_inputs,
    _subscription_or_404,
    _subscriptions,
    _transaction_reseller,
)
from subscriptions.api_schemas import (
    PATCHABLE_STATUSES,
    CartIn,
    CartOut,
    CheckoutResultOut,
    CustomTermEndDateCollectionOut,
    CustomTermEndDatesQuery,
    SubscriptionCollectionOut,
    SubscriptionOut,
    SubscriptionPatchIn,
)
from subscriptions.models import Order, SubscriptionStatus
from subscriptions.selectors import allowed_custom_term_end_dates
from subscriptions.services.cart import cart_create, cart_update
from subscriptions.services.changes import subscription_align_end_date
from subscriptions.services.checkout import cart_checkout
from subscriptions.services.lifecycle import (
    SubscriptionChanged,
    subscription_cancel,
    subscription_lock,
    subscription_schedule_next_term,
    subscription_set_auto_renew,
    subscription_set_friendly_name,
    subscription_set_quantity,
    subscription_set_status,
)

router = Router(tags=["carts and subscriptions"])

STALE_ETAG_MESSAGE = _(
    "If-Match %(sent)s names no current version of this subscription: it is at ETag %(current)s. GET it again "
    "and make your change from its current state."
)
NOT_TRANSACTING_PARTNER = _(
    "Your organisation is the reseller of record of this subscription, not its transacting partner: "
    "ask your indirect provider to change it."
)
STATUS_NOT_ALLOWED = _("Status '%(status)s' cannot be set. Use active, suspended or deleted.")
START_DATE_IN_PAST = _("term_start_date cannot be in the past.")
START_DATE_TOO_FAR = _("term_start_date is too far in the future.")


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
        raise ApiError(ErrorCode.INVALID_INPUT, RESELLERS_DIFFER)
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
        raise ApiError(ErrorCode.INVALID_INPUT, errors.INVALID_TERM, params={"term": query.term_duration})
    today = timezone.localdate()
    start = query.term_start_date or today
    if start < today:
        raise ApiError(ErrorCode.INVALID_INPUT, START_DATE_IN_PAST)
    if start.year > datetime.date.max.year - 4:  # a triennial term from it would end past year 9999
        raise ApiError(ErrorCode.INVALID_INPUT, START_DATE_TOO_FAR)
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
        raise ApiError(ErrorCode.INVALID_INPUT, STATUS_NOT_ALLOWED, params={"status": value})
    return SubscriptionStatus(status)


def _next_term_values(instructions):
    """(term, billing cycle) asked for the next term, checked; None where not given."""
    product = instructions.product
    term = _term(product.termDuration) if product and product.termDuration else None
    cycle = _cycle(product.billingCycle) if product and product.billingCycle else None
    if term is not None and term not in TermDuration.values:
        raise ApiError(ErrorCode.INVALID_INPUT, errors.INVALID_TERM, params={"term": product.termDuration})
    if cycle is not None and cycle not in (BillingCycle.MONTHLY, BillingCycle.ANNUAL, BillingCycle.TRIENNIAL):
        raise ApiError(ErrorCode.INVALID_INPUT, errors.INVALID_BILLING_CYCLE, params={"cycle": product.billingCycle})
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
        ErrorCode.PRECONDITION_FAILED,
        STALE_ETAG_MESSAGE % {"sent": sent, "current": etag(current)},
        412,
        [{"currentETag": etag(current)}],
    )
