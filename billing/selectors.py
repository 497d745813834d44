"""Reads for the billing pages: the months with their totals, a filtered page of a month's
reconciliation lines, and the data of the charts and the blocked-calls table.

Every function takes the partner and reads only what it may see: its own reconciliation lines
(``reconciliation_lines`` is built from the partner's subscriptions and rated calls), its
customers' credit ledgers (``transacted_by``) and calls.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone

from billing.models import (
    BillingMonth,
    BillingMonthStatus,
    CreditAccount,
    CreditEntryKind,
    CreditLedgerEntry,
    RatedCall,
)
from billing.reconciliation_format import USAGE_CHARGE_TYPE, line_kind, month_last_day, totals_of
from billing.reconciliation_selectors import reconciliation_lines
from catalog.models import BillingCycle
from overage.selectors import BY_NAME, customers_overage_managed_by
from portal.models import Customer, CustomerRelationship
from subscriptions.models import ChargeEvent, ChargeType, MonthlyInstalmentTotal

CHARGE_TYPES = [choice.value for choice in ChargeType] + [USAGE_CHARGE_TYPE]


def month_totals(*, partner, month):
    """Per currency, the license, usage and total Subtotals of the month's lines: the very
    sum of the lines of the file, so the page and the file agree to the cent."""
    return totals_of(reconciliation_lines(partner=partner, month=month))


def _first_day(value):
    return (value.date() if isinstance(value, datetime) else value).replace(day=1)


def billing_months(*, partner, today=None):
    """The months to list: every ``BillingMonth``, the months of the partner's charge events
    and rated calls, and the current month; newest first, each with its state and totals."""
    today = today or timezone.localdate()
    statuses = dict(BillingMonth.objects.values_list("month", "status"))
    months = set(statuses) | {today.replace(day=1)}
    months |= {
        _first_day(m)
        for m in ChargeEvent.objects.owned_by(partner)
        .annotate(m=TruncMonth("occurred_at"))
        .values_list("m", flat=True)
        .distinct()
    }
    months |= set(
        RatedCall.objects.owned_by(partner).published().values_list("billing_month__month", flat=True).distinct()
    )
    return [
        {
            "month": month,
            "status": statuses.get(month, BillingMonthStatus.OPEN),
            "finalized": statuses.get(month) == BillingMonthStatus.FINALIZED,
            "totals": month_totals(partner=partner, month=month),
        }
        for month in sorted(months, reverse=True)
    ]


@dataclass
class LinePage:
    """One page of a month's lines after filtering, with what the filter form needs."""

    rows: list
    count: int
    offset: int
    limit: int
    totals: dict  # of every line of the month, whatever the filter
    filtered_totals: dict
    customers: list = field(default_factory=list)  # (tenant id, name) present in the month
    products: list = field(default_factory=list)  # (product id, name) present in the month

    @property
    def has_next(self):
        return self.offset + self.limit < self.count

    @property
    def has_previous(self):
        return self.offset > 0


def line_filter(*, customer="", charge_type="", product=""):
    """A predicate over line dicts: customer tenant id, charge type, product id (all exact)."""

    def matches(row):
        return (
            (not customer or row["CustomerId"] == customer)
            and (not charge_type or row["ChargeType"] == charge_type)
            and (not product or row["ProductId"] == product)
        )

    return matches


