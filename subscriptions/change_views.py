"""Pages for the term and offer changes of SPEC §5: aligning a subscription's end date
(coterminosity), upgrading a base subscription to one of its ``upgradeTargetOffers``, and
the support request that removes an add-on an upgrade made redundant.

Each view starts from ``Subscription.objects.transacted_by(request.partner)`` (another
partner's subscription is a 404, GET or POST, HTMX or not). A POST needs ``permissions.BUY``
and being the transacting partner (403 with the reason otherwise). The rules are the
``changes`` service's: a refusal re-renders the page with its message, status 422, nothing
changed (``portal.htmx``). Every page is a plain full page; an HTMX GET gets the ``panel`` partial for the
flyout, and its forms post as ordinary forms so they work with or without JavaScript.

Each form carries the subscription's version it was shown with: when another change came
first, the page answers 409 with what changed and the current state, nothing applied.
"""

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from catalog.models import Sku
from portal.formatting import format_date, format_money
from portal.htmx import CONFLICT, REFUSED, render_flyout, see_other
from portal.views import partner_required
from subscriptions.models import Subscription, SubscriptionStatus
from subscriptions.selectors import CALENDAR_MONTH_ALIGNED
from subscriptions.selectors_quote import upgrade_quotes
from subscriptions.selectors_list import (
    action_denial,
    latest_base_of,
    removal_state,
    stale_form_message,
    subscription_for_request,
)
from subscriptions.services import changes
from subscriptions.services.lifecycle import SubscriptionChanged, SubscriptionError
from subscriptions.services.renewal import renewal_start
from subscriptions.windows import removal_request_deadline

ALIGN_TEMPLATE = "subscriptions/subscription_align.html"
UPGRADE_TEMPLATE = "subscriptions/subscription_upgrade.html"
REMOVAL_TEMPLATE = "subscriptions/subscription_removal.html"

END_OF_MONTH = _("End of month (%(date)s)")
SAME_END_DATE_AS = _("Same end date as %(offers)s (%(date)s)")
NO_ALIGNMENT = _("No alignment: the next term runs its full length")
END_DATE_UNREADABLE = _("Choose an end date from the list.")
ALIGNED = _("From its next term, %(name)s ends on %(date)s (the first term is prorated).")
ALIGNMENT_REMOVED = _("%(name)s is no longer aligned: its next term runs its full length.")
CHOOSE_A_TARGET = _("Choose one of the upgrade offers listed.")
ALREADY_UPGRADED = _("%(name)s is already on %(target)s: nothing was changed.")
UPGRADED = _("%(name)s was upgraded from %(source)s to %(target)s; a convert charge of %(amount)s was made.")
UPGRADE_MADE_REDUNDANT = _(
    "The upgraded offer already includes the services of %(addons)s: request their removal, with a refund, by %(deadline)s."
)
REMOVAL_RAISED = _(
    "Removal request raised for %(name)s. Support will remove it and refund the customer; the request was accepted "
    "before the deadline of %(deadline)s."
)


def _display_name(subscription):
    return subscription.friendly_name or subscription.sku.title


def _get_subscription(request, subscription_id):
    """The request's partner's subscription (list annotations included), else 404."""
    subscription = subscription_for_request(request, subscription_id)
    if subscription is None:
        raise Http404
    return subscription


def _require_may_change(request, subscription):
    denial = action_denial(request, subscription)
    if denial:
        raise PermissionDenied(denial)


def _posted_version(request, subscription):
    """The version the posted form was shown with; without one, the version this request read."""
    raw = request.POST.get("version", "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else subscription.version


def _stale(request, subscription_id, template, context_of, refused):
    """Another change overtook the form: the page again, at the current state, saying what changed."""
    current = _get_subscription(request, subscription_id)
    message = stale_form_message(request.partner, current, refused.seen)
    return _render(request, template, context_of(request, current, error=message), status=CONFLICT)


def _render(request, template, context, *, status=200):
    """The page, or its ``panel`` partial in the flyout (``portal.htmx``'s convention)."""
    return render_flyout(request, template, context, partial="panel", status=status)


def _base_context(request, subscription, error=""):
    is_live = subscription.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED)
    denial = action_denial(request, subscription)
    return {
        "subscription": subscription,
        "denial": denial,
        "is_live": is_live,
        "read_only": bool(denial) or not is_live,
        "error": error,
    }


# --- End-date alignment -------------------------------------------------------------------


