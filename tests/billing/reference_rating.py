"""The rating engine as it was before issue 10: a Python loop over every call. Kept here, in
the tests, as the oracle the set-based engine is compared with (``test_rating_equivalence``).
It computes, it does not write: ``reference_rating(month)`` returns, per usage record id, the
fields of its rated call, and the credit draws and recharges of the month."""

from collections import defaultdict
from decimal import Decimal

from django.db.models import Q, Sum

from billing.models import BillingMonth, BillingMonthStatus, Rate, RatedCall, RatedCallStatus, UsageRecord
from billing.services.rating_context import ZONE_OF_CALL, month_bounds, pools_by_customer, whole_minutes
from billing.services.rating_credits import credit_states
from overage.models import OverageAssignment, OverageService
from portal.models import currency_for_country

PRICE_PLACES = Decimal("0.000001")
FIELDS = ("is_adjustment", "minutes", "pool_minutes", "billable_minutes", "credit_minutes", "postpaid_minutes",
          "blocked_minutes", "rate_id", "unit_price", "amount", "credit_amount", "postpaid_amount", "currency",
          "azure_subscription_id", "partner_id", "reseller_id", "status")


class RateBook:
    def __init__(self):
        self._rates = defaultdict(list)
        for rate in Rate.objects.order_by("-effective_from"):
            self._rates[(rate.destination_country, rate.number_type, rate.currency)].append(rate)

    def find(self, country, number_type, currency, day):
        for rate in self._rates.get((country, number_type, currency), ()):
            if rate.effective_from <= day and (rate.effective_to is None or day < rate.effective_to):
                return rate
        return None


def _assignment_at(assignments, moment):
    for assignment in assignments:
        if assignment.started_at <= moment and (assignment.ended_at is None or moment < assignment.ended_at):
            return assignment
    return None


def _status(credit, postpaid, blocked):
    if blocked:
        return RatedCallStatus.BLOCKED
    if credit and postpaid:
        return RatedCallStatus.MIXED
    if credit:
        return RatedCallStatus.CREDITS
    if postpaid:
        return RatedCallStatus.POSTPAID
    return RatedCallStatus.INCLUDED


def _used_pools(month, billing_month):
    start, end = month_bounds(month)
    used = defaultdict(int)
    rows = (
        RatedCall.objects.published().exclude(billing_month=billing_month)
        .filter(usage_record__started_at__gte=start, usage_record__started_at__lt=end)
        .values_list("usage_record__customer_id", "usage_record__call_type")
        .annotate(total=Sum("pool_minutes"))
    )
    for customer_id, call_type, total in rows:
        if ZONE_OF_CALL.get(call_type):
            used[(customer_id, ZONE_OF_CALL[call_type])] += total or 0
    return used


def reference_rating(month):
    """``({usage record id: {field: value}}, [(account id, kind, amount, occurred_at)])``."""
    billing_month = BillingMonth.objects.get(month=month)
    month_start, month_end = month_bounds(month)
    finalized = list(BillingMonth.objects.filter(status=BillingMonthStatus.FINALIZED, month__lt=month)
                     .values_list("month", flat=True))
    condition = Q(started_at__gte=month_start, started_at__lt=month_end)
    for late_month in finalized:
        start, end = month_bounds(late_month)
        billed = RatedCall.objects.published().exclude(billing_month=billing_month).values("usage_record_id")
        condition |= Q(started_at__gte=start, started_at__lt=end) & ~Q(pk__in=billed)
    records = list(
        UsageRecord.objects.filter(condition).order_by("customer_id", "started_at", "record_id").values_list(
            "pk", "customer_id", "customer__country", "started_at", "duration_seconds", "call_type",
            "destination_country", "number_type")
    )
    if not records:
        return {}, []
    first, last = records[0][1], records[-1][1]
    pools = pools_by_customer(first, last, month_start, month_end)
    credits = credit_states(first, last, month_start, month_end, billing_month)
    assignments = defaultdict(list)
    for assignment in OverageAssignment.objects.filter(service=OverageService.PHONE_SERVICES,
                                                       started_at__lt=month_end).order_by("started_at"):
        assignments[assignment.customer_id].append(assignment)
    rates, used, remaining, result = RateBook(), {}, {}, {}
    for pk, customer_id, country, started_at, seconds, call_type, destination, number_type in records:
        call_month = started_at.date().replace(day=1)
        is_adjustment = call_month != month
        minutes = whole_minutes(seconds)
        zone = ZONE_OF_CALL.get(call_type)
        pool_minutes = 0
        if zone is not None:
            key = (customer_id, call_month, zone)
            if key not in remaining:
                already = 0
                if is_adjustment:
                    used.setdefault(call_month, _used_pools(call_month, billing_month))
                    already = used[call_month].get((customer_id, zone), 0)
                remaining[key] = max(0, pools[customer_id][zone] - already)
            pool_minutes = min(remaining[key], minutes)
            remaining[key] -= pool_minutes
        billable = minutes - pool_minutes
        currency = currency_for_country(country)
        rate = rates.find(destination, number_type, currency, started_at.date()) if billable else None
        unit_price = rate.unit_price if rate else Decimal("0")
        credit_minutes = postpaid_minutes = blocked_minutes = 0
        assignment = None
        if billable:
            state = credits.get(customer_id)
            if rate is not None and state is not None:
                state.advance_to(started_at)
                credit_minutes = state.pay(billable, unit_price, started_at)
            rest = billable - credit_minutes
            assignment = _assignment_at(assignments.get(customer_id, ()), started_at) if rest and rate else None
            if assignment is not None:
                postpaid_minutes = rest
            else:
                blocked_minutes = rest
        credit_amount = (unit_price * credit_minutes).quantize(PRICE_PLACES)
        postpaid_amount = (unit_price * postpaid_minutes).quantize(PRICE_PLACES)
        result[pk] = dict(zip(FIELDS, (
            is_adjustment, minutes, pool_minutes, billable, credit_minutes, postpaid_minutes, blocked_minutes,
            rate.pk if rate else None, unit_price, credit_amount + postpaid_amount, credit_amount, postpaid_amount,
            currency, assignment.azure_subscription_id if assignment else None,
            assignment.partner_id if assignment else None, assignment.reseller_id if assignment else None,
            _status(credit_minutes, postpaid_minutes, blocked_minutes),
        )))
    entries = []
    for state in credits.values():
        for day, amount in sorted(state.draws.items()):
            entries.append((state.account.pk, "usage_draw", -amount.quantize(PRICE_PLACES), state.last_draw_at[day]))
        for moment, amount in state.recharges:
            entries.append((state.account.pk, "recharge", amount, moment))
    return result, sorted(entries)
