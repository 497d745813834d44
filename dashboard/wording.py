"""The words of each to-do item (SPEC §11): its badge, the line after the customer's name and
the note under it, in the reader's language.

Worded here rather than in the template: the page lists up to 70 items, and a chain of
``{% if item.kind == … %}`` with a ``{% blocktranslate %}`` per item was most of the page's
rendering time (issue 13 §1: the dashboard in 60 ms). The words are plain text, escaped by the
template like any variable; the messages are those the template had, so the catalogue keeps
its translations.
"""

from django.contrib.humanize.templatetags.humanize import intcomma, naturaltime
from django.utils.formats import localize
from django.utils.translation import gettext, gettext_lazy as _, ngettext

from overage.rules import AUTO_RECHARGE_WARNING
from portal.formatting import format_date, format_datetime, format_money, format_month

KIND_LABELS = {
    "window_closing": _("168-hour window"),
    "blocked_calls": _("Blocked calls"),
    "removal_request": _("Removal request"),
    "ending_no_renew": _("Expiring"),
    "overage_off": _("Overage off"),
    "auto_recharge": _("Auto-recharge"),
    "addon_outlives_base": _("Add-on outlives base"),
}


def _offer(subscription):
    return subscription.friendly_name or subscription.sku.title


def window_closing(row):
    headline = ngettext(
        "%(seats)s seat of %(offer)s can still be removed until %(deadline)s",
        "%(seats)s seats of %(offer)s can still be removed until %(deadline)s",
        row.seats,
    ) % {"seats": localize(row.seats), "offer": _offer(row.subscription),
         "deadline": format_datetime(row.deadline, with_zone=True)}
    note = gettext("The window closes %(left)s; after that the seats are paid for the rest of the term.") % {
        "left": naturaltime(row.deadline)}
    return headline, note


def blocked_calls(row):
    values = {"calls": localize(row["calls"]), "minutes": intcomma(row["minutes"])}
    if row["current"]:
        headline = ngettext(
            "%(calls)s call blocked this month (%(minutes)s minutes)",
            "%(calls)s calls blocked this month (%(minutes)s minutes)",
            row["calls"],
        ) % values
    else:
        headline = ngettext(
            "%(calls)s call blocked last month, %(month)s (%(minutes)s minutes)",
            "%(calls)s calls blocked last month, %(month)s (%(minutes)s minutes)",
            row["calls"],
        ) % (values | {"month": format_month(row["month"])})
    note = gettext("No communication credits and no Azure subscription holding overage: these calls were not "
                   "billed. Switch overage on so the next ones are.")
    return headline, note


def removal_request(request):
    headline = gettext("Removal of %(offer)s requested, deadline %(deadline)s") % {
        "offer": _offer(request.subscription), "deadline": format_date(request.deadline)}
    note = gettext("Raised on %(raised)s; the add-on is removed with a refund once the request is handled.") % {
        "raised": format_date(request.raised_at)}
    return headline, note


def ending_no_renew(subscription):
    headline = gettext("%(offer)s ×%(seats)s ends on %(end)s with auto-renew off") % {
        "offer": _offer(subscription), "seats": localize(subscription.quantity),
        "end": format_date(subscription.commitment_end_date)}
    return headline, gettext("It expires on that day; turn auto-renew on to keep it.")


def overage_off():
    return (
        gettext("Overage is off although the customer has an overage-capable subscription"),
        gettext("Calls beyond the included minutes are blocked until overage goes to an Azure subscription."),
    )


def auto_recharge(account):
    threshold = format_money(account.threshold, account.currency)
    return (gettext("Credits auto-recharge: post-paid overage will never start"),
            str(AUTO_RECHARGE_WARNING % {"threshold": threshold}))


def addon_outlives_base(addon):
    headline = gettext("%(offer)s ends on %(end)s, after its base (%(base_end)s)") % {
        "offer": _offer(addon), "end": format_date(addon.commitment_end_date),
        "base_end": format_date(addon.base_end_date)}
    return headline, gettext("The customer would keep paying for the add-on after its base has ended.")
