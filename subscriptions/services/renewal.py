"""The end of a subscription's term (SPEC §5): renewal into the next term (the scheduled
changes applied, priced afresh from the price list in force) or expiry, in bulk for the
renewal task (``renew_subscriptions`` command, ``subscriptions/tasks.py``).
"""

from collections import defaultdict
from datetime import datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from catalog.models import Availability, TenantLicense
from portal.models import Customer
from subscriptions.models import ChargeEvent, ChargeType, SeatChange, SeatChangeKind, Subscription, SubscriptionStatus
from subscriptions.periods import CYCLE_MONTHS, billing_period, days_inclusive, prorate, term_end
from subscriptions.prices import prices_in_force
from subscriptions.services.charge_events import _drop_scheduled_changes, event_terms
from subscriptions.windows import window

PRICE_PLACES = Decimal("0.000001")


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
