"""Checkout: one atomic, idempotent step from a cart to an order (SPEC §4).

Every valid line becomes a **new, independent** subscription (an add-on is never linked to
its base), provisioned in the tenant as a ``csp_nce`` license of the transacting partner,
with its purchase seat batch (reducible for ``PORTAL_CANCELLATION_WINDOW_HOURS``) and its
``new`` charge. If any line has an error, nothing is created.

Idempotency, from the outside in: a cart already Ordered returns its order; an
``idempotency_key`` already used returns that order; the cart row is locked
(``select_for_update``) so concurrent checkouts of one cart queue up; and ``Order.cart`` is
one-to-one, so the database itself refuses a second order (the loser returns the winner's).
"""

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import LicenseChannel, TenantLicense
from portal.errors import ErrorCode
from portal.models import Customer
from portal.services import audit_record
from portal.text import in_english
from subscriptions import errors
from subscriptions.errors import CartInputError
from subscriptions.models import (
    Cart,
    CartLine,
    CartStatus,
    ChargeEvent,
    ChargeType,
    Order,
    SeatChange,
    SeatChangeKind,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.prices import prices_in_force
from subscriptions.selectors import natural_end_date
from subscriptions.services.cart import ensure_cart_active, ensure_partner_transacts, line_errors
from subscriptions.services.pricing import first_charge
from subscriptions.signals import subscriptions_purchased

ORDER_GROUP = "0"  # every line of a cart goes into one order


@dataclass
class CheckoutResult:
    order: Order | None
    order_errors: list[dict] = field(default_factory=list)  # [{"orderGroupId", "code", "description"}]


def _existing_order(*, cart_id, partner_id, idempotency_key):
    """The order a retry must get back: by the partner's own idempotency key (another
    partner's keys are not ours to see or collide with), else by the cart."""
    if idempotency_key:
        order = Order.objects.owned_by(partner_id).filter(idempotency_key=idempotency_key).first()
        if order is not None:
            if order.cart_id != cart_id:
                raise CartInputError(ErrorCode.IDEMPOTENCY_KEY_REUSED, errors.IDEMPOTENCY_KEY_CONFLICT, status=409)
            return order
    return Order.objects.owned_by(partner_id).filter(cart_id=cart_id).first()


def cart_checkout(*, cart, acting_user, idempotency_key=None, request_id="") -> CheckoutResult:
    """Check the cart out. Callers must be allowed to BUY; the partner must transact.

    Returns ``CheckoutResult(order, [])`` on success, and the same order again for a cart
    already checked out or a reused ``idempotency_key``. When a line is invalid (re-checked
    under the lock: a prerequisite can disappear after the cart was made, a price can be
    missing), creates nothing, saves the line errors and returns ``order=None`` with one
    order error ``800009`` followed by each line's own ``{code, description}`` and its
    ``lineItemNumber``. Raises ``CartInputError``: 800008 expired cart, 800002 empty cart or
    an idempotency key longer than the database keeps, 403 non-transacting partner, 409
    idempotency key used for another cart."""
    if idempotency_key and len(idempotency_key) > errors.IDEMPOTENCY_KEY_MAX_LENGTH:
        raise CartInputError(
            ErrorCode.INVALID_INPUT,
            errors.IDEMPOTENCY_KEY_TOO_LONG,
            params={"limit_value": errors.IDEMPOTENCY_KEY_MAX_LENGTH, "show_value": len(idempotency_key)},
        )
    existing = _existing_order(cart_id=cart.pk, partner_id=cart.partner_id, idempotency_key=idempotency_key)
    if existing is not None:
        return CheckoutResult(order=existing)
    try:
        with transaction.atomic():
            return _checkout_locked(
                cart_id=cart.pk, acting_user=acting_user, idempotency_key=idempotency_key, request_id=request_id
            )
    except IntegrityError:
        # A concurrent checkout (or the same idempotency key on a parallel request) won the
        # race to the one-to-one/unique constraint: answer with the winner's order.
        existing = _existing_order(cart_id=cart.pk, partner_id=cart.partner_id, idempotency_key=idempotency_key)
        if existing is None:
            raise
        return CheckoutResult(order=existing)


def _checkout_locked(*, cart_id, acting_user, idempotency_key, request_id):
    cart = _locked_cart(cart_id)
    if cart.status == CartStatus.ORDERED:
        return CheckoutResult(order=Order.objects.get(cart=cart))
    ensure_partner_transacts(cart.partner)
    ensure_cart_active(cart)
    # The customer row serialises checkouts for one customer, so per-customer and sandbox
    # limits counted below cannot be overtaken by another partner's cart in parallel.
    Customer.objects.select_for_update().filter(pk=cart.customer_id).first()

    now = timezone.now()
    today = timezone.localdate(now)
    lines = list(
        CartLine.objects.filter(cart=cart).select_related("availability__sku__product").order_by("line_number")
    )
    if not lines:
        raise CartInputError(ErrorCode.INVALID_INPUT, errors.NO_LINES)
    found = line_errors(cart=cart, lines=lines, today=today)
    customer = cart.customer
    prices = prices_in_force(
        keys={(line.availability.sku_id, line.term_duration, line.billing_cycle) for line in lines},
        market=customer.country,
        segment_by_sku={line.availability.sku_id: line.availability.segment for line in lines},
        on_date=today,
    )
    found |= _price_errors(lines, prices, found, market=customer.country)
    _save_line_errors(lines, found)
    if found:
        return CheckoutResult(order=None, order_errors=_order_errors(lines))

    actor = acting_user if getattr(acting_user, "pk", None) else None
    order, subscriptions, total = _place_order(cart, lines, prices, idempotency_key, actor=actor, now=now)
    cart.status = CartStatus.ORDERED
    cart.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=acting_user, action="order.create", obj=order, partner=cart.partner, customer=customer,
        after={
            "cart": cart.pk,
            "reseller": cart.reseller,
            "subscriptions": [s.pk for s in subscriptions],
            "total": total,
            "currency": order.currency,
        },
        request_id=request_id,
    )
    # In the transaction on purpose: what receivers record (the overage owner) must commit
    # or roll back with the purchase.
    subscriptions_purchased.send(sender=Order, order=order, subscriptions=subscriptions)
    return CheckoutResult(order=order)


