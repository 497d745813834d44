"""The dashboard's to-do list (SPEC §11): what needs the partner's attention now, each item
naming its customer and where it is fixed, most urgent first.

Every item comes from a selector of the app that owns its data (constant queries each);
this module only orders them and says, by SPEC §2's role table, whether the member may act:
an item the member cannot act on carries the reason instead of an action, and billing figures
are left out for roles that may not see billing.
"""

import datetime
import uuid
from dataclasses import dataclass

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from billing import selectors as billing_selectors
from billing.reconciliation_format import month_last_day
from dashboard import wording
from overage import selectors as overage_selectors
from portal import permissions
from portal.formatting import format_month
from subscriptions import selectors_attention as subscription_selectors
from subscriptions.periods import add_months
from subscriptions.selectors_list import NOT_TRANSACTING_PARTNER

# Lower sorts first: what costs money or closes for good soon comes before what can wait.
DANGER, WARNING, INFO = "danger", "warning", "info"
SEVERITY_ORDER = {DANGER: 0, WARNING: 1, INFO: 2}
SOON = datetime.timedelta(days=7)
# Each kind lists at most this many items (the most urgent); the page says which kinds have
# more. A partner with a long list acts on the top of it first; each item's page has the rest.
PER_KIND = 5
# What each selector is asked for: one more than is shown tells whether there are more.
FETCHED = PER_KIND + 1

# The kinds, in the order they come within one severity (``dashboard.wording`` words each one).
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
# The route argument reverse() is called with once per request; each item's URL swaps its own
# in (the routes take a customer's tenant id or a subscription's id: both UUIDs).
SAMPLE_ID = uuid.UUID(int=0)


@dataclass
class Item:
    """One line of the to-do list, worded (``dashboard.wording``). ``action_url`` is where it
    is fixed (``flyout``: also opened in the page's flyout); ``denial`` says why this member
    cannot act there ('' when they can). ``subject`` is the selector's row it comes from."""

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
    label: str = ""
    headline: str = ""
    note: str = ""
    customer_url: str = ""
    billing_month_url: str = ""  # blocked calls: the billing page of their month

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


def _route(name, sample):
    """The URL of route ``name`` for any argument: one reverse() a request, not one an item."""
    built = reverse(name, args=[sample])
    return lambda argument: built.replace(str(sample), str(argument), 1)


class _Shared:
    """What every item of one request shares: the member's permissions (SPEC §2), asked
    once, and the routes the items link to."""

    def __init__(self, membership):
        self.membership = membership
        self.can_see_billing = permissions.can(membership, permissions.BILLING)
        self.buy_denial = self._denial(permissions.BUY)
        self.overage_denial = self._denial(permissions.MANAGE_OVERAGE)
        self.customer_url = _route("portal:customer_detail", SAMPLE_ID)
        self.subscription_url = _route("subscriptions:subscription_detail", SAMPLE_ID)
        self.manage_overage_url = _route("overage:manage", SAMPLE_ID)
        self.credits_url = _route("billing:credits", SAMPLE_ID)
        self.billing_url = reverse("billing:home")
        self.cut_kinds = []  # the kinds that had more items than are shown

    def most_urgent(self, kind, rows):
        """The first ``PER_KIND`` of a selector's ``rows`` (most urgent first), noting the
        kind when it had more."""
        rows = list(rows)
        if len(rows) > PER_KIND:
            self.cut_kinds.append(kind)
        return rows[:PER_KIND]

    def _denial(self, action):
        if permissions.can(self.membership, action):
            return ""
        return str(permissions.denial_reason(self.membership, action))

    def subscription_denial(self, subscription):
        """Why the member may not change ``subscription`` ('' when they may): the rule of
        ``selectors_list.action_denial``, for a membership instead of a request."""
        if self.buy_denial:
            return self.buy_denial
        if subscription.partner_id != self.membership.partner_id:
            return str(NOT_TRANSACTING_PARTNER % {"partner": subscription.partner.name})
        return ""

    def item(self, kind, severity, *, customer_name, tenant_id, subject, words, **fields):
        headline, note = words
        return Item(kind=kind, severity=severity, customer_name=customer_name, tenant_id=tenant_id, subject=subject,
                    label=str(wording.KIND_LABELS[kind]), headline=headline, note=note,
                    customer_url=self.customer_url(tenant_id), **fields)

    def subscription_item(self, kind, severity, subscription, *, when, subject, words):
        customer = subscription.customer
        return self.item(kind, severity, customer_name=customer.name, tenant_id=customer.tenant_id,
                         subject=subject, words=words, when=when,
                         action_url=self.subscription_url(subscription.pk),
                         action_label=str(OPEN_SUBSCRIPTION_LABEL), denial=self.subscription_denial(subscription))

    def manage_overage_item(self, kind, severity, *, customer_name, tenant_id, subject, words, **fields):
        return self.item(kind, severity, customer_name=customer_name, tenant_id=tenant_id, subject=subject,
                         words=words, action_url=self.manage_overage_url(tenant_id),
                         action_label=str(MANAGE_OVERAGE_LABEL), flyout=True, denial=self.overage_denial, **fields)


