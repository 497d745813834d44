"""Term alignment (coterminosity) of existing subscriptions, upgrades, and the removal of
add-ons an upgrade made redundant (SPEC §5). Callers are permitted users of the
transacting partner (``permissions.BUY``). ``version`` is checked as in ``lifecycle``: the
same change twice is one change, a change decided on an old version is refused."""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from portal.errors import ErrorCode
from portal.services import audit_record
from subscriptions.models import (
    REMOVAL_REQUEST_TRANSITIONS,
    AddonRemovalRequest,
    ChargeType,
    RemovalRequestStatus,
    SeatChange,
    SeatChangeKind,
    SubscriptionStatus,
)
from subscriptions.periods import days_inclusive, prorate, trunc2
from subscriptions.selectors import allowed_custom_term_end_dates
from subscriptions.selectors_quote import upgrade_quote
from subscriptions.services.charge_events import _charge, _drop_scheduled_changes
from subscriptions.services.lifecycle import (
    SubscriptionError,
    _check_version,
    changing,
    _lock,
    _require_live,
    _snapshot,
    _transition,
)
from subscriptions.services.renewal import renewal_start
from subscriptions.windows import removal_request_deadline

END_DATE_NOT_ALLOWED = _("%(date)s is not an allowed end date for this subscription. Choose one from the list.")
ALIGN_NEEDS_AUTO_RENEW = _("Aligning the end date applies from the next term, so it needs auto-renew to be on.")
NOT_AN_UPGRADE_TARGET = _("%(target)s is not an upgrade of %(source)s.")
NO_PRICE_FOR_TARGET = _("There is no price for %(target)s in the %(market)s market for this term and billing cycle.")
NOT_REDUNDANT = _("Only an add-on made redundant by an upgrade can be removed through a support request.")
REMOVAL_DEADLINE_PASSED = _(
    "The removal request had to be raised by %(deadline)s: within the first two billing cycles after the "
    "upgraded license was first billed."
)
REMOVAL_ALREADY_RAISED = _("A removal request was already raised for this add-on.")
REMOVAL_ALREADY_DECIDED = _("This removal request was already %(status)s.")


def allowed_alignment_dates(subscription):
    """The end dates the subscription's next term may be aligned to: month ends, or the end
    dates of the customer's other active subscriptions sold by the same partner (never a
    monthly one for an annual or triennial term)."""
    items = allowed_custom_term_end_dates(
        customer=subscription.customer,
        partner=subscription.partner,
        term_duration=subscription.next_term_duration or subscription.term_duration,
        start_date=renewal_start(subscription),
    )
    for item in items:
        item["cotermSubscriptionIds"] = [i for i in item.get("cotermSubscriptionIds", []) if str(i) != str(subscription.pk)]
    return [i for i in items if i["allowedCustomTermEndDateType"] != "subscriptionAligned" or i["cotermSubscriptionIds"]]


@transaction.atomic
def subscription_align_end_date(*, subscription, end_date, acting_user, version=None, request_id=""):
    """Align the subscription's end date from its next term onwards (Partner Center's
    ``scheduledNextTermInstructions.customTermEndDate``): the renewal then runs to
    ``end_date`` with a prorated first period. ``end_date=None`` removes the alignment."""
    subscription = _lock(subscription)
    _require_live(subscription)
    if end_date == subscription.next_term_end_date:
        return subscription
    with changing(
        subscription, version=version, acting_user=acting_user, action="subscription.align", request_id=request_id
    ):
        if not subscription.auto_renew_enabled:
            raise SubscriptionError(ErrorCode.INVALID_INPUT, ALIGN_NEEDS_AUTO_RENEW)
        if end_date is not None:
            allowed = {item["allowedCustomTermEndDate"] for item in allowed_alignment_dates(subscription)}
            if end_date not in allowed:
                raise SubscriptionError(
                    ErrorCode.INVALID_CUSTOM_TERM_END_DATE, END_DATE_NOT_ALLOWED, params={"date": end_date}
                )
        subscription.next_term_end_date = end_date
        subscription.save()
    return subscription


def _upgrade_snapshot(subscription):
    return _snapshot(subscription) | {"sku": subscription.sku.code, "unitPrice": subscription.unit_price}


