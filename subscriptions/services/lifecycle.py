"""Changes to a live subscription (SPEC §5): seats, cancellation, auto-renew, next-term
changes and status. Renewal is ``renewal.py``; the windows below are computed, read-only, in
``subscriptions/windows.py``. Every change runs inside ``changing(...)``: the version check,
the before/after snapshots and the audit event, written once.

The 168-hour rule: a subscription can be cancelled only within 168 hours of its purchase or
latest renewal; each batch of seats (the purchase, each addition, each renewal) can be
reduced only within 168 hours of being added. Callers are permitted users of the
transacting partner (views and the API check ``permissions.BUY`` first).

Optimistic concurrency (issue 11): every change takes ``version``, the subscription's version
the caller's decision was based on (the form's hidden field, the API's If-Match or its own
read). Under the row lock, a change whose result already holds changes nothing (a double
click makes one change); otherwise a version other than the current one raises
``SubscriptionChanged`` and nothing is written. ``version=None`` skips the check, for callers
that hold the lock already (the API's PATCH) or act on the current state (renewals).
"""

from contextlib import contextmanager
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.errors import ErrorCode, PortalError
from portal.services import audit_record
from portal.text import control_character
from subscriptions.models import (
    SUBSCRIPTION_TRANSITIONS,
    ChargeType,
    SeatChange,
    SeatChangeKind,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.periods import days_inclusive, prorate, trunc2
from subscriptions.services.charge_events import _charge, _current_period, _drop_scheduled_changes
from subscriptions.windows import can_cancel, cancellation_deadline, refundable_quantity, window

# Partner Center codes and the texts users see; tests import them.
CANNOT_DECREASE = _("Subscription quantity cannot be decreased.")
CANCEL_WINDOW_CLOSED = _(
    "This subscription can no longer be cancelled: cancellation is allowed only within 168 hours of its "
    "purchase or latest renewal (the window closed on %(deadline)s UTC)."
)
QUANTITY_BELOW_MIN = _("The quantity must be at least %(min)s for this offer.")
QUANTITY_ABOVE_MAX = _("The quantity cannot exceed %(max)s for this offer.")
QUANTITY_NOT_INTEGER = _("The quantity must be a whole number.")
NOT_CHANGEABLE = _("A %(status)s subscription cannot be changed.")
TRANSITION_NOT_ALLOWED = _("A subscription cannot go from %(from)s to %(to)s.")
SCHEDULE_NEEDS_AUTO_RENEW = _("Next-term changes need auto-renew to be on.")
AZURE_PLAN_HAS_NO_SEATS = _(
    "The Azure plan has no seats, term or renewal: manage its Azure subscriptions on the customer's Azure plan page."
)
UNSUPPORTED_TERM = _("The offer does not support %(term)s with %(cycle)s billing.")
CHANGED_SINCE_READ = _(
    "The subscription was changed by someone else after version %(seen)s was read (it is at version %(current)s "
    "now). Nothing was changed: read it again and make your change from its current state."
)
FRIENDLY_NAME_MAX_LENGTH = Subscription._meta.get_field("friendly_name").max_length
FRIENDLY_NAME_TOO_LONG = _("The friendly name can be at most %(max)s characters.")
FRIENDLY_NAME_CONTROL_CHARACTER = _(
    "The friendly name is one line of text: it cannot hold a control character (%(character)s)."
)


class SubscriptionError(PortalError):
    """A refused change, with Partner Center's code, its description and the HTTP status."""


class SubscriptionChanged(SubscriptionError):
    """The change was decided on version ``seen``, and the subscription has changed since:
    nothing was written. ``current`` is the subscription as it is now (locked when raised)."""

    def __init__(self, *, seen, current):
        super().__init__(
            ErrorCode.CONCURRENCY_CONFLICT, CHANGED_SINCE_READ, status=409, params={"seen": seen, "current": current.version}
        )
        self.seen = seen
        self.current = current


def _lock(subscription):
    """Re-read the subscription under a row lock: two requests never change it at once."""
    return Subscription.objects.select_for_update().select_related("sku", "customer", "partner").get(pk=subscription.pk)


def _check_version(subscription, version):
    """Refuse a change decided on another version than the locked subscription's."""
    if version is not None and version != subscription.version:
        raise SubscriptionChanged(seen=version, current=subscription)


def subscription_lock(*, subscription, version=None):
    """Lock the subscription for the rest of the caller's transaction and check that it is
    still at ``version``: the API's PATCH locks once, then applies each of its fields."""
    subscription = _lock(subscription)
    _check_version(subscription, version)
    return subscription


@contextmanager
def changing(subscription, *, version, acting_user, action, request_id, snapshot=None):
    """One audited change of a locked subscription: refuse it if the subscription is no longer
    at ``version``, take the ``before`` snapshot, let the caller change and save it, then
    record ``action`` in the audit log with the ``after`` snapshot (plus what the caller puts
    in the yielded dict). A refusal raised inside records nothing."""
    snapshot = snapshot or _snapshot
    _check_version(subscription, version)
    before = snapshot(subscription)
    extra = {}
    yield extra
    audit_record(
        actor=acting_user,
        partner=subscription.partner,
        action=action,
        obj=subscription,
        before=before,
        after=snapshot(subscription) | extra,
        request_id=request_id,
    )


def _require_live(subscription):
    if subscription.is_azure_plan:
        raise SubscriptionError(ErrorCode.INVALID_INPUT, AZURE_PLAN_HAS_NO_SEATS)
    if subscription.status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED):
        raise SubscriptionError(
            ErrorCode.DELETED, NOT_CHANGEABLE, status=400, params={"status": subscription.get_status_display().lower()}
        )


