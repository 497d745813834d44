"""The billing pages: months with their totals and charts, a month's reconciliation table,
and the reconciliation CSV download (SPEC §9, §11).

Billing roles only (``permissions.BILLING``); the partner is always ``request.partner``, so a
page shows the signed-in partner's own lines and nothing else.
"""

import datetime

from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from billing import charts, selectors
from billing.filters import ReconciliationLineFilter
from billing.models import NumberType
from billing.reconciliation_format import COLUMNS, month_last_day, parse_month
from billing.reconciliation_selectors import is_finalized, reconciliation_csv as reconciliation_csv_chunks
from billing.usage_lines import (
    CALL_COLUMNS,
    call_values,
    line_subtotal,
    parse_usage_line_key,
    usage_line_calls,
    usage_line_key,
)
from portal import permissions
from portal.csv_export import CsvLineWriter
from portal.formatting import format_date, format_money, format_month
from portal.views import htmx_template, partner_required, require_permission

PAGE_SIZE = 50

# The table shows the columns a person reconciles by; the CSV and the API carry all of them.
TABLE_COLUMNS = [
    ("CustomerName", _("Customer")),
    ("ChargeType", _("Charge type")),
    ("ProductName", _("Product")),
    ("Description", _("SKU or meter")),
    ("ChargeStartDate", _("From")),
    ("ChargeEndDate", _("To")),
    ("EffectiveUnitPrice", _("Effective unit price")),
    ("BillableQuantity", _("Billable qty")),
    ("Subtotal", _("Subtotal")),
    ("Currency", _("Currency")),
]


def _cell(row, key):
    """A cell as a person reads it: the file's dates and amounts in the user's language (the
    CSV and the API keep the machine format, SPEC §9)."""
    if key == "Description":
        # A usage line's SKU is always the Azure plan: its meter says what was billed.
        return row["MeterDescription"] or row["SkuName"]
    if key in ("ChargeStartDate", "ChargeEndDate") and row[key]:
        value = row[key]
        return format_date(datetime.date.fromisoformat(value[:10]) if isinstance(value, str) else value)
    if key in ("EffectiveUnitPrice", "Subtotal"):
        return format_money(row[key], row["Currency"])
    return row[key]


def _cells(row):
    return [_cell(row, key) for key, _label in TABLE_COLUMNS]


def _selected_month(request, months):
    try:
        return parse_month(request.GET.get("month", ""))
    except ValueError:
        return months[0]["month"] if months else selectors.recent_month()


@require_GET
@partner_required
def billing_home(request):
    """The months with their state and totals, the selected month's overage per Azure
    subscription per day, the credit balances over time and the blocked calls."""
    require_permission(request, permissions.BILLING)
    partner = request.partner
    months = selectors.billing_months(partner=partner)
    month = _selected_month(request, months)
    days, overage_series, overage_currency = selectors.overage_per_subscription_per_day(partner=partner, month=month)
    balances, more_accounts = selectors.credit_balance_over_time(partner=partner, until=month_last_day(month))
    context = {
        "months": months,
        "month": month,
        "overage_chart": charts.bar_chart(
            categories=[f"{day:%d}" for day in days],
            series=overage_series,
            title=_("Post-paid overage per Azure subscription per day"),
            x_label=_("Day of %(month)s") % {"month": format_month(month)},
            y_label=_("Amount (%(currency)s)") % {"currency": overage_currency or "—"},
            empty_message=_("No post-paid overage this month."),
        ),
        "credit_chart": charts.line_chart(
            series=balances,
            title=_("Communication-credit balance over time"),
            x_label=_("Date"),
            y_label=_("Balance"),
            empty_message=_("None of your customers has communication credits yet."),
        ),
        "more_accounts": more_accounts,
        "blocked": selectors.blocked_calls_by_customer(partner=partner, month=month),
    }
    return render(request, "billing/home.html", context)


class _CountOnly:
    """Lets ``Paginator`` page a count it does not hold (the page's rows come separately)."""

    def __init__(self, count):
        self.count = count

    def __len__(self):
        return self.count

    def __getitem__(self, item):
        return []