@transaction.atomic
def subscription_upgrade(*, subscription, target_sku, acting_user, version=None, request_id=""):
    """Move a base subscription to one of its SKU's ``upgradeTargetOffers`` now. The price
    difference for the rest of the current billing period is charged by day (``convert``);
    the window of the source is kept. Add-ons whose services the new SKU includes are
    flagged redundant. Both come from ``upgrade_quote``, as the upgrade page shows them. Returns ``(subscription, redundant add-ons)``; an upgrade to the SKU
    the subscription already has changes nothing."""
    subscription = _lock(subscription)
    _require_live(subscription)
    if subscription.sku_id == target_sku.pk:
        return subscription, []
    with changing(
        subscription,
        version=version,
        acting_user=acting_user,
        action="subscription.upgrade",
        request_id=request_id,
        snapshot=_upgrade_snapshot,
    ) as extra:
        _check_upgrade(subscription, target_sku)
        now = timezone.now()
        quote = _priced_quote(subscription, target_sku, today=timezone.localdate())
        _move_to_sku(subscription, target_sku, quote.price)
        _charge(
            subscription, charge_type=ChargeType.CONVERT, quantity=subscription.quantity, amount=quote.charge,
            first=quote.charge_start, last=quote.charge_end, now=now,
        )
        SeatChange.objects.create(
            subscription=subscription,
            kind=SeatChangeKind.CONVERT,
            delta=0,
            quantity_after=subscription.quantity,
            occurred_at=now,
            actor=acting_user,
        )
        made_redundant = quote.redundant
        _mark_redundant(made_redundant, by=subscription, now=now)
        extra["redundantAddons"] = [a.pk for a in made_redundant]
    return subscription, made_redundant


def _check_upgrade(subscription, target_sku):
    """Only an active subscription moves, and only to one of its SKU's upgrade targets."""
    if subscription.status != SubscriptionStatus.ACTIVE:
        raise SubscriptionError(ErrorCode.INVALID_INPUT, _("Only an active subscription can be upgraded."))
    source_sku = subscription.sku
    if not source_sku.upgrade_targets.filter(pk=target_sku.pk).exists():
        raise SubscriptionError(
            ErrorCode.INVALID_INPUT, NOT_AN_UPGRADE_TARGET % {"target": target_sku.title, "source": source_sku.title}
        )


def _priced_quote(subscription, target_sku, *, today):
    """The upgrade's quote (what the upgrade page shows), refused when the market has no price."""
    quote = upgrade_quote(subscription, target_sku, at=today)
    if quote.price is None:
        market = subscription.customer.country
        raise SubscriptionError(ErrorCode.INVALID_INPUT, NO_PRICE_FOR_TARGET, params={"target": target_sku.title, "market": market})
    return quote


def _move_to_sku(subscription, target_sku, price):
    """The subscription (and its tenant license) on the target SKU at its price; saved."""
    target_availability = next(
        (a for a in target_sku.availabilities.all() if a.supports(subscription.term_duration, subscription.billing_cycle)),
        None,
    )
    subscription.sku = target_sku
    subscription.availability = target_availability
    subscription.unit_price = price.unit_price
    subscription.currency = price.currency
    subscription.consumption_type = target_sku.consumption_type
    _drop_scheduled_changes(subscription)
    subscription.save()
    if subscription.license_id:
        subscription.license.sku = target_sku
        subscription.license.save(update_fields=["sku"])


def _mark_redundant(addons, *, by, now):
    for addon in addons:
        addon.redundant_since = now
        addon.made_redundant_by = by
        addon.save(update_fields=["redundant_since", "made_redundant_by", "updated_at"])


@transaction.atomic
def addon_removal_request_raise(*, subscription, acting_user, version=None, request_id=""):
    """Raise the support request to remove a redundant add-on with a refund. Accepted only
    until ``removal_request_deadline``."""
    subscription = _lock(subscription)
    if AddonRemovalRequest.objects.filter(subscription=subscription).exists():
        raise SubscriptionError(ErrorCode.INVALID_INPUT, REMOVAL_ALREADY_RAISED, status=409)
    _check_version(subscription, version)
    if subscription.redundant_since is None or subscription.made_redundant_by_id is None:
        raise SubscriptionError(ErrorCode.INVALID_INPUT, NOT_REDUNDANT)
    deadline = removal_request_deadline(subscription)
    if timezone.localdate() > deadline:
        raise SubscriptionError(ErrorCode.INVALID_INPUT, REMOVAL_DEADLINE_PASSED, params={"deadline": deadline})
    request = AddonRemovalRequest.objects.create(
        subscription=subscription,
        upgraded_subscription=subscription.made_redundant_by,
        deadline=deadline,
        raised_by=acting_user,
    )
    audit_record(
        actor=acting_user,
        partner=subscription.partner,
        action="subscription.removal_request",
        obj=subscription,
        after={"deadline": deadline, "upgradedSubscription": subscription.made_redundant_by_id},
        request_id=request_id,
    )
    return request