def _windows_closing(shared, partner, now):
    return [
        shared.subscription_item(WINDOW_CLOSING, DANGER, row.subscription, when=row.deadline, subject=row,
                                 words=wording.window_closing(row))
        for row in shared.most_urgent(
            WINDOW_CLOSING, subscription_selectors.seat_windows_closing(partner=partner, now=now, limit=FETCHED))
    ]


def _blocked_calls(shared, partner, today):
    if not shared.can_see_billing:
        return []
    this_month = today.replace(day=1)
    rows = shared.most_urgent(BLOCKED_CALLS, billing_selectors.blocked_calls_in_months(
        partner=partner, months=[this_month, add_months(this_month, -1)], limit=FETCHED
    ))
    items = []
    for row in rows:
        row["current"] = row["month"] == this_month
        items.append(shared.manage_overage_item(
            BLOCKED_CALLS, DANGER if row["current"] else WARNING, customer_name=row["customer_name"],
            tenant_id=row["tenant_id"], subject=row, words=wording.blocked_calls(row),
            billing_month_url=f"{shared.billing_url}?month={row['month']:%Y-%m}",
        ))
    return items


def _removal_requests(shared, partner, today):
    return [
        shared.subscription_item(REMOVAL_REQUEST, DANGER if request.deadline - today <= SOON else WARNING,
                                 request.subscription, when=request.deadline, subject=request,
                                 words=wording.removal_request(request))
        for request in shared.most_urgent(
            REMOVAL_REQUEST, subscription_selectors.open_removal_requests(partner=partner, limit=FETCHED))
    ]


def _ending_without_auto_renew(shared, partner, today):
    subscriptions = shared.most_urgent(ENDING_NO_RENEW, subscription_selectors.ending_without_auto_renew(
        partner=partner, today=today, limit=FETCHED))
    return [
        shared.subscription_item(ENDING_NO_RENEW, DANGER if subscription.commitment_end_date - today <= SOON
                                 else WARNING, subscription, when=subscription.commitment_end_date,
                                 subject=subscription, words=wording.ending_no_renew(subscription))
        for subscription in subscriptions
    ]


def _overage_off(shared, partner):
    return [
        shared.manage_overage_item(OVERAGE_OFF, WARNING, customer_name=customer.name, tenant_id=customer.tenant_id,
                                   subject=customer, words=wording.overage_off())
        for customer in shared.most_urgent(
            OVERAGE_OFF, overage_selectors.customers_with_overage_off(partner=partner, limit=FETCHED))
    ]


