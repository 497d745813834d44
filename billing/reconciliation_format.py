"""The reconciliation file's shape and arithmetic (SPEC §9, PARTNER-CENTER §9.1): its columns
and labels, months, money and price formatting, Partner Center's truncation formulas, and the
totals of a set of lines. Pure: no database read, so the reads and the writes both use it."""

import calendar
from collections import defaultdict
from datetime import date, datetime, time
from decimal import ROUND_DOWN, Decimal

from django.utils import timezone

from subscriptions.models import ChargeType
from subscriptions.periods import trunc2


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
