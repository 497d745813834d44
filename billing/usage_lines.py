"""The calls behind a usage line of the reconciliation file (issue 10; SPEC §9).

A usage line is one customer × Azure subscription × meter (destination country and number
type) × price of a month, or of an earlier month for a late adjustment. Its key is written in
URLs as ``<tenant id>~<Azure subscription id>~<country>~<number type>~<price>~<charge start>``
and read back from the line's own columns, so the same key serves the live lines of an open
month and the frozen lines of a finalized one.

The calls are the published rated calls of the month that accrued post-paid minutes to the
partner (the file's own rows, never another partner's): their post-paid amounts, summed and
truncated by the usage formula, are the line's Subtotal to the cent.
"""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db.models import OuterRef, Q, Subquery

from billing.models import RatedCall
from billing.services.rating_context import month_bounds
from billing.reconciliation_format import EXCHANGE_RATE, NUMBER_TYPE_LABELS, USAGE_CHARGE_TYPE
from subscriptions.periods import trunc2
from overage.models import OverageAssignment, OverageService

_KEY = re.compile(
    r"^(?P<tenant>[0-9a-f-]{36})~(?P<subscription>[0-9a-f-]{36})~(?P<country>[A-Z]{2})~(?P<number_type>[a-z]+)"
    r"~(?P<price>[0-9]{1,6}(?:\.[0-9]{1,6})?)~(?P<start>[0-9]{4}-[0-9]{2}-01)$"
)
_METER = re.compile(r"^Teams calling – (?P<country>[A-Z]{2}) (?P<label>.+) \(per minute\)$")
_NUMBER_TYPE_OF_LABEL = {label: number_type for number_type, label in NUMBER_TYPE_LABELS.items()}
# The columns of a call, in the page's and the CSV's order.
CALL_COLUMNS = (
    "record_id", "start_time_utc", "user", "destination_country", "number_type", "minutes", "pool_minutes",
    "credit_minutes", "postpaid_minutes", "blocked_minutes", "unit_price", "postpaid_amount", "currency",
    "azure_subscription_id", "overage_from", "overage_until",
)


@dataclass(frozen=True)
class UsageLineKey:
    month: date
    tenant_id: str
    azure_subscription_id: str
    country: str
    number_type: str
    unit_price: Decimal
    charge_start: date

    def __str__(self):
        return "~".join([self.tenant_id, self.azure_subscription_id, self.country, self.number_type,
                         f"{self.unit_price.normalize():f}", self.charge_start.isoformat()])

    @property
    def is_adjustment(self):
        return self.charge_start != self.month


def usage_line_key(month, row):
    """The key of a reconciliation row (a dict of the file's columns), or None when the row
    is not a usage line."""
    if row.get("ChargeType") != USAGE_CHARGE_TYPE:
        return None
    meter = _METER.match(row.get("MeterDescription", ""))
    number_type = _NUMBER_TYPE_OF_LABEL.get(meter["label"]) if meter else None
    if number_type is None:
        return None
    return UsageLineKey(
        month=month,
        tenant_id=row["CustomerId"],
        azure_subscription_id=row["SubscriptionId"],
        country=meter["country"],
        number_type=number_type,
        unit_price=Decimal(row["EffectiveUnitPrice"]),
        charge_start=date.fromisoformat(row["ChargeStartDate"]),
    )


def parse_usage_line_key(month, text):
    """The key written in a URL; ``ValueError`` for anything else."""
    match = _KEY.match(text or "")
    if match is None:
        raise ValueError("not a usage line")
    try:
        unit_price = Decimal(match["price"])
        charge_start = date.fromisoformat(match["start"])
    except (InvalidOperation, ValueError):
        raise ValueError("not a usage line") from None
    if charge_start > month:
        raise ValueError("not a usage line")
    return UsageLineKey(month, match["tenant"], match["subscription"], match["country"], match["number_type"],
                        unit_price, charge_start)


def usage_line_calls(*, partner, key):
    """The partner's published rated calls behind the line, oldest first, each with the
    overage assignment interval it fell in (``overage_from``, ``overage_until``)."""
    calls = RatedCall.objects.owned_by(partner).billed_in(key.month).filter(
        postpaid_minutes__gt=0,
        is_adjustment=key.is_adjustment,
        usage_record__customer__tenant_id=key.tenant_id,
        azure_subscription_id=key.azure_subscription_id,
        usage_record__destination_country=key.country,
        usage_record__number_type=key.number_type,
        unit_price=key.unit_price,
    )
    if key.is_adjustment:
        start, end = month_bounds(key.charge_start)
        calls = calls.filter(usage_record__started_at__gte=start, usage_record__started_at__lt=end)
    interval = OverageAssignment.objects.filter(
        customer_id=OuterRef("usage_record__customer_id"),
        azure_subscription_id=OuterRef("azure_subscription_id"),
        service=OverageService.PHONE_SERVICES,
        started_at__lte=OuterRef("usage_record__started_at"),
    ).filter(Q(ended_at__isnull=True) | Q(ended_at__gt=OuterRef("usage_record__started_at"))).order_by("started_at")
    return (
        calls.select_related("usage_record__customer", "azure_subscription")
        .annotate(
            overage_from=Subquery(interval.values("started_at")[:1]),
            overage_until=Subquery(interval.values("ended_at")[:1]),
        )
        .order_by("usage_record__started_at", "usage_record__record_id")
    )


def line_subtotal(calls):
    """The calls' exact post-paid amounts, summed, then truncated as the usage formula does
    (``trunc2(trunc2(amount) × PCToBCExchangeRate)``): the line's Subtotal to the cent."""
    total = sum((Decimal(amount) for amount in calls.values_list("postpaid_amount", flat=True)), Decimal("0"))
    return trunc2(trunc2(total) * EXCHANGE_RATE)


def call_values(call):
    """A call as the page, the CSV and the API show it (the CSV's column names)."""
    record = call.usage_record
    return {
        "record_id": record.record_id,
        "start_time_utc": record.started_at,
        "user": record.user,
        "destination_country": record.destination_country,
        "number_type": record.number_type,
        "minutes": call.minutes,
        "pool_minutes": call.pool_minutes,
        "credit_minutes": call.credit_minutes,
        "postpaid_minutes": call.postpaid_minutes,
        "blocked_minutes": call.blocked_minutes,
        "unit_price": call.unit_price,
        "postpaid_amount": call.postpaid_amount,
        "currency": call.currency,
        "azure_subscription_id": str(call.azure_subscription_id),
        "overage_from": call.overage_from,
        "overage_until": call.overage_until,
    }
