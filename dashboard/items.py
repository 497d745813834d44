"""The dashboard's to-do list (SPEC §11): what needs the partner's attention now, each item
naming its customer and where it is fixed, most urgent first.

Every item comes from a selector of the app that owns its data (constant queries each);
this module only orders them and says, by SPEC §2's role table, whether the member may act:
an item the member cannot act on carries the reason instead of an action, and billing figures
are left out for roles that may not see billing.
"""

import datetime
from dataclasses import dataclass

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing import selectors as billing_selectors
from billing.reconciliation_format import month_last_day
from overage import selectors as overage_selectors
from overage.rules import AUTO_RECHARGE_WARNING
from portal import permissions
from portal.formatting import format_money
from subscriptions import selectors_attention as subscription_selectors
from subscriptions.periods import add_months
from subscriptions.selectors_list import NOT_TRANSACTING_PARTNER

# Lower sorts first: what costs money or closes for good soon comes before what can wait.
DANGER, WARNING, INFO = "danger", "warning", "info"
SEVERITY_ORDER = {DANGER: 0, WARNING: 1, INFO: 2}
SOON = datetime.timedelta(days=7)
# Each kind lists at most this many items (the most urgent); its page has the rest.
PER_KIND = 10

# The kinds, in the order they come within one severity (the template words each one).
WINDOW_CLOSING = "window_closing"
BLOCKED_CALLS = "blocked_calls"
REMOVAL_REQUEST = "removal_request"
ENDING_NO_RENEW = "ending_no_renew"
OVERAGE_OFF = "overage_off"
AUTO_RECHARGE = "auto_recharge"
ADDON_OUTLIVES_BASE = "addon_outlives_base"
KIND_ORDER = [WINDOW_CLOSING, BLOCKED_CALLS, REMOVAL_REQUEST, ENDING_NO_RENEW, OVERAGE_OFF, AUTO_RECHARGE,
              ADDON_OUTLIVES_BASE]

MANAGE_OVERAGE_LABEL = _("Manage overage")
OPEN_SUBSCRIPTION_LABEL = _("Open subscription")
SEE_CREDITS_LABEL = _("See credits")
SEE_CUSTOMER_LABEL = _("See customer")


@dataclass
class Item:
    """One line of the to-do list. ``action_url`` is where it is fixed (``flyout``: also
    opened in the page's flyout); ``denial`` says why this member cannot act there ('' when
    they can). ``subject`` is the selector's row the template words the item from."""

    kind: str
    severity: str
    customer_name: str
    tenant_id: object
    subject: object
    when: object = None  # the deadline or date that orders items of one severity
    action_url: str = ""
    action_label: str = ""
    flyout: bool = False
    denial: str = ""
    detail: str = ""

    @property
    def sort_key(self):
        """Severity first; within one, what has a deadline by its deadline (a closing window
        or a removal deadline cannot be undone), then what has none (blocked calls go on
        until overage is on), by kind and customer."""
        when = self.when
        if isinstance(when, datetime.datetime):
            when = timezone.localtime(when)
        elif isinstance(when, datetime.date):
            when = datetime.datetime.combine(when, datetime.time.max, tzinfo=timezone.get_current_timezone())
        far = datetime.datetime.max.replace(tzinfo=datetime.UTC)
        return (SEVERITY_ORDER[self.severity], when or far, KIND_ORDER.index(self.kind), self.customer_name)


def _subscription_denial(membership, subscription):
    """Why the member may not change ``subscription`` ('' when they may): the rule of
    ``selectors_list.action_denial``, for a membership instead of a request."""
    if not permissions.can(membership, permissions.BUY):
        return str(permissions.denial_reason(membership, permissions.BUY))
    if subscription.partner_id != membership.partner_id:
        return str(NOT_TRANSACTING_PARTNER % {"partner": subscription.partner.name})
    return ""


def _overage_denial(membership):
    if permissions.can(membership, permissions.MANAGE_OVERAGE):
        return ""
    return str(permissions.denial_reason(membership, permissions.MANAGE_OVERAGE))


def _subscription_item(kind, severity, subscription, membership, *, when, action_url=None, action_label=None,
                       **extra):
    return Item(
        kind=kind,
        severity=severity,
        customer_name=subscription.customer.name,
        tenant_id=subscription.customer.tenant_id,
        subject=extra.pop("subject", subscription),
        when=when,
        action_url=action_url or reverse("subscriptions:subscription_detail", args=[subscription.pk]),
        action_label=str(action_label or OPEN_SUBSCRIPTION_LABEL),
        denial=_subscription_denial(membership, subscription),
        **extra,
    )


