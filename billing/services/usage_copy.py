"""PostgreSQL's lane of the usage import (``billing.services.usage_parse`` decides the rules, this
module only moves rows): the file goes into a session-temporary table with one ``COPY``, SQL
sorts its rows into those it can vouch for and the rest, and the good rows move into
``billing_usagerecord`` with ``INSERT … SELECT … ON CONFLICT DO NOTHING``, a chunk of lines
per transaction.

The lane takes only a file whose every line is one record with as many fields as its header,
in UTF-8 without NUL: ``COPY`` refuses anything else (``StageRefused``), and the caller then
imports the file the portable way, which reports such lines one by one. Staged rows keep
their line numbers (the header is line 1), so every message names the line it would name
the portable way.

What SQL vouches for is a row the portable import's short path would accept as written
(``usage.check_row``): every field present and plain, a canonical UUID tenant of the partner's
customers, an ISO 8601 UTC-or-offset start within the accepted dates, a whole number of
seconds up to a day. A row SQL does not vouch for is not refused: it goes to Python, which
applies the full rules and names the row's problems.
"""

import tempfile
from dataclasses import dataclass

from django.db import connection, transaction

from billing.models import UsageRecord
from billing.services.pg_copy import copy_rows

STAGE = "usage_copy_stage"
GOOD = "usage_copy_good"
READ_SIZE = 1024 * 1024

# Python's str.isspace() characters and the C0/C1 controls: a field holding one goes to Python.
_UNUSUAL = "[\x01-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
# A start SQL vouches for, its digits written 0: UTC, naive (UTC) or with an offset.
_START_SHAPES = ["0000-00-00T00:00:00Z", "0000-00-00T00:00:00", "0000-00-00T00:00:00+00:00", "0000-00-00T00:00:00-00:00"]

GOOD_COLUMNS = ("record_id", "customer_id", "user", "started_at", "duration_seconds", "call_type",
                "destination_country", "number_type")


class StageRefused(Exception):
    """The file is not for this lane; import it the portable way."""


@dataclass
class Staged:
    rows: int  # data rows, lines 2 … rows + 1
    spool: object  # the file as received, to read again should the caller need to


def _quote(name):
    return connection.ops.quote_name(name)


def spool(fileobj_chunks):
    """Keep the received file (on disk past 16 MB) so it can be read twice."""
    kept = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    for chunk in fileobj_chunks:
        kept.write(chunk)
    kept.seek(0)
    return kept


