"""Changes to a live subscription (SPEC §5): seats, cancellation, auto-renew, next-term
changes, status, and renewal.

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

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.models import Availability, TenantLicense
from portal.errors import ErrorCode, PortalError
from portal.models import Customer
from portal.services import audit_record
from portal.text import control_character
from subscriptions.models import (
    SUBSCRIPTION_TRANSITIONS,
    ChargeEvent,
    ChargeType,
    SeatChange,
    SeatChangeKind,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.periods import CYCLE_MONTHS, billing_period, days_inclusive, prorate, term_end, trunc2
from subscriptions.services.pricing import prices_in_force

PRICE_PLACES = Decimal("0.000001")

# Partner Center codes and the texts users see; tests import them.
CODE_CANNOT_DECREASE = ErrorCode.CANNOT_DECREASE
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
CODE_CHANGED = ErrorCode.CONCURRENCY_CONFLICT
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
            CODE_CHANGED, CHANGED_SINCE_READ, status=409, params={"seen": seen, "current": current.version}
        )
        self.seen = seen
        self.current = current


def window():
    return timedelta(hours=settings.PORTAL_CANCELLATION_WINDOW_HOURS)


def cancellation_deadline(subscription):
    return subscription.term_started_at + window()


def can_cancel(subscription, now=None):
    now = now or timezone.now()
    return subscription.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED) and now <= cancellation_deadline(
        subscription
    )


@dataclass
class SeatBatch:
    """Seats added together, still reducible until ``allowed_until``."""

    quantity: int
    allowed_until: datetime
    added_at: datetime


def seat_batches(seat_changes):
    """Replays the seat history of the current term into batches with what is left of each.

    A purchase or renewal starts the term with one batch; each addition is its own batch;
    a reduction takes seats from the newest batches that were still inside their window."""
    batches = []
    for change in seat_changes:
        if change.kind in (SeatChangeKind.PURCHASE, SeatChangeKind.RENEW):
            batches = [SeatBatch(change.quantity_after, change.refundable_until or change.occurred_at, change.occurred_at)]
        elif change.kind == SeatChangeKind.ADD:
            batches.append(SeatBatch(change.delta, change.refundable_until or change.occurred_at, change.occurred_at))
        elif change.kind == SeatChangeKind.REDUCE:
            remaining = -change.delta
            for batch in sorted(batches, key=lambda b: b.added_at, reverse=True):
                if remaining == 0:
                    break
                if batch.allowed_until >= change.occurred_at and batch.quantity > 0:
                    taken = min(batch.quantity, remaining)
                    batch.quantity -= taken
                    remaining -= taken
        elif change.kind == SeatChangeKind.CANCEL:
            batches = []
    return [b for b in batches if b.quantity > 0]


def refundable_batches(subscription, now=None, seat_changes=None):
    """The batches that can still be reduced now, oldest deadline first."""
    now = now or timezone.now()
    if seat_changes is None:
        seat_changes = subscription.seat_changes.order_by("occurred_at", "id")
    open_batches = [b for b in seat_batches(seat_changes) if b.allowed_until >= now]
    return sorted(open_batches, key=lambda b: b.allowed_until)


def refundable_quantity(subscription, now=None, seat_changes=None):
    return sum(b.quantity for b in refundable_batches(subscription, now, seat_changes))


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


def _next_term(subscription):
    values = {
        "quantity": subscription.next_term_quantity,
        "termDuration": subscription.next_term_duration,
        "billingCycle": subscription.next_term_billing_cycle,
        "customTermEndDate": subscription.next_term_end_date,
    }
    return values if any(values.values()) else None


def _drop_scheduled_changes(subscription):
    """Any mid-term change drops the changes scheduled for the next term (Partner Center)."""
    subscription.next_term_quantity = None
    subscription.next_term_duration = None
    subscription.next_term_billing_cycle = None
    subscription.next_term_end_date = None


def _current_period(subscription, today):
    return billing_period(subscription.start_date, subscription.billing_cycle, today, subscription.commitment_end_date)


def event_terms(subscription):
    """The SKU, availability, term and billing cycle a charge event records (the subscription's, now)."""
    return {
        "sku_id": subscription.sku_id,
        "availability_id": subscription.availability_id,
        "term_duration": subscription.term_duration,
        "billing_cycle": subscription.billing_cycle,
    }


def _charge(subscription, *, charge_type, quantity, amount, first, last, now):
    return ChargeEvent.objects.create(
        subscription=subscription,
        charge_type=charge_type,
        **event_terms(subscription),
        quantity=quantity,
        unit_price=subscription.unit_price,
        effective_unit_price=subscription.unit_price,
        amount=amount,
        currency=subscription.currency,
        charge_start=first,
        charge_end=last,
        occurred_at=now,
    )


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
    _check_version(subscription, version)
    now = timezone.now()
    today = timezone.localdate()
    before = _snapshot(subscription)
    first, last = _current_period(subscription, today)
    period_days = days_inclusive(first, last)
    remaining_days = days_inclusive(today, last) if today <= last else 0
    if delta < 0 and -delta > refundable_quantity(subscription, now):
        raise SubscriptionError(CODE_CANNOT_DECREASE, CANNOT_DECREASE)
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
    audit_record(
        actor=acting_user,
        partner=subscription.partner,
        action="subscription.quantity",
        obj=subscription,
        before=before,
        after=_snapshot(subscription),
        request_id=request_id,
    )
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
    _check_version(subscription, version)
    now = timezone.now()
    if not can_cancel(subscription, now):
        deadline = timezone.localtime(cancellation_deadline(subscription))
        raise SubscriptionError(ErrorCode.INVALID_INPUT, CANCEL_WINDOW_CLOSED, params={"deadline": f"{deadline:%Y-%m-%d %H:%M}"})
    today = timezone.localdate()
    before = _snapshot(subscription)
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
    audit_record(
        actor=acting_user,
        partner=subscription.partner,
        action="subscription.cancel",
        obj=subscription,
        before=before,
        after=_snapshot(subscription) | {"refund": -trunc2(refund)},
        request_id=request_id,
    )
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
    _check_version(subscription, version)
    if status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED):
        raise SubscriptionError(
            ErrorCode.INVALID_INPUT,
            TRANSITION_NOT_ALLOWED,
            params={"from": subscription.get_status_display().lower(), "to": str(status)},
        )
    before = _snapshot(subscription)
    _transition(subscription, status)
    subscription.save()
    audit_record(
        actor=acting_user,
        partner=subscription.partner,
        action="subscription.status",
        obj=subscription,
        before=before,
        after=_snapshot(subscription),
        request_id=request_id,
    )
    return subscription


