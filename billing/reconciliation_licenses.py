"""The license lines of the reconciliation file (SPEC §9): one per ``ChargeEvent`` of the month
of a subscription the partner transacts, and the ``cycleCharge`` lines of monthly-billed
instalments of longer terms. Each stream is yielded in the file's order, with its sort key."""

import json
from datetime import timedelta

from django.db.models import Exists, OuterRef, Prefetch, Q
from django.utils import timezone

from billing.reconciliation_format import (
    CHUNK_SIZE,
    CYCLE_CHARGE_TYPE,
    CYCLE_LABELS,
    EXCHANGE_RATE,
    TERM_LABELS,
    _date,
    event_effective_unit_price,
    invoice_number,
    license_subtotal,
    money,
    month_last_day,
    price,
    _start_of,
)
from catalog.models import BillingCycle
from subscriptions.models import (
    ChargeEvent,
    ChargeType,
    SeatChange,
    SeatChangeKind,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.periods import add_months, billing_period


# --- License lines -------------------------------------------------------------------------


def _subscription_columns(partner, month, subscription, event=None):
    """The columns a license line takes from its subscription. ``event`` (a charge event) is
    what was sold then: its SKU, term, billing cycle and currency, which an upgrade or a
    renewal may since have changed on the subscription."""
    customer = subscription.customer
    sold = event if event is not None else subscription
    sku = sold.sku
    term, cycle, currency = sold.term_duration, sold.billing_cycle, sold.currency
    order = subscription.order
    return {
        "PartnerId": partner.mpn_id,
        "CustomerId": str(customer.tenant_id),
        "CustomerName": customer.name,
        "CustomerDomainName": customer.domain,
        "CustomerCountry": customer.country,
        "InvoiceNumber": invoice_number(partner, month),
        "MpnId": partner.mpn_id,
        "ResellerMpnId": subscription.reseller.mpn_id if subscription.reseller_id else "",
        "OrderId": str(order.pk) if order else "",
        "OrderDate": order.created_at.astimezone(timezone.get_default_timezone()).date().isoformat() if order else "",
        "ProductId": sku.product_id,
        "SkuId": sku.sku_id,
        "AvailabilityId": sold.availability.availability_id if sold.availability_id else "",
        "SkuName": sku.title,
        "ProductName": sku.product.title,
        "TaxTotal": "0.00",
        "Currency": currency,
        "PriceAdjustmentDescription": "",
        "SubscriptionId": str(subscription.pk),
        "TermAndBillingCycle": f"{TERM_LABELS.get(term, term)} - {CYCLE_LABELS.get(cycle, cycle)}",
        "UnitType": "Licenses",
        "BillingFrequency": CYCLE_LABELS.get(cycle, cycle),
        "PricingCurrency": currency,
        "PCToBCExchangeRate": str(EXCHANGE_RATE),
        "MeterDescription": "",
        "SubscriptionStartDate": _date(subscription.start_date),
        "SubscriptionEndDate": _date(subscription.commitment_end_date),
        "ProductQualifiers": json.dumps(["AddOn"] if sku.is_addon else []),
        "PartnerEarnedCreditPercentage": "0",
    }


def _license_line(partner, month, subscription, *, charge_type, unit_price, effective_unit_price, quantity,
                  charge_start, charge_end, order=None, event=None):
    row = _subscription_columns(partner, month, subscription, event)
    subtotal = license_subtotal(effective_unit_price, quantity)
    if order is not None:
        row["OrderId"] = str(order.pk)
        row["OrderDate"] = order.created_at.astimezone(timezone.get_default_timezone()).date().isoformat()
    row.update(
        {
            "ChargeType": charge_type,
            "UnitPrice": price(unit_price),
            "Quantity": str(quantity),
            "Subtotal": money(subtotal),
            "Total": money(subtotal),
            "ChargeStartDate": _date(charge_start),
            "ChargeEndDate": _date(charge_end),
            "EffectiveUnitPrice": price(effective_unit_price),
            "BillableQuantity": str(quantity),
        }
    )
    return row


def _subscription_related():
    return ("customer", "reseller", "sku", "sku__product", "availability", "order")


def _charge_event_lines(partner, month):
    """One line per charge event of the month (by ``occurred_at``) of the partner's subscriptions."""
    first, last = _start_of(month), _start_of(month_last_day(month) + timedelta(days=1))
    events = (
        ChargeEvent.objects.owned_by(partner).filter(occurred_at__gte=first, occurred_at__lt=last)
        .select_related(
            *(f"subscription__{name}" for name in _subscription_related()), "order", "sku__product", "availability"
        )
        .order_by("subscription__customer__name", "subscription_id", "charge_type", "charge_start", "id")
    )
    for event in events.iterator(chunk_size=CHUNK_SIZE):
        subscription = event.subscription
        quantity = abs(event.quantity) or 1
        row = _license_line(
            partner,
            month,
            subscription,
            charge_type=event.charge_type,
            unit_price=event.unit_price,
            effective_unit_price=event_effective_unit_price(event.amount, event.quantity),
            quantity=quantity,
            charge_start=event.charge_start,
            charge_end=event.charge_end,
            order=event.order,
            event=event,
        )
        key = (subscription.customer.name, str(subscription.pk), event.charge_type, row["ChargeStartDate"],
               ("e", f"{event.pk:020d}"))
        yield key, row


TERM_CHARGES = (ChargeType.NEW, ChargeType.RENEW)
# The events that set what a subscription's seats cost from their charge start on.
PRICING_CHARGES = (*TERM_CHARGES, ChargeType.CONVERT)


def _term_starts(subscription):
    """The first days of the subscription's terms: its purchase and each renewal (from the
    ``new``/``renew`` charge events; renewals move ``start_date`` to the latest term)."""
    starts = {subscription.start_date}
    starts.update(event.charge_start for event in subscription.term_events if event.charge_type in TERM_CHARGES)
    return sorted(day for day in starts if day <= subscription.start_date)


def _priced_by(subscription, day):
    """The latest ``new``/``renew``/``convert`` event starting before ``day``: the SKU and
    price the instalment of a period starting that day is billed at (an upgrade changes them
    for the next periods; a renewal from the new term on). Strictly before: an upgrade made on
    a period's first day already charges that whole period's difference (``convert``), and a
    term's own event starts on its first day, which is never an instalment's."""
    priced = None
    for event in subscription.term_events:  # ordered by charge start
        if event.charge_start >= day:
            break
        priced = event
    return priced


def _ended_at(subscription):
    """When a cancelled or expired subscription stopped, or ``None`` while it is live."""
    if subscription.status == SubscriptionStatus.DELETED:
        cancels = [c.occurred_at for c in subscription.seat_history if c.kind == SeatChangeKind.CANCEL]
        return cancels[-1] if cancels else subscription.updated_at
    if subscription.status == SubscriptionStatus.EXPIRED:
        return _start_of(subscription.commitment_end_date + timedelta(days=1))
    return None


def _seats_at(subscription, moment):
    """Seats held at ``moment``: the last seat change at or before it (the seat history is
    append-only, so this does not change when seats change later)."""
    quantity = None
    for change in subscription.seat_history:
        if change.occurred_at <= moment:
            quantity = change.quantity_after
        else:
            break
    if quantity is None and not subscription.seat_history:
        return subscription.quantity
    return quantity or 0


def _monthly_periods(subscription, month):
    """``(pricing event, first, last)`` for each monthly billing period of ``subscription``
    that starts in ``month`` and is not the first period of a term (``new``/``renew`` bill
    that one). A term is billed monthly when its ``new``/``renew`` event says so (a renewal
    may have changed the cycle since); a term without one takes the subscription's cycle.
    The pricing event (``_priced_by``) gives the period's SKU and price."""
    month_end = month_last_day(month)
    starts = _term_starts(subscription)
    events = {event.charge_start: event for event in subscription.term_events if event.charge_type in TERM_CHARGES}
    for index, term_start in enumerate(starts):
        if index + 1 < len(starts):
            term_last = starts[index + 1] - timedelta(days=1)
        else:
            term_last = subscription.commitment_end_date
        if term_start > month_end or term_last < month:
            continue
        event = events.get(term_start)
        if (event or subscription).billing_cycle != BillingCycle.MONTHLY:
            continue
        step = 1
        while True:
            period_start = add_months(term_start, step)
            if period_start > term_last or period_start > month_end:
                break
            if period_start >= month:
                first, last = billing_period(term_start, BillingCycle.MONTHLY, period_start, term_last)
                yield _priced_by(subscription, first), first, last
            step += 1


def cycle_periods(subscription, month):
    """The ``(first, last)`` monthly billing periods of ``_monthly_periods``."""
    for _event, first, last in _monthly_periods(subscription, month):
        yield first, last


def _may_bill_instalments(month):
    """Subscriptions that may owe a ``cycleCharge`` in ``month``: bought before it ended, not
    pending, not the Azure plan, not expired before it began, and billed monthly now or in
    some term (not by start date: a renewal moves it past the month; not by the current cycle
    alone: a renewal may have changed it since). ``_monthly_periods`` decides per period."""
    monthly_term = ChargeEvent.objects.filter(
        subscription=OuterRef("pk"), charge_type__in=TERM_CHARGES, billing_cycle=BillingCycle.MONTHLY
    )
    return (
        Subscription.objects.licenses()
        .filter(purchased_at__lt=_start_of(month_last_day(month) + timedelta(days=1)))
        .filter(Q(billing_cycle=BillingCycle.MONTHLY) | Exists(monthly_term))
        .exclude(status=SubscriptionStatus.PENDING)
        .exclude(status=SubscriptionStatus.EXPIRED, commitment_end_date__lt=month)
    )


def _cycle_charge_lines(partner, month):
    """``cycleCharge`` lines of the partner's subscriptions for ``month``: an instalment for
    each monthly period of a monthly-billed term, priced as that term was sold."""
    subscriptions = (
        _may_bill_instalments(month)
        .owned_by(partner)
        .select_related(*_subscription_related())
        .prefetch_related(
            Prefetch(
                "charge_events",
                queryset=ChargeEvent.objects.filter(charge_type__in=PRICING_CHARGES)
                .select_related("sku__product", "availability")
                .order_by("charge_start", "id"),
                to_attr="term_events",
            ),
            Prefetch("seat_changes", queryset=SeatChange.objects.order_by("occurred_at", "id"), to_attr="seat_history"),
        )
        .order_by("customer__name", "id")
    )
    for subscription in subscriptions.iterator(chunk_size=CHUNK_SIZE):
        ended_at = _ended_at(subscription)
        for event, first, last in _monthly_periods(subscription, month):
            starts_at = _start_of(first)
            if ended_at is not None and ended_at <= starts_at:
                continue
            seats = _seats_at(subscription, starts_at)
            if seats <= 0:
                continue
            unit_price = event.unit_price if event is not None else subscription.unit_price
            row = _license_line(
                partner,
                month,
                subscription,
                charge_type=CYCLE_CHARGE_TYPE,
                unit_price=unit_price,
                effective_unit_price=unit_price,
                quantity=seats,
                charge_start=first,
                charge_end=last,
                event=event,
            )
            key = (subscription.customer.name, str(subscription.pk), CYCLE_CHARGE_TYPE, row["ChargeStartDate"], ("c",))
            yield key, row
