"""What a rating run and its chunks need (SPEC §8), computed once per process: the month's
bounds, the months in play (the run's own and the finalized earlier months whose late calls
it bills), the rates as time spans, and each chunk's pools of included minutes."""

import math
from collections import defaultdict
from datetime import datetime, time

from django.db.models import OuterRef, Q, Subquery, Sum
from django.utils import timezone

from billing.models import BillingMonth, BillingMonthStatus, CallType, RatedCall, UsageRecord
from billing.services import rating_sql
from catalog.models import CallingZone, TenantLicense
from subscriptions.models import SeatChange, SubscriptionStatus
from subscriptions.periods import add_months


ZONE_OF_CALL = {
    CallType.DOMESTIC: CallingZone.DOMESTIC,
    CallType.INTERNATIONAL: CallingZone.INTERNATIONAL,
    CallType.CONFERENCE_DIALOUT: CallingZone.CONFERENCING,
    CallType.TOLLFREE_INBOUND: None,
}


def month_bounds(month):
    """(first moment, first moment of the next month) in UTC for the month starting ``month``."""
    start = timezone.make_aware(datetime.combine(month, time.min))
    return start, timezone.make_aware(datetime.combine(add_months(month, 1), time.min))


def whole_minutes(seconds):
    """Every started minute is billed: 61 s is 2 minutes, 0 s is none."""
    return math.ceil(seconds / 60) if seconds > 0 else 0


def pools_by_customer(first_customer_id, last_customer_id, month_start, month_end):
    """{customer id: {zone: minutes}} from the tenant's licenses of telco SKUs held in the
    month: provisioned before it ended, and still active or on a subscription that expired
    during or after it. A license sold through a subscription counts the seats it had at the
    month's end (its append-only seat history), any other license its quantity. So re-rating
    a month later gives the same pools when licenses were bought, renewed or expired since."""
    pools = defaultdict(lambda: defaultdict(int))
    held = Q(is_active=True) | Q(
        subscription__status=SubscriptionStatus.EXPIRED, subscription__commitment_end_date__gte=month_start.date()
    )
    seats_then = (
        SeatChange.objects.filter(subscription__license=OuterRef("pk"), occurred_at__lt=month_end)
        .order_by("-occurred_at", "-pk")
        .values("quantity_after")[:1]
    )
    rows = (
        TenantLicense.objects.filter(
            held, customer_id__gte=first_customer_id, customer_id__lte=last_customer_id, provisioned_at__lt=month_end
        )
        .annotate(seats_then=Subquery(seats_then))
        .values("customer_id", "quantity", "seats_then", "sku__included_minutes_domestic",
                "sku__included_minutes_international", "sku__included_minutes_conferencing")
    )
    for row in rows:
        quantity = row["quantity"] if row["seats_then"] is None else row["seats_then"]
        pool = pools[row["customer_id"]]
        pool[CallingZone.DOMESTIC] += quantity * row["sku__included_minutes_domestic"]
        pool[CallingZone.INTERNATIONAL] += quantity * row["sku__included_minutes_international"]
        pool[CallingZone.CONFERENCING] += quantity * row["sku__included_minutes_conferencing"]
    return pools


def _used_pools(first_customer_id, last_customer_id, month, billing_month):
    """Pool minutes already used by the billed calls of a finalized month (its own run and
    adjustments published in other months): what a late call of that month may still draw
    on. {(customer id, zone): minutes}."""
    start, end = month_bounds(month)
    used = defaultdict(int)
    rows = (
        RatedCall.objects.published()
        .exclude(billing_month=billing_month)
        .filter(
            usage_record__customer_id__gte=first_customer_id, usage_record__customer_id__lte=last_customer_id,
            usage_record__started_at__gte=start,
            usage_record__started_at__lt=end,
        )
        .values_list("usage_record__customer_id", "usage_record__call_type")
        .annotate(total=Sum("pool_minutes"))
    )
    for customer_id, call_type, total in rows:
        zone = ZONE_OF_CALL.get(call_type)
        if zone:
            used[(customer_id, zone)] += total or 0
    return used


class RunContext:
    """What every chunk of a run shares, computed once per process: the months in play (the
    run's own, key 0, and the finalized earlier months whose late calls it bills) and the
    rates as time spans."""

    def __init__(self, run):
        self.run = run
        self.billing_month = run.billing_month
        self.month_start, self.month_end = month_bounds(self.billing_month.month)
        finalized = BillingMonth.objects.filter(
            status=BillingMonthStatus.FINALIZED, month__lt=self.billing_month.month
        ).order_by("month").values_list("month", flat=True)
        self.late_months = {key: month for key, month in enumerate(finalized, start=1)}
        self.months = [rating_sql.MonthSpan(0, self.month_start, self.month_end, True)] + [
            rating_sql.MonthSpan(key, *month_bounds(month), False) for key, month in self.late_months.items()
        ]
        self.rates = rating_sql.rate_spans()

    def pools(self, chunk):
        """{(customer id, month key, zone): minutes left} for the chunk's customers."""
        first, last = chunk.first_customer_id, chunk.last_customer_id
        sizes = pools_by_customer(first, last, self.month_start, self.month_end)
        pools = {}
        for customer_id, zones in sizes.items():
            for zone, minutes in zones.items():
                pools[(customer_id, 0, zone)] = minutes
        for key, month in self.late_months.items():
            used = _used_pools(first, last, month, self.billing_month)
            for customer_id, zones in sizes.items():
                for zone, minutes in zones.items():
                    pools[(customer_id, key, zone)] = max(0, minutes - used.get((customer_id, zone), 0))
        return pools


def month_has_calls(billing_month):
    start, end = month_bounds(billing_month.month)
    return UsageRecord.objects.filter(started_at__gte=start, started_at__lt=end).exists()


def _may_have_calls(billing_month):
    """Anything to rate: the month's calls, a published run to replace, or finalized earlier
    months whose late calls it would bill."""
    return (
        billing_month.published_run_id is not None
        or month_has_calls(billing_month)
        or BillingMonth.objects.filter(status=BillingMonthStatus.FINALIZED, month__lt=billing_month.month).exists()
    )