@require_GET
@partner_required
def reconciliation_page(request, month):
    """A month's reconciliation lines in a table filtered by customer, charge type and product,
    50 a page, with the month's totals per currency summed from every line of the month."""
    require_permission(request, permissions.BILLING)
    filterset = ReconciliationLineFilter(request.GET, request=request)
    matches = filterset.predicate()
    try:
        number = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        number = 1
    page = selectors.line_page(
        partner=request.partner,
        month=month,
        offset=(number - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
        matches=matches,
    )
    paginator = Paginator(_CountOnly(page.count), PAGE_SIZE)
    page_obj = paginator.get_page(number)
    if page_obj.number != number:
        # Past the last page: show the last one, as Paginator.get_page does.
        page = selectors.line_page(
            partner=request.partner,
            month=month,
            offset=(page_obj.number - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
            matches=matches,
        )
    filter_query = request.GET.copy()
    filter_query.pop("page", None)
    context = {
        "month": month,
        "finalized": is_finalized(month),
        "page": page,
        "rows": [{"cells": _cells(row), "line": row, "usage_line": usage_line_key(month, row)} for row in page.rows],
        "table_columns": TABLE_COLUMNS,
        "filters": filterset.values,
        "filter_query": filter_query.urlencode(),
        "charge_types": selectors.CHARGE_TYPES,
        "paginator": paginator,
        "page_obj": page_obj,
        "is_filtered": filterset.is_filtered,
        "column_count": len(COLUMNS),
    }
    template = htmx_template(request, "billing/reconciliation.html", "table")
    # The partial also replaces the download button, whose link carries the filters.
    context["oob"] = template.endswith("#table")
    return render(request, template, context)


@require_GET
@partner_required
def reconciliation_csv(request, month):
    """The month's reconciliation file, streamed: never the whole month in memory. The page's
    filters (its query string) choose the lines, as on the page; without them, the whole file."""
    require_permission(request, permissions.BILLING)
    partner = request.partner
    matches = ReconciliationLineFilter(request.GET, request=request).predicate()
    response = StreamingHttpResponse(
        reconciliation_csv_chunks(partner=partner, month=month, matches=matches), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="reconciliation-{partner.mpn_id}-{month:%Y-%m}.csv"'
    return response


CALLS_PAGE_SIZE = 50


def _usage_line(request, month, usage_line):
    """The line's key and its calls, the partner's own: 404 for a key that is not a usage line
    of the partner's file (another partner's line included)."""
    require_permission(request, permissions.BILLING)
    try:
        key = parse_usage_line_key(month, usage_line)
    except ValueError:
        raise Http404 from None
    calls = usage_line_calls(partner=request.partner, key=key)
    if not calls.exists():
        raise Http404
    return key, calls


@require_GET
@partner_required
def usage_line_calls_page(request, month, usage_line):
    """The calls behind a usage line, 50 a page: each call's rate, pool, credit, post-paid and
    blocked minutes, its Azure subscription and the overage interval it fell in."""
    key, calls = _usage_line(request, month, usage_line)
    page_obj = Paginator(calls, CALLS_PAGE_SIZE).get_page(request.GET.get("page"))
    first = page_obj.object_list[0] if page_obj.object_list else None
    context = {
        "month": month,
        "key": key,
        "customer_name": first.usage_record.customer.name if first else "",
        "number_type_label": NumberType(key.number_type).label if key.number_type in NumberType.values else key.number_type,
        "subtotal": line_subtotal(calls),
        "page_obj": page_obj,
        "calls": [call_values(call) for call in page_obj.object_list],
    }
    return render(request, "billing/usage_line_calls.html", context)


@require_GET
@partner_required
def usage_line_calls_csv(request, month, usage_line):
    """Every call behind the usage line as CSV, streamed."""
    key, calls = _usage_line(request, month, usage_line)
    writer = CsvLineWriter(lineterminator="\n")

    def lines():
        yield writer.writerow(CALL_COLUMNS)
        for call in calls.iterator(chunk_size=2000):
            values = call_values(call)
            yield writer.writerow(["" if values[c] is None else values[c] for c in CALL_COLUMNS])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="calls-{request.partner.mpn_id}-{month:%Y-%m}-{key.country}-{key.number_type}.csv"'
    )
    return response