def _validate_quantity(subscription, quantity):
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise SubscriptionError(ErrorCode.INVALID_INPUT, QUANTITY_NOT_INTEGER)
    sku = subscription.sku
    if quantity < max(sku.min_quantity, 1):
        raise SubscriptionError(ErrorCode.QUANTITY_RANGE, QUANTITY_BELOW_MIN, params={"min": max(sku.min_quantity, 1)})
    if quantity > sku.max_quantity:
        raise SubscriptionError(ErrorCode.QUANTITY_RANGE, QUANTITY_ABOVE_MAX, params={"max": sku.max_quantity})


def _snapshot(subscription):
    return {
        "version": subscription.version,
        "quantity": subscription.quantity,
        "status": subscription.status,
        "autoRenewEnabled": subscription.auto_renew_enabled,
        "commitmentEndDate": subscription.commitment_end_date,
        "nextTerm": _next_term(subscription),
    }


def _name_snapshot(subscription):
    return {"version": subscription.version, "friendlyName": subscription.friendly_name}


def _next_term(subscription):
    values = {
        "quantity": subscription.next_term_quantity,
        "termDuration": subscription.next_term_duration,
        "billingCycle": subscription.next_term_billing_cycle,
        "customTermEndDate": subscription.next_term_end_date,
    }
    return values if any(values.values()) else None


