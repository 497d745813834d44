"""Call-usage ingestion (SPEC §8): a CSV file (upload page, admin, ``import_usage``) or a JSON
batch (``POST /v1/usage/records``) becomes ``UsageRecord`` rows.

Rules enforced here, for every entry point:

- a record is keyed by ``record_id``: one already imported is counted as a duplicate and left
  alone (re-sending is a no-op); the same id twice in one file is an error on the second line;
- each bad row is reported with its line number (the header is line 1) and its reason, and the
  good rows are imported anyway; a file without a required column or not UTF-8 imports nothing;
- a partner's file may name only the partner's own customers (``Customer.transacted_by``);
  another partner's tenant is reported as unknown, exactly like a tenant that does not exist;
- the file is streamed: decoded incrementally, validated row by row and written in batches of
  ``BATCH_SIZE``, each batch in one transaction together with the import's counters, so a row
  is never half-written and the counts always match the rows in the database.

Counting inserts: on PostgreSQL each batch is COPied straight into the table; when one of
its record ids exists already (a re-sent record, or one a concurrent import slipped in), the
unique constraint refuses that COPY and the batch goes through a temporary table and
``INSERT … SELECT … ON CONFLICT (record_id) DO NOTHING``, whose row count is exactly the rows
inserted. Elsewhere the batch goes through ``bulk_create(ignore_conflicts=True)`` and the
inserts are counted afterwards as the batch's record ids now owned by this import (a record
that existed before belongs to another import or none, so it is not counted).
"""

import codecs
import csv
import datetime as dt
import io
import logging
import queue
import re
import threading
import uuid
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from operator import itemgetter

from django.conf import settings
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from billing.models import API_BATCH_NAME, CallType, NumberType, UsageImport, UsageImportStatus, UsageRecord
from billing.services import run_locks, usage_copy
from portal.errors import PortalError
from portal.models import Customer
from portal.text import in_english, stored_text_in_language

logger = logging.getLogger(__name__)

BATCH_SIZE = 10000
MAX_STORED_ERRORS = 1000
MAX_API_RECORDS = 10_000
CHUNK_SIZE = 64 * 1024

# Canonical column order of a record; the CSV may order its columns freely.
COLUMNS = (
    "record_id",
    "tenant_id",
    "user",
    "start_time",
    "duration_seconds",
    "call_type",
    "destination_country",
    "number_type",
)
# The API's camelCase names, in the same order.
API_FIELDS = (
    "recordId",
    "tenantId",
    "user",
    "startTime",
    "durationSeconds",
    "callType",
    "destinationCountry",
    "numberType",
)

MAX_DURATION = 24 * 3600  # no call lasts more than a day: a longer one is a carrier's error
# No month of a call before 2000 or after tomorrow can ever be rated: refused at the door.
EARLIEST_CALL = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FUTURE_TOLERANCE = dt.timedelta(days=1)
RECORD_ID_MAX = UsageRecord._meta.get_field("record_id").max_length
USER_MAX = UsageRecord._meta.get_field("user").max_length
CALL_TYPES = frozenset(CallType.values)
NUMBER_TYPES = frozenset(NumberType.values)

# User-facing reasons (tests import them).
MISSING_COLUMNS = _("Missing required column(s): %(columns)s. Nothing was imported.")
EMPTY_FILE = _("The file is empty: it needs a header line naming the columns. Nothing was imported.")
BAD_ENCODING = _(
    "The file is not UTF-8 text (undecodable bytes near line %(line)s). Save it as CSV UTF-8 and "
    "upload it again. Nothing was imported."
)
UNREADABLE_CSV = _("This line could not be read as CSV: %(error)s.")
BLANK_FIELD = _("%(field)s is blank.")
TOO_LONG = _("%(field)s is longer than %(max)s characters.")
BAD_DATE = _("start_time “%(value)s” is not an ISO 8601 date and time (e.g. 2025-01-31T14:05:00Z).")
BAD_DURATION = _("duration_seconds “%(value)s” is not a whole number of seconds.")
NEGATIVE_DURATION = _("duration_seconds %(value)s is negative.")
DURATION_TOO_LARGE = _("duration_seconds %(value)s is more than 24 hours (86400 seconds).")
CALL_TOO_OLD = _("start_time %(value)s is before 2000-01-01.")
CALL_IN_FUTURE = _("start_time %(value)s is more than one day in the future.")
CONTROL_CHARACTER = _("%(field)s contains a NUL or another control character.")
UNKNOWN_CALL_TYPE = _("Unknown call_type “%(value)s” (expected one of: %(choices)s).")
UNKNOWN_NUMBER_TYPE = _("Unknown number_type “%(value)s” (expected one of: %(choices)s).")
BAD_COUNTRY = _("destination_country “%(value)s” is not a two-letter country code.")
UNKNOWN_TENANT = _("Unknown tenant “%(value)s”.")
DUPLICATE_OF_LINE = _("Duplicate of line %(line)s (record_id “%(record_id)s”).")
DUPLICATE_OF_ITEM = _("Duplicate of item %(line)s (recordId “%(record_id)s”).")
NOT_AN_OBJECT = _("The item is not a JSON object.")
INTERNAL_FAILURE = _("The import stopped on an internal error; the rows counted above were imported.")
PROCESS_DIED = _("The import stopped before the end (its process ended); the rows counted above were imported.")