@transaction.atomic
def subscription_set_auto_renew(*, subscription, enabled, acting_user, version=None, request_id=""):
    """Turn auto-renew on or off. Off drops the next-term changes, which need it."""
    subscription = _lock(subscription)
    _require_live(subscription)
    if subscription.auto_renew_enabled == enabled:
        return subscription
    _check_version(subscription, version)
    before = _snapshot(subscription)
    subscription.auto_renew_enabled = enabled
    if not enabled:
        _drop_scheduled_changes(subscription)
    subscription.save()
    audit_record(
        actor=acting_user,
        partner=subscription.partner,
        action="subscription.auto_renew",
        obj=subscription,
        before=before,
        after=_snapshot(subscription),
        request_id=request_id,
    )
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
    _check_version(subscription, version)
    before = {"version": subscription.version, "friendlyName": subscription.friendly_name}
    subscription.friendly_name = friendly_name
    subscription.save(update_fields=["friendly_name", "updated_at"])
    audit_record(
        actor=acting_user,
        partner=subscription.partner,
        action="subscription.friendly_name",
        obj=subscription,
        before=before,
        after={"version": subscription.version, "friendlyName": friendly_name},
        request_id=request_id,
    )
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
    _check_version(subscription, version)
    if not subscription.auto_renew_enabled:
        raise SubscriptionError(ErrorCode.INVALID_INPUT, SCHEDULE_NEEDS_AUTO_RENEW)
    if quantity is not None:
        _validate_quantity(subscription, quantity)
    term = term_duration or subscription.term_duration
    cycle = billing_cycle or subscription.billing_cycle
    if (term_duration or billing_cycle) and not _availability_supports(subscription, term, cycle):
        raise SubscriptionError(ErrorCode.INVALID_INPUT, UNSUPPORTED_TERM, params={"term": term, "cycle": cycle})
    before = _snapshot(subscription)
    subscription.next_term_quantity = quantity
    subscription.next_term_duration = term_duration
    subscription.next_term_billing_cycle = billing_cycle
    subscription.save()
    audit_record(
        actor=acting_user,
        partner=subscription.partner,
        action="subscription.schedule_next_term",
        obj=subscription,
        before=before,
        after=_snapshot(subscription),
        request_id=request_id,
    )
    return subscription


