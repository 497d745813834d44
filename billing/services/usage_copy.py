"""PostgreSQL's lane of the usage import (``billing.services.usage_parse`` decides the rules, this
module only moves rows): the file goes into an ``UNLOGGED`` table of the import with one ``COPY``, then
each chunk of lines goes into ``billing_usagerecord`` in one statement, ``INSERT … SELECT …
ON CONFLICT DO NOTHING``, whose ``SELECT`` keeps the rows SQL can vouch for and hands the
others back to Python.

The lane takes only a file whose every line is one record with as many fields as its header,
in UTF-8 without NUL: ``COPY`` refuses anything else (``StageRefused``), and the caller then
imports the file the portable way, which reports such lines one by one. Staged rows keep
their line numbers (the header is line 1), so every message names the line it would name
the portable way.

What SQL vouches for is a row the portable import's short path would accept as written
(``usage_parse.check_row``): every field present and plain, a canonical UUID tenant of the
partner's customers, an ISO 8601 UTC-or-offset start within the accepted dates, a whole number
of seconds up to a day. A row SQL does not vouch for is not refused: it goes to Python, which
applies the full rules and names the row's problems.
"""

import tempfile
from dataclasses import dataclass

from django.db import connection, transaction

from billing.models import UsageRecord
from billing.services.pg_copy import copy_rows

EXTRA = "usage_copy_extra"  # per connection: Python's checked rows of a chunk
READ_SIZE = 1024 * 1024

# Python's str.isspace() characters and the C0/C1 controls: a field holding one goes to Python.
_SPACES = "\x1c\x1d\x1e\x1f\x20\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_UNUSUAL = "[\x01-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
_STRIPPED_LITERAL = "'\t\n\x0b\x0c\r" + _SPACES + "'"  # what str.strip() removes, as an SQL literal

GOOD_COLUMNS = ("record_id", "customer_id", "user", "started_at", "duration_seconds", "call_type",
                "destination_country", "number_type")


class StageRefused(Exception):
    """The file is not for this lane; import it the portable way."""


@dataclass
class Staged:
    rows: int  # data rows, lines 2 … rows + 1
    spool: object  # the file as received, to read again should the caller need to


@dataclass
class Moved:
    """What ``move`` did with a chunk: rows SQL vouched for, how many of them were inserted,
    and the other rows as ``(line, [field, …])`` for Python."""

    vouched: int
    inserted: int
    others: list


def _quote(name):
    return connection.ops.quote_name(name)


def _stage(key):
    """The staged file of import ``key``: ``UNLOGGED`` (no WAL, like a temporary table) but
    seen by every connection, so chunks can be moved on two."""
    return f"usage_copy_stage_{int(key)}"


def _customers(key):
    return f"usage_copy_customers_{int(key)}"


def spool(fileobj_chunks):
    """Keep the received file (on disk past 16 MB) so it can be read twice."""
    kept = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    for chunk in fileobj_chunks:
        kept.write(chunk)
    kept.seek(0)
    return kept


def stage(kept, header_width, header_end, key):
    """COPY the data lines of the spooled file (after ``header_end`` bytes) into the staging
    table with ``header_width`` text columns ``c0 …``. Raises ``StageRefused`` when COPY
    refuses the file or when its rows are not its lines."""
    columns = ", ".join(f"c{i}" for i in range(header_width))
    kept.seek(header_end)
    newlines, last = 0, b"\n"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_stage(key)}")
        cursor.execute(
            f"CREATE UNLOGGED TABLE {_stage(key)} (line bigint GENERATED ALWAYS AS IDENTITY (START WITH 2), "
            + ", ".join(f"c{i} text" for i in range(header_width)) + ")"
        )
        try:
            with transaction.atomic(), cursor.cursor.copy(f"COPY {_stage(key)} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
                while block := kept.read(READ_SIZE):
                    newlines += block.count(b"\n")
                    last = block[-1:]
                    copy.write(block)
        except connection.Database.Error as exc:
            raise StageRefused(str(exc)) from None
        cursor.execute(f"SELECT count(*) FROM {_stage(key)}")
        rows = cursor.fetchone()[0]
        cursor.execute(f"CREATE INDEX ON {_stage(key)} (line)")
    lines = newlines + (last != b"\n")
    if rows != lines:  # a quoted field spanning lines, or a lone-CR file: line numbers would lie
        raise StageRefused(f"{rows} rows in {lines} lines")
    return Staged(rows=rows, spool=kept)


def prepare(customers, key):
    """The table ``move`` joins besides the staged file: the tenants a row may name
    (``customers``: the partner's customers' queryset)."""
    customer_sql, customer_params = customers.values("tenant_id", "pk").query.sql_with_params()
    # Tenants as str(uuid) writes them: a row spelling its tenant so joins them as written.
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_customers(key)}")
        cursor.execute(f"CREATE UNLOGGED TABLE {_customers(key)} (tenant_id text PRIMARY KEY, customer_id bigint)")
        cursor.execute(f"INSERT INTO {_customers(key)} SELECT q.tenant::text, q.customer FROM ({customer_sql}) q (tenant, customer)", customer_params)
        cursor.execute(f"ANALYZE {_customers(key)}")


