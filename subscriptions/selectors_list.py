"""Reads behind the Subscriptions list, the subscription page and its action flyout.

Every function starts from a queryset scoped with ``Subscription.objects.transacted_by`` (the
caller passes it in or the function builds it): nothing here widens what a partner sees.
"""

from dataclasses import dataclass, field

from django.db.models import BooleanField, Case, F, Max, OuterRef, Q, Subquery, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal import permissions
from portal.models import AuditEvent
from subscriptions.models import AddonRemovalRequest, Subscription, SubscriptionStatus
from subscriptions.windows import can_cancel, cancellation_deadline, removal_request_deadline, seat_batches

LIVE_STATUSES = [SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED]

NOT_TRANSACTING_PARTNER = _(
    "%(partner)s transacts this subscription; you are its reseller of record and can only look at it."
)
STALE_FORM = _(
    "Nothing was changed: this subscription was changed after this form was shown to you (%(changes)s). Its "
    "current state is shown here; make your change again if you still need it."
)
CHANGED_WITHOUT_TRAIL = _("it was renewed, or changed by the operator")
ONE_CHANGE = _("%(field)s %(before)s → %(after)s")
# The audit snapshot's keys (lifecycle._snapshot and the upgrade's) as the user calls them.
CHANGE_LABELS = {
    "quantity": _("seats"),
    "status": _("status"),
    "autoRenewEnabled": _("auto-renew"),
    "commitmentEndDate": _("term end date"),
    "nextTerm": _("changes at renewal"),
    "friendlyName": _("friendly name"),
    "sku": _("offer"),
}


LIST_ROW_RELATED = ("customer", "partner", "reseller", "sku", "sku__product", "availability", "availability__sku")
# What a row of the list page shows (customer, reseller, SKU): on PostgreSQL, planning the
# seven joins above took ~8 ms of the page's ~10 ms row query.
PAGE_ROW_RELATED = ("customer", "reseller", "sku")


def list_queryset(partner):
    """The partner's subscriptions (transacted or as reseller of record) with what a list row
    shows joined in, and the row flags annotated: a page of rows costs one query."""
    return list_rows(Subscription.objects.transacted_by(partner))


def list_rows(queryset, related=LIST_ROW_RELATED):
    """``queryset`` (already scoped, filtered and ordered) as list rows: ``related`` rows
    joined in (default: all a row, the CSV export or a row action reads) and the row flags
    annotated. Count the queryset before this, not after: the joins and the flags' subquery
    would make a count read every row instead of one index."""
    return annotate_list_flags(queryset.select_related(*related))


def _live_bases(*, customer, partner, sku):
    """The live subscriptions of ``customer`` sold by ``partner`` whose SKU is one of
    ``sku``'s prerequisites: the bases an add-on depends on (values or ``OuterRef``s)."""
    return Subscription.objects.owned_by(partner).filter(customer=customer, status__in=LIVE_STATUSES, sku__addons=sku)


def _scheduled_end():
    """A base's end counting its scheduled alignment: the next term's custom end date when it
    renews (auto-renew on) with one, else the current term's end (issue 13, defect 3: after
    "Align … with it" the add-on no longer outlives its base)."""
    return Case(
        When(auto_renew_enabled=True, next_term_end_date__isnull=False, then=F("next_term_end_date")),
        default=F("commitment_end_date"),
    )


def annotate_list_flags(queryset):
    """Annotate ``base_end_date`` and ``outlives_base`` on each subscription, in SQL.

    ``base_end_date`` is the latest end date (counting a scheduled alignment of the next
    term, ``_scheduled_end``) among the live subscriptions of the same customer *sold by the same partner* whose SKU is one of this SKU's prerequisites
    (``sku__addons=OuterRef("sku")``). An active add-on that ends after it ``outlives_base``:
    the customer would keep paying for an add-on whose base is gone (SPEC §5). When the
    partner sold no such base, nothing is flagged: the base may come from another channel.
    """
    return queryset.annotate(base_end_date=base_end_date()).annotate(
        outlives_base=Case(
            When(
                Q(sku__is_addon=True, status=SubscriptionStatus.ACTIVE, base_end_date__isnull=False)
                & Q(commitment_end_date__gt=F("base_end_date")),
                then=Value(True),
            ),
            default=Value(False),
            output_field=BooleanField(),
        )
    )


def base_end_date():
    """The ``base_end_date`` of ``annotate_list_flags``, as an expression on subscription rows."""
    return Subquery(
        _live_bases(customer=OuterRef("customer"), partner=OuterRef("partner"), sku=OuterRef("sku"))
        .order_by()
        .values("customer")
        .annotate(latest=Max(_scheduled_end()))
        .values("latest")[:1]
    )


