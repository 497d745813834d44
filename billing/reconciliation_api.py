"""``GET /v1/reconciliation/{YYYY-MM}/lineitems``: the caller's reconciliation lines of a month,
the same rows as the CSV file, as Partner Center's camelCase line items (SPEC §9, §10).

Billing roles only (``permissions.BILLING``). The partner is the token's partner: the rows are
built from its own subscriptions and rated calls, never anyone else's. Paged with ``size``
(default 2,000, at most 10,000) and ``offset``; ``totalCount`` is the whole month's count and
``links.next`` points at the next page while there is one.
"""

import re

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from ninja import Query, Router, Schema
from pydantic import Field

from billing.selectors import line_page
from billing.reconciliation_format import COLUMNS, parse_month
from billing.usage_lines import call_values, parse_usage_line_key, usage_line_calls, usage_line_key
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

class LineItemCallsLinkOut(Schema):
    calls: LinkOut


LineItemOut = type(
    "ReconciliationLineItemOut",
    (Schema,),
    {
        "__annotations__": {
            **{key: str for _column, key in ITEM_KEYS},
            "links": LineItemCallsLinkOut | None,
            "attributes": AttributesOut,
        },
        # Usage lines only: the rated calls behind the line.
        "links": None,
    },
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


def line_item_json(row, month):
    item = {key: row[column] for column, key in ITEM_KEYS}
    key = usage_line_key(month, row)
    if key is not None:
        item["links"] = {"calls": link(f"/v1/reconciliation/{month:%Y-%m}/usagelines/{key}/calls")}
    item["attributes"] = attributes("LineItem")
    return item


# exclude_none: only usage line items carry ``links``; every value of a line is a string.
@router.get("/{month}/lineitems", response=responses(LineItemCollectionOut), exclude_none=True)
def reconciliation_line_items(request, month: Month, paging: Query[LineItemQuery]):
    require(request, permissions.BILLING)
    if not re.fullmatch(MONTH_PATTERN, month):
        raise ApiError(description=BAD_MONTH_MESSAGE, params={"month": month})
    first_day = parse_month(month)
    page = line_page(partner=request.partner, month=first_day, offset=paging.offset, limit=paging.size)
    links = {}
    if page.has_next:
        links["next"] = link(f"/v1/reconciliation/{month}/lineitems?size={paging.size}&offset={paging.offset + paging.size}")
    return {
        "totalCount": page.count,
        "items": [line_item_json(row, first_day) for row in page.rows],
        "links": links,
        "attributes": attributes("Collection"),
    }


class RatedCallOut(Schema):
    recordId: str
    startTime: str
    user: str
    destinationCountry: str
    numberType: str
    minutes: int
    includedMinutes: int
    creditMinutes: int
    postpaidMinutes: int
    blockedMinutes: int
    unitPrice: str
    postpaidAmount: str
    currency: str
    azureSubscriptionId: str
    overageFrom: str | None
    overageUntil: str | None
    attributes: AttributesOut


class RatedCallCollectionOut(Schema):
    totalCount: int
    items: list[RatedCallOut]
    links: LineItemLinksOut
    attributes: AttributesOut


def _iso(moment):
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def rated_call_json(call):
    values = call_values(call)
    return {
        "recordId": values["record_id"],
        "startTime": _iso(values["start_time_utc"]),
        "user": values["user"],
        "destinationCountry": values["destination_country"],
        "numberType": values["number_type"],
        "minutes": values["minutes"],
        "includedMinutes": values["pool_minutes"],
        "creditMinutes": values["credit_minutes"],
        "postpaidMinutes": values["postpaid_minutes"],
        "blockedMinutes": values["blocked_minutes"],
        "unitPrice": f"{values['unit_price']:f}",
        "postpaidAmount": f"{values['postpaid_amount']:f}",
        "currency": values["currency"],
        "azureSubscriptionId": values["azure_subscription_id"],
        "overageFrom": _iso(values["overage_from"]),
        "overageUntil": _iso(values["overage_until"]),
        "attributes": attributes("RatedCall"),
    }


@router.get("/{month}/usagelines/{usage_line}/calls", response=responses(RatedCallCollectionOut))
def usage_line_call_items(request, month: Month, usage_line: str, paging: Query[LineItemQuery]):
    """The rated calls behind one usage line item (its ``links.calls.uri``), oldest first.
    Another partner's line, or no such line, is 404."""
    require(request, permissions.BILLING)
    if not re.fullmatch(MONTH_PATTERN, month):
        raise Http404
    try:
        first_day = parse_month(month)
        key = parse_usage_line_key(first_day, usage_line)
    except ValueError:
        raise Http404 from None
    calls = usage_line_calls(partner=request.partner, key=key)
    count = calls.count()
    if count == 0:
        raise Http404
    page = calls[paging.offset : paging.offset + paging.size]
    links = {}
    if paging.offset + paging.size < count:
        links["next"] = link(
            f"/v1/reconciliation/{month}/usagelines/{usage_line}/calls?size={paging.size}"
            f"&offset={paging.offset + paging.size}"
        )
    return {
        "totalCount": count,
        "items": [rated_call_json(call) for call in page],
        "links": links,
        "attributes": attributes("Collection"),
    }
