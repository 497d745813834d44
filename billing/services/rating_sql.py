"""The set-based passes that rate one chunk of customers (SPEC §8), run inside the chunk's
transaction on PostgreSQL and on SQLite.

Per chunk, the small inputs go into temporary tables first (the months in play, the
customers' currencies, the included-minute pools, the rates and the overage assignments as
non-overlapping time spans, all resolved in Python where the rule says "the first that
matches"), then:

1. **calls** (a query, ``_calls_sql``): each call's whole minutes, its zone, the minutes it
   draws from its zone's pool as a window-function running sum in time order
   (``SUM(minutes) OVER (PARTITION BY customer, month, zone ORDER BY start, record id)``),
   and the rate in force at its start, joined by time span;
2. **credits**: for the customers holding a credit account only, that query's priced
   billable calls are read in time order and replayed against the balance
   (``billing.services.rating_credits``); the minutes paid go into a temporary table;
3. **rated calls** (one ``INSERT … SELECT`` over the same query for the whole chunk): the
   rest of each billable call accrues post-paid to the Azure subscription whose assignment
   span holds the call's start, else it is blocked; amounts are exact (price × minutes).

The two databases run the same statements; where their SQL differs (``GREATEST`` against
SQLite's two-argument ``max``, a byte-order collation for ties, rounding SQLite's floating
decimals to the micro-unit), the difference is one entry of ``_DIALECT`` below.
"""

from collections import defaultdict
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import NamedTuple

from django.db import connection
from django.utils import timezone

from billing.models import CallType, Rate, RatedCall, UsageRecord
from billing.services.pg_copy import copy_rows
from billing.services.rating_credits import credit_states
from billing.services.rating_tables import run_table
from catalog.models import CallingZone
from overage.models import OverageAssignment, OverageService
from portal.models import MARKET_CURRENCY

_DIALECT = {
    "postgresql": {
        "greatest": "GREATEST",
        "least": "LEAST",
        "bytes_order": ' COLLATE "C"',
        "money": "{}",
        "drop": "DROP TABLE IF EXISTS {}",
        "temp": "CREATE TEMP TABLE {}",
    },
    "sqlite": {
        "greatest": "max",
        "least": "min",
        "bytes_order": "",  # SQLite compares text byte by byte (BINARY) already
        # SQLite keeps decimals as floating point: snap each product to the micro-unit.
        "money": "ROUND({}, 6)",
        "drop": "DROP TABLE IF EXISTS temp.{}",
        "temp": "CREATE TEMP TABLE {}",
    },
}

ZONES = {
    CallType.DOMESTIC: CallingZone.DOMESTIC,
    CallType.INTERNATIONAL: CallingZone.INTERNATIONAL,
    CallType.CONFERENCE_DIALOUT: CallingZone.CONFERENCING,
}
TEMP_TABLES = ("rc_month", "rc_customer", "rc_credit_customer", "rc_pool", "rc_rate", "rc_assign", "rc_credit")


def _dialect():
    return _DIALECT[connection.vendor]


