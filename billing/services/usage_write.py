"""Writing a batch of checked usage rows (SPEC §8): COPY on PostgreSQL (through a staging
table when a record id exists already), ``bulk_create`` elsewhere, each returning the exact
number inserted; and the background writer threads that overlap the database's work with
the reading of the file."""

import csv
import io
import queue
import threading

from django.conf import settings
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from billing.models import UsageImport, UsageRecord


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


def write_postgresql(rows, usage_import_id):
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


def write_rows(rows, usage_import_id):
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        return write_postgresql(rows, usage_import_id)
    return _write_portable(rows, usage_import_id)


class BackgroundWriter:
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
                        inserted = write_rows(rows, self.usage_import_id)
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


def background_writers():
    # Threads see only committed data, so inside a transaction (tests, a caller's atomic
    # block) the batches are written in line by the caller's own connection.
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 0
    return getattr(settings, "USAGE_IMPORT_WRITERS", 2)


# --- The import engine --------------------------------------------------------------------
