"""The usage import's engine (SPEC §8): rows checked as they come, tenants resolved once per
batch within the partner's customers, repeats found across batches, errors capped and the
good rows written a batch at a time; and the import's allowed status transitions."""

import uuid
from operator import itemgetter

from django.db import transaction

from billing.models import UsageImport, UsageImportStatus, UsageRecord
from billing.services.usage_parse import (
    BATCH_SIZE,
    DUPLICATE_OF_ITEM,
    DUPLICATE_OF_LINE,
    MAX_STORED_ERRORS,
    UNKNOWN_TENANT,
    UsageImportError,
    check_row,
    latest_call_start,
)
from billing.services.usage_write import BackgroundWriter, background_writers, write_rows
from portal.models import Customer

ALLOWED_TRANSITIONS = {
    UsageImportStatus.PENDING: {UsageImportStatus.RUNNING, UsageImportStatus.FAILED},
    UsageImportStatus.RUNNING: {UsageImportStatus.DONE, UsageImportStatus.FAILED},
    UsageImportStatus.DONE: set(),
    UsageImportStatus.FAILED: set(),
}


class Importer:
    """Validates rows as they come, resolves tenants and writes once per batch. With
    ``usage_import=None`` it only checks (the upload preview), counting the records already
    imported as duplicates without writing anything."""

    def __init__(self, *, partner, usage_import=None, api=False, progress=None):
        self.customers = customers_for(partner)
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
        if usage_import is not None and (workers := background_writers()):
            usage_import.processed_rows = usage_import.imported_rows = usage_import.duplicate_rows = 0
            UsageImport.objects.filter(pk=usage_import.pk).update(processed_rows=0, imported_rows=0, duplicate_rows=0)
            self.writer = BackgroundWriter(usage_import.pk, workers)

    def add(self, position, values, record_id=""):
        self.total += 1
        self.rows_in_batch += 1
        if isinstance(values, str):  # the reader's reason for a line it could not parse
            self._error(position, values, record_id)
        else:
            record, reason = check_row(values, self.latest)
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
        self.tenants.update(tenant_customers(self.customers, unresolved))

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
                inserted = write_rows(rows, self.usage_import.pk)
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


def customers_for(partner):
    """The customers a partner's file may name (``None``: the operator, any customer)."""
    return Customer.objects.transacted_by(partner) if partner is not None else Customer.objects.all()


def tenant_customers(customers, tenants):
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


def transition(usage_import, status, **values):
    """Move the import to ``status`` through ``ALLOWED_TRANSITIONS`` (saved at once)."""
    current = UsageImportStatus(usage_import.status)
    if status not in ALLOWED_TRANSITIONS[current]:
        raise UsageImportError(f"A usage import cannot go from {current} to {status}.")
    usage_import.status = status
    for name, value in values.items():
        setattr(usage_import, name, value)
    UsageImport.objects.filter(pk=usage_import.pk).update(status=status, **values)
