"""The set-based passes that rate one chunk of customers (SPEC §8), run inside the chunk's
transaction on PostgreSQL and on SQLite.

Per chunk, the small inputs go into temporary tables first (the months in play, the
customers' currencies, the included-minute pools, the rates and the overage assignments as
non-overlapping time spans, all resolved in Python where the rule says "the first that
matches"), then:

1. **calls** (a query, ``rating_passes.calls_sql``): each call's whole minutes, its zone, the
   minutes it draws from its zone's pool as a window-function running sum in time order
   (``SUM(minutes) OVER (PARTITION BY customer, month, zone ORDER BY start, record id)``),
   and the rate in force at its start, joined by time span;
2. **credits**: for the customers holding a credit account that may pay, that query's rows
   are kept in a temporary table (``rc_calls``), their priced billable calls are read from
   it in time order and replayed against the balance (``billing.services.rating_credits``);
   the minutes paid go into a temporary table;
3. **rated calls** (``INSERT … SELECT``): the credit customers' rows from ``rc_calls``, the
   other customers' straight from the query; the rest of each billable call accrues
   post-paid to the Azure subscription whose assignment span holds the call's start, else it
   is blocked; amounts are exact (price × minutes).

The two databases run the same statements (``billing.services.rating_passes`` holds their
text and the few places where their SQL differs).
"""

from collections import defaultdict
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import NamedTuple

from django.db import connection
from django.utils import timezone

from billing.models import Rate
from billing.services.pg_copy import copy_rows
from billing.services.rating_credits import credit_states
from billing.services.rating_passes import CREDIT, NO_CREDIT, calls_sql, dialect, insert_sql
from billing.services.rating_tables import run_table
from overage.models import OverageAssignment, OverageService
from portal.models import MARKET_CURRENCY

TEMP_TABLES = ("rc_month", "rc_customer", "rc_credit_customer", "rc_pool", "rc_rate", "rc_assign", "rc_credit",
               "rc_calls")


