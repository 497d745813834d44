"""The new-commerce license price list as CSV: export (streamed) and import (parse, validate,
apply).

Column names follow Partner Center's price list (PARTNER-CENTER.md §3.5, not verified there),
so the importer is header-driven: columns are found by name whatever their order, unknown
columns are ignored, and names are matched without regard to case, spaces or underscores.
An import applies its good rows and reports its bad ones by line number (the header is
line 1); the staff preview shows both before anything is written.
"""

import csv
import io
import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _

from catalog.models import BillingCycle, PriceListEntry, PriceTag, Segment, Sku, TermDuration
from portal.csv_export import CsvLineWriter
from portal.services import audit_record
from portal.text import control_character

EXPORT_COLUMNS = [
    "ProductTitle",
    "ProductId",
    "SkuId",
    "SkuTitle",
    "Publisher",
    "SkuDescription",
    "UnitOfMeasure",
    "TermDuration",
    "BillingPlan",
    "Market",
    "Currency",
    "UnitPrice",
    "PricingTierRangeMin",
    "PricingTierRangeMax",
    "EffectiveStartDate",
    "EffectiveEndDate",
    "Tags",
    "ERP Price",
    "Segment",
    "ProductSkuPreRequisites",
    "ProductSkuPreRequisiteIds",
]
UNIT_OF_MEASURE = "License"
LIST_SEPARATOR = ";"

# The columns an import needs; the others (titles, tags, prerequisites…) are the catalog's
# business, not the price list's, and are ignored on the way in.
REQUIRED_COLUMNS = [
    "ProductId",
    "SkuId",
    "TermDuration",
    "BillingPlan",
    "Market",
    "Currency",
    "UnitPrice",
    "ERP Price",
    "EffectiveStartDate",
]
OPTIONAL_COLUMNS = ["EffectiveEndDate", "Segment", "Tags"]

MAX_IMPORT_BYTES = 5 * 1024 * 1024

NOT_UTF8 = _("The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again.")
EMPTY_FILE = _("The file is empty: it needs a header line and at least one row.")
MISSING_COLUMN = _("The header has no “%(column)s” column.")
CONTROL_CHARACTER_IN_CELL = _("%(column)s contains a control character (%(character)s).")
NOT_CSV = _("The file could not be read as CSV: %(reason)s")


# Export


def sku_tags(sku, stored=()):
    """Tags of a price-list row: IncludesOverage for overage SKUs, AddOn for add-ons, then
    any other tag stored on the row."""
    tags = []
    if sku.can_overage:
        tags.append(PriceTag.INCLUDES_OVERAGE.value)
    if sku.is_addon:
        tags.append(PriceTag.ADD_ON.value)
    tags += [t for t in stored or () if t not in tags]
    return tags


def export_queryset(*, market=None):
    """The price-list rows to export, with everything a row needs (a fixed number of queries)."""
    prerequisites = Sku.objects.select_related("product").order_by("product_id", "sku_id")
    rows = PriceListEntry.objects.select_related("sku__product").prefetch_related(
        Prefetch("sku__prerequisites", queryset=prerequisites)
    )
    if market:
        rows = rows.filter(market=market.upper())
    return rows.order_by("sku__product__title", "sku__product_id", "sku__sku_id", "market", "term_duration",
                         "billing_plan", "segment", "effective_start", "pk")


def _plain(value):
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def export_row(entry):
    sku = entry.sku
    product = sku.product
    prerequisites = list(sku.prerequisites.all())
    return [
        product.title,
        product.id,
        sku.sku_id,
        sku.title,
        product.publisher_name,
        sku.description,
        UNIT_OF_MEASURE,
        entry.term_duration,
        entry.billing_plan,
        entry.market,
        entry.currency,
        _plain(entry.unit_price),
        _plain(sku.min_quantity),
        _plain(sku.max_quantity),
        _plain(entry.effective_start),
        _plain(entry.effective_end),
        LIST_SEPARATOR.join(sku_tags(sku, entry.tags)),
        _plain(entry.erp_price),
        entry.segment,
        LIST_SEPARATOR.join(p.title for p in prerequisites),
        LIST_SEPARATOR.join(p.code for p in prerequisites),
    ]