# Every text an import stores as a line's reason (usage_import_text shows it translated).
USAGE_ERROR_MESSAGES = (
    MISSING_COLUMNS, EMPTY_FILE, BAD_ENCODING, UNREADABLE_CSV, BLANK_FIELD, TOO_LONG, BAD_DATE, BAD_DURATION,
    NEGATIVE_DURATION, DURATION_TOO_LARGE, CALL_TOO_OLD, CALL_IN_FUTURE, CONTROL_CHARACTER, UNKNOWN_CALL_TYPE,
    UNKNOWN_NUMBER_TYPE, BAD_COUNTRY, UNKNOWN_TENANT, DUPLICATE_OF_LINE, DUPLICATE_OF_ITEM, NOT_AN_OBJECT,
    INTERNAL_FAILURE, PROCESS_DIED,
)


def usage_error_text(reason):
    """A stored (English) reason in the reader's language; one made from no message as stored."""
    return stored_text_in_language(reason, USAGE_ERROR_MESSAGES)


ALLOWED_TRANSITIONS = {
    UsageImportStatus.PENDING: {UsageImportStatus.RUNNING, UsageImportStatus.FAILED},
    UsageImportStatus.RUNNING: {UsageImportStatus.DONE, UsageImportStatus.FAILED},
    UsageImportStatus.DONE: set(),
    UsageImportStatus.FAILED: set(),
}


class UsageImportError(PortalError):
    """An import cannot run (already run, or a file-level failure that imports nothing)."""

    def __init__(self, description, **kwargs):
        super().__init__(description=description, **kwargs)


class UsageFileError(UsageImportError):
    """The whole file is refused: a missing column, an empty file or a wrong encoding."""

    def __init__(self, reason, line=1):
        self.reason = str(reason)
        self.line = line
        super().__init__(self.reason)


@dataclass
class UsageBatchResult:
    """What ``usage_import_records`` did: counts and per-item errors (0-based ``index``)."""

    total: int = 0
    imported: int = 0
    duplicates: int = 0
    errors: list = field(default_factory=list)
    usage_import: UsageImport | None = None


# --- Reading ------------------------------------------------------------------------------