def _ts(moment):
    """A datetime as the database compares it (SQLite: naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(moment)


def _prep_uuid(value):
    """A UUID as the column stores it (SQLite: 32 hex digits)."""
    return value if connection.vendor == "postgresql" else value.hex


def _midnight(day):
    return datetime.combine(day, time.min, tzinfo=UTC)


def _create(cursor, name, columns):
    dialect = _dialect()
    cursor.execute(dialect["drop"].format(name))
    cursor.execute(dialect["temp"].format(name) + f" ({columns})")


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
        cursor.execute("ANALYZE " + ", ".join(name for name in TEMP_TABLES if name != "rc_credit"))


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


# --- The passes --------------------------------------------------------------------------


def _month_calls_sql(credit_only):
    """The ``SELECT`` of the chunk's calls of its own month and the ``UNION ALL`` of its late
    calls of finalized months (not already billed in another month's published run)."""
    usage = connection.ops.quote_name(UsageRecord._meta.db_table)
    rated = connection.ops.quote_name(RatedCall._meta.db_table)
    # The own month's bounds are parameters, not a join to ``rc_month``: PostgreSQL then
    # estimates the chunk's calls from the index's statistics (a join gave it 76 rows for
    # 100,000, and every hash join of the plan hashed the calls instead of the small tables).
    own = (
        f"SELECT u.id, u.customer_id, u.started_at, u.record_id, u.duration_seconds, u.call_type, "
        f"u.destination_country, u.number_type, 0 AS month_key, 1 AS is_own FROM {usage} u "
        "WHERE u.customer_id BETWEEN %(first)s AND %(last)s "
        "AND u.started_at >= %(month_start)s AND u.started_at < %(month_end)s"
    )
    credit = " AND u.customer_id IN (SELECT customer_id FROM rc_credit_customer)" if credit_only else ""
    own += credit
    late = (
        f" UNION ALL SELECT u.id, u.customer_id, u.started_at, u.record_id, u.duration_seconds, u.call_type, "
        f"u.destination_country, u.number_type, m.month_key, m.is_own FROM {usage} u "
        "JOIN rc_month m ON m.is_own = 0 AND u.started_at >= m.starts AND u.started_at < m.ends "
        f"WHERE u.customer_id BETWEEN %(first)s AND %(last)s{credit} "
        # A late call already billed in another month's published run is not billed again.
        f"AND NOT EXISTS (SELECT 1 FROM {rated} r JOIN billing_billingmonth b ON b.published_run_id = r.run_id "
        "WHERE r.usage_record_id = u.id AND b.id <> %(month)s)"
    )
    return own, late


def _calls_sql(has_late, credit_only=False):
    """Step 1: every call of the chunk (or of its credit customers) with its minutes, pool
    draw and rate."""
    d = _dialect()
    own, late = _month_calls_sql(credit_only)
    zone = " ".join(f"WHEN '{call_type}' THEN '{zone}'" for call_type, zone in ZONES.items())
    zones = sorted(set(ZONES.values()))
    used = ", ".join(
        f"COALESCE(SUM(minutes) FILTER (WHERE zone = '{name}') OVER w, 0) AS used_{name}" for name in zones
    )
    used_of_zone = " ".join(f"WHEN '{name}' THEN used_{name}" for name in zones)
    return f"""
        WITH calls AS ({own}{late if has_late else ""}),
        minuted AS (
            SELECT calls.*, (duration_seconds + 59) / 60 AS minutes,
                   CASE call_type {zone} END AS zone
            FROM calls
        ),
        windowed AS (
            -- One window per customer and month, in the order of the index on (customer, start):
            -- each zone's minutes drawn by the earlier calls, as filtered running sums.
            SELECT minuted.*, {used}
            FROM minuted
            WINDOW w AS (PARTITION BY customer_id, month_key ORDER BY started_at, record_id{d["bytes_order"]}
                         ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
        ),
        pooled AS (
            SELECT windowed.*,
                   CASE WHEN windowed.zone IS NULL THEN 0 ELSE {d["greatest"]}(0, {d["least"]}(windowed.minutes,
                       COALESCE(p.minutes, 0) - CASE windowed.zone {used_of_zone} END)) END AS pool_minutes
            FROM windowed
            LEFT JOIN rc_pool p ON p.customer_id = windowed.customer_id AND p.month_key = windowed.month_key
                AND p.zone = windowed.zone
        )
        SELECT pooled.id, pooled.customer_id, pooled.started_at, pooled.record_id, pooled.is_own,
               pooled.minutes, pooled.pool_minutes, pooled.minutes - pooled.pool_minutes AS billable,
               r.rate_id, COALESCE(r.unit_price, 0) AS unit_price, cu.currency
        FROM pooled
        JOIN rc_customer cu ON cu.customer_id = pooled.customer_id
        LEFT JOIN rc_rate r ON pooled.minutes > pooled.pool_minutes
            AND r.country = pooled.destination_country AND r.number_type = pooled.number_type
            AND r.currency = cu.currency AND r.starts <= pooled.started_at
            AND (r.ends IS NULL OR pooled.started_at < r.ends)
    """


def _insert_sql(has_late, run):
    """Step 3: the rated calls of the chunk, written for the run."""
    d = _dialect()
    money = d["money"]
    table = connection.ops.quote_name(run_table(run))
    rest = "t.billable - t.credit_minutes - t.postpaid"
    return f"""
        INSERT INTO {table} (usage_record_id, run_id, billing_month_id, is_adjustment, minutes, pool_minutes,
            billable_minutes, credit_minutes, postpaid_minutes, blocked_minutes, rate_id, unit_price, amount,
            credit_amount, postpaid_amount, currency, azure_subscription_id, partner_id, reseller_id, status)
        SELECT t.id, %(run)s, %(month)s, t.is_own = 0, t.minutes,
            t.pool_minutes, t.billable, t.credit_minutes, t.postpaid, {rest}, t.rate_id, t.unit_price,
            {money.format("t.unit_price * (t.credit_minutes + t.postpaid)")},
            {money.format("t.unit_price * t.credit_minutes")}, {money.format("t.unit_price * t.postpaid")},
            t.currency, t.azure_subscription_id, t.partner_id, t.reseller_id,
            CASE WHEN {rest} > 0 THEN 'blocked'
                 WHEN t.credit_minutes > 0 AND t.postpaid > 0 THEN 'mixed'
                 WHEN t.credit_minutes > 0 THEN 'credits'
                 WHEN t.postpaid > 0 THEN 'postpaid'
                 ELSE 'included' END
        FROM (
            SELECT c.*, COALESCE(cr.credit_minutes, 0) AS credit_minutes,
                   CASE WHEN a.azure_subscription_id IS NULL THEN 0
                        ELSE c.billable - COALESCE(cr.credit_minutes, 0) END AS postpaid,
                   a.azure_subscription_id, a.partner_id, a.reseller_id
            FROM ({_calls_sql(has_late)}) c
            LEFT JOIN rc_credit cr ON cr.usage_record_id = c.id
            LEFT JOIN rc_assign a ON c.rate_id IS NOT NULL AND c.billable > COALESCE(cr.credit_minutes, 0)
                AND a.customer_id = c.customer_id AND a.starts <= c.started_at
                AND (a.ends IS NULL OR c.started_at < a.ends)
        ) t
    """


def rate_chunk(*, run, chunk, months, pools, rates, month_start, month_end):
    """Rate the customers of ``chunk`` for ``run`` (inside the caller's transaction). Returns
    ``(calls rated, credit states)``; the caller stages the credit entries."""
    billing_month = run.billing_month
    params = {"first": chunk.first_customer_id, "last": chunk.last_customer_id, "month": billing_month.pk,
              "run": run.pk, "month_start": _ts(month_start), "month_end": _ts(month_end)}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The window sorts a chunk's calls: in memory, not in temporary files.
            cursor.execute("SET LOCAL work_mem = '256MB'")
        states = credit_states(chunk.first_customer_id, chunk.last_customer_id, month_start, month_end, billing_month)
        states = {customer_id: state for customer_id, state in states.items() if state.may_pay()}
        load_inputs(cursor, chunk=chunk, months=months, pools=pools, rates=rates, credit_customers=states)
        has_late = any(not month.own for month in months)
        _create(cursor, "rc_credit", "usage_record_id bigint PRIMARY KEY, credit_minutes integer")
        if states:
            _fill(cursor, "rc_credit", ("usage_record_id", "credit_minutes"),
                  _credit_minutes(cursor, states, has_late, params))
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE rc_credit")
        cursor.execute(_insert_sql(has_late, run), params)
        count = cursor.rowcount
        for name in TEMP_TABLES:
            cursor.execute(_dialect()["drop"].format(name))
    return count, states


def _credit_minutes(cursor, states, has_late, params):
    """Step 2: replay the balance of each credit customer over its priced billable calls, in
    the order the pools were drawn in; ``[(usage record id, minutes paid)]`` of paid calls."""
    cursor.execute(
        f"SELECT c.id, c.customer_id, c.started_at, c.billable, c.unit_price FROM ({_calls_sql(has_late, True)}) c "
        f"WHERE c.rate_id IS NOT NULL AND c.billable > 0 "
        f"ORDER BY c.customer_id, c.started_at, c.record_id{_dialect()['bytes_order']}",
        params,
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
