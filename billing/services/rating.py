"""Rating a month of calls (SPEC §8): included minutes → communication credits → post-paid
overage, else blocked.

For each customer, calls are taken in time order:

1. each call is billed in whole started minutes;
2. minutes are drawn from the customer's pool for the call's zone (included minutes per
   license per month, pooled per customer); toll-free minutes never draw from a pool;
3. the rest is charged at the rate in force at the call (destination country × number type,
   list price in the customer's currency);
4. the charge is paid from communication credits in whole minutes while the balance covers
   them (auto-recharge refilling it whenever it falls below its threshold);
5. what credits do not pay accrues post-paid to the Azure subscription that held the
   customer's overage at the call's time; with neither, those minutes are blocked.

A draft month can be re-rated: its rated calls and its provisional credit draws and recharges
are replaced, so rating twice gives the same lines. A finalized month never changes; calls
that arrive late for it are rated in the next rated open month as adjustments (drawing on
what was left of their own month's pools). ``RatedCall.usage_record`` is unique, so the
database, not luck, stops a call being billed twice.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.models import (
    BillingMonth,
    BillingMonthStatus,
    CallType,
    CreditAccount,
    CreditEntryKind,
    CreditLedgerEntry,
    Rate,
    RatedCall,
    RatedCallStatus,
    RatingRun,
    RatingRunStatus,
    UsageRecord,
)
from catalog.models import CallingZone, TenantLicense
from overage.models import OverageAssignment, OverageService
from portal.models import currency_for_country
from portal.services import audit_record
from subscriptions.models import SeatChange, SubscriptionStatus
from subscriptions.periods import add_months

MONTH_NOT_ENDED = _("%(month)s has not ended yet: a month can be rated once it is over.")
MONTH_FINALIZED = _("%(month)s is finalized and never changes. Calls that arrive late are billed in the next open month.")
ALREADY_FINALIZED = _("%(month)s is already finalized.")
NOT_RATED = _("%(month)s has not been rated completely: rate it, then finalize it.")
RUN_IN_PROGRESS = _("%(month)s is being rated right now. Wait for that run to finish.")

ZONE_OF_CALL = {
    CallType.DOMESTIC: CallingZone.DOMESTIC,
    CallType.INTERNATIONAL: CallingZone.INTERNATIONAL,
    CallType.CONFERENCE_DIALOUT: CallingZone.CONFERENCING,
    CallType.TOLLFREE_INBOUND: None,
}
PRICE_PLACES = Decimal("0.000001")
BATCH = 5000


class RatingError(Exception):
    def __init__(self, description):
        super().__init__(str(description))
        self.description = str(description)


def month_bounds(month):
    """(first moment, first moment of the next month) in UTC for the month starting ``month``."""
    start = timezone.make_aware(datetime.combine(month, time.min))
    return start, timezone.make_aware(datetime.combine(add_months(month, 1), time.min))


def whole_minutes(seconds):
    """Every started minute is billed: 61 s is 2 minutes, 0 s is none."""
    return math.ceil(seconds / 60) if seconds > 0 else 0


# --- what the rating reads, fetched in bulk --------------------------------------------


def pools_by_customer(customer_ids, month_start, month_end):
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
        TenantLicense.objects.filter(held, customer_id__in=customer_ids, provisioned_at__lt=month_end)
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


class RateBook:
    """All call rates, looked up by destination, number type, currency and day."""

    def __init__(self):
        self._rates = defaultdict(list)
        for rate in Rate.objects.order_by("-effective_from"):
            self._rates[(rate.destination_country, rate.number_type, rate.currency)].append(rate)

    def find(self, country, number_type, currency, day):
        for rate in self._rates.get((country, number_type, currency), ()):
            if rate.effective_from <= day and (rate.effective_to is None or day < rate.effective_to):
                return rate
        return None


@dataclass
class CreditState:
    """A customer's credit account replayed in time order during the run."""

    account: CreditAccount
    balance: Decimal
    upcoming: list  # (occurred_at, amount) of entries inside the month, oldest first
    draws: dict = field(default_factory=lambda: defaultdict(Decimal))  # day → amount drawn
    last_draw_at: dict = field(default_factory=dict)
    recharges: list = field(default_factory=list)

    def advance_to(self, moment):
        while self.upcoming and self.upcoming[0][0] <= moment:
            self.balance += self.upcoming.pop(0)[1]

    def pay(self, minutes, unit_price, moment):
        """Whole minutes paid from the balance; recharges when it falls below the threshold."""
        if unit_price <= 0 or minutes == 0:
            return 0
        paid = 0
        while paid < minutes:
            if self.balance < unit_price:
                if not self._recharge(moment):
                    break
                continue
            affordable = min(minutes - paid, int(self.balance // unit_price))
            self.balance -= unit_price * affordable
            paid += affordable
            day = moment.date()
            self.draws[day] += unit_price * affordable
            self.last_draw_at[day] = moment
            if self.account.auto_recharge and self.balance < self.account.threshold:
                self._recharge(moment)
        return paid

    def _recharge(self, moment):
        account = self.account
        if not account.auto_recharge or account.recharge_amount <= 0:
            return False
        self.balance += account.recharge_amount
        self.recharges.append((moment, account.recharge_amount))
        return True


def credit_states(customer_ids, month_start, month_end, billing_month):
    accounts = {a.customer_id: a for a in CreditAccount.objects.filter(customer_id__in=customer_ids)}
    if not accounts:
        return {}
    entries = CreditLedgerEntry.objects.filter(account__in=accounts.values()).exclude(billing_month=billing_month)
    opening = dict(
        entries.filter(occurred_at__lt=month_start).values_list("account_id").annotate(total=Sum("amount")).values_list(
            "account_id", "total"
        )
    )
    upcoming = defaultdict(list)
    for account_id, occurred_at, amount in (
        entries.filter(occurred_at__gte=month_start, occurred_at__lt=month_end)
        .order_by("occurred_at", "pk")
        .values_list("account_id", "occurred_at", "amount")
    ):
        upcoming[account_id].append((occurred_at, amount))
    return {
        customer_id: CreditState(account, opening.get(account.pk) or Decimal("0"), upcoming[account.pk])
        for customer_id, account in accounts.items()
    }


def assignments_by_customer(customer_ids, until):
    result = defaultdict(list)
    for assignment in OverageAssignment.objects.filter(
        customer_id__in=customer_ids, service=OverageService.PHONE_SERVICES, started_at__lt=until
    ).order_by("started_at"):
        result[assignment.customer_id].append(assignment)
    return result


def assignment_at(assignments, moment):
    for assignment in assignments:
        if assignment.started_at <= moment and (assignment.ended_at is None or moment < assignment.ended_at):
            return assignment
    return None


# --- the run -----------------------------------------------------------------------------


def _records_to_rate(billing_month, month_start, month_end):
    """The month's own calls, and late calls of finalized earlier months (adjustments)."""
    finalized_months = list(
        BillingMonth.objects.filter(status=BillingMonthStatus.FINALIZED, month__lt=billing_month.month).values_list(
            "month", flat=True
        )
    )
    late = Q()
    for month in finalized_months:
        start, end = month_bounds(month)
        late |= Q(started_at__gte=start, started_at__lt=end)
    condition = Q(started_at__gte=month_start, started_at__lt=month_end)
    if finalized_months:
        condition |= late
    return UsageRecord.objects.filter(condition, rating__isnull=True)


def _used_pools(customer_ids, month):
    """Pool minutes already used by the calls of a finalized month: what a late call of that
    month may still draw on. {(customer id, zone): minutes}."""
    start, end = month_bounds(month)
    used = defaultdict(int)
    rows = (
        RatedCall.objects.filter(
            usage_record__customer_id__in=customer_ids, usage_record__started_at__gte=start, usage_record__started_at__lt=end
        )
        .values_list("usage_record__customer_id", "usage_record__call_type")
        .annotate(total=Sum("pool_minutes"))
    )
    for customer_id, call_type, total in rows:
        zone = ZONE_OF_CALL.get(call_type)
        if zone:
            used[(customer_id, zone)] += total or 0
    return used


def _start_run(billing_month, acting_user):
    try:
        with transaction.atomic():
            return RatingRun.objects.create(
                billing_month=billing_month, status=RatingRunStatus.RUNNING, started_by=acting_user
            )
    except IntegrityError:
        raise RatingError(RUN_IN_PROGRESS % {"month": f"{billing_month.month:%Y-%m}"}) from None


def billing_month_for(month):
    billing_month, _ = BillingMonth.objects.get_or_create(month=month)
    return billing_month


def check_can_rate(billing_month, today=None):
    today = today or timezone.localdate()
    label = f"{billing_month.month:%Y-%m}"
    if billing_month.status == BillingMonthStatus.FINALIZED:
        raise RatingError(MONTH_FINALIZED % {"month": label})
    if today < add_months(billing_month.month, 1):
        raise RatingError(MONTH_NOT_ENDED % {"month": label})


def rate_month(*, month, acting_user=None, run=None, progress=None):
    """Rate (or re-rate) the month starting ``month``. Returns the finished ``RatingRun``.

    The previous lines and provisional credit draws of the month are removed in the first
    transaction; customers are then rated in batches, each committed with the run's progress
    so a progress bar can follow it. If the run fails half-way, the month shows a failed run
    and rating it again starts over cleanly."""
    billing_month = billing_month_for(month)
    check_can_rate(billing_month)
    if run is None:
        run = _start_run(billing_month, acting_user)
    else:
        RatingRun.objects.filter(pk=run.pk).update(status=RatingRunStatus.RUNNING)
    try:
        month_start, month_end = month_bounds(billing_month.month)
        with transaction.atomic():
            BillingMonth.objects.select_for_update().get(pk=billing_month.pk)
            CreditLedgerEntry.objects.filter(billing_month=billing_month).delete()
            RatedCall.objects.filter(billing_month=billing_month).delete()
        records = _records_to_rate(billing_month, month_start, month_end)
        customer_ids = sorted(set(records.values_list("customer_id", flat=True).distinct()))
        total = records.count()
        RatingRun.objects.filter(pk=run.pk).update(total_records=total, processed_records=0)
        processed = 0
        rates = RateBook()
        for offset in range(0, len(customer_ids), 500):
            chunk = customer_ids[offset : offset + 500]
            with transaction.atomic():
                processed += _rate_customers(billing_month, chunk, month_start, month_end, rates)
                RatingRun.objects.filter(pk=run.pk).update(processed_records=processed)
            if progress:
                progress(processed, total)
        RatingRun.objects.filter(pk=run.pk).update(
            status=RatingRunStatus.DONE, finished_at=timezone.now(), message=f"{processed} calls rated"
        )
    except Exception as error:
        RatingRun.objects.filter(pk=run.pk).update(
            status=RatingRunStatus.FAILED, finished_at=timezone.now(), message=str(error)[:500]
        )
        raise
    run.refresh_from_db()
    return run


def _rate_customers(billing_month, customer_ids, month_start, month_end, rates):
    records = (
        _records_to_rate(billing_month, month_start, month_end)
        .filter(customer_id__in=customer_ids)
        .order_by("customer_id", "started_at", "record_id")
        .values_list(
            "pk", "customer_id", "customer__country", "started_at", "duration_seconds", "call_type",
            "destination_country", "number_type",
        )
    )
    pools = pools_by_customer(customer_ids, month_start, month_end)
    credits = credit_states(customer_ids, month_start, month_end, billing_month)
    assignments = assignments_by_customer(customer_ids, month_end)
    finalized_used = {}
    remaining = {}  # (customer id, month, zone) → minutes left
    rated, count = [], 0
    # A chunk of customers is a few tens of thousands of calls: fetched whole, because a
    # server-side cursor (iterator) makes PostgreSQL plan for the first rows and run slower.
    for pk, customer_id, country, started_at, seconds, call_type, destination, number_type in list(records):
        count += 1
        call_month = started_at.date().replace(day=1)
        is_adjustment = call_month != billing_month.month
        minutes = whole_minutes(seconds)
        zone = ZONE_OF_CALL.get(call_type)
        pool_minutes = 0
        if zone is not None:
            key = (customer_id, call_month, zone)
            if key not in remaining:
                already = 0
                if is_adjustment:
                    if call_month not in finalized_used:
                        finalized_used[call_month] = _used_pools(customer_ids, call_month)
                    already = finalized_used[call_month].get((customer_id, zone), 0)
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
            assignment = assignment_at(assignments.get(customer_id, ()), started_at) if rest and rate else None
            if assignment is not None:
                postpaid_minutes = rest
            else:
                # No rate, or neither credits nor overage: the call cannot be billed.
                blocked_minutes = rest
        status = _status(pool_minutes, credit_minutes, postpaid_minutes, blocked_minutes)
        credit_amount = (unit_price * credit_minutes).quantize(PRICE_PLACES)
        postpaid_amount = (unit_price * postpaid_minutes).quantize(PRICE_PLACES)
        rated.append(
            (
                pk, billing_month.pk, is_adjustment, minutes, pool_minutes, billable, credit_minutes, postpaid_minutes,
                blocked_minutes, rate.pk if rate else None, unit_price, credit_amount + postpaid_amount, credit_amount,
                postpaid_amount, currency, assignment.azure_subscription_id if assignment else None,
                assignment.partner_id if assignment else None, assignment.reseller_id if assignment else None, status,
            )
        )
        if len(rated) >= BATCH:
            _insert_rated_calls(rated)
            rated = []
    if rated:
        _insert_rated_calls(rated)
    _write_credit_entries(credits, billing_month)
    return count


RATED_CALL_FIELDS = [
    "usage_record", "billing_month", "is_adjustment", "minutes", "pool_minutes", "billable_minutes", "credit_minutes",
    "postpaid_minutes", "blocked_minutes", "rate", "unit_price", "amount", "credit_amount", "postpaid_amount",
    "currency", "azure_subscription", "partner", "reseller", "status",
]


def _insert_rated_calls(rows):
    """A million calls a month: the rows go in by ``COPY`` (PostgreSQL) or one ``executemany``
    per batch rather than through model instances, several times faster. The columns come from
    the model's own metadata, and the database still checks every constraint."""
    fields = [RatedCall._meta.get_field(name) for name in RATED_CALL_FIELDS]
    ops = connection.ops
    table = ops.quote_name(RatedCall._meta.db_table)
    columns = ", ".join(ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    def needs_conversion(field):
        target = field.target_field if field.is_relation else field
        return target.get_internal_type() in ("DecimalField", "UUIDField")

    # Decimals and UUIDs go through the field's own conversion where the driver cannot take
    # them as they are (SQLite stores them as text; psycopg adapts both natively).
    converters = [] if connection.vendor == "postgresql" else [
        (i, f.get_db_prep_save) for i, f in enumerate(fields) if needs_conversion(f)
    ]
    if converters:
        rows = [list(row) for row in rows]
        for row in rows:
            for i, convert in converters:
                row[i] = convert(row[i], connection)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY streams the batch in one round trip; executemany would send a row at a time.
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows)


def _status(pool, credit, postpaid, blocked):
    if blocked:
        return RatedCallStatus.BLOCKED
    if credit and postpaid:
        return RatedCallStatus.MIXED
    if credit:
        return RatedCallStatus.CREDITS
    if postpaid:
        return RatedCallStatus.POSTPAID
    return RatedCallStatus.INCLUDED


def _write_credit_entries(credits, billing_month):
    """One usage draw per customer per day (dated at that day's last paid call) and one row
    per auto-recharge, all tied to the month: provisional until it is finalized."""
    entries = []
    for state in credits.values():
        for day, amount in sorted(state.draws.items()):
            entries.append(
                CreditLedgerEntry(
                    account=state.account,
                    kind=CreditEntryKind.USAGE_DRAW,
                    amount=-amount.quantize(PRICE_PLACES),
                    occurred_at=state.last_draw_at[day],
                    billing_month=billing_month,
                    note=str(_("Calls of %(day)s")) % {"day": day.isoformat()},
                )
            )
        for moment, amount in state.recharges:
            entries.append(
                CreditLedgerEntry(
                    account=state.account,
                    kind=CreditEntryKind.RECHARGE,
                    amount=amount,
                    occurred_at=moment,
                    billing_month=billing_month,
                    note=str(_("Auto-recharge below %(threshold)s")) % {"threshold": state.account.threshold},
                )
            )
    CreditLedgerEntry.objects.bulk_create(entries, batch_size=BATCH)


@transaction.atomic
def billing_month_finalize(*, month, acting_user=None, request_id=""):
    """Close a rated month for good: its lines, credit draws and reconciliation file never
    change again. Refused for a month not over yet, or already finalized."""
    billing_month = BillingMonth.objects.select_for_update().filter(month=month).first()
    label = f"{month:%Y-%m}"
    if billing_month is not None and billing_month.status == BillingMonthStatus.FINALIZED:
        raise RatingError(ALREADY_FINALIZED % {"month": label})
    if timezone.localdate() < add_months(month, 1):
        raise RatingError(MONTH_NOT_ENDED % {"month": label})
    if billing_month is None:
        billing_month = BillingMonth.objects.create(month=month)
    latest_run = RatingRun.objects.filter(billing_month=billing_month).order_by("-created_at", "-pk").first()
    if latest_run is not None and latest_run.status in (RatingRunStatus.QUEUED, RatingRunStatus.RUNNING):
        raise RatingError(RUN_IN_PROGRESS % {"month": label})
    if latest_run is None or latest_run.status != RatingRunStatus.DONE:
        # Unrated, or its last run failed half-way: finalizing would freeze missing lines and
        # bill the month's calls next month as adjustments.
        raise RatingError(NOT_RATED % {"month": label})
    billing_month.status = BillingMonthStatus.FINALIZED
    billing_month.finalized_at = timezone.now()
    billing_month.finalized_by = acting_user if acting_user is not None and acting_user.pk else None
    billing_month.save()
    from billing.services.reconciliation import reconciliation_snapshot

    reconciliation_snapshot(billing_month=billing_month)
    audit_record(actor=acting_user, action="billing_month.finalize", obj=billing_month, request_id=request_id,
                 after={"status": billing_month.status})
    return billing_month


def month_summary(billing_month):
    """Counts and amounts of a rated month, by status: for the run page and the command."""
    return (
        RatedCall.objects.filter(billing_month=billing_month)
        .values("status")
        .annotate(calls=Count("pk"), minutes=Sum("minutes"), amount=Sum("amount"))
        .order_by("status")
    )