def _ts(moment):
    """A datetime as the database compares it (SQLite: naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(moment)


def _prep_uuid(value):
    """A UUID as the column stores it (SQLite: 32 hex digits)."""
    return value if connection.vendor == "postgresql" else value.hex


def _midnight(day):
    return datetime.combine(day, time.min, tzinfo=UTC)


def _create(cursor, name, columns):
    d = dialect()
    cursor.execute(d["drop"].format(name))
    cursor.execute(d["temp"].format(name) + f" ({columns})")


def _fill(cursor, name, columns, rows):
    if not rows:
        return
    if connection.vendor == "postgresql":  # one round trip for the whole table
        copy_rows(cursor, name, columns, rows)
        return
    marks = ", ".join(["%s"] * len(columns))
    cursor.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", rows)


def _analyze(cursor):
    """Temporary tables have no statistics until analyzed: without them PostgreSQL plans
    for a few hundred rows and picks sorts and merge joins over hash joins."""
    if connection.vendor == "postgresql":
        cursor.execute("ANALYZE " + ", ".join(name for name in TEMP_TABLES if name not in ("rc_credit", "rc_calls")))


# --- Inputs ------------------------------------------------------------------------------


class MonthSpan(NamedTuple):
    """A month in play in a run: its key (0 the run's own), its bounds, and whether it is the
    run's own month (else a finalized month whose late calls the run bills)."""

    key: int
    start: datetime
    end: datetime
    own: bool


class RateSpan(NamedTuple):
    """A rate in force over ``[starts, ends)`` (``ends`` None: open), as the rating reads it."""

    country: str
    number_type: str
    currency: str
    starts: str
    ends: str | None
    rate_id: int
    unit_price: Decimal


def rate_spans():
    """Non-overlapping ``(country, number type, currency, from, until, rate id, price)`` spans
    that give, for any day, the rate ``RateBook.find`` would: among the rates whose
    [from, until) holds the day, the latest ``effective_from``."""
    by_key = defaultdict(list)
    for rate in Rate.objects.order_by("-effective_from"):
        by_key[(rate.destination_country, rate.number_type, rate.currency)].append(rate)
    spans = []
    for key, rates in by_key.items():
        edges = sorted({r.effective_from for r in rates} | {r.effective_to for r in rates if r.effective_to})
        current = None
        for start, end in zip(edges, [*edges[1:], None]):
            found = next(
                (r for r in rates if r.effective_from <= start and (r.effective_to is None or start < r.effective_to)),
                None,
            )
            if current is not None and found is not None and current[5] == found.pk:
                current[4] = end  # the same rate goes on: one span
                continue
            if current is not None:
                spans.append(current)
            current = [*key, start, end, found.pk, found.unit_price] if found is not None else None
        if current is not None:
            spans.append(current)
    return [
        RateSpan(
            country, number_type, currency, _ts(_midnight(start)), _ts(_midnight(end)) if end else None, pk, price
        )
        for country, number_type, currency, start, end, pk, price in spans
    ]


def assignment_spans(first_customer_id, last_customer_id, until):
    """The phone-services overage assignments of the customers as non-overlapping spans: at
    any moment, the one that started first among those holding it (as ``assignment_at``)."""
    spans = []
    latest_end = {}
    rows = (
        OverageAssignment.objects.filter(
            customer_id__gte=first_customer_id, customer_id__lte=last_customer_id,
            service=OverageService.PHONE_SERVICES,
            started_at__lt=until,
        )
        .order_by("customer_id", "started_at", "pk")
        .values_list("customer_id", "started_at", "ended_at", "azure_subscription_id", "partner_id", "reseller_id")
    )
    for customer_id, started_at, ended_at, azure_subscription_id, partner_id, reseller_id in rows:
        covered = latest_end.get(customer_id, "none")
        if covered is None:
            continue  # an earlier assignment never ended: it holds every later moment
        start = started_at if covered == "none" else max(started_at, covered)
        if ended_at is not None and ended_at <= start:
            continue
        latest_end[customer_id] = ended_at if covered == "none" or ended_at is None else max(covered, ended_at)
        spans.append(
            (customer_id, _ts(start), _ts(ended_at) if ended_at else None, _prep_uuid(azure_subscription_id),
             partner_id, reseller_id)
        )
    return spans


def _currency_case():
    """The customer's currency from its country (``currency_for_country``) as SQL."""
    whens = " ".join(f"WHEN '{country}' THEN '{currency}'" for country, currency in sorted(MARKET_CURRENCY.items()))
    return f"CASE cu.country {whens} ELSE 'USD' END"


def load_inputs(cursor, *, chunk, months, pools, rates, credit_customers):
    """Fill the temporary input tables of a chunk. ``months``: ``[MonthSpan]``; ``pools``:
    ``{(customer id, month key, zone): minutes left}``; ``rates``: ``rate_spans`` (``[RateSpan]``)."""
    _create(cursor, "rc_month", "month_key integer, starts timestamp, ends timestamp, is_own integer")
    _fill(cursor, "rc_month", ("month_key", "starts", "ends", "is_own"),
          [(month.key, _ts(month.start), _ts(month.end), 1 if month.own else 0) for month in months])
    _create(cursor, "rc_customer", "customer_id bigint PRIMARY KEY, currency varchar(3)")
    cursor.execute(
        f"INSERT INTO rc_customer (customer_id, currency) SELECT cu.id, {_currency_case()} FROM portal_customer cu "
        "WHERE cu.id BETWEEN %s AND %s",
        [chunk.first_customer_id, chunk.last_customer_id],
    )
    _create(cursor, "rc_credit_customer", "customer_id bigint PRIMARY KEY")
    _fill(cursor, "rc_credit_customer", ("customer_id",), [(pk,) for pk in sorted(credit_customers)])
    _create(cursor, "rc_pool", "customer_id bigint, month_key integer, zone varchar(20), minutes bigint")
    _fill(cursor, "rc_pool", ("customer_id", "month_key", "zone", "minutes"),
          [(*key, minutes) for key, minutes in pools.items()])
    _create(cursor, "rc_rate", "country varchar(2), number_type varchar(10), currency varchar(3), starts timestamp, "
                               "ends timestamp, rate_id bigint, unit_price decimal(12, 6)")
    _fill(cursor, "rc_rate", ("country", "number_type", "currency", "starts", "ends", "rate_id", "unit_price"), rates)
    _create(cursor, "rc_assign", "customer_id bigint, starts timestamp, ends timestamp, azure_subscription_id "
                                 + ("uuid" if connection.vendor == "postgresql" else "char(32)")
                                 + ", partner_id bigint, reseller_id bigint")
    month_end = max(month.end for month in months)
    _fill(cursor, "rc_assign", ("customer_id", "starts", "ends", "azure_subscription_id", "partner_id", "reseller_id"),
          assignment_spans(chunk.first_customer_id, chunk.last_customer_id, month_end))
    _analyze(cursor)


# --- The passes ------------------------------------------------------------------------


def rate_chunk(*, run, chunk, months, pools, rates, month_start, month_end):
    """Rate the customers of ``chunk`` for ``run`` (inside the caller's transaction). Returns
    ``(calls rated, credit states)``; the caller stages the credit entries."""
    billing_month = run.billing_month
    params = {"first": chunk.first_customer_id, "last": chunk.last_customer_id, "month": billing_month.pk,
              "run": run.pk, "month_start": _ts(month_start), "month_end": _ts(month_end)}
    table = run_table(run)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The window sorts a chunk's calls: in memory, not in temporary files.
            cursor.execute("SET LOCAL work_mem = '256MB'")
        states = credit_states(chunk.first_customer_id, chunk.last_customer_id, month_start, month_end, billing_month)
        states = {customer_id: state for customer_id, state in states.items() if state.may_pay()}
        load_inputs(cursor, chunk=chunk, months=months, pools=pools, rates=rates, credit_customers=states)
        has_late = any(not month.own for month in months)
        if states:
            count = _rate_credit_customers(cursor, states, has_late, params, table)
            cursor.execute(insert_sql(table, f"({calls_sql(has_late, NO_CREDIT)})", paid=False, run_id=run.pk), params)
        else:
            cursor.execute(insert_sql(table, f"({calls_sql(has_late)})", paid=False, run_id=run.pk), params)
            count = 0
        count += cursor.rowcount
        for name in TEMP_TABLES:
            cursor.execute(dialect()["drop"].format(name))
    return count, states


def _rate_credit_customers(cursor, states, has_late, params, table):
    """Steps 1 to 3 for the customers whose credits may pay: their calls are computed once
    into ``rc_calls``, replayed against their balances from there, then written with the
    minutes credits paid. Returns the calls written."""
    cursor.execute(dialect()["drop"].format("rc_calls"))
    cursor.execute(dialect()["temp"].format("rc_calls") + f" AS {calls_sql(has_late, CREDIT)}", params)
    _create(cursor, "rc_credit", "usage_record_id bigint PRIMARY KEY, credit_minutes integer")
    _fill(cursor, "rc_credit", ("usage_record_id", "credit_minutes"), _credit_minutes(cursor, states))
    if connection.vendor == "postgresql":
        cursor.execute("ANALYZE rc_credit")
    cursor.execute(insert_sql(table, "rc_calls", paid=True, run_id=params["run"]), params)
    return cursor.rowcount


def _credit_minutes(cursor, states):
    """Step 2: replay the balance of each credit customer over its priced billable calls, in
    the order the pools were drawn in; ``[(usage record id, minutes paid)]`` of paid calls."""
    cursor.execute(
        "SELECT id, customer_id, started_at, billable, unit_price FROM rc_calls "
        f"WHERE rate_id IS NOT NULL AND billable > 0 ORDER BY customer_id, started_at, record_id{dialect()['bytes_order']}"
    )
    paid = []
    exact = connection.vendor == "postgresql"  # aware datetimes and Decimals already
    for pk, customer_id, started_at, billable, unit_price in cursor.fetchall():
        state = states[customer_id]
        moment = started_at if exact else _aware(started_at)
        state.advance_to(moment)
        minutes = state.pay(billable, unit_price if exact else _decimal(unit_price), moment)
        if minutes:
            paid.append((pk, minutes))
    return paid


def _aware(value):
    if isinstance(value, str):  # SQLite hands temporary-table timestamps back as text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if timezone.is_naive(value) else value


def _decimal(value):
    """A price as SQLite's floating point hands it back, made exact again (6 places)."""
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value)).quantize(Decimal("0.000001"))
