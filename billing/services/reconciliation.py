"""The reconciliation file: one partner's billed lines for one month (SPEC §9, PARTNER-CENTER §9.1).

Lines come from three sources, merged in one stable order (customer name, subscription id,
charge type, charge start date, then a tie-breaker), so a file is reproducible:

- license lines, one per ``ChargeEvent`` of the month of a subscription the partner transacts;
- ``cycleCharge`` lines, one per monthly billing period of a monthly-billed subscription that
  starts in the month and is not the first period of a term (``new``/``renew`` charge that one);
- overage ``usage`` lines, one per customer × Azure subscription × meter × unit price (× late
  adjustment) of the rated calls billed in the month with post-paid minutes for the partner,
  summed by the database.

Money is ``Decimal``, with Partner Center's truncation formulas. An open month is computed
live; a finalized month is read from its ``ReconciliationLine`` snapshot, written by
``reconciliation_snapshot`` when the month is finalized, so its file never changes.

Everything is generated lazily (querysets iterated in chunks) so a month of a million calls
streams without being held in memory.
"""

import calendar
import heapq
import json
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal

from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from billing.models import BillingMonth, BillingMonthStatus, RatedCall, ReconciliationLine
from catalog.models import AZURE_PLAN_PRODUCT_ID, BillingCycle
from portal.csv_export import CsvLineWriter
from portal.models import Partner
from subscriptions.models import (
    ChargeEvent,
    ChargeType,
    SeatChange,
    SeatChangeKind,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.periods import add_months, billing_period, trunc2

COLUMNS = [
    "PartnerId",
    "CustomerId",
    "CustomerName",
    "CustomerDomainName",
    "CustomerCountry",
    "InvoiceNumber",
    "MpnId",
    "ResellerMpnId",
    "OrderId",
    "OrderDate",
    "ProductId",
    "SkuId",
    "AvailabilityId",
    "SkuName",
    "ProductName",
    "ChargeType",
    "UnitPrice",
    "Quantity",
    "Subtotal",
    "TaxTotal",
    "Total",
    "Currency",
    "PriceAdjustmentDescription",
    "SubscriptionId",
    "ChargeStartDate",
    "ChargeEndDate",
    "TermAndBillingCycle",
    "EffectiveUnitPrice",
    "UnitType",
    "BillableQuantity",
    "BillingFrequency",
    "PricingCurrency",
    "PCToBCExchangeRate",
    "MeterDescription",
    "SubscriptionStartDate",
    "SubscriptionEndDate",
    "ProductQualifiers",
    "PartnerEarnedCreditPercentage",
]

USAGE_CHARGE_TYPE = "usage"
CYCLE_CHARGE_TYPE = ChargeType.CYCLE_CHARGE.value
AZURE_PLAN_SKU_ID = "0001"
AZURE_PLAN_NAME = "Microsoft Azure plan"
EXCHANGE_RATE = Decimal("1")
CHUNK_SIZE = 2000

# The file is the same in every language: its words are not translated.
TERM_LABELS = {"P1M": "1 Month", "P1Y": "1 Year", "P3Y": "3 Years"}
CYCLE_LABELS = {"monthly": "Monthly", "annual": "Annual", "triennial": "Triennial", "none": "None"}
NUMBER_TYPE_LABELS = {"landline": "Landline", "mobile": "Mobile", "tollfree": "Toll-free"}

PRICE_PLACES = Decimal("0.000001")


# --- Months and formatting ----------------------------------------------------------------


def parse_month(value):
    """``"YYYY-MM"`` → the month's first day; ``ValueError`` for anything else, and for a
    month whose next month Python's dates cannot hold (9999-12: every month has an end)."""
    text = str(value or "")
    if len(text) != 7 or text[4] != "-" or not (text[:4] + text[5:]).isdigit():
        raise ValueError(f"{value!r} is not a month: use YYYY-MM.")
    year, month = int(text[:4]), int(text[5:])
    if not 1 <= month <= 12 or not 1 <= year < date.max.year:
        raise ValueError(f"{value!r} is not a month: use YYYY-MM.")
    return date(year, month, 1)


def month_last_day(month):
    return date(month.year, month.month, calendar.monthrange(month.year, month.month)[1])


def invoice_number(partner, month):
    """Deterministic: one invoice per partner per month, ``G<YYYYMM><MPN>``."""
    return f"G{month:%Y%m}{partner.mpn_id}"


def money(value):
    """Two places, no exponent: ``Decimal("-3.1")`` → ``"-3.10"``."""
    return f"{Decimal(value).quantize(Decimal('0.01')):f}"


def price(value):
    """Up to six places and at least two, no exponent: 0.0137 → "0.0137", 10 → "10.00"."""
    text = f"{Decimal(value).quantize(PRICE_PLACES):f}".rstrip("0")
    whole, _, places = text.partition(".")
    return f"{whole}.{places.ljust(2, '0')}"


def quantity_text(value):
    return f"{Decimal(value):f}" if not isinstance(value, int) else str(value)


def usage_subtotal(effective_unit_price, billable_quantity, exchange_rate=EXCHANGE_RATE):
    """Partner Center's usage formula: trunc2(trunc2(EffectiveUnitPrice × BillableQuantity) × rate)."""
    return trunc2(trunc2(Decimal(effective_unit_price) * Decimal(billable_quantity)) * Decimal(exchange_rate))


def license_subtotal(effective_unit_price, billable_quantity, exchange_rate=EXCHANGE_RATE):
    """Partner Center's license formula: trunc2(EffectiveUnitPrice × rate) × BillableQuantity."""
    return trunc2(Decimal(effective_unit_price) * Decimal(exchange_rate)) * Decimal(billable_quantity)


def event_effective_unit_price(amount, quantity):
    """The per-seat price a charge event's ``amount`` stands for.

    Charge events carry their amount already prorated (a new seat mid-period, a refund), so
    the line's EffectiveUnitPrice is ``amount / quantity`` truncated to six places (toward
    zero, keeping the sign of a credit): the license formula then gives the event's amount
    back exactly when it divides by the quantity, otherwise at most a cent per seat less.
    """
    if not quantity:
        return Decimal(amount).quantize(PRICE_PLACES, rounding=ROUND_DOWN)
    return (Decimal(amount) / Decimal(abs(quantity))).quantize(PRICE_PLACES, rounding=ROUND_DOWN)


def _date(value):
    return value.isoformat() if value else ""


def _start_of(day):
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def is_finalized(month):
    return BillingMonth.objects.filter(month=month, status=BillingMonthStatus.FINALIZED).exists()


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


# --- Usage lines ---------------------------------------------------------------------------

USAGE_GROUP = [
    "usage_record__customer_id",
    "usage_record__customer__name",
    "usage_record__customer__tenant_id",
    "usage_record__customer__domain",
    "usage_record__customer__country",
    "azure_subscription_id",
    "usage_record__destination_country",
    "usage_record__number_type",
    "unit_price",
    "currency",
    "reseller__mpn_id",
]
USAGE_ORDER = [
    "usage_record__customer__name",
    "azure_subscription_id",
    "usage_record__destination_country",
    "usage_record__number_type",
    "unit_price",
    "currency",
    "reseller__mpn_id",
    "usage_record__customer_id",
]


def meter_description(country, number_type):
    return f"Teams calling – {country} {NUMBER_TYPE_LABELS.get(number_type, number_type)} (per minute)"


def _usage_row(partner, month, group, minutes, *, charge_start, charge_end):
    unit_price = group["unit_price"]
    subtotal = usage_subtotal(unit_price, minutes)
    currency = group["currency"]
    return {
        "PartnerId": partner.mpn_id,
        "CustomerId": str(group["usage_record__customer__tenant_id"]),
        "CustomerName": group["usage_record__customer__name"],
        "CustomerDomainName": group["usage_record__customer__domain"],
        "CustomerCountry": group["usage_record__customer__country"],
        "InvoiceNumber": invoice_number(partner, month),
        "MpnId": partner.mpn_id,
        "ResellerMpnId": group["reseller__mpn_id"] or "",
        "OrderId": "",
        "OrderDate": "",
        "ProductId": AZURE_PLAN_PRODUCT_ID,
        "SkuId": AZURE_PLAN_SKU_ID,
        "AvailabilityId": "",
        "SkuName": AZURE_PLAN_NAME,
        "ProductName": AZURE_PLAN_NAME,
        "ChargeType": USAGE_CHARGE_TYPE,
        "UnitPrice": price(unit_price),
        "Quantity": str(minutes),
        "Subtotal": money(subtotal),
        "TaxTotal": "0.00",
        "Total": money(subtotal),
        "Currency": currency,
        "PriceAdjustmentDescription": "",
        "SubscriptionId": str(group["azure_subscription_id"] or ""),
        "ChargeStartDate": _date(charge_start),
        "ChargeEndDate": _date(charge_end),
        "TermAndBillingCycle": "",
        "EffectiveUnitPrice": price(unit_price),
        "UnitType": "Minute",
        "BillableQuantity": str(minutes),
        "BillingFrequency": "Monthly",
        "PricingCurrency": currency,
        "PCToBCExchangeRate": str(EXCHANGE_RATE),
        "MeterDescription": meter_description(
            group["usage_record__destination_country"], group["usage_record__number_type"]
        ),
        "SubscriptionStartDate": "",
        "SubscriptionEndDate": "",
        "ProductQualifiers": "[]",
        "PartnerEarnedCreditPercentage": "0",
    }


def billed_usage(partner, month):
    """The rated calls of ``month`` that accrued post-paid overage to ``partner``."""
    return RatedCall.objects.owned_by(partner).billed_in(month).filter(postpaid_minutes__gt=0)


def _usage_key(row, group, adjustment):
    return (
        row["CustomerName"],
        row["SubscriptionId"],
        USAGE_CHARGE_TYPE,
        row["ChargeStartDate"],
        ("u", row["MeterDescription"], group["unit_price"], row["Currency"], row["ResellerMpnId"], adjustment,
         str(group["usage_record__customer_id"])),
    )


def _usage_lines(partner, month):
    """The month's own calls: one line per customer × Azure subscription × meter × price."""
    groups = (
        billed_usage(partner, month)
        .filter(is_adjustment=False)
        .values(*USAGE_GROUP)
        .annotate(minutes=Sum("postpaid_minutes"))
        .order_by(*USAGE_ORDER)
    )
    last = month_last_day(month)
    for group in groups.iterator(chunk_size=CHUNK_SIZE):
        row = _usage_row(partner, month, group, group["minutes"], charge_start=month, charge_end=last)
        yield _usage_key(row, group, False), row


def _adjustment_lines(partner, month):
    """Late calls of finalized months, billed now: kept apart, dated in the call's month."""
    groups = (
        billed_usage(partner, month)
        .filter(is_adjustment=True)
        .annotate(call_month=TruncMonth("usage_record__started_at"))
        .values(*USAGE_GROUP, "call_month")
        .annotate(minutes=Sum("postpaid_minutes"))
        .order_by("usage_record__customer__name", "azure_subscription_id", "call_month", *USAGE_ORDER[2:])
    )
    for group in groups.iterator(chunk_size=CHUNK_SIZE):
        call_month = group["call_month"]
        call_month = call_month.date() if isinstance(call_month, datetime) else call_month
        row = _usage_row(
            partner, month, group, group["minutes"], charge_start=call_month, charge_end=month_last_day(call_month)
        )
        yield _usage_key(row, group, True), row


# --- The file ------------------------------------------------------------------------------


def live_lines(*, partner, month):
    """The partner's lines for ``month`` computed from the current data, in file order."""
    streams = [
        _charge_event_lines(partner, month),
        _cycle_charge_lines(partner, month),
        _usage_lines(partner, month),
        _adjustment_lines(partner, month),
    ]
    for _key, row in heapq.merge(*streams, key=lambda item: item[0]):
        yield row


def snapshot_lines(*, partner, month):
    lines = ReconciliationLine.objects.owned_by(partner).filter(billing_month__month=month).order_by("sequence")
    for line in lines.only("values").iterator(chunk_size=CHUNK_SIZE):
        yield line.values


def reconciliation_lines(*, partner, month):
    """The partner's reconciliation lines for ``month`` (its first day), as dicts keyed by
    ``COLUMNS``: frozen for a finalized month, live for an open one."""
    if is_finalized(month):
        return snapshot_lines(partner=partner, month=month)
    return live_lines(partner=partner, month=month)


def csv_chunks(rows, *, rows_per_chunk=500):
    """The CSV text (header first) of ``rows`` in chunks, for a streaming response."""
    writer = CsvLineWriter(lineterminator="\n")
    yield writer.writerow(COLUMNS)
    batch = []
    for row in rows:
        batch.append(writer.writerow([row[column] for column in COLUMNS]))
        if len(batch) >= rows_per_chunk:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def reconciliation_csv(*, partner, month, matches=None):
    """The partner's reconciliation file for ``month`` as an iterator of text chunks; with
    ``matches`` (a predicate over the lines), only the lines it keeps, in the file's order."""
    lines = reconciliation_lines(partner=partner, month=month)
    return csv_chunks(lines if matches is None else filter(matches, lines))


# --- Totals --------------------------------------------------------------------------------


def line_kind(charge_type):
    return "usage" if charge_type == USAGE_CHARGE_TYPE else "license"


def totals_of(rows):
    """Per currency: license, usage and total of ``rows``' Subtotals (exact ``Decimal``)."""
    totals = defaultdict(lambda: {"license": Decimal("0.00"), "usage": Decimal("0.00"), "total": Decimal("0.00"), "lines": 0})
    for row in rows:
        bucket = totals[row["Currency"]]
        amount = Decimal(row["Subtotal"])
        bucket[line_kind(row["ChargeType"])] += amount
        bucket["total"] += amount
        bucket["lines"] += 1
    return {currency: totals[currency] for currency in sorted(totals)}


# --- Finalization --------------------------------------------------------------------------


def _partners_with_activity(month):
    first, after = _start_of(month), _start_of(month_last_day(month) + timedelta(days=1))
    ids = set(
        ChargeEvent.objects.filter(occurred_at__gte=first, occurred_at__lt=after).values_list(
            "subscription__partner_id", flat=True
        )
    )
    ids |= set(_may_bill_instalments(month).values_list("partner_id", flat=True))
    ids |= set(
        RatedCall.objects.billed_in(month).filter(postpaid_minutes__gt=0, partner__isnull=False)
        .values_list("partner_id", flat=True)
    )
    return Partner.objects.filter(pk__in=ids).order_by("pk")


@transaction.atomic
def reconciliation_snapshot(*, billing_month):
    """Freeze ``billing_month``'s reconciliation lines of every partner that has any, so the
    finalized month's file is the same bytes forever. Called by rating's finalization, in its
    transaction, before or after the status changes (lines are computed live here).

    Idempotent and never rewrites: a month that already has a snapshot keeps it. Returns the
    number of lines written."""
    if ReconciliationLine.objects.filter(billing_month=billing_month).exists():
        return 0
    written = 0
    for partner in _partners_with_activity(billing_month.month):
        batch = []
        for sequence, row in enumerate(live_lines(partner=partner, month=billing_month.month), start=1):
            batch.append(
                ReconciliationLine(
                    billing_month=billing_month,
                    partner=partner,
                    sequence=sequence,
                    charge_type=row["ChargeType"],
                    customer_name=row["CustomerName"][:200],
                    product_id=row["ProductId"],
                    currency=row["Currency"],
                    subtotal=Decimal(row["Subtotal"]),
                    values=row,
                )
            )
            if len(batch) >= CHUNK_SIZE:
                ReconciliationLine.objects.bulk_create(batch)
                written += len(batch)
                batch = []
        if batch:
            ReconciliationLine.objects.bulk_create(batch)
            written += len(batch)
    return written