def stage(kept, header_width, header_end):
    """COPY the data lines of the spooled file (after ``header_end`` bytes) into the staging
    table with ``header_width`` text columns ``c0 …``. Raises ``StageRefused`` when COPY
    refuses the file or when its rows are not its lines."""
    columns = ", ".join(f"c{i}" for i in range(header_width))
    kept.seek(header_end)
    newlines, last = 0, b"\n"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        cursor.execute(
            f"CREATE TEMP TABLE {STAGE} (line bigint GENERATED ALWAYS AS IDENTITY (START WITH 2), "
            + ", ".join(f"c{i} text" for i in range(header_width)) + ")"
        )
        try:
            with transaction.atomic(), cursor.cursor.copy(f"COPY {STAGE} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
                while block := kept.read(READ_SIZE):
                    newlines += block.count(b"\n")
                    last = block[-1:]
                    copy.write(block)
        except connection.Database.Error as exc:
            raise StageRefused(str(exc)) from None
        cursor.execute(f"SELECT count(*) FROM {STAGE}")
        rows = cursor.fetchone()[0]
    lines = newlines + (last != b"\n")
    if rows != lines:  # a quoted field spanning lines, or a lone-CR file: line numbers would lie
        raise StageRefused(f"{rows} rows in {lines} lines")
    return Staged(rows=rows, spool=kept)


def classify(positions, customers, *, call_types, number_types, record_id_max, user_max, max_duration,
             earliest, latest):
    """Fill the good-rows table with the staged rows SQL vouches for (``positions``: the
    staged column of each of ``usage.COLUMNS``; ``customers``: the partner's customers'
    queryset, whose tenants a row may name). Returns how many."""
    rid, tenant, user, start, duration, call_type, country, number_type = (f"s.c{p}" for p in positions)
    customer_sql, customer_params = customers.values("tenant_id", "pk").query.sql_with_params()
    # Plain comparisons, LIKE and one-class regular expressions only: PostgreSQL's regex
    # engine takes microseconds for a bounded repetition ("{8}"), a million times a file.
    plain = f"""
        {rid} <> '' AND length({rid}) <= %(rid_max)s AND {rid} !~ %(unusual)s
        AND {user} <> '' AND length({user}) <= %(user_max)s AND {user} !~ %(unusual)s
        AND {tenant} LIKE '________-____-____-____-____________' AND {tenant} ~ '^[-0-9A-Fa-f]+$'
        AND length(replace({tenant}, '-', '')) = 32
        AND {call_type} = ANY(%(call_types)s) AND {number_type} = ANY(%(number_types)s)
        AND length({country}) = 2 AND {country} ~ '^[A-Za-z]+$'
        AND CASE WHEN length({duration}) BETWEEN 1 AND 5 AND {duration} ~ '^[0-9]+$'
            THEN {duration}::integer <= %(max_duration)s ELSE false END
        AND CASE WHEN left({start}, 1) = '2' AND translate({start}, '0123456789', '0000000000') = ANY(%(shapes)s)
            THEN CASE WHEN substr({start}, 6, 2)::integer BETWEEN 1 AND 12 AND substr({start}, 12, 2)::integer <= 23
                      AND substr({start}, 15, 2)::integer <= 59 AND substr({start}, 18, 2)::integer <= 59
                      AND (length({start}) < 25
                           OR substr({start}, 21, 2)::integer <= 23 AND substr({start}, 24, 2)::integer <= 59)
                THEN substr({start}, 9, 2)::integer BETWEEN 1 AND extract(day FROM
                     make_date(substr({start}, 1, 4)::integer, substr({start}, 6, 2)::integer, 1)
                     + interval '1 month - 1 day')
                ELSE false END
            ELSE false END"""
    params = {
        "rid_max": record_id_max, "user_max": user_max, "unusual": _UNUSUAL, "shapes": _START_SHAPES,
        "call_types": list(call_types), "number_types": list(number_types), "max_duration": max_duration,
        "earliest": earliest, "latest": latest,
    }
    # The customers' query has positional parameters: it becomes a temporary table first.
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS usage_copy_customers")
        cursor.execute("CREATE TEMP TABLE usage_copy_customers (tenant_id uuid PRIMARY KEY, customer_id bigint)")
        cursor.execute(f"INSERT INTO usage_copy_customers SELECT * FROM ({customer_sql}) q", customer_params)
        cursor.execute(f"DROP TABLE IF EXISTS {GOOD}")
        cursor.execute(
            f"""CREATE TEMP TABLE {GOOD} AS
            SELECT v.line, v.record_id, c.customer_id, v."user", v.started_at, v.duration_seconds,
                   v.call_type, v.destination_country, v.number_type
            FROM (
                SELECT s.line, {rid} AS record_id, {user} AS "user",
                       CASE WHEN ok THEN {tenant}::uuid END AS tenant,
                       CASE WHEN ok THEN {start}::timestamptz END AS started_at,
                       CASE WHEN ok THEN {duration}::integer END AS duration_seconds,
                       {call_type} AS call_type, upper({country}) AS destination_country,
                       {number_type} AS number_type
                FROM (SELECT s.*, ({plain}) AS ok FROM {STAGE} s OFFSET 0) s
                WHERE ok
            ) v
            JOIN usage_copy_customers c ON c.tenant_id = v.tenant
            WHERE v.started_at >= %(earliest)s AND v.started_at <= %(latest)s""",
            params,
        )
        return cursor.rowcount


def other_rows(header_width, size=10000):
    """The staged rows SQL did not vouch for, in line order, in lists of ``size``:
    ``(line, [field, …])`` with a missing field as ``""``."""
    columns = ", ".join(f"s.c{i}" for i in range(header_width))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DECLARE usage_copy_other NO SCROLL CURSOR FOR SELECT s.line, {columns} FROM {STAGE} s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {GOOD} g WHERE g.line = s.line) ORDER BY s.line"
        )
        while rows := _fetch(cursor, size):
            yield [(row[0], ["" if v is None else v for v in row[1:]]) for row in rows]
        cursor.execute("CLOSE usage_copy_other")


def _fetch(cursor, size):
    cursor.execute(f"FETCH {int(size)} FROM usage_copy_other")
    return cursor.fetchall()


def add_good(rows):
    """Add rows the caller checked (``(line, record)``, ``record`` as ``GOOD_COLUMNS``; a
    checked record holds no control character)."""
    if rows:
        with connection.cursor() as cursor:
            columns = [_quote(c) for c in ("line", *GOOD_COLUMNS)]
            copy_rows(cursor, GOOD, columns, ((line, *record) for line, record in rows))


def drop_repeats():
    """Remove from the good rows every later line of a record id that an earlier good line
    has, and return them: ``(line, record_id, first_line)`` in line order."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""DELETE FROM {GOOD} g USING (
                    SELECT line, min(line) OVER (PARTITION BY record_id) AS first FROM {GOOD}
                    WHERE record_id IN (SELECT record_id FROM {GOOD} GROUP BY record_id HAVING count(*) > 1)
                ) d
                WHERE g.line = d.line AND d.line <> d.first
                RETURNING g.line, g.record_id, d.first"""
        )
        return sorted(cursor.fetchall())


def good_per_chunk(chunk):
    """``{chunk number: good rows}`` for chunks of ``chunk`` lines from line 2 (and the index
    by which ``move`` finds a chunk's rows)."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE INDEX ON {GOOD} (line)")
        cursor.execute(f"SELECT (line - 2) / %s, count(*) FROM {GOOD} GROUP BY 1", [chunk])
        return dict(cursor.fetchall())


def move(first_line, end_line, usage_import_id, received_at):
    """Insert the good rows of lines ``[first_line, end_line)``; returns how many were new
    (the others' record ids exist already: duplicates)."""
    table = _quote(UsageRecord._meta.db_table)
    columns = ", ".join(_quote(c) for c in GOOD_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}, usage_import_id, received_at) "
            f"SELECT {columns}, %s, %s FROM {GOOD} WHERE line >= %s AND line < %s "
            "ON CONFLICT (record_id) DO NOTHING",
            [usage_import_id, received_at, first_line, end_line],
        )
        return cursor.rowcount


def drop():
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}, {GOOD}, usage_copy_customers")

