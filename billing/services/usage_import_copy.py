"""PostgreSQL's lane of the usage import (SPEC §8): a spooled file COPied into a staging table
by ``usage_copy``, then one pass per chunk of lines: SQL's checks and the insert in one
statement, Python's checks for the rows SQL did not vouch for, and the import's counters, in
one transaction per chunk. A repeated record id is looked for only when a chunk's insert
skipped a row."""

import csv
import threading
from dataclasses import dataclass, field

from django.db import DataError, connections, transaction
from django.db.models import F
from django.utils import timezone

from billing.models import UsageImport, UsageImportStatus
from billing.services import usage_copy
from billing.services.usage_engine import customers_for, tenant_customers, transition
from billing.services.usage_write import background_writers
from billing.services.usage_parse import (
    BATCH_SIZE,
    CALL_TYPES,
    CHUNK_SIZE,
    COLUMNS,
    DUPLICATE_OF_LINE,
    EARLIEST_CALL,
    MAX_DURATION,
    MAX_STORED_ERRORS,
    NUMBER_TYPES,
    RECORD_ID_MAX,
    UNKNOWN_TENANT,
    USER_MAX,
    check_row,
    latest_call_start,
)


@dataclass
class _Lane:
    """One file's pass through the lane: where its columns are, what it may name, what it
    stored. ``in_order``: until the file is known to repeat no record id, its chunks are moved
    one after the other; then on two connections too, ``lock`` guarding what they share."""

    usage_import: UsageImport
    positions: list
    width: int
    customers: object
    in_order: bool = True
    received: object = field(default_factory=timezone.now)
    errors: list = field(default_factory=list)  # the first MAX_STORED_ERRORS (line, reason)
    processed: int = 0
    lock: object = field(default_factory=threading.Lock)


class _RowSkipped(Exception):
    """A chunk's insert skipped a row found good: the chunk is done again row by row."""


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


def import_by_copy(usage_import, kept, partner, progress):
    """Import a spooled file through ``usage_copy``: COPY, then a chunk of ``BATCH_SIZE`` lines
    per transaction with the import's counters, so a killed import keeps what it counted.
    Returns ``False``, having written nothing, when the file is not for COPY (the caller then
    imports it the portable way)."""
    header = _header(kept)
    if header is None:
        return False
    positions, width, header_end = header
    try:
        staged = usage_copy.stage(kept, width, header_end, usage_import.pk)
    except usage_copy.StageRefused:
        return False
    lane = _Lane(usage_import=usage_import, positions=positions, width=width, customers=customers_for(partner))
    usage_copy.prepare(lane.customers, usage_import.pk)
    chunks = [(first, min(first + BATCH_SIZE, staged.rows + 2)) for first in range(2, staged.rows + 2, BATCH_SIZE)]
    _move_chunks(lane, chunks, progress)
    usage_import.refresh_from_db()
    transition(usage_import, UsageImportStatus.DONE, total_rows=staged.rows, errors=_stored(lane.errors),
               finished_at=timezone.now())
    return True


def _move_chunks(lane, chunks, progress):
    """Move the chunks in line order from this thread while a second one, with its own
    connection, asks whether the file repeats a record id; if it does not, order is free and
    that thread takes chunks too, each thread the next one left as it finishes one."""
    pending, failures = iter(chunks), []

    def take():
        with lane.lock:
            return None if failures else next(pending, None)

    def work():
        try:
            if usage_copy.repeats_a_record_id(lane.usage_import.pk, lane.positions[0]):
                return
            lane.in_order = False
            while (chunk := take()) is not None:
                _move_chunk(lane, *chunk)
        except Exception as exc:  # re-raised in the caller's thread below
            failures.append(exc)
        finally:
            connections.close_all()  # this thread's connection only

    helper = threading.Thread(target=work, daemon=True) if len(chunks) > 1 and background_writers() else None
    if helper is not None:
        helper.start()
    try:
        while (chunk := take()) is not None:
            _move_chunk(lane, *chunk)
            if progress is not None:
                progress(lane.processed)
    except Exception as exc:
        failures.append(exc)
    if helper is not None:
        helper.join()
    if failures:
        raise failures[0]


