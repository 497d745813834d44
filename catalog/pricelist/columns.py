"""The price list's columns: the names an export writes and an import reads, and where a
given file has them (found by name, whatever their order)."""

import re
from dataclasses import dataclass

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
IMPORTED_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS


def normalise(name):
    """A header name as it is matched: without case, spaces, underscores or a byte-order mark."""
    return re.sub(r"[\s_]+", "", (name or "").strip().lstrip("\ufeff")).lower()


@dataclass(frozen=True)
class Columns:
    """Where a file has each imported column: ``{column: index, or None when absent}``."""

    index: dict

    @classmethod
    def of_header(cls, header):
        """The position of each imported column in ``header`` (the first one of a repeated
        name), and the required columns it lacks."""
        positions = {}
        for index, name in enumerate(header):
            positions.setdefault(normalise(name), index)
        found = {column: positions.get(normalise(column)) for column in IMPORTED_COLUMNS}
        missing = [column for column in REQUIRED_COLUMNS if found[column] is None]
        return cls(found), missing

    def cell(self, values, column):
        """The stripped text of ``column`` in one record; empty when the file or the record
        has no such cell."""
        index = self.index[column]
        if index is None or index >= len(values):
            return ""
        return values[index].strip()

    def has(self, column):
        return self.index[column] is not None