def line_page(*, partner, month, offset=0, limit=50, matches=None):
    """``limit`` lines from ``offset`` of the month's lines that ``matches``, in file order.

    One pass over the lines: the month's totals are summed from every line (not the page),
    and only the page is kept in memory."""
    matches = matches or (lambda row: True)
    page = []
    customers, products = {}, {}
    count = 0

    totals = defaultdict(lambda: {"license": Decimal("0.00"), "usage": Decimal("0.00"), "total": Decimal("0.00"), "lines": 0})
    filtered = defaultdict(lambda: {"license": Decimal("0.00"), "usage": Decimal("0.00"), "total": Decimal("0.00"), "lines": 0})

    def add(bucket, row):
        amount = Decimal(row["Subtotal"])
        bucket[line_kind(row["ChargeType"])] += amount
        bucket["total"] += amount
        bucket["lines"] += 1

    for row in reconciliation_lines(partner=partner, month=month):
        add(totals[row["Currency"]], row)
        customers.setdefault(row["CustomerId"], row["CustomerName"])
        products.setdefault(row["ProductId"], row["ProductName"])
        if not matches(row):
            continue
        add(filtered[row["Currency"]], row)
        if offset <= count < offset + limit:
            page.append(row)
        count += 1
    return LinePage(
        rows=page,
        count=count,
        offset=offset,
        limit=limit,
        totals={c: totals[c] for c in sorted(totals)},
        filtered_totals={c: filtered[c] for c in sorted(filtered)},
        customers=sorted(customers.items(), key=lambda item: (item[1], item[0])),
        products=sorted(products.items(), key=lambda item: (item[1], item[0])),
    )


def overage_per_subscription_per_day(*, partner, month):
    """Post-paid overage amount per Azure subscription per call day of ``month``'s own calls
    (late adjustments belong to other days): ``(days, [(label, [amount per day])], currency)``."""
    rows = (
        RatedCall.objects.owned_by(partner).billed_in(month).filter(postpaid_minutes__gt=0, is_adjustment=False)
        .annotate(day=TruncDate("usage_record__started_at"))
        .values(
            "azure_subscription_id",
            "azure_subscription__friendly_name",
            "azure_subscription__plan__customer__name",
            "day",
            "currency",
        )
        .annotate(amount=Sum("postpaid_amount"))
        .order_by(
            "azure_subscription__plan__customer__name",
            "azure_subscription__friendly_name",
            "azure_subscription_id",
            "day",
        )
    )
    days = [month + timedelta(days=n) for n in range((month_last_day(month) - month).days + 1)]
    index = {day: n for n, day in enumerate(days)}
    series, currencies = {}, set()
    for row in rows:
        key = row["azure_subscription_id"]
        if key not in series:
            # The id's start tells apart two customers' "Subscription 1".
            label = (
                f"{row['azure_subscription__plan__customer__name']} · "
                f"{row['azure_subscription__friendly_name']} ({str(key)[:8]})"
            )
            series[key] = (label, [Decimal("0")] * len(days))
        day = row["day"]
        if day in index:
            series[key][1][index[day]] += Decimal(row["amount"] or 0)
        currencies.add(row["currency"])
    return days, list(series.values()), ", ".join(sorted(currencies))


def credit_balance_over_time(*, partner, until, limit=8):
    """Daily closing balance of the communication-credit accounts of the partner's customers,
    up to ``until``: ``[(label, [(day, balance)])]`` for the ``limit`` busiest accounts, and
    how many more accounts there are. A balance is the running sum of the ledger."""
    entries = (
        CreditLedgerEntry.objects.transacted_by(partner)
        .filter(occurred_at__date__lte=until)
        .annotate(day=TruncDate("occurred_at"))
        .values("account_id", "account__customer__name", "account__currency", "day")
        .annotate(amount=Sum("amount"), entries=Count("id"))
        .order_by("account__customer__name", "account_id", "day")
    )
    accounts = {}
    for row in entries:
        label = f"{row['account__customer__name']} ({row['account__currency']})"
        account = accounts.setdefault(row["account_id"], {"label": label, "points": [], "balance": Decimal("0"), "entries": 0})
        account["balance"] += Decimal(row["amount"])
        account["entries"] += row["entries"]
        account["points"].append((row["day"], account["balance"]))
    busiest = sorted(accounts.values(), key=lambda a: (-a["entries"], a["label"]))[:limit]
    busiest.sort(key=lambda a: a["label"])
    return [(a["label"], a["points"]) for a in busiest], max(len(accounts) - limit, 0)


def customer_credits(customer):
    """The communication-credit account of ``customer`` (one the caller reached through its
    partner's scope) and its balance: ``(account, balance)``, or ``(None, None)`` without one."""
    account = CreditAccount.objects.filter(customer=customer).first()
    return (account, account.balance()) if account else (None, None)


