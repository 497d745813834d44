"""PostgreSQL's lane of the usage import (SPEC §8): a spooled file COPied into a staging table
by ``usage_copy``, the rows SQL vouches for kept, Python's checks for the others, and the good
rows moved a chunk of lines per transaction with the import's counters."""

import csv
from contextlib import closing

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing.models import UsageImport, UsageImportStatus
from billing.services import usage_copy
from billing.services.usage_engine import customers_for, tenant_customers, transition
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


def import_by_copy(usage_import, kept, partner, progress):
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
    customers = customers_for(partner)
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
    transition(usage_import, UsageImportStatus.DONE, total_rows=staged.rows, finished_at=timezone.now())
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
        record, reason = check_row(tuple(fields[p] for p in positions), latest)
        if reason is None:
            checked.append((line, record))
        else:
            errors.append((line, str(reason)))
    tenants = tenant_customers(customers, {record[1] for _, record in checked})
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