def _auto_recharge(shared, partner):
    items = []
    accounts = billing_selectors.auto_recharge_blocking_postpaid(partner=partner, limit=FETCHED)
    for account in shared.most_urgent(AUTO_RECHARGE, accounts):
        tenant_id = account.customer.tenant_id
        items.append(shared.item(
            AUTO_RECHARGE, WARNING, customer_name=account.customer.name, tenant_id=tenant_id, subject=account,
            words=wording.auto_recharge(account),
            action_url=shared.credits_url(tenant_id) if shared.can_see_billing else shared.customer_url(tenant_id),
            action_label=str(SEE_CREDITS_LABEL if shared.can_see_billing else SEE_CUSTOMER_LABEL),
        ))
    return items


def _addons_outliving_base(shared, partner, today):
    # The add-on's page carries the misalignment warning and its "align" action.
    return [
        shared.subscription_item(ADDON_OUTLIVES_BASE, INFO, addon, when=addon.base_end_date, subject=addon,
                                 words=wording.addon_outlives_base(addon))
        for addon in shared.most_urgent(ADDON_OUTLIVES_BASE, subscription_selectors.addons_outliving_base(
            partner=partner, today=today, limit=FETCHED))
    ]


def _list_url(route, **filters):
    return f"{reverse(route)}?{urlencode(filters)}" if filters else reverse(route)


def _more_links(shared, today):
    """For each kind, the pages that list all its items: their URLs, or ``[(month's name,
    url)]`` for blocked calls (one billing page a month); none for a list the member may not
    see. Filters of the pages' own lists, so each keeps its scoping."""
    this_month = today.replace(day=1)
    subscriptions = "subscriptions:subscription_list"
    links = {
        WINDOW_CLOSING: [_list_url(subscriptions, window_closing="true")],
        REMOVAL_REQUEST: [_list_url(subscriptions, removal_requested="true")],
        ENDING_NO_RENEW: [_list_url(subscriptions, expiring="true")],
        OVERAGE_OFF: [_list_url("overage:customers_overage_off")],
        ADDON_OUTLIVES_BASE: [_list_url(subscriptions, outlives_base="true")],
    }
    if shared.can_see_billing:
        links[AUTO_RECHARGE] = [_list_url("billing:credits_auto_recharge")]
        links[BLOCKED_CALLS] = [
            (format_month(month), _list_url("billing:home", month=f"{month:%Y-%m}"))
            for month in (this_month, add_months(this_month, -1))
        ]
    return links


def _more_html(kinds, links):
    """The kinds that have more items, each linked to the pages that list them all."""
    def words(kind):
        label, pages = wording.KIND_LABELS[kind], links.get(kind, [])
        if not pages:
            return format_html("{}", label)
        if isinstance(pages[0], str):
            return format_html('<a href="{}" data-kind="{}">{}</a>', pages[0], kind, label)
        months = format_html_join(", ", '<a href="{}" data-kind="{}">{}</a>',
                                  ((url, kind, month) for month, url in pages))
        return format_html("{} ({})", label, months)

    return format_html_join(", ", "{}", ((words(kind),) for kind in kinds))


@dataclass
class TodoList:
    """The to-do list: ``items`` most urgent first; ``cut_kinds``, the labels of the kinds
    that have more items than the ``PER_KIND`` shown; ``more``, the same as HTML, each kind
    linked to the pages that list all its items."""

    items: list
    cut_kinds: list
    more: str = ""


def todo_items(*, membership, now=None):
    """The member's to-do list (``TodoList``), at most ``PER_KIND`` items of each kind."""
    partner = membership.partner
    now = now or timezone.now()
    today = timezone.localdate(now)
    shared = _Shared(membership)
    items = [
        *_windows_closing(shared, partner, now),
        *_blocked_calls(shared, partner, today),
        *_removal_requests(shared, partner, today),
        *_ending_without_auto_renew(shared, partner, today),
        *_overage_off(shared, partner),
        *_auto_recharge(shared, partner),
        *_addons_outliving_base(shared, partner, today),
    ]
    items.sort(key=lambda item: item.sort_key)
    cut = [kind for kind in KIND_ORDER if kind in shared.cut_kinds]
    more = _more_html(cut, _more_links(shared, today)) if cut else ""
    return TodoList(items, [str(wording.KIND_LABELS[kind]) for kind in cut], more)


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