class AlignForm(forms.Form):
    """Only parses the date; whether it is allowed is the service's rule (error 10017), so a
    date posted from outside the list gets Partner Center's code and words."""

    end_date = forms.DateField(required=False, input_formats=["%Y-%m-%d"])


def alignment_options(request, subscription):
    """``[(iso date, label)]`` for the allowed dates, one per date: a date another subscription
    ends on is labelled with that subscription's offer, else "End of month"."""
    items = changes.allowed_alignment_dates(subscription)
    ids = {i for item in items for i in item["cotermSubscriptionIds"]}
    # Names come from the partner's own scope: the service already limits ids to its sales.
    names = {
        str(s.pk): _display_name(s)
        for s in Subscription.objects.transacted_by(request.partner).filter(pk__in=ids).select_related("sku")
    }
    by_date = {}
    for item in items:
        day = item["allowedCustomTermEndDate"]
        entry = by_date.setdefault(day, [])
        if item["allowedCustomTermEndDateType"] != CALENDAR_MONTH_ALIGNED:
            entry.extend(names[i] for i in item["cotermSubscriptionIds"] if i in names)
    options = []
    for day in sorted(by_date):
        offers = list(dict.fromkeys(by_date[day]))
        if offers:
            label = SAME_END_DATE_AS % {"offers": ", ".join(offers), "date": format_date(day)}
        else:
            label = END_OF_MONTH % {"date": format_date(day)}
        options.append((day.isoformat(), label))
    return options


def _align_context(request, subscription, *, error="", selected=None):
    context = _base_context(request, subscription, error)
    if selected is None:
        selected = subscription.next_term_end_date.isoformat() if subscription.next_term_end_date else ""
    context.update(
        {
            "options": alignment_options(request, subscription),
            "no_alignment_label": NO_ALIGNMENT,
            "selected": selected,
            "renewal_start": renewal_start(subscription),
            "needs_auto_renew": "" if subscription.auto_renew_enabled else changes.ALIGN_NEEDS_AUTO_RENEW,
            "misaligned_base": latest_base_of(subscription) if getattr(subscription, "outlives_base", False) else None,
        }
    )
    return context


@require_http_methods(["GET", "POST"])
@partner_required
def subscription_align(request, subscription_id):
    """Choose the end date of the next term among the allowed ones, or remove the alignment.
    Needs auto-renew (the alignment applies from the renewal)."""
    subscription = _get_subscription(request, subscription_id)
    if request.method == "GET":
        # ?end_date= preselects a date (the add-on misalignment warning links a base here with
        # the add-on's end date); one that is not offered is ignored.
        context = _align_context(request, subscription)
        proposed = request.GET.get("end_date", "")
        if proposed and proposed in {value for value, _label in context["options"]}:
            context["selected"] = proposed
        return _render(request, ALIGN_TEMPLATE, context)

    _require_may_change(request, subscription)
    raw = request.POST.get("end_date", "")
    form = AlignForm(request.POST)
    if not form.is_valid():
        context = _align_context(request, subscription, error=END_DATE_UNREADABLE, selected=raw)
        return _render(request, ALIGN_TEMPLATE, context, status=REFUSED)
    end_date = form.cleaned_data["end_date"]
    try:
        updated = changes.subscription_align_end_date(
            subscription=subscription, end_date=end_date, acting_user=request.user,
            version=_posted_version(request, subscription), request_id=request.request_id,
        )
    except SubscriptionChanged as exc:
        return _stale(request, subscription_id, ALIGN_TEMPLATE, _align_context, exc)
    except SubscriptionError as exc:
        return _render(request, ALIGN_TEMPLATE, _align_context(request, subscription, error=exc, selected=raw), status=REFUSED)
    if end_date is None:
        messages.success(request, ALIGNMENT_REMOVED % {"name": _display_name(updated)})
    else:
        messages.success(request, ALIGNED % {"name": _display_name(updated), "date": format_date(end_date)})
    return see_other("subscriptions:subscription_detail", subscription_id=updated.pk)


# --- Upgrade ------------------------------------------------------------------------------


def _upgrade_context(request, subscription, *, error="", selected=""):
    context = _base_context(request, subscription, error)
    context.update(
        {
            "offers": upgrade_quotes(
                subscription, subscription.sku.upgrade_targets.select_related("product").order_by("title"),
                at=timezone.localdate(),
            ),
            "selected": str(selected),
            "market": subscription.customer.country,
            "is_active": subscription.status == SubscriptionStatus.ACTIVE,
        }
    )
    return context