class _ChunkStream(io.RawIOBase):
    """A read-only binary stream over an iterable of byte chunks (an upload's ``chunks()``,
    an open file read in blocks), so the text layer decodes as it reads, block by block."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self):
        return True

    def readinto(self, buffer):
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def file_chunks(fileobj, size=CHUNK_SIZE):
    """Blocks of an open binary file, for ``fileobj_chunks`` (never the whole file at once)."""
    return iter(lambda: fileobj.read(size), b"")


def _csv_rows(fileobj_chunks):
    """Yield ``(line, values)`` for each data row, ``values`` in ``COLUMNS`` order. The header
    (line 1) is matched by name, case-insensitively; a UTF-8 BOM is accepted. Raises
    ``UsageFileError`` for an empty file, missing columns or bytes that are not UTF-8 (an
    ``UnicodeDecodeError`` while decoding becomes one, naming the line reached)."""
    text = io.TextIOWrapper(
        io.BufferedReader(_ChunkStream(fileobj_chunks), CHUNK_SIZE), encoding="utf-8-sig", newline=""
    )
    reader = csv.reader(text)
    try:
        try:
            header = next(reader)
        except StopIteration:
            raise UsageFileError(EMPTY_FILE) from None
        names = [name.strip().lower() for name in header]
        missing = [column for column in COLUMNS if column not in names]
        if missing:
            raise UsageFileError(MISSING_COLUMNS % {"columns": ", ".join(missing)})
        positions = [names.index(column) for column in COLUMNS]
        pick = itemgetter(*positions)
        width = max(positions) + 1
        last_line = reader.line_num
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line, last_line = last_line + 1, reader.line_num
                yield line, UNREADABLE_CSV % {"error": exc}
                continue
            # A record's line is where it starts (a quoted field may span lines).
            line, last_line = last_line + 1, reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank lines are not rows
            if len(row) < width:
                row = row + [""] * (width - len(row))
            yield line, pick(row)
    except UnicodeDecodeError:
        raise UsageFileError(BAD_ENCODING % {"line": reader.line_num + 1}, line=reader.line_num + 1) from None


# --- Validation ---------------------------------------------------------------------------


def _parse_start(value):
    started = dt.datetime.fromisoformat(value)
    if started.tzinfo is dt.UTC:  # "…Z", the common case
        return started
    if started.tzinfo is None:
        return started.replace(tzinfo=dt.UTC)
    return started.astimezone(dt.UTC)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Whitespace or a control character in a free-text field sends a row the long way round.
_UNUSUAL = re.compile(r"[\s\x00-\x1f\x7f]")


def latest_call_start():
    """The latest start a call may have: one day from now."""
    return timezone.now() + FUTURE_TOLERANCE


def _check(values, latest=None):
    """``(record, None)`` for a good row, ``(None, reason)`` otherwise. ``record`` is
    ``(record_id, tenant, user, started_at, duration, call_type, country, number_type)`` with
    the tenant still as written: it is resolved per batch. ``latest``: ``latest_call_start()``,
    computed once per batch by the caller.

    A million rows a file: a good row takes the short path (one test per field, as it came,
    no message built); any doubt (whitespace to strip included) goes to ``_reasons``, which
    names every problem of the row."""
    record_id, tenant, user, start, duration, call_type, country, number_type = values
    if (
        record_id and tenant and user
        and call_type in CALL_TYPES and number_type in NUMBER_TYPES
        and len(record_id) <= RECORD_ID_MAX and len(user) <= USER_MAX
        and duration.isascii() and duration.isdigit()
        and len(country) == 2 and country.isascii() and country.isalpha()
        and _UNUSUAL.search(record_id + tenant + user) is None
    ):
        seconds = int(duration)
        try:
            started = _parse_start(start)
        except (ValueError, OverflowError):
            started = None
        if seconds <= MAX_DURATION and started is not None and EARLIEST_CALL <= started <= (latest or latest_call_start()):
            return (record_id, tenant, user, started, seconds, call_type, country.upper(), number_type), None
    return _check_slowly([v.strip() for v in values], latest or latest_call_start())


def _check_slowly(values, latest):
    """A row the short path of ``_check`` did not take, stripped: its record, or every problem
    of the row in one line."""
    values = [v.strip() for v in values]
    controls = [name for name, value in zip(COLUMNS, values) if _CONTROL.search(value)]
    if controls:
        # Refused whole: a NUL can be stored by no database, and no field has a use for one.
        return None, "; ".join(str(CONTROL_CHARACTER % {"field": name}) for name in controls)
    record_id, tenant, user, start, duration, call_type, country, number_type = values
    blank = [name for name, value in zip(COLUMNS, (record_id, tenant, user, start, duration, call_type, country, number_type)) if not value]
    if blank:
        return None, "; ".join(str(BLANK_FIELD % {"field": name}) for name in blank)
    problems = []
    if len(record_id) > RECORD_ID_MAX:
        problems.append(TOO_LONG % {"field": "record_id", "max": RECORD_ID_MAX})
    if len(user) > USER_MAX:
        problems.append(TOO_LONG % {"field": "user", "max": USER_MAX})
    try:
        started = _parse_start(start)
    except (ValueError, OverflowError):  # overflow: a time zone pushing year 1 or 9999 out of range
        started = None
        problems.append(BAD_DATE % {"value": start[:40]})
    else:
        if started < EARLIEST_CALL:
            problems.append(CALL_TOO_OLD % {"value": start[:40]})
        elif started > latest:
            problems.append(CALL_IN_FUTURE % {"value": start[:40]})
    seconds = None
    if duration.isascii() and duration.isdigit():
        seconds = int(duration)
        if seconds > MAX_DURATION:
            problems.append(DURATION_TOO_LARGE % {"value": duration[:20]})
    elif duration.startswith("-") and duration[1:].isascii() and duration[1:].isdigit():
        problems.append(NEGATIVE_DURATION % {"value": duration[:20]})
    else:
        problems.append(BAD_DURATION % {"value": duration[:20]})
    if call_type not in CALL_TYPES:
        problems.append(UNKNOWN_CALL_TYPE % {"value": call_type[:40], "choices": ", ".join(CallType.values)})
    if number_type not in NUMBER_TYPES:
        problems.append(UNKNOWN_NUMBER_TYPE % {"value": number_type[:40], "choices": ", ".join(NumberType.values)})
    if len(country) != 2 or not country.isascii() or not country.isalpha():
        problems.append(BAD_COUNTRY % {"value": country[:40]})
    if problems:
        return None, "; ".join(str(p) for p in problems)
    return (record_id, tenant, user, started, seconds, call_type, country.upper(), number_type), None


# --- Writing ------------------------------------------------------------------------------

_STAGE_TABLE = "billing_usage_stage"
_TARGET_COLUMNS = (
    "record_id",
    "customer_id",
    "user",
    "started_at",
    "duration_seconds",
    "call_type",
    "destination_country",
    "number_type",
)


def _write_postgresql(rows, usage_import_id):
    """The batch is COPied straight into the table. A record id that exists already (a
    re-sent record, or one a concurrent import slipped in) makes the unique constraint
    refuse the whole COPY, rolled back to its savepoint; the batch then goes through the
    conflict-safe staging path, which skips those records. Returns the exact number inserted."""
    quote = connection.ops.quote_name
    table = quote(UsageRecord._meta.db_table)
    columns = ", ".join(quote(c) for c in (*_TARGET_COLUMNS, "usage_import_id", "received_at"))
    received = timezone.now().isoformat()
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(
        (r[0], r[1], r[2], r[3].isoformat(), r[4], r[5], r[6], r[7], usage_import_id or "", received) for r in rows
    )
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(buffer.getvalue())
        return len(rows)
    except (IntegrityError, connection.Database.IntegrityError):
        # psycopg's own error: the raw cursor's COPY is not wrapped by Django.
        return _write_postgresql_staged(rows, usage_import_id)


def _write_postgresql_staged(rows, usage_import_id):
    """COPY the batch into a session-temporary table, then move it with ON CONFLICT DO
    NOTHING: one round trip per step, and the INSERT's row count is the exact inserts."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in _TARGET_COLUMNS)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(
        (r[0], r[1], r[2], r[3].isoformat(), r[4], r[5], r[6], r[7]) for r in rows
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE_TABLE} ("
            "record_id varchar(100), customer_id bigint, \"user\" varchar(254), started_at timestamptz, "
            "duration_seconds integer, call_type varchar(20), destination_country varchar(2), number_type varchar(10))"
        )
        cursor.execute(f"TRUNCATE {_STAGE_TABLE}")
        with cursor.cursor.copy(f"COPY {_STAGE_TABLE} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(buffer.getvalue())
        cursor.execute(
            f"INSERT INTO {quote(UsageRecord._meta.db_table)} ({columns}, usage_import_id, received_at) "
            f"SELECT {columns}, %s, %s FROM {_STAGE_TABLE} ON CONFLICT (record_id) DO NOTHING",
            [usage_import_id, timezone.now()],
        )
        return cursor.rowcount


def _write_portable(rows, usage_import_id):
    UsageRecord.objects.bulk_create(
        [
            UsageRecord(
                record_id=r[0],
                customer_id=r[1],
                user=r[2],
                started_at=r[3],
                duration_seconds=r[4],
                call_type=r[5],
                destination_country=r[6],
                number_type=r[7],
                usage_import_id=usage_import_id,
            )
            for r in rows
        ],
        ignore_conflicts=True,
        batch_size=500,
    )
    # The records this import inserted are those of the batch that now point at it.
    ids = [r[0] for r in rows]
    return sum(
        UsageRecord.objects.filter(usage_import_id=usage_import_id, record_id__in=ids[i : i + 900]).count()
        for i in range(0, len(ids), 900)
    )


def _write(rows, usage_import_id):
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        return _write_postgresql(rows, usage_import_id)
    return _write_portable(rows, usage_import_id)


class _BackgroundWriter:
    """Writes batches on PostgreSQL from ``workers`` threads, each with its own connection,
    while the caller goes on reading and validating: the database's work (indexes, foreign
    keys, commits) overlaps the Python work instead of waiting for it. Each batch is still
    one transaction with its counters (incremented, so batches may commit in any order)."""

    def __init__(self, usage_import_id, workers):
        self.usage_import_id = usage_import_id
        self.queue = queue.Queue(maxsize=workers * 2)  # bounds the rows held in memory
        self.lock = threading.Lock()
        self.inserted = 0
        self.written = 0
        self.failure = None
        self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(workers)]
        for thread in self.threads:
            thread.start()

    def submit(self, rows, row_count):
        if self.failure is not None:
            raise self.failure
        self.queue.put((rows, row_count))

    def _work(self):
        try:
            while (item := self.queue.get()) is not None:
                if self.failure is not None:
                    continue  # keep draining so the reader never blocks on a full queue
                rows, row_count = item
                try:
                    with transaction.atomic():
                        inserted = _write(rows, self.usage_import_id)
                        UsageImport.objects.filter(pk=self.usage_import_id).update(
                            processed_rows=F("processed_rows") + row_count,
                            imported_rows=F("imported_rows") + inserted,
                            duplicate_rows=F("duplicate_rows") + len(rows) - inserted,
                        )
                except Exception as exc:  # re-raised in the caller's thread by close()
                    self.failure = exc
                    continue
                with self.lock:
                    self.inserted += inserted
                    self.written += len(rows)
        finally:
            connections.close_all()  # this thread's connections only

    def close(self):
        """Wait for every batch; raise the first failure of a writer."""
        for _thread in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join()
        if self.failure is not None:
            raise self.failure


