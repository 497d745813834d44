"""One row of a price-list import: each cell checked and converted, in the order a person
fixes them (the first problem found is the row's error, as a message a person reads)."""

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext_lazy as _

from catalog.models import BillingCycle, Segment, TermDuration
from catalog.pricelist.columns import IMPORTED_COLUMNS, LIST_SEPARATOR
from portal.text import control_character

CONTROL_CHARACTER_IN_CELL = _("%(column)s contains a control character (%(character)s).")
NOT_A_NUMBER = _("%(column)s “%(value)s” is not a number.")
NOT_A_START_DATE = _("EffectiveStartDate “%(value)s” is not an ISO date (YYYY-MM-DD).")
NOT_AN_END_DATE = _("EffectiveEndDate “%(value)s” is not an ISO date (YYYY-MM-DD).")


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


def parse_row(values, columns, skus, *, line):
    """One CSV record (``values``, read through ``columns``) → an ``ImportRow``, or
    ``ValueError`` with the first problem found. ``skus`` maps ``(product id, SKU id)`` to
    ``(SKU pk, code)`` for the SKUs of the file's products."""
    _refuse_control_characters(values, columns)
    sku_pk, sku_code = _sku(values, columns, skus)
    codes = _codes(values, columns)
    unit_price = _parse_price(columns.cell(values, "UnitPrice"), "UnitPrice")
    erp_price = _parse_price(columns.cell(values, "ERP Price"), "ERP Price")
    start, end = _effective_dates(values, columns)
    return ImportRow(
        line=line,
        sku_pk=sku_pk,
        sku_code=sku_code,
        **codes,
        unit_price=unit_price,
        erp_price=erp_price,
        effective_start=start,
        effective_end=end,
        tags=_tags(values, columns),
    )


def _refuse_control_characters(values, columns):
    for column in IMPORTED_COLUMNS:
        character = control_character(columns.cell(values, column))
        if character:
            raise ValueError(CONTROL_CHARACTER_IN_CELL % {"column": column, "character": character})


def _sku(values, columns, skus):
    """``(SKU pk, code)`` of the row's ProductId and SkuId, which must name a known SKU."""
    product_id = columns.cell(values, "ProductId").upper()
    sku_id = columns.cell(values, "SkuId").upper()
    if not product_id or not sku_id:
        raise ValueError(_("ProductId and SkuId are required."))
    if (product_id, sku_id) not in skus:
        raise ValueError(_("Unknown SKU %(code)s.") % {"code": f"{product_id}:{sku_id}"})
    return skus[(product_id, sku_id)]


def _codes(values, columns):
    """Term, billing plan, market, currency and segment, as the catalog spells them."""
    term = _choice(columns.cell(values, "TermDuration"), TermDuration.values, "TermDuration")
    billing_plan = _choice(
        columns.cell(values, "BillingPlan"), [v for v in BillingCycle.values if v != BillingCycle.NONE], "BillingPlan"
    )
    market = columns.cell(values, "Market").upper()
    if not re.fullmatch(r"[A-Z]{2}", market):
        raise ValueError(_("Market “%(value)s” is not a two-letter country code.") % {"value": market})
    currency = columns.cell(values, "Currency").upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ValueError(_("Currency “%(value)s” is not a three-letter currency code.") % {"value": currency})
    segment_value = columns.cell(values, "Segment")
    segment = _choice(segment_value, Segment.values, "Segment") if segment_value else Segment.COMMERCIAL.value
    return {"term_duration": term, "billing_plan": billing_plan, "market": market, "currency": currency,
            "segment": segment}


def _effective_dates(values, columns):
    """``(start, end or None)``; an end must come after the start."""
    start = _date_cell(values, columns, "EffectiveStartDate", NOT_A_START_DATE)
    if not columns.cell(values, "EffectiveEndDate"):
        return start, None
    end = _date_cell(values, columns, "EffectiveEndDate", NOT_AN_END_DATE)
    if end <= start:
        raise ValueError(_("EffectiveEndDate must be after EffectiveStartDate."))
    return start, end


def _date_cell(values, columns, column, not_a_date):
    value = columns.cell(values, column)
    try:
        return _parse_date(value)
    except ValueError:
        raise ValueError(not_a_date % {"value": value}) from None


def _tags(values, columns):
    """The row's tags; ``None`` when the file has no Tags column (a stored row's tags are left
    alone)."""
    if not columns.has("Tags"):
        return None
    return [t.strip() for t in columns.cell(values, "Tags").split(LIST_SEPARATOR) if t.strip()]


def _parse_date(value):
    value = value.strip()
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        # Partner Center writes timestamps such as 2025-01-01T00:00:00Z; the date is what counts.
        return datetime.datetime.fromisoformat(value).date()


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
