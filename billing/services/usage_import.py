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

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone, translation

from billing.models import API_BATCH_NAME, UsageImport, UsageImportStatus, UsageRecord
from billing.services import run_locks, usage_copy
from billing.services.usage_engine import Importer, transition
from billing.services.usage_import_copy import import_by_copy
from billing.services.usage_parse import (
    API_FIELDS,
    INTERNAL_FAILURE,
    MAX_API_RECORDS,
    NOT_AN_OBJECT,
    PROCESS_DIED,
    UsageFileError,
    UsageImportError,
    csv_rows,
    file_chunks,
)
from portal.text import in_english

logger = logging.getLogger(__name__)


@dataclass
class UsageBatchResult:
    """What ``usage_import_records`` did: counts and per-item errors (0-based ``index``)."""

    total: int = 0
    imported: int = 0
    duplicates: int = 0
    errors: list = field(default_factory=list)
    usage_import: UsageImport | None = None


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


@in_english  # the errors it stores are English; usage_error_text shows them in the reader's language
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
        if connection.vendor == "postgresql":
            usage_copy.drop(usage_import.pk)  # the staged file a dead COPY lane left
    return reaped


def _import_file(usage_import, fileobj_chunks, partner, progress):
    transition(usage_import, UsageImportStatus.RUNNING)
    if connection.vendor != "postgresql":
        return _import_rows(usage_import, fileobj_chunks, partner, progress)
    with usage_copy.spool(fileobj_chunks) as kept:
        try:
            if import_by_copy(usage_import, kept, partner, progress):
                return usage_import
        except Exception:
            logger.exception("Usage import %s stopped", usage_import.pk)
            usage_import.refresh_from_db()
            transition(
                usage_import,
                UsageImportStatus.FAILED,
                total_rows=usage_import.processed_rows,
                errors=[*(usage_import.errors or []), {"line": None, "reason": str(INTERNAL_FAILURE)}],
                finished_at=timezone.now(),
            )
            raise
        finally:
            usage_copy.drop(usage_import.pk)
        kept.seek(0)
        return _import_rows(usage_import, file_chunks(kept), partner, progress)


def _import_rows(usage_import, fileobj_chunks, partner, progress):
    """The portable import: rows parsed, checked and written in batches by Python."""
    importer = Importer(partner=partner, usage_import=usage_import, progress=progress)
    try:
        try:
            for line, values in csv_rows(fileobj_chunks):
                importer.add(line, values)
            importer.finish()
        finally:
            importer.close()
    except UsageFileError as exc:
        # Nothing half-imported: a file refused mid-way gives back what it had written.
        UsageRecord.objects.filter(usage_import=usage_import).delete()
        transition(
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
        transition(
            usage_import,
            UsageImportStatus.FAILED,
            total_rows=importer.total,
            errors=[*importer.errors, {"line": None, "reason": str(INTERNAL_FAILURE)}],
            finished_at=timezone.now(),
        )
        raise
    transition(
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
    transition(usage_import, UsageImportStatus.RUNNING)
    importer = Importer(partner=partner, usage_import=usage_import, api=True)
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
    transition(
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
