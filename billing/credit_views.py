"""A customer's communication credits: balance, auto-recharge, its balance over time and the
ledger. Billing roles of a partner with a relationship with the customer."""

from django.core.paginator import Paginator
from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from billing.charts import line_chart
from billing.models import BillingMonthStatus, CreditLedgerEntry
from billing.selectors import auto_recharge_customers
from overage.rules import AUTO_RECHARGE_WARNING
from portal import permissions
from portal.formatting import format_money
from portal.models import Customer
from portal.views import CustomerListView, htmx_template, partner_required, require_permission


def _balance_points(account):
    """[(day, closing balance)] from the ledger, one query."""
    balance, points = 0, []
    days = account.entries.annotate(day=TruncDate("occurred_at")).values("day").annotate(amount=Sum("amount")).order_by("day")
    for row in days:
        balance += row["amount"]
        points.append((row["day"], balance))
    return points


@require_GET
@partner_required
def customer_credits(request, tenant_id):
    customer = get_object_or_404(Customer.objects.transacted_by(request.partner), tenant_id=tenant_id)
    require_permission(request, permissions.BILLING)
    account = getattr(customer, "credit_account", None) if hasattr(customer, "credit_account") else None
    context = {"customer": customer, "account": account}
    if account is not None:
        entries = CreditLedgerEntry.objects.transacted_by(request.partner).filter(account=account).select_related(
            "billing_month", "actor"
        ).order_by("-occurred_at", "-id")
        page = Paginator(entries, 50).get_page(request.GET.get("page"))
        balance = account.balance()
        context.update(
            {
                "balance": balance,
                "page_obj": page,
                "paginator": page.paginator,
                "is_paginated": page.has_other_pages(),
                "entries": page.object_list,
                "open_status": BillingMonthStatus.OPEN,
                "warning": AUTO_RECHARGE_WARNING % {"threshold": format_money(account.threshold, account.currency)}
                if account.auto_recharge
                else "",
                "chart": line_chart(
                    series=[(f"{customer.name} ({account.currency})", _balance_points(account))],
                    title=str(_("Balance over time")),
                    x_label=str(_("Day")),
                    y_label=account.currency,
                    empty_message=str(_("No ledger entries yet")),
                ),
            }
        )
    return render(request, htmx_template(request, "billing/credits.html", "ledger"), context)


class AutoRechargeCustomerListView(CustomerListView):
    """The customers list, of those whose credits auto-recharge where the partner manages
    overage (``selectors.auto_recharge_blocking_postpaid``, all of them): where the dashboard's
    "Auto-recharge" items that did not fit lead. Billing roles only, as the credits pages."""

    list_filter = _("Auto-recharge")

    def get(self, request, *args, **kwargs):
        require_permission(request, permissions.BILLING)
        return super().get(request, *args, **kwargs)

    def only(self, customers):
        return customers.filter(pk__in=auto_recharge_customers(self.request.partner).values("pk"))