def _background_writers():
    # Threads see only committed data, so inside a transaction (tests, a caller's atomic
    # block) the batches are written in line by the caller's own connection.
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 0
    return getattr(settings, "USAGE_IMPORT_WRITERS", 2)


# --- The import engine --------------------------------------------------------------------


class _Importer:
    """Validates rows as they come, resolves tenants and writes once per batch. With
    ``usage_import=None`` it only checks (the upload preview), counting the records already
    imported as duplicates without writing anything."""

    def __init__(self, *, partner, usage_import=None, api=False, progress=None):
        self.customers = _customers_for(partner)
        self.usage_import = usage_import
        self.api = api
        self.progress = progress
        self.tenants = {}  # tenant id as written → customer pk, or None when unknown
        self.latest = latest_call_start()  # moved on at every batch
        self.seen = {}  # record_id → position of its first good occurrence
        self.pending = []  # (position, record) awaiting the batch's tenant lookup
        self.batch_errors = []
        self.rows_in_batch = 0
        self.total = 0
        self.imported = 0
        self.duplicates = 0
        self.error_rows = 0
        self.errors = []  # stored errors, at most MAX_STORED_ERRORS
        self.api_errors = []  # (index, reason, record_id) of every bad API item
        self.writer = None
        if usage_import is not None and (workers := _background_writers()):
            usage_import.processed_rows = usage_import.imported_rows = usage_import.duplicate_rows = 0
            UsageImport.objects.filter(pk=usage_import.pk).update(processed_rows=0, imported_rows=0, duplicate_rows=0)
            self.writer = _BackgroundWriter(usage_import.pk, workers)

    def add(self, position, values, record_id=""):
        self.total += 1
        self.rows_in_batch += 1
        if isinstance(values, str):  # the reader's reason for a line it could not parse
            self._error(position, values, record_id)
        else:
            record, reason = _check(values, self.latest)
            if reason is None:
                self.pending.append((position, record))
            else:
                self._error(position, reason, record_id or str(values[0]).strip())
        if self.rows_in_batch >= BATCH_SIZE:
            self.flush()

    def _error(self, position, reason, record_id=""):
        self.batch_errors.append((position, str(reason), record_id))

    def _resolve_tenants(self):
        unresolved = {record[1] for _, record in self.pending if record[1] not in self.tenants}
        self.tenants.update(_tenant_customers(self.customers, unresolved))

    def flush(self):
        self.latest = latest_call_start()
        self._resolve_tenants()
        rows = []
        duplicate_reason = DUPLICATE_OF_ITEM if self.api else DUPLICATE_OF_LINE
        for position, record in self.pending:
            customer_id = self.tenants.get(record[1])
            if customer_id is None:
                self._error(position, UNKNOWN_TENANT % {"value": record[1][:60]}, record[0])
                continue
            first = self.seen.get(record[0])
            if first is not None:
                self._error(position, duplicate_reason % {"line": first, "record_id": record[0]}, record[0])
                continue
            self.seen[record[0]] = position
            rows.append((record[0], customer_id, *record[2:]))
        self.batch_errors.sort(key=itemgetter(0))
        self.error_rows += len(self.batch_errors)
        room = MAX_STORED_ERRORS - len(self.errors)
        new_errors = self.batch_errors[: max(room, 0)]
        if self.api:
            self.errors.extend({"index": p, "recordId": rid, "reason": reason} for p, reason, rid in new_errors)
        else:
            self.errors.extend({"line": p, "reason": reason} for p, reason, _rid in new_errors)
        if self.api:
            self.api_errors.extend(self.batch_errors)  # at most MAX_API_RECORDS: all kept
        if self.usage_import is None:
            existing = set()
            ids = [r[0] for r in rows]
            for i in range(0, len(ids), 900):
                existing.update(UsageRecord.objects.filter(record_id__in=ids[i : i + 900]).values_list("record_id", flat=True))
            self.duplicates += len(existing)
            self.imported += len(rows) - len(existing)
        elif self.writer is not None:
            self.writer.submit(rows, self.rows_in_batch)
        else:
            with transaction.atomic():
                inserted = _write(rows, self.usage_import.pk)
                self.imported += inserted
                self.duplicates += len(rows) - inserted
                self._save_counts(stored_new_errors=bool(new_errors))
        self.pending = []
        self.batch_errors = []
        self.rows_in_batch = 0
        if self.progress is not None:
            self.progress(self.total)

    def finish(self):
        """Write what is left and wait for the writers; the counts are then final."""
        self.flush()
        self.close()

    def close(self):
        if self.writer is None:
            return
        writer, self.writer = self.writer, None
        writer.close()
        self.imported = writer.inserted
        self.duplicates = writer.written - writer.inserted

    def _save_counts(self, stored_new_errors=True, **extra):
        values = {
            "processed_rows": self.total,
            "imported_rows": self.imported,
            "duplicate_rows": self.duplicates,
            **extra,
        }
        if stored_new_errors:
            values["errors"] = self.errors
        UsageImport.objects.filter(pk=self.usage_import.pk).update(**values)
        for name, value in values.items():
            setattr(self.usage_import, name, value)