def _availability_supports(subscription, term, cycle):
    if subscription.availability_id:
        return subscription.availability.supports(term, cycle)
    return term in subscription.sku.supported_terms and cycle in subscription.sku.supported_billing_cycles


def renewal_start(subscription):
    """A term that ends on day D renews into a term starting D + 1."""
    return subscription.commitment_end_date + timedelta(days=1)


def renewal_terms(subscription):
    """``(term, billing cycle)`` of the subscription's next term: the scheduled ones, else its own."""
    return (
        subscription.next_term_duration or subscription.term_duration,
        subscription.next_term_billing_cycle or subscription.billing_cycle,
    )


def renewal_prices(subscriptions):
    """{subscription pk: PriceListEntry} of the price each renewing subscription's next term
    takes: the customer's market's price list in force on the renewal day, for the SKU, the
    next term's term and billing cycle and the availability's segment. A new term is priced
    afresh (the old price was locked for the old term only). One query per distinct market,
    renewal day and segment: a day's renewals share a handful."""
    renewing = [s for s in subscriptions if s.auto_renew_enabled]
    if not renewing:
        return {}
    countries = dict(
        Customer.objects.filter(pk__in={s.customer_id for s in renewing}).values_list("pk", "country")
    )
    segments = dict(
        Availability.objects.filter(pk__in={s.availability_id for s in renewing if s.availability_id}).values_list(
            "pk", "segment"
        )
    )
    groups = defaultdict(list)
    for s in renewing:
        groups[(countries[s.customer_id], renewal_start(s), segments.get(s.availability_id, ""))].append(s)
    found = {}
    for (market, day, segment), members in groups.items():
        keys = {(s.sku_id, *renewal_terms(s)) for s in members}
        by_sku = {s.sku_id: segment for s in members} if segment else None
        rows = prices_in_force(keys=keys, market=market, segment_by_sku=by_sku, on_date=day)
        for s in members:
            row = rows.get((s.sku_id, *renewal_terms(s)))
            if row is not None:
                found[s.pk] = row
    return found


def renew_or_expire(subscription, *, now, price=None, actor=None):
    """Apply the end of ``subscription``'s term in memory and return the rows to write:
    ``(seat_change, charge_event)`` for a renewal, ``(None, None)`` for an expiry.
    ``price`` (from ``renewal_prices``) is the new term's price-list row; without one (no
    row for that term and cycle in the market) the subscription keeps its price, converted
    by the cycles' length when the billing cycle changes (a yearly price, a twelfth a month).
    ``renew_subscriptions`` writes the rows in bulk."""
    if not subscription.auto_renew_enabled:
        subscription.status = SubscriptionStatus.EXPIRED
        return None, None
    start = renewal_start(subscription)
    previous = subscription.quantity
    if subscription.next_term_quantity:
        subscription.quantity = subscription.next_term_quantity
    old_cycle = subscription.billing_cycle
    subscription.term_duration, subscription.billing_cycle = renewal_terms(subscription)
    if price is not None:
        subscription.unit_price = price.unit_price
        subscription.currency = price.currency
    elif subscription.billing_cycle != old_cycle:
        new_months, old_months = CYCLE_MONTHS.get(subscription.billing_cycle, 1), CYCLE_MONTHS.get(old_cycle, 1)
        subscription.unit_price = (subscription.unit_price * new_months / old_months).quantize(PRICE_PLACES, ROUND_DOWN)
    natural_end = term_end(start, subscription.term_duration)
    aligned_end = subscription.next_term_end_date
    _drop_scheduled_changes(subscription)
    subscription.start_date = start
    # Coterminosity: an aligned next term ends on the agreed date; its first period is prorated.
    subscription.commitment_end_date = aligned_end if aligned_end and start <= aligned_end <= natural_end else natural_end
    # The new 168-hour window opens when the new term starts.
    subscription.term_started_at = max(now, timezone.make_aware(datetime.combine(start, time.min)))
    seat_change = SeatChange(
        subscription=subscription,
        kind=SeatChangeKind.RENEW,
        delta=subscription.quantity - previous,
        quantity_after=subscription.quantity,
        occurred_at=subscription.term_started_at,
        refundable_until=subscription.term_started_at + window(),
        actor=actor,
    )
    first, last = billing_period(start, subscription.billing_cycle, start, subscription.commitment_end_date)
    full_last = billing_period(start, subscription.billing_cycle, start, natural_end)[1]
    amount = prorate(
        subscription.unit_price * subscription.quantity, days_inclusive(first, last), days_inclusive(first, full_last)
    )
    charge = ChargeEvent(
        subscription=subscription,
        charge_type=ChargeType.RENEW,
        **event_terms(subscription),
        quantity=subscription.quantity,
        unit_price=subscription.unit_price,
        effective_unit_price=subscription.unit_price,
        amount=amount,
        currency=subscription.currency,
        charge_start=first,
        charge_end=last,
        occurred_at=subscription.term_started_at,
    )
    return seat_change, charge