def _locked_cart(cart_id):
    return (
        Cart.objects.select_for_update(of=("self",))
        .select_related("partner", "customer", "reseller")
        .get(pk=cart_id)
    )


@in_english  # stored as the API returns it; CartLine.error_text shows it translated
def _price_errors(lines, prices, found, *, market):
    """``{line pk: (code, description)}`` of the lines without an error yet that have no price
    in the market's price list in force."""
    missing = {}
    for line in lines:
        if line.pk not in found and (line.availability.sku_id, line.term_duration, line.billing_cycle) not in prices:
            missing[line.pk] = (
                ErrorCode.PRICE_NOT_AVAILABLE,
                str(errors.PRICE_NOT_AVAILABLE_MESSAGE % {
                    "sku": line.availability.sku.code, "term": line.term_duration,
                    "cycle": line.billing_cycle, "market": market,
                }),
            )
    return missing


def _save_line_errors(lines, found):
    """Each line keeps the error found now (or none): the cart shows why it cannot be bought."""
    changed = []
    for line in lines:
        code, description = found.get(line.pk, (None, ""))
        if (line.error_code, line.error_description) != (code, description):
            line.error_code, line.error_description = code, description
            changed.append(line)
    if changed:
        CartLine.objects.bulk_update(changed, ["error_code", "error_description"])


def _order_errors(lines):
    order_errors = [{"orderGroupId": ORDER_GROUP, "code": ErrorCode.CART_ITEM_ERRORS,
                     "description": str(errors.CART_HAS_ERRORS)}]
    order_errors += [
        {"orderGroupId": ORDER_GROUP, "code": line.error_code, "description": line.error_description,
         "lineItemNumber": line.line_number}
        for line in lines if line.error_code is not None
    ]
    return order_errors


def _place_order(cart, lines, prices, idempotency_key, *, actor, now):
    """The order and, per line, its tenant license, subscription, purchase seat batch and
    first charge. Returns ``(order, subscriptions, total charged)``."""
    first_price = prices[(lines[0].availability.sku_id, lines[0].term_duration, lines[0].billing_cycle)]
    order = Order.objects.create(
        cart=cart,
        partner=cart.partner,
        reseller=cart.reseller,
        customer=cart.customer,
        idempotency_key=idempotency_key or None,
        currency=first_price.currency,
        created_by=actor,
    )
    subscriptions = []
    total = 0
    for line in lines:
        price = prices[(line.availability.sku_id, line.term_duration, line.billing_cycle)]
        subscription, amount = _buy_line(order, line, price, actor=actor, now=now)
        total += amount
        subscriptions.append(subscription)
    return order, subscriptions, total


def _buy_line(order, line, price, *, actor, now):
    today = timezone.localdate(now)
    customer, partner, sku = order.customer, order.partner, line.availability.sku
    end_date = line.custom_term_end_date or natural_end_date(start_date=today, term_duration=line.term_duration)
    license = TenantLicense.objects.create(
        customer=customer, sku=sku, channel=LicenseChannel.CSP_NCE, source_partner=partner,
        quantity=line.quantity, is_active=True,
    )
    subscription = Subscription.objects.create(
        customer=customer,
        partner=partner,
        reseller=order.reseller,
        sku=sku,
        availability=line.availability,
        order=order,
        license=license,
        friendly_name=line.friendly_name,
        quantity=line.quantity,
        status=SubscriptionStatus.ACTIVE,
        term_duration=line.term_duration,
        billing_cycle=line.billing_cycle,
        start_date=today,
        commitment_end_date=end_date,
        auto_renew_enabled=True,
        consumption_type=sku.consumption_type,
        unit_price=price.unit_price,
        currency=price.currency,
        purchased_at=now,
        term_started_at=now,
    )
    refundable_until = now + datetime.timedelta(hours=settings.PORTAL_CANCELLATION_WINDOW_HOURS)
    SeatChange.objects.create(
        subscription=subscription, kind=SeatChangeKind.PURCHASE, delta=line.quantity,
        quantity_after=line.quantity, occurred_at=now, refundable_until=refundable_until, actor=actor,
    )
    charge = first_charge(
        unit_price=price.unit_price, quantity=line.quantity, billing_cycle=line.billing_cycle,
        term_duration=line.term_duration, start_date=today, end_date=end_date,
    )
    ChargeEvent.objects.create(
        subscription=subscription, order=order, charge_type=ChargeType.NEW, quantity=line.quantity,
        sku=subscription.sku, availability=subscription.availability, term_duration=subscription.term_duration,
        billing_cycle=subscription.billing_cycle,
        unit_price=price.unit_price, effective_unit_price=charge.effective_unit_price, amount=charge.amount,
        currency=price.currency, charge_start=charge.charge_start, charge_end=charge.charge_end, occurred_at=now,
    )
    return subscription, charge.amount