def _customers_for(partner):
    """The customers a partner's file may name (``None``: the operator, any customer)."""
    return Customer.objects.transacted_by(partner) if partner is not None else Customer.objects.all()


def _tenant_customers(customers, tenants):
    """``{tenant as written: customer pk or None}`` for ``tenants`` among ``customers``."""
    resolved, parsed = {}, {}
    for raw in tenants:
        try:
            parsed[raw] = uuid.UUID(raw)  # one tenant may be written several ways (case, hyphens)
        except ValueError:
            resolved[raw] = None
    if parsed:
        found = dict(customers.filter(tenant_id__in=set(parsed.values())).values_list("tenant_id", "pk"))
        resolved.update((raw, found.get(tenant_uuid)) for raw, tenant_uuid in parsed.items())
    return resolved


def _transition(usage_import, status, **values):
    """Move the import to ``status`` through ``ALLOWED_TRANSITIONS`` (saved at once)."""
    current = UsageImportStatus(usage_import.status)
    if status not in ALLOWED_TRANSITIONS[current]:
        raise UsageImportError(f"A usage import cannot go from {current} to {status}.")
    usage_import.status = status
    for name, value in values.items():
        setattr(usage_import, name, value)
    UsageImport.objects.filter(pk=usage_import.pk).update(status=status, **values)