RENEWAL_FIELDS = [
    "status",
    "quantity",
    "term_duration",
    "billing_cycle",
    "start_date",
    "commitment_end_date",
    "term_started_at",
    "next_term_quantity",
    "next_term_duration",
    "next_term_billing_cycle",
    "next_term_end_date",
    "unit_price",
    "currency",
    "updated_at",
]


def due_for_renewal(on_date):
    """Live license subscriptions whose term ended before ``on_date``. The Azure plan has no
    term: it is never renewed or expired."""
    return Subscription.objects.live().licenses().filter(commitment_end_date__lt=on_date)


def renew_subscriptions(*, on_date, batch_size=2000, progress=None):
    """Renew (auto-renew on) or expire (off) every live subscription whose term ended before
    ``on_date``. Base subscriptions and add-ons renew separately, each on its own date.
    Each batch is one transaction of bulk writes; running it again finds nothing due, so
    it is safe to repeat. Returns ``(renewed, expired)``."""
    renewed = expired = 0
    while True:
        with transaction.atomic():
            batch = list(
                due_for_renewal(on_date).select_for_update(skip_locked=True).order_by("pk")[:batch_size]
            )
            if not batch:
                break
            now = timezone.now()
            prices = renewal_prices(batch)
            seat_changes, charges, expired_licenses, changes = [], [], [], defaultdict(list)
            license_quantities = defaultdict(list)  # new quantity → licenses
            for subscription in batch:
                before = [getattr(subscription, name) for name in RENEWAL_FIELDS]
                seat_change, charge = renew_or_expire(subscription, now=now, price=prices.get(subscription.pk))
                subscription.updated_at = now
                if seat_change is None:
                    expired += 1
                    if subscription.license_id:
                        expired_licenses.append(subscription.license_id)
                else:
                    renewed += 1
                    seat_changes.append(seat_change)
                    charges.append(charge)
                    if seat_change.delta and subscription.license_id:
                        # The tenant holds the new term's seats (rating pools count them).
                        license_quantities[subscription.quantity].append(subscription.license_id)
                changed = tuple(
                    (name, getattr(subscription, name))
                    for name, old in zip(RENEWAL_FIELDS, before)
                    if getattr(subscription, name) != old
                )
                changes[changed].append(subscription.pk)
            # Subscriptions due the same day mostly change the same way: one UPDATE per
            # distinct set of changes. (bulk_update's CASE per row and field spent 5 minutes
            # in Python on 100,000 subscriptions; this takes seconds.)
            for changed, pks in changes.items():
                if changed:
                    Subscription.objects.filter(pk__in=pks).update(**dict(changed), version=F("version") + 1)
            SeatChange.objects.bulk_create(seat_changes)
            ChargeEvent.objects.bulk_create(charges)
            if expired_licenses:
                TenantLicense.objects.filter(pk__in=expired_licenses).update(is_active=False)
            for quantity, license_ids in license_quantities.items():
                TenantLicense.objects.filter(pk__in=license_ids).update(quantity=quantity)
        if progress:
            progress(renewed, expired)
    return renewed, expired
