"""``GET /v1/reconciliation/{YYYY-MM}/lineitems``: the caller's reconciliation lines of a month,
the same rows as the CSV file, as Partner Center's camelCase line items (SPEC §9, §10).

Billing roles only (``permissions.BILLING``). The partner is the token's partner: the rows are
built from its own subscriptions and rated calls, never anyone else's. Paged with ``size``
(default 2,000, at most 10,000) and ``offset``; ``totalCount`` is the whole month's count and
``links.next`` points at the next page while there is one.
"""

import re

from django.utils.translation import gettext_lazy as _
from ninja import Query, Router, Schema
from pydantic import Field

from billing.selectors import line_page
from billing.services.reconciliation import COLUMNS, parse_month
from portal import permissions
from portal.api import ApiError, AttributesOut, LinkOut, attributes, documented, link, require, responses

router = Router(tags=["reconciliation"])

DEFAULT_PAGE_SIZE = 2000
MAX_PAGE_SIZE = 10000
BAD_MONTH_MESSAGE = _("%(month)s is not a billing month: use YYYY-MM, e.g. 2026-10.")
# YYYY-MM in ASCII digits, from 0001-01 to 9999-11 (a month needs a next month to end).
MONTH_PATTERN = r"^(?!0000-)(?!9999-12)[0-9]{4}-(?:0[1-9]|1[0-2])$"
Month = documented(pattern=MONTH_PATTERN, description="The billing month, YYYY-MM (e.g. 2026-10).")


def camel_case(column):
    """``PartnerId`` → ``partnerId``; a leading acronym is lowered whole: ``PCToBCExchangeRate``
    → ``pcToBCExchangeRate`` (Partner Center's spelling)."""
    if column.startswith("PC"):
        return "pc" + column[2:]
    return column[0].lower() + column[1:]


ITEM_KEYS = [(column, camel_case(column)) for column in COLUMNS]

LineItemOut = type(
    "ReconciliationLineItemOut",
    (Schema,),
    {"__annotations__": {**{key: str for _column, key in ITEM_KEYS}, "attributes": AttributesOut}},
)


class LineItemLinksOut(Schema):
    next: LinkOut | None = None


class LineItemCollectionOut(Schema):
    totalCount: int
    items: list[LineItemOut]
    links: LineItemLinksOut
    attributes: AttributesOut


class LineItemQuery(Schema):
    size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Lines per page (at most 10,000).")
    offset: int = Field(0, ge=0, description="How many lines to skip.")


def line_item_json(row):
    item = {key: row[column] for column, key in ITEM_KEYS}
    item["attributes"] = attributes("LineItem")
    return item


@router.get("/{month}/lineitems", response=responses(LineItemCollectionOut))
def reconciliation_line_items(request, month: Month, paging: Query[LineItemQuery]):
    require(request, permissions.BILLING)
    if not re.fullmatch(MONTH_PATTERN, month):
        raise ApiError(description=BAD_MONTH_MESSAGE % {"month": month})
    first_day = parse_month(month)
    page = line_page(partner=request.partner, month=first_day, offset=paging.offset, limit=paging.size)
    links = {}
    if page.has_next:
        links["next"] = link(f"/v1/reconciliation/{month}/lineitems?size={paging.size}&offset={paging.offset + paging.size}")
    return {
        "totalCount": page.count,
        "items": [line_item_json(row) for row in page.rows],
        "links": links,
        "attributes": attributes("Collection"),
    }