@transaction.atomic
def subscription_set_quantity(*, subscription, quantity, acting_user, version=None, request_id=""):
    """Add seats (any time in the term) or reduce them (only seats still inside their own
    168-hour window). Charges or refunds the rest of the current billing period by day."""
    subscription = _lock(subscription)
    _require_live(subscription)
    _validate_quantity(subscription, quantity)
    delta = quantity - subscription.quantity
    if delta == 0:
        return subscription
    with changing(
        subscription, version=version, acting_user=acting_user, action="subscription.quantity", request_id=request_id
    ):
        now = timezone.now()
        today = timezone.localdate()
        first, last = _current_period(subscription, today)
        period_days = days_inclusive(first, last)
        remaining_days = days_inclusive(today, last) if today <= last else 0
        if delta < 0 and -delta > refundable_quantity(subscription, now):
            raise SubscriptionError(ErrorCode.CANNOT_DECREASE, CANNOT_DECREASE)
        subscription.quantity = quantity
        _drop_scheduled_changes(subscription)
        subscription.save()
        if delta > 0:
            SeatChange.objects.create(
                subscription=subscription,
                kind=SeatChangeKind.ADD,
                delta=delta,
                quantity_after=quantity,
                occurred_at=now,
                refundable_until=now + window(),
                actor=acting_user,
            )
            amount = prorate(subscription.unit_price * delta, remaining_days, period_days)
            _charge(subscription, charge_type=ChargeType.ADD_QUANTITY, quantity=delta, amount=amount, first=today, last=last, now=now)
        else:
            SeatChange.objects.create(
                subscription=subscription,
                kind=SeatChangeKind.REDUCE,
                delta=delta,
                quantity_after=quantity,
                occurred_at=now,
                actor=acting_user,
            )
            amount = -prorate(subscription.unit_price * -delta, remaining_days, period_days)
            _charge(
                subscription, charge_type=ChargeType.REMOVE_QUANTITY, quantity=delta, amount=amount, first=today, last=last, now=now
            )
        if subscription.license_id:
            subscription.license.quantity = quantity
            subscription.license.save(update_fields=["quantity"])
    return subscription


@transaction.atomic
def subscription_cancel(*, subscription, acting_user, version=None, request_id=""):
    """Cancel within 168 hours of purchase or latest renewal, refunding the unused part of
    what was charged for the current billing period, by day (the cancel day is refunded too).
    Cancelling a cancelled subscription changes nothing."""
    subscription = _lock(subscription)
    if subscription.status == SubscriptionStatus.DELETED and not subscription.is_azure_plan:
        return subscription
    _require_live(subscription)
    with changing(
        subscription, version=version, acting_user=acting_user, action="subscription.cancel", request_id=request_id
    ) as extra:
        now = timezone.now()
        if not can_cancel(subscription, now):
            deadline = timezone.localtime(cancellation_deadline(subscription))
            raise SubscriptionError(ErrorCode.INVALID_INPUT, CANCEL_WINDOW_CLOSED, params={"deadline": f"{deadline:%Y-%m-%d %H:%M}"})
        today = timezone.localdate()
        first, last = _current_period(subscription, today)
        refund = Decimal("0.00")
        charged = subscription.charge_events.filter(charge_start__lte=last, charge_end__gte=first).exclude(
            charge_type=ChargeType.CANCEL_IMMEDIATE
        )
        for event in charged:
            event_days = days_inclusive(event.charge_start, event.charge_end)
            used_days = max(0, (today - event.charge_start).days)
            refund += prorate(event.amount, event_days - used_days, event_days)
        _charge(
            subscription,
            charge_type=ChargeType.CANCEL_IMMEDIATE,
            quantity=-subscription.quantity,
            amount=-trunc2(refund),
            first=today,
            last=last,
            now=now,
        )
        SeatChange.objects.create(
            subscription=subscription,
            kind=SeatChangeKind.CANCEL,
            delta=-subscription.quantity,
            quantity_after=subscription.quantity,
            occurred_at=now,
            actor=acting_user,
        )
        _transition(subscription, SubscriptionStatus.DELETED)
        subscription.auto_renew_enabled = False
        _drop_scheduled_changes(subscription)
        subscription.save()
        if subscription.license_id:
            subscription.license.is_active = False
            subscription.license.save(update_fields=["is_active"])
        extra["refund"] = -trunc2(refund)
    return subscription


def _transition(subscription, to_status):
    allowed = SUBSCRIPTION_TRANSITIONS.get(SubscriptionStatus(subscription.status), set())
    if to_status not in allowed:
        raise SubscriptionError(
            ErrorCode.INVALID_INPUT,
            TRANSITION_NOT_ALLOWED,
            params={"from": subscription.get_status_display().lower(), "to": SubscriptionStatus(to_status).label.lower()},
        )
    subscription.status = to_status