# --- Services -----------------------------------------------------------------------------


def usage_import_create(*, file_name, partner=None, acting_user=None, source="upload", total_rows=0):
    """A pending import, made before its file is read so the status page can show progress
    (``total_rows`` is an estimate until the import ends). ``partner=None`` is the operator."""
    return UsageImport.objects.create(
        file_name=file_name[:255],
        source=source,
        partner=partner,
        created_by=acting_user if acting_user is not None and acting_user.is_authenticated else None,
        total_rows=total_rows,
    )


@in_english  # the errors it stores are English; error_text shows them in the reader's language
def usage_import_file(*, fileobj_chunks, file_name, partner=None, acting_user=None, usage_import=None, progress=None):
    """Import a usage CSV streamed as byte chunks; returns the finished ``UsageImport``.

    ``partner=None`` (operator's staff, the command, the admin) may name any customer; a
    partner only its own. Bad rows are recorded with their line and reason and the good rows
    imported. A file-level failure (empty, missing column, not UTF-8) ends the import as
    ``failed`` with that one error and no record left imported. ``progress(processed_rows)``
    is called after every batch. Raises ``UsageImportError`` when ``usage_import`` has run.
    """
    if usage_import is None:
        usage_import = usage_import_create(file_name=file_name, partner=partner, acting_user=acting_user)
    with _alive(usage_import):
        return _import_file(usage_import, fileobj_chunks, partner, progress)


@contextmanager
def _alive(usage_import):
    """Hold the import's lock while this process works on it: should the process die, the
    import is seen as stopped (``reap_dead_imports``) instead of "running" for ever."""
    run_locks.acquire(run_locks.USAGE_IMPORT, usage_import.pk)
    try:
        yield
    finally:
        run_locks.release(run_locks.USAGE_IMPORT, usage_import.pk)


@in_english
def reap_dead_imports(imports=None):
    """Mark failed each running import whose process is gone, keeping what it committed."""
    imports = UsageImport.objects.all() if imports is None else imports
    reaped = 0
    for usage_import in imports.filter(status=UsageImportStatus.RUNNING):
        if run_locks.is_held(run_locks.USAGE_IMPORT, usage_import.pk):
            continue
        errors = [*(usage_import.errors or []), {"line": None, "reason": str(PROCESS_DIED)}]
        reaped += UsageImport.objects.filter(pk=usage_import.pk, status=UsageImportStatus.RUNNING).update(
            status=UsageImportStatus.FAILED, errors=errors, finished_at=timezone.now(),
            total_rows=usage_import.processed_rows,
        )
    return reaped


def _import_file(usage_import, fileobj_chunks, partner, progress):
    _transition(usage_import, UsageImportStatus.RUNNING)
    if connection.vendor != "postgresql":
        return _import_rows(usage_import, fileobj_chunks, partner, progress)
    with usage_copy.spool(fileobj_chunks) as kept:
        try:
            if _import_by_copy(usage_import, kept, partner, progress):
                return usage_import
        except Exception:
            logger.exception("Usage import %s stopped", usage_import.pk)
            usage_import.refresh_from_db()
            _transition(
                usage_import,
                UsageImportStatus.FAILED,
                total_rows=usage_import.processed_rows,
                errors=[*(usage_import.errors or []), {"line": None, "reason": str(INTERNAL_FAILURE)}],
                finished_at=timezone.now(),
            )
            raise
        finally:
            usage_copy.drop()
        kept.seek(0)
        return _import_rows(usage_import, file_chunks(kept), partner, progress)


def _import_rows(usage_import, fileobj_chunks, partner, progress):
    """The portable import: rows parsed, checked and written in batches by Python."""
    importer = _Importer(partner=partner, usage_import=usage_import, progress=progress)
    try:
        try:
            for line, values in _csv_rows(fileobj_chunks):
                importer.add(line, values)
            importer.finish()
        finally:
            importer.close()
    except UsageFileError as exc:
        # Nothing half-imported: a file refused mid-way gives back what it had written.
        UsageRecord.objects.filter(usage_import=usage_import).delete()
        _transition(
            usage_import,
            UsageImportStatus.FAILED,
            total_rows=0,
            processed_rows=0,
            imported_rows=0,
            duplicate_rows=0,
            errors=[{"line": exc.line, "reason": exc.reason}],
            finished_at=timezone.now(),
        )
        return usage_import
    except Exception:
        logger.exception("Usage import %s stopped", usage_import.pk)
        _transition(
            usage_import,
            UsageImportStatus.FAILED,
            total_rows=importer.total,
            errors=[*importer.errors, {"line": None, "reason": str(INTERNAL_FAILURE)}],
            finished_at=timezone.now(),
        )
        raise
    _transition(
        usage_import,
        UsageImportStatus.DONE,
        total_rows=importer.total,
        processed_rows=importer.total,
        imported_rows=importer.imported,
        duplicate_rows=importer.duplicates,
        errors=importer.errors,
        finished_at=timezone.now(),
    )
    return usage_import