def _move_chunk(lane, first, end):
    """Lines ``[first, end)`` in one transaction: SQL's rows and Python's, then the counters.
    Should the insert skip a row SQL or Python found good (a record id imported before, or
    repeated in the file), or SQL fail to read a start it let through, the chunk is done
    again row by row (``_move_chunk_exactly``)."""
    latest = latest_call_start()
    params = usage_copy.limits(call_types=CALL_TYPES, number_types=NUMBER_TYPES, record_id_max=RECORD_ID_MAX,
                               user_max=USER_MAX, max_duration=MAX_DURATION, earliest=EARLIEST_CALL, latest=latest)
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint, rolled back should the insert skip a row
                moved = usage_copy.move(first, end, lane.positions, lane.width, params, lane.usage_import.pk,
                                        lane.received)
                errors, good = _check_rows(moved.others, lane.positions, lane.customers, latest)
                inserted = moved.inserted + usage_copy.insert(good, lane.usage_import.pk, lane.received)
                good_rows = moved.vouched + len(good)
                if inserted < good_rows:
                    raise _RowSkipped
        except (_RowSkipped, DataError):  # DataError: a start SQL let through but could not read
            errors, good_rows, inserted = _move_chunk_exactly(lane, first, end, latest)
        _count(lane, end - first, inserted, good_rows - inserted, errors)


def _move_chunk_exactly(lane, first, end, latest):
    """The chunk checked by Python alone, each record id's first good line looked for in the
    file (earlier chunks included): a later line naming it is an error, the first one is
    inserted or, its record id imported before, a duplicate. Returns ``(errors, good rows,
    inserted)``."""
    key = lane.usage_import.pk
    errors, good = _check_rows(usage_copy.lines(first, end, lane.width, key), lane.positions, lane.customers, latest)
    record_ids = {record[0] for _, record in good} if lane.in_order else set()  # else no id repeats
    earlier = usage_copy.lines_naming(record_ids, first, lane.positions[0], lane.width, key) if record_ids else []
    _, earlier_good = _check_rows(earlier, lane.positions, lane.customers, latest)
    first_line = {}
    for line, record in earlier_good:
        first_line.setdefault(record[0], line)
    kept = []
    for line, record in good:
        if record[0] in first_line:
            errors.append((line, str(DUPLICATE_OF_LINE % {"line": first_line[record[0]], "record_id": record[0]})))
        else:
            first_line[record[0]] = line
            kept.append((line, record))
    return sorted(errors), len(kept), usage_copy.insert(kept, lane.usage_import.pk, lane.received)


def _check_rows(rows, positions, customers, latest):
    """Python's checks for staged rows ``(line, [field, …])``: ``(errors, good)`` with errors
    as ``(line, reason)`` and good rows as ``(line, record)``, ``record`` as ``GOOD_COLUMNS``."""
    errors, checked, good = [], [], []
    for line, fields in rows:
        record, reason = check_row(tuple(fields[p] for p in positions), latest)
        if reason is None:
            checked.append((line, record))
        else:
            errors.append((line, str(reason)))
    tenants = tenant_customers(customers, {record[1] for _, record in checked}) if checked else {}
    for line, record in checked:
        customer_id = tenants.get(record[1])
        if customer_id is None:
            errors.append((line, str(UNKNOWN_TENANT % {"value": record[1][:60]})))
        else:
            good.append((line, (record[0], customer_id, *record[2:])))
    errors.sort()
    return errors, good


def _count(lane, rows, inserted, duplicates, errors):
    """The chunk's counters, and the first ``MAX_STORED_ERRORS`` errors of the file so far."""
    values = {
        "processed_rows": F("processed_rows") + rows,
        "imported_rows": F("imported_rows") + inserted,
        "duplicate_rows": F("duplicate_rows") + duplicates,
    }
    with lane.lock:
        lane.processed += rows
        if errors and (len(lane.errors) < MAX_STORED_ERRORS or errors[0] < lane.errors[-1]):
            lane.errors = sorted(lane.errors + errors)[:MAX_STORED_ERRORS]
            values["errors"] = _stored(lane.errors)
        # Under the lock: the other connection's update of the same row waits for this
        # chunk's commit, so the errors stored last are the most complete.
        UsageImport.objects.filter(pk=lane.usage_import.pk).update(**values)


def _stored(errors):
    return [{"line": line, "reason": reason} for line, reason in errors]