def _manage_overage_item(kind, severity, *, customer_name, tenant_id, subject, membership, when=None):
    return Item(
        kind=kind,
        severity=severity,
        customer_name=customer_name,
        tenant_id=tenant_id,
        subject=subject,
        when=when,
        action_url=reverse("overage:manage", args=[tenant_id]),
        action_label=str(MANAGE_OVERAGE_LABEL),
        flyout=True,
        denial=_overage_denial(membership),
    )


def todo_items(*, membership, now=None):
    """The member's to-do list, most urgent first: ``[Item]``."""
    partner = membership.partner
    now = now or timezone.now()
    today = timezone.localdate(now)
    items = []

    for row in subscription_selectors.seat_windows_closing(partner=partner, now=now, limit=PER_KIND):
        items.append(_subscription_item(WINDOW_CLOSING, DANGER, row.subscription, membership, when=row.deadline,
                                        subject=row))

    if permissions.can(membership, permissions.BILLING):
        this_month = today.replace(day=1)
        for row in billing_selectors.blocked_calls_in_months(
            partner=partner, months=[this_month, add_months(this_month, -1)], limit=PER_KIND
        ):
            current = row["month"] == this_month
            items.append(
                _manage_overage_item(
                    BLOCKED_CALLS,
                    DANGER if current else WARNING,
                    customer_name=row["customer_name"],
                    tenant_id=row["tenant_id"],
                    subject=row | {"current": current},
                    membership=membership,
                )
            )

    for request in subscription_selectors.open_removal_requests(partner=partner, limit=PER_KIND):
        severity = DANGER if request.deadline - today <= SOON else WARNING
        items.append(_subscription_item(REMOVAL_REQUEST, severity, request.subscription, membership,
                                        when=request.deadline, subject=request))

    for subscription in subscription_selectors.ending_without_auto_renew(partner=partner, today=today, limit=PER_KIND):
        severity = DANGER if subscription.commitment_end_date - today <= SOON else WARNING
        items.append(_subscription_item(ENDING_NO_RENEW, severity, subscription, membership,
                                        when=subscription.commitment_end_date))

    for customer in overage_selectors.customers_with_overage_off(partner=partner, limit=PER_KIND):
        items.append(_manage_overage_item(OVERAGE_OFF, WARNING, customer_name=customer.name,
                                          tenant_id=customer.tenant_id, subject=customer, membership=membership))

    can_see_billing = permissions.can(membership, permissions.BILLING)
    for account in billing_selectors.auto_recharge_blocking_postpaid(partner=partner, limit=PER_KIND):
        customer = account.customer
        items.append(
            Item(
                kind=AUTO_RECHARGE,
                severity=WARNING,
                customer_name=customer.name,
                tenant_id=customer.tenant_id,
                subject=account,
                action_url=reverse("billing:credits", args=[customer.tenant_id]) if can_see_billing
                else reverse("portal:customer_detail", args=[customer.tenant_id]),
                action_label=str(SEE_CREDITS_LABEL if can_see_billing else SEE_CUSTOMER_LABEL),
                detail=str(AUTO_RECHARGE_WARNING % {"threshold": format_money(account.threshold, account.currency)}),
            )
        )

    for addon in subscription_selectors.addons_outliving_base(partner=partner, today=today, limit=PER_KIND):
        # The add-on's page carries the misalignment warning and its "align" action.
        items.append(_subscription_item(ADDON_OUTLIVES_BASE, INFO, addon, membership, when=addon.base_end_date))

    return sorted(items, key=lambda item: item.sort_key)


def month_charges(*, membership, today=None):
    """This month's charges so far and last month's, per currency, for roles that may see
    billing (``None`` for the others): ``[(month, last day, [MonthCharges])]``."""
    if not permissions.can(membership, permissions.BILLING):
        return None
    today = today or timezone.localdate()
    this_month = today.replace(day=1)
    months = [this_month, add_months(this_month, -1)]
    charges = billing_selectors.charges_by_month(partner=membership.partner, months=months)
    return [(month, month_last_day(month), charges[month]) for month in months]
