"""The price list out: one CSV row per price-list entry, streamed a line at a time."""

import datetime
from decimal import Decimal

from django.db.models import Prefetch

from catalog.models import PriceListEntry, PriceTag, Sku
from catalog.pricelist.columns import EXPORT_COLUMNS, LIST_SEPARATOR, UNIT_OF_MEASURE
from portal.csv_export import CsvLineWriter


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