@transaction.atomic
def subscription_set_status(*, subscription, status, acting_user, version=None, request_id=""):
    """Suspend or reactivate (any time; billing continues while suspended). Cancelling goes
    through ``subscription_cancel``; other changes follow the transition table or are refused."""
    if status == SubscriptionStatus.DELETED:
        return subscription_cancel(
            subscription=subscription, acting_user=acting_user, version=version, request_id=request_id
        )
    subscription = _lock(subscription)
    if status == subscription.status:
        return subscription
    with changing(
        subscription, version=version, acting_user=acting_user, action="subscription.status", request_id=request_id
    ):
        if status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED):
            raise SubscriptionError(
                ErrorCode.INVALID_INPUT,
                TRANSITION_NOT_ALLOWED,
                params={"from": subscription.get_status_display().lower(), "to": str(status)},
            )
        _transition(subscription, status)
        subscription.save()
    return subscription


@transaction.atomic
def subscription_set_auto_renew(*, subscription, enabled, acting_user, version=None, request_id=""):
    """Turn auto-renew on or off. Off drops the next-term changes, which need it."""
    subscription = _lock(subscription)
    _require_live(subscription)
    if subscription.auto_renew_enabled == enabled:
        return subscription
    with changing(
        subscription, version=version, acting_user=acting_user, action="subscription.auto_renew", request_id=request_id
    ):
        subscription.auto_renew_enabled = enabled
        if not enabled:
            _drop_scheduled_changes(subscription)
        subscription.save()
    return subscription


@transaction.atomic
def subscription_set_friendly_name(*, subscription, friendly_name, acting_user, version=None, request_id=""):
    subscription = _lock(subscription)
    _require_live(subscription)
    friendly_name = (friendly_name or "").strip()
    if len(friendly_name) > FRIENDLY_NAME_MAX_LENGTH:
        raise SubscriptionError(ErrorCode.INVALID_INPUT, FRIENDLY_NAME_TOO_LONG, params={"max": FRIENDLY_NAME_MAX_LENGTH})
    if character := control_character(friendly_name):
        raise SubscriptionError(ErrorCode.INVALID_INPUT, FRIENDLY_NAME_CONTROL_CHARACTER, params={"character": character})
    if friendly_name == subscription.friendly_name:
        return subscription
    with changing(
        subscription,
        version=version,
        acting_user=acting_user,
        action="subscription.friendly_name",
        request_id=request_id,
        snapshot=_name_snapshot,
    ):
        subscription.friendly_name = friendly_name
        subscription.save(update_fields=["friendly_name", "updated_at"])
    return subscription


@transaction.atomic
def subscription_schedule_next_term(
    *, subscription, acting_user, quantity=None, term_duration=None, billing_cycle=None, version=None, request_id=""
):
    """Schedule changes that apply at renewal. They need auto-renew; passing nothing clears them."""
    subscription = _lock(subscription)
    _require_live(subscription)
    scheduled = (subscription.next_term_quantity, subscription.next_term_duration, subscription.next_term_billing_cycle)
    if (quantity, term_duration, billing_cycle) == scheduled:
        return subscription
    with changing(
        subscription, version=version, acting_user=acting_user, action="subscription.schedule_next_term", request_id=request_id
    ):
        if not subscription.auto_renew_enabled:
            raise SubscriptionError(ErrorCode.INVALID_INPUT, SCHEDULE_NEEDS_AUTO_RENEW)
        if quantity is not None:
            _validate_quantity(subscription, quantity)
        term = term_duration or subscription.term_duration
        cycle = billing_cycle or subscription.billing_cycle
        if (term_duration or billing_cycle) and not _availability_supports(subscription, term, cycle):
            raise SubscriptionError(ErrorCode.INVALID_INPUT, UNSUPPORTED_TERM, params={"term": term, "cycle": cycle})
        subscription.next_term_quantity = quantity
        subscription.next_term_duration = term_duration
        subscription.next_term_billing_cycle = billing_cycle
        subscription.save()
    return subscription


def _availability_supports(subscription, term, cycle):
    if subscription.availability_id:
        return subscription.availability.supports(term, cycle)
    return term in subscription.sku.supported_terms and cycle in subscription.sku.supported_billing_cycles
