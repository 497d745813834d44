"""The reconciliation file: one partner's billed lines for one month (SPEC §9, PARTNER-CENTER §9.1).

Lines come from three sources, merged in one stable order (customer name, subscription id,
charge type, charge start date, then a tie-breaker), so a file is reproducible:

- license lines, one per ``ChargeEvent`` of the month of a subscription the partner transacts;
- ``cycleCharge`` lines, one per monthly billing period of a monthly-billed subscription that
  starts in the month and is not the first period of a term (``new``/``renew`` charge that one);
- overage ``usage`` lines, one per customer × Azure subscription × meter × unit price (× late
  adjustment) of the rated calls billed in the month with post-paid minutes for the partner,
  summed by the database.

Money is ``Decimal``, with Partner Center's truncation formulas. An open month is computed
live; a finalized month is read from its ``ReconciliationLine`` snapshot, written by
``reconciliation_snapshot`` when the month is finalized, so its file never changes.

Everything is generated lazily (querysets iterated in chunks) so a month of a million calls
streams without being held in memory.
"""

import heapq

from billing.models import BillingMonth, BillingMonthStatus, ReconciliationLine
from billing.reconciliation_format import CHUNK_SIZE, COLUMNS
from billing.reconciliation_licenses import _charge_event_lines, _cycle_charge_lines
from billing.reconciliation_usage import _adjustment_lines, _usage_lines
from portal.csv_export import CsvLineWriter


def is_finalized(month):
    return BillingMonth.objects.filter(month=month, status=BillingMonthStatus.FINALIZED).exists()


# --- The file ------------------------------------------------------------------------------


def live_lines(*, partner, month):
    """The partner's lines for ``month`` computed from the current data, in file order."""
    streams = [
        _charge_event_lines(partner, month),
        _cycle_charge_lines(partner, month),
        _usage_lines(partner, month),
        _adjustment_lines(partner, month),
    ]
    for _key, row in heapq.merge(*streams, key=lambda item: item[0]):
        yield row


def snapshot_lines(*, partner, month):
    lines = ReconciliationLine.objects.owned_by(partner).filter(billing_month__month=month).order_by("sequence")
    for line in lines.only("values").iterator(chunk_size=CHUNK_SIZE):
        yield line.values


def reconciliation_lines(*, partner, month):
    """The partner's reconciliation lines for ``month`` (its first day), as dicts keyed by
    ``COLUMNS``: frozen for a finalized month, live for an open one."""
    if is_finalized(month):
        return snapshot_lines(partner=partner, month=month)
    return live_lines(partner=partner, month=month)


def csv_chunks(rows, *, rows_per_chunk=500):
    """The CSV text (header first) of ``rows`` in chunks, for a streaming response."""
    writer = CsvLineWriter(lineterminator="\n")
    yield writer.writerow(COLUMNS)
    batch = []
    for row in rows:
        batch.append(writer.writerow([row[column] for column in COLUMNS]))
        if len(batch) >= rows_per_chunk:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


def reconciliation_csv(*, partner, month, matches=None):
    """The partner's reconciliation file for ``month`` as an iterator of text chunks; with
    ``matches`` (a predicate over the lines), only the lines it keeps, in the file's order."""
    lines = reconciliation_lines(partner=partner, month=month)
    return csv_chunks(lines if matches is None else filter(matches, lines))
