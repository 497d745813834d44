"""The columns of the Subscriptions list, declared once for the page and its CSV export.

Each column says what it is on the page (``label``, translated; its sort key, alignment) and
in the CSV (``export``: Partner Center's field name, the same in every language; ``value``:
the cell of a row). A column is on the page, in the CSV or both: the page shows what a
person reads at a glance (one "Term · billing" cell, the flags), the file carries every
field apart (``TermDuration``, ``BillingCycle``, ids). Both keep the declared order.

The page renders each row's cells in ``subscriptions/subscription_list.html`` (``row``
partial), one ``<td>`` per page column, in this order; ``tests/subscriptions/test_list_views.py``
checks that a row has as many cells as the header.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


def _flag(value):
    return "true" if value else "false"


@dataclass(frozen=True)
class Column:
    """``label``: the page's header (``None``: not on the page), shown to screen readers only
    when ``label_hidden``; ``sort``: the ``ORDERING_FIELDS`` key that sorts by it; ``align``:
    the header's class. ``export``: the CSV's header (``None``: not in the file) and ``value``
    the row's cell."""

    label: str | None = None
    sort: str = ""
    align: str = ""
    label_hidden: bool = False
    export: str | None = None
    value: Callable | None = None


COLUMNS = (
    Column(export="SubscriptionId", value=lambda s: str(s.pk)),
    Column(label=_("Customer"), sort="customer", export="CustomerName", value=lambda s: s.customer.name),
    Column(export="CustomerTenantId", value=lambda s: str(s.customer.tenant_id)),
    Column(export="OfferId", value=lambda s: s.offer_id),
    Column(label=_("Offer"), sort="offer", export="OfferName", value=lambda s: s.sku.title),
    Column(export="FriendlyName", value=lambda s: s.friendly_name),
    Column(label=_("Seats"), sort="quantity", align="text-end", export="Quantity", value=lambda s: s.quantity),
    Column(label=_("Term · billing")),
    Column(label=_("Status"), sort="status", export="Status", value=lambda s: s.status),
    Column(export="TermDuration", value=lambda s: s.term_duration),
    Column(export="BillingCycle", value=lambda s: s.billing_cycle),
    Column(export="StartDate", value=lambda s: s.start_date.isoformat()),
    Column(
        label=_("Term end"), sort="end", export="CommitmentEndDate", value=lambda s: s.commitment_end_date.isoformat()
    ),
    Column(
        label=_("Auto-renew"), sort="auto_renew", export="AutoRenewEnabled", value=lambda s: _flag(s.auto_renew_enabled)
    ),
    Column(label=_("Flags")),
    Column(export="IsAddOn", value=lambda s: _flag(s.sku.is_addon)),
    Column(export="ConsumptionType", value=lambda s: s.consumption_type or ""),
    Column(export="ResellerMpnId", value=lambda s: s.reseller.mpn_id if s.reseller_id else ""),
    Column(label=_("Actions"), align="text-end", label_hidden=True),
)
PAGE_COLUMNS = tuple(column for column in COLUMNS if column.label is not None)
EXPORT_COLUMNS = tuple(column for column in COLUMNS if column.export is not None)


def page_header(sort_links):
    """``(column, sort link or None)`` for each page column; ``sort_links`` maps a sort key
    to its link (``list_views._sort_links``)."""
    return [(column, sort_links[column.sort] if column.sort else None) for column in PAGE_COLUMNS]


def export_header():
    return [column.export for column in EXPORT_COLUMNS]


def export_row(subscription):
    return [column.value(subscription) for column in EXPORT_COLUMNS]
