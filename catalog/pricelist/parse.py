"""The price list in: read a CSV file (its header, its records), check each row
(``catalog.pricelist.rows``), refuse a row given twice, and mark the rows that would update
one already stored. Nothing is written here (``catalog.pricelist.apply`` does)."""

import csv
import io
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from catalog.models import PriceListEntry, Sku
from catalog.pricelist.columns import Columns
from catalog.pricelist.rows import parse_row

MAX_IMPORT_BYTES = 5 * 1024 * 1024

NOT_UTF8 = _("The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again.")
EMPTY_FILE = _("The file is empty: it needs a header line and at least one row.")
MISSING_COLUMN = _("The header has no “%(column)s” column.")
NOT_CSV = _("The file could not be read as CSV: %(reason)s")


@dataclass
class RowError:
    line: int | None  # None: about the whole file
    message: str


@dataclass
class ImportResult:
    rows: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    @property
    def to_create(self):
        return sum(1 for r in self.rows if not r.exists)

    @property
    def to_update(self):
        return sum(1 for r in self.rows if r.exists)

    @property
    def file_error(self):
        """True when the file as a whole is unusable (no row could be read)."""
        return any(e.line is None for e in self.errors)


class _UnusableFile(Exception):
    """The file as a whole cannot be imported; ``args`` are the messages, about no line."""


def decode(raw):
    """Bytes → text, or raise ``ValueError(NOT_UTF8)``. A byte-order mark is allowed."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(NOT_UTF8) from None


def parse_price_list(text):
    """Read and validate a price-list CSV. Returns an ``ImportResult`` with the valid rows
    (each marked ``exists`` when it would update a row already stored) and the errors, each
    with its line number. Reads the catalog and the existing keys in two queries."""
    result = ImportResult()
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        columns = _columns(reader)
        records = _records(reader)
    except _UnusableFile as unusable:
        result.errors += [RowError(None, message) for message in unusable.args]
        return result
    _check_rows(result, records, columns, _skus_of(records, columns))
    _mark_existing(result.rows)
    return result


def _columns(reader):
    """Where the header puts each column the import reads."""
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise _UnusableFile(NOT_CSV % {"reason": exc}) from None
    if not header or not any(h.strip() for h in header):
        raise _UnusableFile(EMPTY_FILE)
    columns, missing = Columns.of_header(header)
    if missing:
        raise _UnusableFile(*(MISSING_COLUMN % {"column": column} for column in missing))
    return columns


def _records(reader):
    """``[(line, values)]`` of the records after the header that have any text. Line numbers
    are physical lines, as an editor shows them (a quoted cell may span lines)."""
    records = []
    try:
        start = reader.line_num + 1
        for values in reader:
            records.append((start, values))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise _UnusableFile(NOT_CSV % {"reason": exc}) from None
    records = [(line, values) for line, values in records if any(v.strip() for v in values)]
    if not records:
        raise _UnusableFile(EMPTY_FILE)
    return records


def _skus_of(records, columns):
    """``{(product id, SKU id): (pk, code)}`` of every SKU of the file's products (one query)."""
    product_ids = {columns.cell(values, "ProductId").upper() for _line, values in records}
    return {
        (product_id, sku_id): (pk, f"{product_id}:{sku_id}")
        for pk, product_id, sku_id in Sku.objects.filter(product_id__in=product_ids).values_list(
            "pk", "product_id", "sku_id"
        )
    }


def _check_rows(result, records, columns, skus):
    """Each record into ``result``: a valid row, or its error (a row given twice included)."""
    seen = {}
    for line, values in records:
        try:
            row = parse_row(values, columns, skus, line=line)
        except ValueError as exc:
            result.errors.append(RowError(line, str(exc.args[0])))
            continue
        if row.key in seen:
            result.errors.append(
                RowError(line, _("The same price-list row as line %(line)s.") % {"line": seen[row.key]})
            )
            continue
        seen[row.key] = line
        result.rows.append(row)


def _mark_existing(rows):
    """Mark the rows whose natural key is stored already (one query)."""
    if not rows:
        return
    existing = set(
        PriceListEntry.objects.filter(sku_id__in={r.sku_pk for r in rows}).values_list(
            "sku_id", "term_duration", "billing_plan", "market", "currency", "segment", "effective_start"
        )
    )
    for row in rows:
        row.exists = row.key in existing