def export_lines(*, market=None, chunk_size=500):
    """The CSV text of the price list, one line at a time (the header first)."""
    writer = CsvLineWriter()
    yield writer.writerow(EXPORT_COLUMNS)
    for entry in export_queryset(market=market).iterator(chunk_size=chunk_size):
        yield writer.writerow(export_row(entry))


# Import


@dataclass
class ImportRow:
    """One valid row, keyed by the price list's natural key."""

    line: int
    sku_pk: int
    sku_code: str
    term_duration: str
    billing_plan: str
    market: str
    currency: str
    segment: str
    unit_price: Decimal
    erp_price: Decimal
    effective_start: datetime.date
    effective_end: datetime.date | None
    tags: list | None
    exists: bool = False

    @property
    def key(self):
        return (self.sku_pk, self.term_duration, self.billing_plan, self.market, self.currency, self.segment,
                self.effective_start)


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


def _normalise(name):
    return re.sub(r"[\s_]+", "", (name or "").strip().lstrip("\ufeff")).lower()


def decode(raw):
    """Bytes → text, or raise ``ValueError(NOT_UTF8)``. A byte-order mark is allowed."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(NOT_UTF8) from None


def _parse_date(value):
    value = value.strip()
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        # Partner Center writes timestamps such as 2025-01-01T00:00:00Z; the date is what counts.
        return datetime.datetime.fromisoformat(value).date()


NOT_A_NUMBER = _("%(column)s “%(value)s” is not a number.")


def _parse_price(value, column):
    try:
        price = Decimal(value.strip())
    except InvalidOperation:
        raise ValueError(NOT_A_NUMBER % {"column": column, "value": value}) from None
    if not price.is_finite():
        raise ValueError(NOT_A_NUMBER % {"column": column, "value": value})
    if price < 0:
        raise ValueError(_("%(column)s must not be negative.") % {"column": column})
    if price != price.quantize(Decimal("0.000001")) or price >= Decimal("1e12"):
        raise ValueError(_("%(column)s “%(value)s” has too many digits.") % {"column": column, "value": value})
    return price


def _choice(value, choices, column):
    """Match a code case-insensitively (Partner Center writes Monthly, Commercial…)."""
    by_lower = {c.lower(): c for c in choices}
    found = by_lower.get(value.strip().lower())
    if found is None:
        raise ValueError(
            _("%(column)s “%(value)s” is not one of %(allowed)s.")
            % {"column": column, "value": value, "allowed": ", ".join(choices)}
        )
    return found


def parse_price_list(text):
    """Read and validate a price-list CSV. Returns an ``ImportResult`` with the valid rows
    (each marked ``exists`` when it would update a row already stored) and the errors, each
    with its line number. Reads the catalog and the existing keys in two queries."""
    result = ImportResult()
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next(reader, None)
    except csv.Error as exc:
        result.errors.append(RowError(None, NOT_CSV % {"reason": exc}))
        return result
    if not header or not any(h.strip() for h in header):
        result.errors.append(RowError(None, EMPTY_FILE))
        return result

    positions = {}
    for index, name in enumerate(header):
        positions.setdefault(_normalise(name), index)
    columns = {}
    for column in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
        index = positions.get(_normalise(column))
        if index is None and column in REQUIRED_COLUMNS:
            result.errors.append(RowError(None, MISSING_COLUMN % {"column": column}))
        columns[column] = index
    if result.errors:
        return result

    # Line numbers are physical lines, as an editor shows them (a quoted cell may span lines).
    records = []
    try:
        start = reader.line_num + 1
        for values in reader:
            records.append((start, values))
            start = reader.line_num + 1
    except csv.Error as exc:
        result.errors.append(RowError(None, NOT_CSV % {"reason": exc}))
        return result
    records = [(line, values) for line, values in records if any(v.strip() for v in values)]
    if not records:
        result.errors.append(RowError(None, EMPTY_FILE))
        return result

    def cell(values, column):
        index = columns[column]
        if index is None or index >= len(values):
            return ""
        return values[index].strip()

    product_ids = {cell(values, "ProductId").upper() for _line, values in records}
    skus = {
        (product_id, sku_id): (pk, f"{product_id}:{sku_id}")
        for pk, product_id, sku_id in Sku.objects.filter(product_id__in=product_ids).values_list(
            "pk", "product_id", "sku_id"
        )
    }

    seen = {}
    for line, values in records:
        try:
            row = _parse_row(values, cell, skus, line=line, has_tags=columns["Tags"] is not None)
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

    _mark_existing(result.rows)
    return result


def _parse_row(values, cell, skus, *, line, has_tags):
    for column in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
        character = control_character(cell(values, column))
        if character:
            raise ValueError(CONTROL_CHARACTER_IN_CELL % {"column": column, "character": character})
    product_id = cell(values, "ProductId").upper()
    sku_id = cell(values, "SkuId").upper()
    if not product_id or not sku_id:
        raise ValueError(_("ProductId and SkuId are required."))
    if (product_id, sku_id) not in skus:
        raise ValueError(_("Unknown SKU %(code)s.") % {"code": f"{product_id}:{sku_id}"})
    sku_pk, sku_code = skus[(product_id, sku_id)]

    term = _choice(cell(values, "TermDuration"), TermDuration.values, "TermDuration")
    billing_plan = _choice(
        cell(values, "BillingPlan"), [v for v in BillingCycle.values if v != BillingCycle.NONE], "BillingPlan"
    )
    market = cell(values, "Market").upper()
    if not re.fullmatch(r"[A-Z]{2}", market):
        raise ValueError(_("Market “%(value)s” is not a two-letter country code.") % {"value": market})
    currency = cell(values, "Currency").upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ValueError(_("Currency “%(value)s” is not a three-letter currency code.") % {"value": currency})
    segment_value = cell(values, "Segment")
    segment = _choice(segment_value, Segment.values, "Segment") if segment_value else Segment.COMMERCIAL.value

    unit_price = _parse_price(cell(values, "UnitPrice"), "UnitPrice")
    erp_price = _parse_price(cell(values, "ERP Price"), "ERP Price")

    start_value = cell(values, "EffectiveStartDate")
    try:
        start = _parse_date(start_value)
    except ValueError:
        raise ValueError(
            _("EffectiveStartDate “%(value)s” is not an ISO date (YYYY-MM-DD).") % {"value": start_value}
        ) from None
    end_value = cell(values, "EffectiveEndDate")
    end = None
    if end_value:
        try:
            end = _parse_date(end_value)
        except ValueError:
            raise ValueError(
                _("EffectiveEndDate “%(value)s” is not an ISO date (YYYY-MM-DD).") % {"value": end_value}
            ) from None
        if end <= start:
            raise ValueError(_("EffectiveEndDate must be after EffectiveStartDate."))

    tags = None  # no Tags column: leave a stored row's tags alone
    if has_tags:
        tags = [t.strip() for t in cell(values, "Tags").split(LIST_SEPARATOR) if t.strip()]
    return ImportRow(
        line=line,
        sku_pk=sku_pk,
        sku_code=sku_code,
        term_duration=term,
        billing_plan=billing_plan,
        market=market,
        currency=currency,
        segment=segment,
        unit_price=unit_price,
        erp_price=erp_price,
        effective_start=start,
        effective_end=end,
        tags=tags,
    )


def _mark_existing(rows):
    if not rows:
        return
    existing = set(
        PriceListEntry.objects.filter(sku_id__in={r.sku_pk for r in rows}).values_list(
            "sku_id", "term_duration", "billing_plan", "market", "currency", "segment", "effective_start"
        )
    )
    for row in rows:
        row.exists = row.key in existing


def pricelist_apply(*, rows, acting_user):
    """Write the valid rows of an import in one transaction, creating or updating each by the
    natural key (SKU, term, billing plan, market, currency, segment, start). Staff only: the
    caller checks. Returns ``(created, updated)``."""
    created = updated = 0
    with transaction.atomic():
        last = None
        for row in rows:
            last, was_created = PriceListEntry.objects.update_or_create(
                sku_id=row.sku_pk,
                term_duration=row.term_duration,
                billing_plan=row.billing_plan,
                market=row.market,
                currency=row.currency,
                segment=row.segment,
                effective_start=row.effective_start,
                defaults={
                    "unit_price": row.unit_price,
                    "erp_price": row.erp_price,
                    "effective_end": row.effective_end,
                    **({"tags": row.tags} if row.tags is not None else {}),
                },
            )
            if was_created:
                created += 1
            else:
                updated += 1
        if last is not None:
            audit_record(
                actor=acting_user,
                action="catalog.pricelist_import",
                obj=last,
                after={"created": created, "updated": updated},
            )
    return created, updated
