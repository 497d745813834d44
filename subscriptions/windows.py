"""The 168-hour windows of a subscription (SPEC §5), read-only: what can still be cancelled
or reduced, and until when. Services refuse changes with these (``services/lifecycle.py``);
selectors and pages show them, without importing the services.

A subscription can be cancelled only within 168 hours of its purchase or latest renewal;
each batch of seats (the purchase, each addition, each renewal) can be reduced only within
168 hours of being added. The removal of an add-on an upgrade made redundant can be asked
for until the end of the upgraded subscription's second billing cycle.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from subscriptions.models import ChargeType, SeatChangeKind, SubscriptionStatus
from subscriptions.periods import billing_period


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


def removal_request_deadline(addon):
    """The last day to ask for a redundant add-on's removal: the end of the second billing
    cycle of the upgraded subscription, counting the cycle in which the upgrade was first billed."""
    upgraded = addon.made_redundant_by
    if upgraded is None or addon.redundant_since is None:
        return None
    first_billed = (
        upgraded.charge_events.filter(charge_type=ChargeType.CONVERT).order_by("occurred_at").values_list("charge_start", flat=True).first()
        or timezone.localdate(addon.redundant_since)
    )
    end = upgraded.commitment_end_date + timedelta(days=366 * 3)  # let the cycles run past the term end
    _, first_cycle_end = billing_period(upgraded.start_date, upgraded.billing_cycle, first_billed, end)
    _, second_cycle_end = billing_period(upgraded.start_date, upgraded.billing_cycle, first_cycle_end + timedelta(days=1), end)
    return second_cycle_end
