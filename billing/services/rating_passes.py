"""The SQL text of the passes that rate a chunk (SPEC §8), for PostgreSQL and SQLite side by
side; ``billing.services.rating_sql`` fills their input tables and runs them.

Where the two databases' SQL differs (``GREATEST`` against SQLite's two-argument ``max``, a
byte-order collation for ties, rounding SQLite's floating decimals to the micro-unit), the
difference is one entry of ``_DIALECT`` below.
"""

from django.db import connection

from billing.models import CallType, RatedCall, UsageRecord
from catalog.models import CallingZone

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

# Which customers of the chunk a pass reads: all of them, only those holding a credit
# account that may pay (``rc_credit_customer``), or only the others.
ALL, CREDIT, NO_CREDIT = "all", "credit", "no_credit"
_CUSTOMERS = {
    ALL: "",
    CREDIT: " AND u.customer_id IN (SELECT customer_id FROM rc_credit_customer)",
    NO_CREDIT: " AND u.customer_id NOT IN (SELECT customer_id FROM rc_credit_customer)",
}


def dialect():
    return _DIALECT[connection.vendor]


def _month_calls_sql(customers):
    """The ``SELECT`` of the chunk's calls of its own month and the ``UNION ALL`` of its late
    calls of finalized months (not already billed in another month's published run)."""
    usage = connection.ops.quote_name(UsageRecord._meta.db_table)
    rated = connection.ops.quote_name(RatedCall._meta.db_table)
    which = _CUSTOMERS[customers]
    # The own month's bounds are parameters, not a join to ``rc_month``: PostgreSQL then
    # estimates the chunk's calls from the index's statistics (a join gave it 76 rows for
    # 100,000, and every hash join of the plan hashed the calls instead of the small tables).
    own = (
        f"SELECT u.id, u.customer_id, u.started_at, u.record_id, u.duration_seconds, u.call_type, "
        f"u.destination_country, u.number_type, 0 AS month_key, 1 AS is_own FROM {usage} u "
        "WHERE u.customer_id BETWEEN %(first)s AND %(last)s "
        f"AND u.started_at >= %(month_start)s AND u.started_at < %(month_end)s{which}"
    )
    late = (
        f" UNION ALL SELECT u.id, u.customer_id, u.started_at, u.record_id, u.duration_seconds, u.call_type, "
        f"u.destination_country, u.number_type, m.month_key, m.is_own FROM {usage} u "
        "JOIN rc_month m ON m.is_own = 0 AND u.started_at >= m.starts AND u.started_at < m.ends "
        f"WHERE u.customer_id BETWEEN %(first)s AND %(last)s{which} "
        # A late call already billed in another month's published run is not billed again.
        f"AND NOT EXISTS (SELECT 1 FROM {rated} r JOIN billing_billingmonth b ON b.published_run_id = r.run_id "
        "WHERE r.usage_record_id = u.id AND b.id <> %(month)s)"
    )
    return own, late


def calls_sql(has_late, customers=ALL):
    """Step 1: every call of the chunk (or of some of its customers) with its minutes, pool
    draw and rate."""
    d = dialect()
    own, late = _month_calls_sql(customers)
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


# PostgreSQL: a rated call's id is its run's id times 2**40 plus its usage record's id, unique
# as (run, call) is and computed in the statement. Drawing a million ids one by one from the
# table's sequence (``nextval`` per row) was a tenth of the chunks' time. The sequence still
# serves rows written one by one (SQLite, fixtures), which stay far below 2**40; runs up to
# ``MAX_RUN_FOR_IDS`` and usage records below 2**40 (a trillion) fit in a bigint.
ID_SHIFT = 2**40
MAX_RUN_FOR_IDS = 2**22


def _id_column(run_id):
    """(column, value) of the id written with the rated call: computed, or left to the
    table's default."""
    if connection.vendor == "postgresql" and 0 < run_id < MAX_RUN_FOR_IDS:
        return "id, ", f"%(run)s * {ID_SHIFT} + t.id, "
    return "", ""


def insert_sql(table, calls, paid, run_id):
    """Step 3: the rated calls of ``calls`` (step 1's rows: a subquery, or the table they were
    kept in), written into ``table`` for the run ``run_id``; ``paid``: whether credits paid
    some of them (the minutes in ``rc_credit``), else none did."""
    id_column, id_value = _id_column(run_id)
    money = dialect()["money"]
    credit = "COALESCE(cr.credit_minutes, 0)" if paid else "0"
    credit_join = "LEFT JOIN rc_credit cr ON cr.usage_record_id = c.id" if paid else ""
    rest = "t.billable - t.credit_minutes - t.postpaid"
    return f"""
        INSERT INTO {connection.ops.quote_name(table)} ({id_column}usage_record_id, run_id, billing_month_id, is_adjustment,
            minutes, pool_minutes, billable_minutes, credit_minutes, postpaid_minutes, blocked_minutes, rate_id,
            unit_price, amount, credit_amount, postpaid_amount, currency, azure_subscription_id, partner_id,
            reseller_id, status)
        SELECT {id_value}t.id, %(run)s, %(month)s, t.is_own = 0, t.minutes,
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
            SELECT c.*, {credit} AS credit_minutes,
                   CASE WHEN a.azure_subscription_id IS NULL THEN 0
                        ELSE c.billable - {credit} END AS postpaid,
                   a.azure_subscription_id, a.partner_id, a.reseller_id
            FROM {calls} c
            {credit_join}
            LEFT JOIN rc_assign a ON c.rate_id IS NOT NULL AND c.billable > {credit}
                AND a.customer_id = c.customer_id AND a.starts <= c.started_at
                AND (a.ends IS NULL OR c.started_at < a.ends)
        ) t
    """
