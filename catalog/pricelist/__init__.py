"""The new-commerce license price list as CSV: export (streamed) and import (parse, validate,
apply).

Column names follow Partner Center's price list (PARTNER-CENTER.md §3.5, not verified there),
so the importer is header-driven: columns are found by name whatever their order, unknown
columns are ignored, and names are matched without regard to case, spaces or underscores.
An import applies its good rows and reports its bad ones by line number (the header is
line 1); the staff preview shows both before anything is written.

One module per step: ``columns`` (the names and where a file has them), ``export`` (the
rows out), ``parse`` (the file in: header, records, duplicates, what exists already),
``rows`` (one row's cells checked and converted) and ``apply`` (the write). The names
callers use are importable from here.
"""

from catalog.pricelist.apply import pricelist_apply
from catalog.pricelist.columns import (
    EXPORT_COLUMNS,
    LIST_SEPARATOR,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    UNIT_OF_MEASURE,
)
from catalog.pricelist.export import export_lines, export_queryset, export_row, sku_tags
from catalog.pricelist.parse import (
    EMPTY_FILE,
    MAX_IMPORT_BYTES,
    MISSING_COLUMN,
    NOT_CSV,
    NOT_UTF8,
    ImportResult,
    RowError,
    decode,
    parse_price_list,
)
from catalog.pricelist.rows import CONTROL_CHARACTER_IN_CELL, NOT_A_NUMBER, ImportRow

__all__ = [
    "CONTROL_CHARACTER_IN_CELL",
    "EMPTY_FILE",
    "EXPORT_COLUMNS",
    "LIST_SEPARATOR",
    "MAX_IMPORT_BYTES",
    "MISSING_COLUMN",
    "NOT_A_NUMBER",
    "NOT_CSV",
    "NOT_UTF8",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "UNIT_OF_MEASURE",
    "ImportResult",
    "ImportRow",
    "RowError",
    "decode",
    "export_lines",
    "export_queryset",
    "export_row",
    "parse_price_list",
    "pricelist_apply",
    "sku_tags",
]