def blocked_calls_by_customer(*, partner, month):
    """The month's calls (of the partner's customers) blocked for want of credits and of an
    Azure subscription holding overage: per customer, calls and blocked minutes."""
    return list(
        RatedCall.objects.billed_in(month).filter(
            blocked_minutes__gt=0,
            usage_record__customer__in=Customer.objects.transacted_by(partner),
        )
        .values("usage_record__customer__name", "usage_record__customer__tenant_id")
        .annotate(calls=Count("id"), minutes=Sum("blocked_minutes"))
        .order_by("-minutes", "usage_record__customer__name")
    )


def month_state(month):
    status = BillingMonth.objects.filter(month=month).values_list("status", flat=True).first()
    return status or BillingMonthStatus.OPEN


def recent_month(today=None):
    today = today or timezone.localdate()
    return date(today.year, today.month, 1)


# --- What needs the partner's attention (the dashboard, SPEC §11) ----------------------------


def blocked_calls_in_months(*, partner, months, limit=20):
    """Calls of the partner's customers blocked in the billing months starting ``months``
    (no credits left, no Azure subscription holding overage: SPEC §8), per customer per
    month: ``[{"month", "customer_name", "tenant_id", "calls", "minutes"}]``, most minutes
    first. One query: the months' published runs are read in a subquery."""
    runs = BillingMonth.objects.filter(month__in=months).values("published_run")
    # The scope as a probe of each blocked call's customer: as ``customer__in`` the database
    # first listed every customer of the partner (5,000 relationship probes on the bench). The
    # probe is the test of ``Customer.objects.transacted_by`` (a relationship of the customer
    # with the partner as transacting partner or reseller of record) on the call's customer id,
    # without the customer row around it: one subquery instead of two nested ones.
    partners_customer = CustomerRelationship.objects.filter(customer=OuterRef("usage_record__customer_id")).filter(
        Q(partner=partner) | Q(reseller=partner)
    )
    rows = (
        RatedCall.objects.filter(run__in=runs, blocked_minutes__gt=0)
        .filter(Exists(partners_customer))
        .values("billing_month__month", "usage_record__customer__name", "usage_record__customer__tenant_id")
        .annotate(calls=Count("id"), minutes=Sum("blocked_minutes"))
        .order_by("-minutes", "usage_record__customer__name")
    )
    return [
        {
            "month": row["billing_month__month"],
            "customer_name": row["usage_record__customer__name"],
            "tenant_id": row["usage_record__customer__tenant_id"],
            "calls": row["calls"],
            "minutes": row["minutes"],
        }
        for row in rows[:limit]
    ]


def auto_recharge_customers(partner):
    """The customers of ``auto_recharge_blocking_postpaid``, a queryset (unordered)."""
    return customers_overage_managed_by(partner).filter(credit_account__auto_recharge=True)


def auto_recharge_blocking_postpaid(*, partner, limit=20):
    """Credit accounts with auto-recharge on, of the partner's customers whose overage the
    partner manages (a live overage-capable subscription, the setting not another partner's):
    post-paid overage will never start for them (SPEC §8). By customer; one query."""
    # Read from the customers (each has one account), driven like the overage-off list: from
    # the accounts, the scope listed every customer of the partner first.
    customers = (
        auto_recharge_customers(partner)
        .select_related("credit_account")
        .order_by(*BY_NAME)[:limit]
    )
    return [customer.credit_account for customer in customers]


@dataclass
class MonthCharges:
    """One currency's charges of a month so far: post-paid overage, usage paid from
    communication credits, and the licence charges (charge events and monthly instalments)."""

    currency: str
    postpaid: Decimal = Decimal("0")
    credit_draws: Decimal = Decimal("0")
    licences: Decimal = Decimal("0")