def latest_base_of(addon):
    """The live base subscription (same customer, same partner, a prerequisite SKU) that ends
    last: the one to align with an add-on that outlives its bases (SPEC §5: "existing
    subscriptions can be aligned with an add-on subscription"). None when there is none."""
    return (
        _live_bases(customer=addon.customer_id, partner=addon.partner_id, sku=addon.sku_id)
        .select_related("sku")
        .annotate(scheduled_end=_scheduled_end())
        .order_by("-scheduled_end", "pk")
        .first()
    )


def subscription_for_request(request, subscription_id):
    """One subscription of the request's partner, annotated like a list row, or ``None``.
    The caller turns ``None`` into a 404 (another partner's id must not leak)."""
    return list_queryset(request.partner).filter(pk=subscription_id).first()


def action_denial(request, subscription):
    """Why the request's user may not change ``subscription`` ('' when they may).

    Changing needs ``permissions.BUY`` (an indirect reseller's user is told to ask the
    provider by name) and being the transacting partner: a reseller of record only looks."""
    membership = request.membership
    if not permissions.can(membership, permissions.BUY):
        return str(permissions.denial_reason(membership, permissions.BUY))
    if subscription.partner_id != request.partner.pk:
        return str(NOT_TRANSACTING_PARTNER % {"partner": subscription.partner.name})
    return ""


@dataclass
class SeatWindows:
    """What the seat history says about reductions right now."""

    open_batches: list = field(default_factory=list)  # still reducible, soonest deadline first
    closed_batches: list = field(default_factory=list)  # seats whose 168 hours have passed
    refundable: int = 0

    @property
    def closed_deadlines(self):
        return sorted({b.allowed_until for b in self.closed_batches})


def seat_windows(subscription, seat_changes, now=None):
    """Split the current term's seat batches into still-reducible and closed ones, from an
    already fetched seat history (oldest first), so callers spend no extra query."""
    now = now or timezone.now()
    batches = seat_batches(seat_changes)
    open_batches = sorted((b for b in batches if b.allowed_until >= now), key=lambda b: b.allowed_until)
    closed = sorted((b for b in batches if b.allowed_until < now), key=lambda b: b.allowed_until)
    return SeatWindows(open_batches, closed, sum(b.quantity for b in open_batches))


def lowest_allowed_quantity(subscription, windows):
    """The smallest total the seats may be set to now: the SKU minimum, or what stays once
    every still-reducible seat is removed, whichever is higher."""
    return max(subscription.sku.min_quantity, 1, subscription.quantity - windows.refundable)


def removable_seats(subscription, windows):
    """How many seats can be removed now, with a refund: the seats inside their 168-hour
    window, less those the SKU minimum keeps. The subscription page and the seat flyout
    both say this number (issue 13 defect 5: they said 5 and 4)."""
    return subscription.quantity - lowest_allowed_quantity(subscription, windows)


def cancellation_state(subscription, now=None):
    """``(allowed, deadline)``: whether cancelling is possible now, and until when it was or is."""
    now = now or timezone.now()
    return can_cancel(subscription, now), cancellation_deadline(subscription)


def next_term_choices(subscription):
    """The ``(term, billing cycle)`` pairs the subscription's availability sells (or, without
    one, the SKU's): the next-term form's choices, as the service checks them."""
    if subscription.availability_id and subscription.availability.terms:
        return [(t.get("termDuration"), t.get("billingCycle")) for t in subscription.availability.terms]
    return [(t, c) for t in subscription.sku.supported_terms for c in subscription.sku.supported_billing_cycles]


# What the audit trail calls each action and each recorded field (issue 13, defect 8: people's
# words, not the snapshot's keys). An action or field missing here is shown as recorded.
ACTION_LABELS = {
    "subscription.create": _("Bought"),
    "subscription.quantity": _("Seats changed"),
    "subscription.cancel": _("Cancelled"),
    "subscription.status": _("Status changed"),
    "subscription.auto_renew": _("Auto-renew changed"),
    "subscription.friendly_name": _("Renamed"),
    "subscription.schedule_next_term": _("Changes at renewal scheduled"),
    "subscription.align": _("End date aligned"),
    "subscription.upgrade": _("Upgraded"),
    "subscription.removal_request": _("Removal of the redundant add-on requested"),
    "subscription.removal_completed": _("Removed by support, with a credit"),
    "subscription.removal_rejected": _("Removal request rejected by support"),
    "admin.add": _("Added by the operator"),
    "admin.change": _("Changed by the operator"),
}
TRAIL_FIELD_LABELS = {
    **CHANGE_LABELS,
    "unitPrice": _("unit price"),
    "deadline": _("removal deadline"),
    "upgradedSubscription": _("upgrade to"),
    "redundantAddons": _("add-ons made redundant"),
    "refund": _("refund"),
    "credit": _("credit"),
    "note": _("note"),
}
# Fields naming other subscriptions by id: shown as their names, linked.
SUBSCRIPTION_REFERENCES = ("upgradedSubscription", "redundantAddons")
TRAIL_HIDDEN_FIELDS = ("version",)