# --- PostgreSQL: the file through COPY ---------------------------------------------------

COPY_OTHER_ROWS_MAX = 200_000  # rows SQL cannot vouch for that Python checks; more: the portable way


def _header(kept):
    """``(positions, width, header_end)`` of a spooled file's plain header line, or ``None``
    for a header the portable reader should judge (quoted, not UTF-8, missing columns)."""
    head = kept.read(CHUNK_SIZE)
    kept.seek(0)
    end = head.find(b"\n")
    if end < 0 or b'"' in head[:end]:
        return None
    try:
        text = head[:end].decode("utf-8-sig").rstrip("\r")
    except UnicodeDecodeError:
        return None
    names = [name.strip().lower() for name in next(csv.reader([text]))]
    if any(column not in names for column in COLUMNS):
        return None
    return [names.index(column) for column in COLUMNS], len(names), end + 1


def _import_by_copy(usage_import, kept, partner, progress):
    """Import a spooled file through ``usage_copy``: COPY, the rows SQL vouches for, Python's
    checks for the others, then the good rows moved a chunk of lines per transaction with
    the import's counters. Returns ``False``, having written nothing, when the file is not
    for COPY (the caller then imports it the portable way)."""
    header = _header(kept)
    if header is None:
        return False
    positions, width, header_end = header
    try:
        staged = usage_copy.stage(kept, width, header_end)
    except usage_copy.StageRefused:
        return False
    latest = latest_call_start()
    customers = _customers_for(partner)
    vouched = usage_copy.classify(
        positions, customers, call_types=CALL_TYPES, number_types=NUMBER_TYPES, record_id_max=RECORD_ID_MAX,
        user_max=USER_MAX, max_duration=MAX_DURATION, earliest=EARLIEST_CALL, latest=latest,
    )
    errors = _check_other_rows(positions, width, customers, latest) if vouched < staged.rows else []
    if errors is None:
        return False
    errors.extend(
        (line, str(DUPLICATE_OF_LINE % {"line": first, "record_id": record_id}))
        for line, record_id, first in usage_copy.drop_repeats()
    )
    errors.sort()
    stored = [{"line": line, "reason": reason} for line, reason in errors[:MAX_STORED_ERRORS]]
    _move_good_rows(usage_import, staged.rows, stored, progress)
    usage_import.refresh_from_db()
    _transition(usage_import, UsageImportStatus.DONE, total_rows=staged.rows, finished_at=timezone.now())
    return True


def _check_other_rows(positions, width, customers, latest):
    """Check with Python the staged rows SQL did not vouch for; the good ones join the good
    rows. Returns their errors as ``(line, reason)``, or ``None`` when there are too many such
    rows for this lane."""
    errors, good, seen = [], [], 0
    with closing(usage_copy.other_rows(width)) as batches:
        for batch in batches:
            seen += len(batch)
            if seen > COPY_OTHER_ROWS_MAX:
                return None
            _check_batch(batch, positions, customers, latest, errors, good)
    usage_copy.add_good(good)
    return errors


def _check_batch(batch, positions, customers, latest, errors, good):
    """Python's checks for one batch of rows SQL did not vouch for: appends to ``errors``
    and ``good``."""
    checked = []
    for line, fields in batch:
        record, reason = _check(tuple(fields[p] for p in positions), latest)
        if reason is None:
            checked.append((line, record))
        else:
            errors.append((line, str(reason)))
    tenants = _tenant_customers(customers, {record[1] for _, record in checked})
    for line, record in checked:
        customer_id = tenants.get(record[1])
        if customer_id is None:
            errors.append((line, str(UNKNOWN_TENANT % {"value": record[1][:60]})))
        else:
            good.append((line, (record[0], customer_id, *record[2:])))


def _move_good_rows(usage_import, rows, stored_errors, progress):
    """Move the good rows ``BATCH_SIZE`` lines per transaction, each with the import's counters
    (the errors are stored with the first), so a killed import keeps what it counted."""
    good_per_chunk = usage_copy.good_per_chunk(BATCH_SIZE)
    received = timezone.now()
    processed = 0
    for chunk, first in enumerate(range(2, rows + 2, BATCH_SIZE)):
        end = min(first + BATCH_SIZE, rows + 2)
        with transaction.atomic():
            inserted = usage_copy.move(first, end, usage_import.pk, received)
            values = {
                "processed_rows": F("processed_rows") + (end - first),
                "imported_rows": F("imported_rows") + inserted,
                "duplicate_rows": F("duplicate_rows") + good_per_chunk.get(chunk, 0) - inserted,
            }
            if chunk == 0:
                values["errors"] = stored_errors
            UsageImport.objects.filter(pk=usage_import.pk).update(**values)
        processed += end - first
        if progress is not None:
            progress(processed)
    if rows == 0:
        UsageImport.objects.filter(pk=usage_import.pk).update(errors=stored_errors)