def charges_by_month(*, partner, months):
    """Per month of ``months`` (first days) and per currency, the month's charges as far as known:

    * post-paid overage and credit draws of the month's published rating (calls rated so far);
    * the estimated licence charges: the charge events of the partner's subscriptions dated in
      the month (purchases, seats added and removed, renewals, upgrades, cancellations) plus one
      monthly instalment (seats × unit price) of each live license billed monthly whose current
      term started before the month, read from the totals the database keeps per start and end
      month (``MonthlyInstalmentTotal``). An estimate: the reconciliation file
      (``billing.reconciliation_licenses``) prices each period from the seat history; this reads
      four aggregates instead of replaying every subscription.

    Four queries whatever the number of months: ``{month: [MonthCharges by currency]}``."""
    months = sorted(set(months))
    charges = {month: {} for month in months}  # month -> currency -> MonthCharges
    _add_usage_charges(charges, partner=partner, months=months)
    _add_charge_events(charges, partner=partner, months=months)
    _add_monthly_instalments(charges, partner=partner, months=months)
    return {month: _rounded(charges[month]) for month in months}


def _charges_of(charges, month, currency):
    return charges[month].setdefault(currency, MonthCharges(currency))


def _add_usage_charges(charges, *, partner, months):
    """The months' post-paid overage and credit draws, of their published ratings. Two queries."""
    runs = BillingMonth.objects.filter(month__in=months).values("published_run")
    postpaid = (
        RatedCall.objects.transacted_by(partner)
        .filter(run__in=runs, billing_month__month__in=months, postpaid_minutes__gt=0)
        .values("billing_month__month", "currency").annotate(total=Sum("postpaid_amount")).order_by()
    )
    for row in postpaid:
        _charges_of(charges, row["billing_month__month"], row["currency"]).postpaid += Decimal(row["total"] or 0)
    draws = (
        CreditLedgerEntry.objects.transacted_by(partner)
        .filter(kind=CreditEntryKind.USAGE_DRAW, billing_month__month__in=months)
        .values("billing_month__month", "account__currency").annotate(total=Sum("amount")).order_by()
    )
    for row in draws:
        month_charges = _charges_of(charges, row["billing_month__month"], row["account__currency"])
        month_charges.credit_draws -= Decimal(row["total"] or 0)


def _add_charge_events(charges, *, partner, months):
    """The licence charge events dated in the months: an index range of ``occurred_at``, each
    joined to its subscription for the scope. One query."""
    first = datetime.combine(months[0], datetime.min.time(), tzinfo=dt_timezone.utc)
    after = datetime.combine(month_last_day(months[-1]) + timedelta(days=1), datetime.min.time(), tzinfo=dt_timezone.utc)
    events = (
        ChargeEvent.objects.transacted_by(partner).filter(occurred_at__gte=first, occurred_at__lt=after)
        .annotate(month=TruncMonth("occurred_at"))
        .values("month", "currency").annotate(total=Sum("amount")).order_by()
    )
    for row in events:
        month = _first_day(row["month"])
        if month in charges:
            _charges_of(charges, month, row["currency"]).licences += Decimal(row["total"] or 0)


def _add_monthly_instalments(charges, *, partner, months):
    """One instalment of each live monthly license whose term started before the month and
    ends in it or later, from the totals the database keeps per start and end month
    (``MonthlyInstalmentTotal``): a few hundred rows, not every subscription. One query."""
    instalments = (
        MonthlyInstalmentTotal.objects.transacted_by(partner)
        .filter(start_month__lt=months[-1], end_month__gte=months[0])
        .values("currency")
        .annotate(**{
            f"m{n}": Sum("amount", filter=Q(start_month__lt=month, end_month__gte=month))
            for n, month in enumerate(months)
        })
        .order_by()
    )
    for row in instalments:
        for n, month in enumerate(months):
            if row[f"m{n}"]:
                _charges_of(charges, month, row["currency"]).licences += Decimal(row[f"m{n}"])


def _rounded(by_currency):
    """A month's charges to the cent, by currency code."""
    for item in by_currency.values():
        for name in ("postpaid", "credit_draws", "licences"):
            setattr(item, name, getattr(item, name).quantize(Decimal("0.01")))
    return [by_currency[currency] for currency in sorted(by_currency)]