def _extra_table(cursor):
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {EXTRA} (line bigint, record_id text, customer_id bigint, \"user\" text, "
        "started_at timestamptz, duration_seconds integer, call_type text, destination_country text, "
        "number_type text)"
    )


def _checks(positions):
    """SQL's test that a staged row is one it vouches for (``s.ok``), and its typed columns.

    Plain comparisons, LIKE, ``position`` and one negated class per field: a regular expression
    with bounded repetition ("{8}"), translate() or a second regular expression over the same
    field costs microseconds a row, a million times a file. The tenant is not checked here:
    the join to the customers' tenants, written as ``str(uuid)`` writes them, is its check
    (any other spelling goes to Python). A start's digit positions are proved digits by their
    integer casts: with only ``-+0-9T:Z`` in the field and no sign where a number may be 0,
    a cast either gives the number or fails, and a failed cast sends the chunk to Python
    (``usage_import_copy``)."""
    rid, _tenant, user, start, duration, call_type, country, number_type = (f"s.c{p}" for p in positions)
    year, month, day = (f"substr({start}, {i}, {n})::integer" for i, n in ((1, 4), (6, 2), (9, 2)))
    hour, minute, second, offset_hour, offset_minute = (
        f"substr({start}, {i}, 2)::integer" for i in (12, 15, 18, 21, 24))
    plain = f"""
        {rid} <> '' AND length({rid}) <= %(rid_max)s AND {rid} !~ %(unusual)s
        AND {user} <> '' AND length({user}) <= %(user_max)s AND {user} !~ %(unusual)s
        AND {call_type} = ANY(%(call_types)s) AND {number_type} = ANY(%(number_types)s)
        AND length({country}) = 2 AND {country} !~ '[^A-Za-z]'
        AND CASE WHEN length({duration}) BETWEEN 1 AND 5 AND {duration} !~ '[^0-9]'
            THEN {duration}::integer <= %(max_duration)s ELSE false END
        AND CASE WHEN left({start}, 1) = '2' AND {start} LIKE '____-__-__T__:__:__%%'
                      AND (length({start}) = 19 OR length({start}) = 20 AND substr({start}, 20, 1) = 'Z'
                           OR length({start}) = 25 AND substr({start}, 20, 1) IN ('+', '-') AND substr({start}, 23, 1) = ':')
                      AND {start} !~ '[^-+0-9T:Z]' AND position('+' IN left({start}, 19)) = 0
                      AND position('-' IN substr({start}, 11, 9)) = 0
                      AND position('-' IN substr({start}, 21)) = 0 AND position('+' IN substr({start}, 21)) = 0
            THEN CASE WHEN {month} BETWEEN 1 AND 12 AND {hour} BETWEEN 0 AND 23 AND {minute} BETWEEN 0 AND 59
                      AND {second} BETWEEN 0 AND 59
                      AND (length({start}) < 25 OR {offset_hour} BETWEEN 0 AND 23 AND {offset_minute} BETWEEN 0 AND 59)
                THEN {day} BETWEEN 1 AND CASE WHEN {month} IN (4, 6, 9, 11) THEN 30 WHEN {month} <> 2 THEN 31
                    WHEN {year} %% 4 = 0 AND ({year} %% 100 <> 0 OR {year} %% 400 = 0) THEN 29 ELSE 28 END
                ELSE false END
            ELSE false END"""
    typed = f"""{rid} AS record_id, {user} AS "user", CASE WHEN ok THEN s.c{positions[1]} END AS tenant,
        CASE WHEN ok THEN {start}::timestamptz END AS started_at,
        CASE WHEN ok THEN {duration}::integer END AS duration_seconds,
        {call_type} AS call_type, upper({country}) AS destination_country, {number_type} AS number_type"""
    return plain, typed


def limits(*, call_types, number_types, record_id_max, user_max, max_duration, earliest, latest):
    """The parameters of SQL's checks."""
    return {
        "rid_max": record_id_max, "user_max": user_max, "unusual": _UNUSUAL,
        "call_types": list(call_types), "number_types": list(number_types), "max_duration": max_duration,
        "earliest": earliest, "latest": latest,
    }


