"""Reads of what in the partner's subscriptions needs attention now: the dashboard's to-do
items (SPEC §11) that the subscriptions app owns.

Each function reads a constant number of queries whatever the number of rows, starts from
``Subscription.objects.transacted_by`` (subscriptions the partner transacts or is the reseller
of record of) and returns at most ``limit`` rows, the most urgent first. Whether the member
may act on a row is the caller's question (``selectors_list.action_denial``'s rule: a
reseller of record, a billing admin or a helpdesk agent only looks).
"""

import datetime
from dataclasses import dataclass

from django.db.models import Case, Exists, Min, OuterRef, Prefetch, When
from django.utils import timezone

from catalog.models import Sku
from subscriptions.models import (
    AddonRemovalRequest,
    RemovalRequestStatus,
    SeatChange,
    SeatChangeKind,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.selectors_list import base_end_date, seat_windows

ATTENTION_LIMIT = 20
RENEWAL_HORIZON_DAYS = 30
WINDOW_HORIZON = datetime.timedelta(hours=24)
# What a to-do item reads of a subscription (its words, its links, whether the member may act
# on it): the rows are read with these columns only, not every column of the subscription, its
# SKU (with description and search text) and its customer (making the wide rows' model
# instances was about a fifth of the dashboard's Django time in a profile). A column left out
# is still read if asked for, by one query more.
ITEM_FIELDS = ("partner_id", "customer_id", "sku_id", "friendly_name", "quantity", "commitment_end_date",
               "customer__name", "customer__tenant_id", "sku__title")


def _item_rows(queryset, partner, prefix="", own=()):
    """``queryset`` with what an item shows of its subscription joined in and nothing more
    (``prefix``: the path to the subscription; ``own``: the queryset's own columns then).
    The subscription's partner only for a partner that does not transact: a transacting
    partner is never a reseller of record (SPEC §2), so its rows are its own and no partner's
    name is shown; an indirect reseller's rows name their provider."""
    related, fields = ["customer", "sku"], list(ITEM_FIELDS)
    if not partner.transacts:
        related.append("partner")
        fields.append("partner__name")
    return queryset.select_related(*(prefix + name for name in related)).only(
        *own, *(prefix + name for name in fields))


@dataclass
class ClosingWindow:
    """Seats of a subscription still removable until ``deadline``: the soonest of its
    168-hour windows that close within the horizon."""

    subscription: Subscription
    seats: int
    deadline: datetime.datetime


def seat_windows_closing(*, partner, now=None, within=WINDOW_HORIZON, limit=ATTENTION_LIMIT):
    """Live subscriptions with seats whose 168-hour window (SPEC §5) closes within
    ``within`` of ``now``, soonest first, each with the seats still removable in those
    windows. Two queries: the subscriptions with such a seat batch, then their seat history,
    replayed as the seat flyout replays it (``seat_windows``), so both say the same number."""
    now = now or timezone.now()
    horizon = now + within
    # The subscriptions joined to their batches closing in the horizon, which come off the
    # ``refundable_until`` index (a day's worth of rows), grouped by subscription: one join
    # and one aggregate (two correlated subqueries of the scoped batches took longer to build
    # and to plan).
    subscriptions = (
        _item_rows(Subscription.objects.transacted_by(partner), partner)
        .live()
        .licenses()
        .filter(
            seat_changes__kind__in=[SeatChangeKind.PURCHASE, SeatChangeKind.RENEW, SeatChangeKind.ADD],
            seat_changes__refundable_until__gte=now,
            seat_changes__refundable_until__lt=horizon,
        )
        .annotate(closes_at=Min("seat_changes__refundable_until"))
        .prefetch_related(
            Prefetch(
                "seat_changes",
                queryset=SeatChange.objects.transacted_by(partner)
                .only("subscription_id", "kind", "delta", "quantity_after", "occurred_at", "refundable_until")
                .order_by("occurred_at", "id"),
                to_attr="seat_history",
            )
        )
        .order_by("closes_at", "pk")[:limit]
    )
    rows = []
    for subscription in subscriptions:
        windows = seat_windows(subscription, subscription.seat_history, now)
        batches = [batch for batch in windows.open_batches if batch.allowed_until < horizon]
        seats = sum(batch.quantity for batch in batches)
        if seats:
            rows.append(ClosingWindow(subscription, seats, min(batch.allowed_until for batch in batches)))
    return sorted(rows, key=lambda row: row.deadline)


def addons_outliving_base(*, partner, today=None, limit=ATTENTION_LIMIT):
    """Active add-ons that end after every live base of the same customer sold by the same
    partner (the misalignment warning of SPEC §5, ``annotate_list_flags``), with
    ``base_end_date``; the one ending first first. One query: the add-ons are read in end date
    order and the base lookup (an index probe of the customer's subscriptions) runs on each
    until ``limit`` are found, so it reads about as many add-ons as it lists when most are
    misaligned; when few are, it reads every active add-on of the partner. ``today`` is kept
    for the callers' symmetry."""
    # One branch of ``transacted_by``, so the read walks its ``(partner|reseller, status,
    # commitment_end_date)`` index in order and stops at ``limit`` (an OR of the two makes
    # the planners read every add-on and sort them). Which one the partner's kind says (SPEC
    # §2): a partner that transacts is never a reseller of record, an indirect reseller never
    # transacts.
    # The partner's own rows need no partner joined in (a join to the one partner row would
    # become the outer loop and cost the index its order).
    if partner.transacts:
        branch = Subscription.objects.owned_by(partner)
    else:
        branch = Subscription.objects.transacted_by(partner).filter(reseller=partner)
    # The SKU test as a probe per row: as a join or an ``IN`` list the planner drives from the
    # add-on SKUs and reads every add-on subscription.
    def is_addon():
        return Exists(Sku.objects.filter(pk=OuterRef("sku_id"), is_addon=True))

    addons = branch.filter(is_addon(), status=SubscriptionStatus.ACTIVE)
    # By end date alone, the index's order: a tie-break by id made the database read and test
    # every add-on of the first end dates to sort them (a few hundred a day on the bench: 10 ms
    # instead of 1). Ties come in index order; the rows read are sorted by id below.
    # The base's end annotated alone (not the list's flags: the list's ``outlives_base`` is this
    # filter again, and the base lookup a third time in the SQL).
    # The base lookup guarded by the SKU test in the same condition: PostgreSQL tests the SKU
    # (the semi-join above) only after the lookup, and most rows read in end-date order are
    # bases (on the bench 1,102 read for 6 found: 4 ms of execution instead of 1.3).
    rows = _item_rows(addons, partner).annotate(base_end_date=base_end_date()).filter(
        commitment_end_date__gt=Case(When(is_addon(), then=base_end_date()))
    ).order_by("commitment_end_date")[:limit]
    return sorted(rows, key=lambda row: (row.commitment_end_date, row.pk))


def open_removal_requests(*, partner, limit=ATTENTION_LIMIT):
    """Open requests to remove a redundant add-on (SPEC §5), nearest deadline first. One query."""
    # Scoped by a join to each request's subscription: the open requests are few.
    return list(
        _item_rows(AddonRemovalRequest.objects.transacted_by(partner), partner, prefix="subscription__",
                   own=("subscription_id", "deadline", "raised_at"))
        .filter(status=RemovalRequestStatus.OPEN)
        .order_by("deadline", "pk")[:limit]
    )


def ending_without_auto_renew(*, partner, today=None, days=RENEWAL_HORIZON_DAYS, limit=ATTENTION_LIMIT):
    """Active license subscriptions whose term ends within ``days`` of ``today`` with
    auto-renew off: they expire on their end date (SPEC §5). Soonest first; one query.
    Read in end date order alone, the index's (as ``addons_outliving_base``): which of the
    subscriptions ending on one day make the limit is the index's choice."""
    today = today or timezone.localdate()
    ending = expiring(_item_rows(Subscription.objects.transacted_by(partner), partner), today=today, days=days)
    return sorted(ending.order_by("commitment_end_date")[:limit],
                  key=lambda subscription: (subscription.commitment_end_date, subscription.pk))


def expiring(subscriptions, *, today, days=RENEWAL_HORIZON_DAYS):
    """Of ``subscriptions``, those ``ending_without_auto_renew`` lists (the Subscriptions
    list's filter of the same name too)."""
    return subscriptions.licenses().filter(
        status=SubscriptionStatus.ACTIVE,
        auto_renew_enabled=False,
        commitment_end_date__gte=today,
        commitment_end_date__lte=today + datetime.timedelta(days=days),
    )
