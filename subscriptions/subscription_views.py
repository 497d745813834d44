"""The subscription page and its row actions.

Every view starts from ``Subscription.objects.transacted_by(request.partner)``: another
partner's subscription is a 404, HTMX or not. Changing one needs ``permissions.BUY`` and
being its transacting partner (403 with the reason otherwise); the rules themselves are the
lifecycle service's, whose refusals come back as a 422 with its message and nothing changed
(the convention of ``portal.htmx``).

Every action form carries the subscription's version it was rendered with (a form posted
without one is held to the version the request read): when another change came first, the
answer is a 409 that says what changed and shows the current state, and nothing is applied.
The same change posted twice (a double click) is one change.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST
from django.views.generic import DetailView
from django_htmx.http import trigger_client_event

from portal.htmx import CONFLICT, REFUSED, is_fragment_request, render_flyout, see_other
from portal.views import PartnerRequiredMixin, partner_required
from subscriptions import action_forms
from subscriptions.models import SubscriptionStatus
from subscriptions.selectors_list import (
    action_denial,
    audit_trail,
    cancellation_state,
    latest_base_of,
    lowest_allowed_quantity,
    next_term_choices,
    removable_seats,
    removal_state,
    seat_windows,
    stale_form_message,
    subscription_for_request,
)
from subscriptions.services.lifecycle import (
    SCHEDULE_NEEDS_AUTO_RENEW,
    SubscriptionChanged,
    SubscriptionError,
    subscription_cancel,
    subscription_schedule_next_term,
    subscription_set_auto_renew,
    subscription_set_quantity,
    subscription_set_status,
)

DETAIL_TEMPLATE = "subscriptions/subscription_detail.html"
ACTIONS_TEMPLATE = "subscriptions/subscription_actions.html"
ROW_RESPONSE_TEMPLATE = "subscriptions/subscription_row_response.html"


QUANTITY_CHANGED = _("Seats of %(name)s set to %(quantity)s.")
CANCELLED = _("%(name)s was cancelled; the unused part is refunded pro rata.")
AUTO_RENEW_ON = _("Auto-renew turned on for %(name)s.")
AUTO_RENEW_OFF = _("Auto-renew turned off for %(name)s; it will expire at the end of its term.")
NEXT_TERM_SAVED = _("Next-term changes saved for %(name)s.")
NEXT_TERM_CLEARED = _("Next-term changes cleared for %(name)s.")
STATUS_CHANGED = _("%(name)s is now %(status)s.")


def _display_name(subscription):
    return subscription.friendly_name or subscription.sku.title


class SubscriptionDetailView(PartnerRequiredMixin, DetailView):
    """One subscription: facts, seat history and open reduction windows, charge events,
    next-term changes and the audit trail."""

    template_name = DETAIL_TEMPLATE
    context_object_name = "subscription"

    def get_object(self, queryset=None):
        subscription = subscription_for_request(self.request, self.kwargs["subscription_id"])
        if subscription is None:
            raise Http404
        return subscription

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        subscription = self.object
        now = timezone.now()
        seat_changes = list(subscription.seat_changes.select_related("actor").order_by("occurred_at", "id"))
        windows = seat_windows(subscription, seat_changes, now)
        cancel_allowed, cancel_deadline = cancellation_state(subscription, now)
        context.update(
            {
                "now": now,
                "seat_changes": seat_changes,
                "windows": windows,
                "removable": removable_seats(subscription, windows),
                "charge_events": list(subscription.charge_events.order_by("-occurred_at", "-id")),
                "audit_events": audit_trail(self.request.partner, subscription),
                "cancel_allowed": cancel_allowed,
                "cancel_deadline": cancel_deadline,
                "is_live": subscription.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED),
                "denial": action_denial(self.request, subscription),
                "removal": removal_state(self.request.partner, subscription),
                "align_url": reverse("subscriptions:subscription_align", args=[subscription.pk]),
                "misaligned_base": latest_base_of(subscription) if subscription.outlives_base else None,
                "has_next_term": any(
                    [
                        subscription.next_term_quantity,
                        subscription.next_term_duration,
                        subscription.next_term_billing_cycle,
                        subscription.next_term_end_date,
                    ]
                ),
            }
        )
        return context


# --- Row actions -------------------------------------------------------------------------


def _get_subscription(request, subscription_id):
    subscription = subscription_for_request(request, subscription_id)
    if subscription is None:
        raise Http404
    return subscription


def _origin(request):
    origin = request.POST.get("origin") or request.GET.get("from") or "list"
    return origin if origin in ("list", "detail") else "list"


def _actions_context(request, subscription, *, bound=None, error=""):
    """Everything the flyout shows; ``bound`` replaces one unbound form by the submitted one
    so the user sees what they typed next to the error."""
    now = timezone.now()
    seat_changes = list(subscription.seat_changes.order_by("occurred_at", "id"))
    windows = seat_windows(subscription, seat_changes, now)
    cancel_allowed, cancel_deadline = cancellation_state(subscription, now)
    pairs = next_term_choices(subscription)
    origin = _origin(request)
    forms = {
        "quantity_form": action_forms.QuantityForm(subscription=subscription, initial={"origin": origin}),
        "cancel_form": action_forms.CancelForm(subscription=subscription, initial={"origin": origin}),
        "next_term_form": action_forms.NextTermForm(subscription=subscription, pairs=pairs, initial={"origin": origin}),
    }
    reduce_floor = lowest_allowed_quantity(subscription, windows)
    # The browser already refuses a total below what the open windows allow.
    forms["quantity_form"].fields["quantity"].widget.attrs["min"] = reduce_floor
    if bound is not None:
        forms.update(bound)
    is_live = subscription.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED)
    denial = action_denial(request, subscription)
    return {
        "subscription": subscription,
        "origin": origin,
        # As a full page (no HTMX, e.g. opened in a new tab) the forms post as plain forms:
        # there is no row to swap and the answer is the subscription page (303).
        "in_flyout": is_fragment_request(request),
        "now": now,
        "windows": windows,
        "reduce_floor": reduce_floor,
        "removable": removable_seats(subscription, windows),
        "cancel_allowed": cancel_allowed,
        "cancel_deadline": cancel_deadline,
        "is_live": is_live,
        "denial": denial,
        "read_only": bool(denial) or not is_live,
        "next_term_blocked": "" if subscription.auto_renew_enabled else SCHEDULE_NEEDS_AUTO_RENEW,
        "error": error,
        "align_url": reverse("subscriptions:subscription_align", args=[subscription.pk]),
        **forms,
    }


@require_GET
@partner_required
def subscription_actions(request, subscription_id):
    """The action forms: the flyout fragment for HTMX, a full page otherwise. Users who may
    not act see it read-only, with the reason."""
    subscription = _get_subscription(request, subscription_id)
    return render_flyout(request, ACTIONS_TEMPLATE, _actions_context(request, subscription))


def _error_response(request, subscription, message, bound=None, status=REFUSED):
    """A refused change: the flyout (HTMX, retargeted into it) or the full page, with the
    message, status 422 (409 for a form another change overtook)."""
    context = _actions_context(request, subscription, bound=bound, error=message)
    return render_flyout(request, ACTIONS_TEMPLATE, context, status=status)


def _stale_response(request, subscription_id, refused):
    """The form's version was overtaken: say what changed since and show the current state
    (unbound forms, at the current version), nothing applied."""
    current = _get_subscription(request, subscription_id)
    message = stale_form_message(request.partner, current, refused.seen)
    return _error_response(request, current, message, status=CONFLICT)


def _success_response(request, subscription, message):
    messages.success(request, message)
    if not is_fragment_request(request):
        return see_other("subscriptions:subscription_detail", subscription_id=subscription.pk)
    row = subscription_for_request(request, subscription.pk)
    html = render_to_string(ROW_RESPONSE_TEMPLATE, {"s": row}, request=request)
    response = trigger_client_event(HttpResponse(html), "subscription-updated", {"id": str(subscription.pk)})
    return trigger_client_event(response, "close-flyout")


def _perform(request, subscription_id, form_name, form_class, change, **form_kwargs):
    """The shared shape of every action: scope (404), permission (403), parse (400),
    change through the service (422 on refusal, 409 when the form's version was overtaken),
    then the row or a redirect. ``change(subscription, data)`` passes ``data["version"]``."""
    subscription = _get_subscription(request, subscription_id)
    denial = action_denial(request, subscription)
    if denial:
        raise PermissionDenied(denial)
    form = form_class(request.POST, subscription=subscription, **form_kwargs)
    if not form.is_valid():
        return _error_response(request, subscription, action_forms.first_error(form), bound={form_name: form})
    data = {**form.cleaned_data, "version": form.cleaned_data.get("version") or subscription.version}
    try:
        subscription, message = change(subscription, data)
    except SubscriptionChanged as exc:
        return _stale_response(request, subscription_id, exc)
    except SubscriptionError as exc:
        return _error_response(request, subscription, exc, bound={form_name: form})
    return _success_response(request, subscription, message)


@require_POST
@partner_required
def subscription_quantity(request, subscription_id):
    """Set the number of seats: adding any time, reducing only seats inside their window."""

    def change(subscription, data):
        updated = subscription_set_quantity(
            subscription=subscription, quantity=data["quantity"], acting_user=request.user,
            version=data["version"], request_id=request.request_id,
        )
        return updated, QUANTITY_CHANGED % {"name": _display_name(updated), "quantity": updated.quantity}

    return _perform(request, subscription_id, "quantity_form", action_forms.QuantityForm, change)


@require_POST
@partner_required
def subscription_cancel_view(request, subscription_id):
    """Cancel inside 168 hours of purchase or latest renewal, refunding pro rata."""

    def change(subscription, data):
        updated = subscription_cancel(
            subscription=subscription, acting_user=request.user, version=data["version"], request_id=request.request_id
        )
        return updated, CANCELLED % {"name": _display_name(updated)}

    return _perform(request, subscription_id, "cancel_form", action_forms.CancelForm, change)


@require_POST
@partner_required
def subscription_auto_renew(request, subscription_id):
    def change(subscription, data):
        updated = subscription_set_auto_renew(
            subscription=subscription, enabled=data["enabled"], acting_user=request.user,
            version=data["version"], request_id=request.request_id,
        )
        template = AUTO_RENEW_ON if updated.auto_renew_enabled else AUTO_RENEW_OFF
        return updated, template % {"name": _display_name(updated)}

    return _perform(request, subscription_id, "auto_renew_form", action_forms.AutoRenewForm, change)


@require_POST
@partner_required
def subscription_next_term(request, subscription_id):
    """Schedule (or, with every field empty, clear) next-term changes; needs auto-renew."""
    subscription = _get_subscription(request, subscription_id)
    pairs = next_term_choices(subscription)

    def change(subscription, data):
        updated = subscription_schedule_next_term(
            subscription=subscription,
            acting_user=request.user,
            quantity=data["quantity"],
            term_duration=data["term_duration"],
            billing_cycle=data["billing_cycle"],
            version=data["version"],
            request_id=request.request_id,
        )
        cleared = not any([data["quantity"], data["term_duration"], data["billing_cycle"]])
        return updated, (NEXT_TERM_CLEARED if cleared else NEXT_TERM_SAVED) % {"name": _display_name(updated)}

    return _perform(request, subscription_id, "next_term_form", action_forms.NextTermForm, change, pairs=pairs)


@require_POST
@partner_required
def subscription_status(request, subscription_id):
    """Suspend or reactivate; anything the transition table forbids is refused (422)."""

    def change(subscription, data):
        updated = subscription_set_status(
            subscription=subscription, status=data["status"], acting_user=request.user,
            version=data["version"], request_id=request.request_id,
        )
        return updated, STATUS_CHANGED % {
            "name": _display_name(updated),
            "status": updated.get_status_display().lower(),
        }

    return _perform(request, subscription_id, "status_form", action_forms.StatusForm, change)