def move(first_line, end_line, positions, width, params, usage_import_id, received_at):
    """One statement for lines ``[first_line, end_line)``: the rows SQL vouches for go into
    the usage table in line order (``ON CONFLICT DO NOTHING``: a record id that exists already
    is skipped), the others come back for Python. Returns a ``Moved``."""
    plain, typed = _checks(positions)
    table = _quote(UsageRecord._meta.db_table)
    columns = ", ".join(_quote(c) for c in GOOD_COLUMNS)
    fields = ", ".join(f"st.c{i}" for i in range(width))
    # Each check once per row (a materialized step: the planner would repeat the expression in
    # the join), no JIT (compiling the checks costs more than a chunk saves), the commit not
    # waited for on disk: a killed import process still keeps exactly its committed chunks; a
    # crash of the database server itself can lose the last chunks' commits, each chunk's rows
    # together with its counters, so the import then shows fewer lines done, never half a chunk.
    sql = f"""
        WITH checked AS MATERIALIZED (
            SELECT s.line, {typed} FROM (
                SELECT s.*, ({plain}) AS ok FROM {_stage(usage_import_id)} s WHERE s.line >= %(first)s AND s.line < %(end)s OFFSET 0) s
        ), chunk AS MATERIALIZED (
            SELECT v.line, c.customer_id, v.record_id, v."user", v.started_at, v.duration_seconds, v.call_type,
                   v.destination_country, v.number_type,
                   c.customer_id IS NOT NULL AND v.started_at >= %(earliest)s AND v.started_at <= %(latest)s AS good
            FROM checked v LEFT JOIN {_customers(usage_import_id)} c ON c.tenant_id = v.tenant
        ), inserted AS (
            INSERT INTO {table} ({columns}, usage_import_id, received_at)
            SELECT {columns}, %(usage_import)s, %(received)s FROM chunk WHERE good ORDER BY line
            ON CONFLICT (record_id) DO NOTHING RETURNING 1
        )
        SELECT NULL::bigint, ARRAY[(SELECT count(*) FROM chunk WHERE good), (SELECT count(*) FROM inserted)]::text[]
        UNION ALL
        SELECT st.line, ARRAY[{fields}] FROM chunk JOIN {_stage(usage_import_id)} st ON st.line = chunk.line WHERE NOT chunk.good"""
    values = {**params, "first": first_line, "end": end_line, "usage_import": usage_import_id, "received": received_at}
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute(sql, values)
        rows = cursor.fetchall()
    counts = next(fields for line, fields in rows if line is None)
    others = sorted((line, ["" if v is None else v for v in fields]) for line, fields in rows if line is not None)
    return Moved(vouched=int(counts[0]), inserted=int(counts[1]), others=others)


def insert(rows, usage_import_id, received_at):
    """Insert rows the caller checked (``(line, record)``, ``record`` as ``GOOD_COLUMNS``; a
    checked record holds no control character) in line order, skipping record ids that exist
    already; returns how many were inserted."""
    if not rows:
        return 0
    table = _quote(UsageRecord._meta.db_table)
    columns = ", ".join(_quote(c) for c in GOOD_COLUMNS)
    with connection.cursor() as cursor:
        _extra_table(cursor)
        cursor.execute(f"TRUNCATE {EXTRA}")
        copy_rows(cursor, EXTRA, ["line", *(_quote(c) for c in GOOD_COLUMNS)],
                  ((line, *record) for line, record in rows))
        cursor.execute(
            f"INSERT INTO {table} ({columns}, usage_import_id, received_at) "
            f"SELECT {columns}, %s, %s FROM {EXTRA} ORDER BY line ON CONFLICT (record_id) DO NOTHING",
            [usage_import_id, received_at],
        )
        return cursor.rowcount


def lines(first_line, end_line, width, key):
    """Every staged row of lines ``[first_line, end_line)``: ``(line, [field, …])``."""
    fields = ", ".join(f"c{i}" for i in range(width))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT line, {fields} FROM {_stage(key)} WHERE line >= %s AND line < %s ORDER BY line",
                       [first_line, end_line])
        return [(row[0], ["" if v is None else v for v in row[1:]]) for row in cursor.fetchall()]


def lines_naming(record_ids, before_line, position, width, key):
    """The staged rows before ``before_line`` whose record id (column ``position``), stripped
    as Python strips it, is one of ``record_ids``: ``(line, [field, …])`` in line order. The
    index this needs is built the first time."""
    fields = ", ".join(f"c{i}" for i in range(width))
    stripped = f"btrim(c{int(position)}, {_STRIPPED_LITERAL})"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {_stage(key)}_record ON {_stage(key)} (({stripped}))")
        cursor.execute(
            f"SELECT line, {fields} FROM {_stage(key)} WHERE {stripped} = ANY(%s) AND line < %s ORDER BY line",
            [list(record_ids), before_line],
        )
        return [(row[0], ["" if v is None else v for v in row[1:]]) for row in cursor.fetchall()]


def repeats_a_record_id(key, position):
    """Whether two staged rows name the same record id (stripped as Python strips it; a blank
    one is an error, never a repeat): only a file that does not can have its chunks moved in
    any order."""
    stripped = f"btrim(c{int(position)}, {_STRIPPED_LITERAL})"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT FROM {_stage(key)} WHERE {stripped} <> '' GROUP BY {stripped} HAVING count(*) > 1)"
        )
        return cursor.fetchone()[0]


def drop(key):
    """Drop import ``key``'s tables (also those of an import whose process died)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_stage(key)}, {_customers(key)}, {EXTRA}")