def usage_import_records(*, records, partner, acting_user):
    """Import a JSON batch (the API's camelCase items, at most ``MAX_API_RECORDS``) with the
    same rules as a file; returns a ``UsageBatchResult`` whose errors carry each bad item's
    0-based ``index``. Re-sending the batch imports nothing and counts duplicates. The batch
    is recorded as a ``UsageImport`` with source ``api``."""
    if len(records) > MAX_API_RECORDS:
        raise UsageImportError(f"At most {MAX_API_RECORDS} records per batch.")
    with translation.override("en"):  # stored as the API returns it; UsageImport.display_name shows it
        name = API_BATCH_NAME % {"count": len(records)}
    usage_import = usage_import_create(
        file_name=name,
        partner=partner,
        acting_user=acting_user,
        source="api",
        total_rows=len(records),
    )
    with _alive(usage_import):
        return _import_records(usage_import, records, partner)


def _import_records(usage_import, records, partner):
    _transition(usage_import, UsageImportStatus.RUNNING)
    importer = _Importer(partner=partner, usage_import=usage_import, api=True)
    try:
        for index, item in enumerate(records):
            if not isinstance(item, dict):
                importer.add(index, str(NOT_AN_OBJECT))
                continue
            values = tuple(_api_value(item.get(name)) for name in API_FIELDS)
            importer.add(index, values, record_id=values[0].strip())
        importer.finish()
    finally:
        importer.close()
    _transition(
        usage_import,
        UsageImportStatus.DONE,
        total_rows=importer.total,
        processed_rows=importer.total,
        imported_rows=importer.imported,
        duplicate_rows=importer.duplicates,
        errors=importer.errors,
        finished_at=timezone.now(),
    )
    return UsageBatchResult(
        total=importer.total,
        imported=importer.imported,
        duplicates=importer.duplicates,
        errors=[{"index": p, "recordId": rid, "description": reason} for p, reason, rid in importer.api_errors],
        usage_import=usage_import,
    )


def _api_value(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"  # never a valid value of any field
    return str(value)


# --- Preview and reading an import --------------------------------------------------------


@dataclass
class UsagePreview:
    """The first rows of a file as the import would see them, and the counts so far."""

    rows: list = field(default_factory=list)  # (line, values dict, reason or "")
    scanned: int = 0
    valid: int = 0
    already_imported: int = 0
    invalid: int = 0
    errors: list = field(default_factory=list)
    file_error: str = ""
    complete: bool = False  # the whole file was scanned


def usage_preview(*, fileobj_chunks, partner=None, show_rows=20, scan_rows=1000):
    """Check the first ``scan_rows`` rows of a file without writing: the same validation,
    tenant scoping and duplicate rules as the import. ``show_rows`` rows come back with
    their outcome for the preview table."""
    preview = UsagePreview()
    importer = _Importer(partner=partner)
    shown = []
    try:
        rows = _csv_rows(fileobj_chunks)
        for line, values in rows:
            if preview.scanned >= scan_rows:
                break
            preview.scanned += 1
            if len(shown) < show_rows:
                shown.append((line, values))
            importer.add(line, values)
        else:
            preview.complete = True
        importer.flush()
    except UsageFileError as exc:
        preview.file_error = exc.reason
        return preview
    reasons = {error["line"]: error["reason"] for error in importer.errors}
    preview.rows = [
        (line, dict(zip(COLUMNS, values)) if not isinstance(values, str) else {}, reasons.get(line, ""))
        for line, values in shown
    ]
    preview.valid = importer.imported + importer.duplicates
    preview.already_imported = importer.duplicates
    preview.invalid = importer.error_rows
    preview.errors = importer.errors
    return preview


def usage_check_encoding(*, fileobj_chunks):
    """Count the lines of a file while checking that all of it is UTF-8 (streamed); raises
    ``UsageFileError`` with the line of the first undecodable bytes."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 0
    for chunk in fileobj_chunks:
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError:
            raise UsageFileError(BAD_ENCODING % {"line": lines + 1}, line=lines + 1) from None
        lines += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise UsageFileError(BAD_ENCODING % {"line": lines + 1}, line=lines + 1) from None
    return lines


def usage_imports_for(user, partner):
    """The imports a person may see: their partner's, or for the operator's staff without a
    partner, the operator imports they started."""
    if partner is not None:
        return UsageImport.objects.owned_by(partner)
    if user.is_staff:
        return UsageImport.objects.filter(partner__isnull=True, created_by=user)
    return UsageImport.objects.none()


def usage_import_error_rows(usage_import):
    """How many rows were rejected (the stored list keeps at most ``MAX_STORED_ERRORS``)."""
    if usage_import.status == UsageImportStatus.FAILED and not usage_import.processed_rows:
        return len(usage_import.errors or [])
    return max(usage_import.processed_rows - usage_import.imported_rows - usage_import.duplicate_rows, 0)