@dataclass
class TrailValue:
    text: str
    url: str = ""


def _trail_values(key, value, names):
    if key in SUBSCRIPTION_REFERENCES and value not in (None, ""):
        ids = value if isinstance(value, list) else [value]
        # Another partner's subscription (or a deleted one) is named by its offer only, unlinked.
        return [
            TrailValue(names[str(pk)][0], reverse("subscriptions:subscription_detail", args=[pk]))
            if str(pk) in names else TrailValue(str(_("another partner's subscription")))
            for pk in ids
        ]
    return [TrailValue(str(_change_value(key, value)))]


def audit_trail(partner, subscription, limit=50):
    """The partner's audit events about this subscription, newest first, each with
    ``label`` (the action in people's words) and ``changes``: the ``(field, before, after)``
    that differ (the rest is noise on a page), the field a label and the values lists of
    ``TrailValue`` (a subscription id becomes its name and link). Two queries."""
    events = list(
        AuditEvent.objects.owned_by(partner)
        .filter(object_type=Subscription._meta.label, object_id=str(subscription.pk))[:limit]
    )
    referenced = set()
    for event in events:
        for snapshot in (event.before, event.after):
            for key in SUBSCRIPTION_REFERENCES:
                value = snapshot.get(key) if isinstance(snapshot, dict) else None
                referenced.update(str(pk) for pk in (value if isinstance(value, list) else [value]) if pk)
    names = {
        str(pk): (friendly or title, pk)
        for pk, friendly, title in Subscription.objects.transacted_by(partner)
        .filter(pk__in=referenced)
        .values_list("pk", "friendly_name", "sku__title")
    } if referenced else {}
    for event in events:
        before = event.before if isinstance(event.before, dict) else {}
        after = event.after if isinstance(event.after, dict) else {}
        event.label = ACTION_LABELS.get(event.action, event.action)
        event.changes = [
            (TRAIL_FIELD_LABELS.get(key, key), _trail_values(key, before.get(key), names),
             _trail_values(key, after.get(key), names))
            for key in dict.fromkeys([*before, *after])
            if key not in TRAIL_HIDDEN_FIELDS and before.get(key) != after.get(key)
        ]
    return events


def _change_value(key, value):
    if value is None or value == "":
        return _("none")
    if key == "autoRenewEnabled":
        return _("on") if value else _("off")
    if key == "status" and value in SubscriptionStatus.values:
        return SubscriptionStatus(value).label.lower()
    if key == "nextTerm":
        return _("scheduled")
    return str(value)


def stale_form_message(partner, subscription, seen_version):
    """What a change form rendered at ``seen_version`` tells its user when the subscription
    has changed since: each field that differs, from the partner's audit trail of the
    changes made after that version (``seats 10 → 4``)."""
    events = (
        AuditEvent.objects.owned_by(partner)
        .filter(object_type=Subscription._meta.label, object_id=str(subscription.pk))
        .order_by("occurred_at", "id")
    )
    first_before, last_after = {}, {}
    for event in events:
        after = event.after if isinstance(event.after, dict) else {}
        if not isinstance(after.get("version"), int) or after["version"] <= seen_version:
            continue
        before = event.before if isinstance(event.before, dict) else {}
        for key in CHANGE_LABELS:
            if key in before or key in after:
                first_before.setdefault(key, before.get(key))
                last_after[key] = after.get(key, first_before[key])
    described = [
        str(ONE_CHANGE % {
            "field": CHANGE_LABELS[key],
            "before": _change_value(key, first_before[key]),
            "after": _change_value(key, last_after[key]),
        })
        for key in CHANGE_LABELS
        if key in last_after and first_before[key] != last_after[key]
    ]
    return STALE_FORM % {"changes": "; ".join(described) or CHANGED_WITHOUT_TRAIL}


def removal_state(partner, subscription, today=None):
    """What the page and the subscription page say about removing a redundant add-on:
    the upgraded base (``None`` when the partner cannot see it), the deadline, whether it
    has passed, and the request already raised, if any. ``None`` when not redundant."""
    if subscription.redundant_since is None or subscription.made_redundant_by_id is None:
        return None
    today = today or timezone.localdate()
    deadline = removal_request_deadline(subscription)
    base = Subscription.objects.transacted_by(partner).select_related("sku").filter(pk=subscription.made_redundant_by_id).first()
    request = AddonRemovalRequest.objects.transacted_by(partner).filter(subscription=subscription).first()
    return {
        "base": base,
        "base_name": (base.friendly_name or base.sku.title) if base else subscription.made_redundant_by.sku.title,
        "upgraded_to": base.sku.title if base else subscription.made_redundant_by.sku.title,
        "since": subscription.redundant_since,
        "deadline": deadline,
        "passed": deadline is not None and today > deadline,
        "request": request,
    }