_lower_lazy = lazy(lambda text: str(text).lower(), str)


def _decide(removal_request, status):
    """The locked request, moved to ``status`` along ``REMOVAL_REQUEST_TRANSITIONS``."""
    removal_request = AddonRemovalRequest.objects.select_for_update().get(pk=removal_request.pk)
    if status not in REMOVAL_REQUEST_TRANSITIONS.get(RemovalRequestStatus(removal_request.status), set()):
        raise SubscriptionError(
            ErrorCode.INVALID_INPUT, REMOVAL_ALREADY_DECIDED, status=409,
            # Lazy: the description is formatted when read, English in the API, the user's language in pages.
            params={"status": _lower_lazy(RemovalRequestStatus(removal_request.status).label)},
        )
    removal_request.status = status
    return removal_request


def redundancy_credit(addon, *, today=None):
    """What the customer paid for the add-on from the day it became redundant: the part of
    every charge after that day, by day (SPEC §5: removed "and refunded")."""
    since = timezone.localdate(addon.redundant_since)
    credit, last = Decimal("0.00"), today or timezone.localdate()
    for event in addon.charge_events.filter(charge_end__gte=since).exclude(charge_type=ChargeType.CANCEL_IMMEDIATE):
        start = max(event.charge_start, since)
        credit += prorate(event.amount, days_inclusive(start, event.charge_end), days_inclusive(event.charge_start, event.charge_end))
        last = max(last, event.charge_end)
    return trunc2(credit), since, last


@transaction.atomic
def addon_removal_request_complete(*, removal_request, acting_user, note="", request_id=""):
    """Staff grant the request: the add-on is removed (deleted, outside the 168-hour window)
    and credited what was charged for it since it became redundant; recorded and audited."""
    removal_request = _decide(removal_request, RemovalRequestStatus.COMPLETED)
    addon = _lock(removal_request.subscription)
    now = timezone.now()
    before = _snapshot(addon)
    credit, since, last = redundancy_credit(addon)
    if addon.status not in (SubscriptionStatus.DELETED, SubscriptionStatus.EXPIRED):
        _charge(addon, charge_type=ChargeType.CANCEL_IMMEDIATE, quantity=-addon.quantity, amount=-credit,
                first=since, last=last, now=now)
        SeatChange.objects.create(subscription=addon, kind=SeatChangeKind.CANCEL, delta=-addon.quantity,
                                  quantity_after=addon.quantity, occurred_at=now, actor=acting_user)
        _transition(addon, SubscriptionStatus.DELETED)
        addon.auto_renew_enabled = False
        _drop_scheduled_changes(addon)
        addon.save()
        if addon.license_id:
            addon.license.is_active = False
            addon.license.save(update_fields=["is_active"])
    else:
        credit = Decimal("0.00")  # already ended: nothing left to remove or credit
    removal_request.resolved_by, removal_request.resolved_at = acting_user, now
    removal_request.credit, removal_request.note = credit, note
    removal_request.save()
    audit_record(
        actor=acting_user,
        partner=addon.partner,
        action="subscription.removal_completed",
        obj=addon,
        before=before,
        after=_snapshot(addon) | {"credit": credit, "note": note},
        request_id=request_id,
    )
    return removal_request


@transaction.atomic
def addon_removal_request_reject(*, removal_request, acting_user, note="", request_id=""):
    """Staff refuse the request, with a note the partner reads; the add-on stays."""
    removal_request = _decide(removal_request, RemovalRequestStatus.REJECTED)
    removal_request.resolved_by, removal_request.resolved_at = acting_user, timezone.now()
    removal_request.note = note
    removal_request.save()
    audit_record(
        actor=acting_user,
        partner=removal_request.subscription.partner,
        action="subscription.removal_rejected",
        obj=removal_request.subscription,
        after={"note": note},
        request_id=request_id,
    )
    return removal_request