def _upgrade_refused(request, subscription, message, selected):
    context = _upgrade_context(request, subscription, error=message, selected=selected)
    return _render(request, UPGRADE_TEMPLATE, context, status=REFUSED)


@require_http_methods(["GET", "POST"])
@partner_required
def subscription_upgrade(request, subscription_id):
    """List the SKU's upgrade offers with prices and what upgrading today costs; POST
    ``target`` (one of them) upgrades now and flags the add-ons made redundant."""
    subscription = _get_subscription(request, subscription_id)
    if request.method == "GET":
        return _render(request, UPGRADE_TEMPLATE, _upgrade_context(request, subscription))

    _require_may_change(request, subscription)
    raw = request.POST.get("target", "").strip()
    raw = raw if raw.isascii() and raw.isdigit() and len(raw) < 19 else ""  # "²".isdigit() is True too
    if raw and int(raw) == subscription.sku_id:
        # Already on it: a second click of the same upgrade changes nothing.
        messages.info(request, ALREADY_UPGRADED % {"name": _display_name(subscription), "target": subscription.sku.title})
        return see_other("subscriptions:subscription_detail", subscription_id=subscription.pk)
    target = None
    if raw:
        target = subscription.sku.upgrade_targets.filter(pk=int(raw)).first()
    if target is None:
        # A SKU that exists but is not a target is named, as the service would; anything else is just refused.
        other = Sku.objects.filter(pk=int(raw)).first() if raw else None
        message = (
            changes.NOT_AN_UPGRADE_TARGET % {"target": other.title, "source": subscription.sku.title}
            if other is not None
            else CHOOSE_A_TARGET
        )
        return _upgrade_refused(request, subscription, message, raw)
    source_title = subscription.sku.title
    try:
        upgraded, redundant = changes.subscription_upgrade(
            subscription=subscription, target_sku=target, acting_user=request.user,
            version=_posted_version(request, subscription), request_id=request.request_id,
        )
    except SubscriptionChanged as exc:
        return _stale(request, subscription_id, UPGRADE_TEMPLATE, _upgrade_context, exc)
    except SubscriptionError as exc:
        return _upgrade_refused(request, subscription, exc, raw)
    convert = upgraded.charge_events.filter(charge_type="convert").order_by("-occurred_at", "-id").first()
    messages.success(
        request,
        UPGRADED
        % {
            "name": _display_name(upgraded),
            "source": source_title,
            "target": target.title,
            "amount": format_money(convert.amount if convert else Decimal("0.00"), upgraded.currency),
        },
    )
    if redundant:
        deadline = removal_request_deadline(redundant[0])
        messages.warning(
            request,
            UPGRADE_MADE_REDUNDANT
            % {"addons": ", ".join(_display_name(a) for a in redundant), "deadline": format_date(deadline)},
        )
    return see_other("subscriptions:subscription_detail", subscription_id=upgraded.pk)


# --- Removal request of a redundant add-on -------------------------------------------------


def _removal_context(request, subscription, *, error=""):
    context = _base_context(request, subscription, error)
    context["removal"] = removal_state(request.partner, subscription)
    return context


@require_http_methods(["GET", "POST"])
@partner_required
def subscription_removal_request(request, subscription_id):
    """Show a redundant add-on's removal deadline; POST raises the support request, accepted
    only until the end of the second billing cycle after the upgrade was first billed."""
    subscription = _get_subscription(request, subscription_id)
    if request.method == "GET":
        return _render(request, REMOVAL_TEMPLATE, _removal_context(request, subscription))

    _require_may_change(request, subscription)
    try:
        raised = changes.addon_removal_request_raise(
            subscription=subscription, acting_user=request.user,
            version=_posted_version(request, subscription), request_id=request.request_id,
        )
    except SubscriptionChanged as exc:
        return _stale(request, subscription_id, REMOVAL_TEMPLATE, _removal_context, exc)
    except SubscriptionError as exc:
        return _render(request, REMOVAL_TEMPLATE, _removal_context(request, subscription, error=exc), status=REFUSED)
    messages.success(request, REMOVAL_RAISED % {"name": _display_name(subscription), "deadline": format_date(raised.deadline)})
    return see_other("subscriptions:subscription_detail", subscription_id=subscription.pk)
