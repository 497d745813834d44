"""Writes of the overage app: Azure plans and subscriptions, the customer's overage setting
(PhoneServices) and the transfer of its ownership between partners (SPEC §6, §7).

Callers check the role first (``permissions.MANAGE_OVERAGE`` / ``AZURE_CREATE``); these
functions enforce everything else, in the order Partner Center's Update overage answers:
409 another partner owns it, 400 no overage-capable subscription, 400 legacy Azure, 400
sandbox without Azure-plan access, 400 a bad Azure subscription. Every change locks the
customer row, so two partners or a double click end with one owner and one open interval.
"""

import uuid

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.models import AZURE_PLAN_PRODUCT_ID, Sku
from overage.models import (
    AzurePlan,
    AzureSubscription,
    AzureSubscriptionStatus,
    OverageAssignment,
    OverageService,
    OverageSetting,
    OverageTransfer,
)
from overage.rules import azure_create_refusal, overage_capable_subscriptions
from portal.errors import RESELLER_NOT_LINKED, ErrorCode, PortalError
from portal.models import Customer
from portal.services import audit_record
from subscriptions.models import Subscription, SubscriptionStatus
from subscriptions.periods import term_end

# Texts users see; tests import them.
OWNED_BY_ANOTHER_PARTNER = _(
    "Overage for this customer is managed by another partner. The customer and both partners must agree to "
    "move it, and the current partner must set it to None first."
)
NO_OVERAGE_SUBSCRIPTION = _(
    "The customer has no overage-capable subscription from you. Buy an SKU that includes overage first."
)
AZURE_SUBSCRIPTION_MALFORMED = _("azureEntitlementId %(value)s is not a valid GUID.")
AZURE_SUBSCRIPTION_UNKNOWN = _("Azure subscription %(value)s was not found.")
AZURE_SUBSCRIPTION_NOT_ACTIVE = _("Azure subscription %(value)s is not active (it is %(status)s).")
AZURE_SUBSCRIPTION_OTHER_CUSTOMER = _("Azure subscription %(value)s does not belong to this customer.")
AZURE_SUBSCRIPTION_REQUIRED = _("Choose an Azure subscription, or Create new, to enable overage.")
NOT_TRANSACTING = _("Indirect resellers cannot manage overage: their indirect provider does it for them.")
TRANSFER_NOT_OWNER = _("Only the partner that owns the overage setting can agree to give it away.")
TRANSFER_SAME_PARTNER = _("Overage cannot be transferred to the partner that already owns it.")
TRANSFER_PENDING = _("A transfer of this customer's overage is already pending.")

CHANGED_MEANWHILE = _(
    "The overage setting changed while you were looking at it (perhaps a second click). Reopen Manage overage "
    "to see where it stands now."
)

CREATE_NEW = "new"
UNSET = object()


class OverageError(PortalError):
    """A refused overage change: Partner Center-style code, description and HTTP status."""


def _lock_customer(customer):
    return Customer.objects.select_for_update().get(pk=customer.pk)


def _check_can_create_azure(*, customer, partner):
    refusal = azure_create_refusal(customer=customer, partner=partner)
    if refusal:
        raise OverageError(ErrorCode.INVALID_INPUT, refusal)


@transaction.atomic
def azure_plan_create(*, customer, partner, acting_user, request_id=""):
    """Create the customer's no-cost Azure plan (DZH318Z0BPS6) when it has none, listed
    among its subscriptions. Refused for legacy-Azure customers and sandbox partners
    without Azure-plan access. Returns the plan (existing or new).

    The customer row is locked before looking: two partners creating the plan at once queue
    up, and the second finds the first one's plan and uses it (one plan per customer)."""
    customer = _lock_customer(customer)
    existing = AzurePlan.objects.filter(customer=customer).first()
    if existing:
        return existing
    _check_can_create_azure(customer=customer, partner=partner)
    plan_subscription = None
    sku = Sku.objects.filter(product_id=AZURE_PLAN_PRODUCT_ID).order_by("sku_id").first()
    now = timezone.now()
    if sku is not None:
        today = timezone.localdate()
        relationship = customer.relationships.owned_by(partner).select_related("reseller").first()
        plan_subscription = Subscription.objects.create(
            customer=customer,
            partner=partner,
            reseller=relationship.reseller if relationship else None,
            sku=sku,
            availability=sku.availabilities.first(),
            friendly_name=str(_("Microsoft Azure plan")),
            quantity=1,
            term_duration="P1Y",
            billing_cycle="monthly",
            start_date=today,
            commitment_end_date=term_end(today, "P1Y"),
            auto_renew_enabled=False,
            currency=customer.currency,
            purchased_at=now,
            term_started_at=now,
        )
    plan = AzurePlan.objects.create(customer=customer, partner=partner, subscription=plan_subscription)
    audit_record(actor=acting_user, partner=partner, action="azure_plan.create", obj=plan, after={"customer": customer.tenant_id}, request_id=request_id)
    return plan


@transaction.atomic
def azure_subscription_create(*, plan, acting_user, partner, dedicated_to_overage=False, request_id=""):
    """Add an Azure subscription of ``partner`` to the customer's plan, named
    ``Subscription N`` (the next number of the plan)."""
    plan = AzurePlan.objects.select_for_update().get(pk=plan.pk)
    number = (plan.azure_subscriptions.aggregate(n=Max("number"))["n"] or 0) + 1
    azure_subscription = AzureSubscription.objects.create(
        plan=plan,
        partner=partner,
        number=number,
        friendly_name=f"Subscription {number}",
        dedicated_to_overage=dedicated_to_overage,
        created_by=acting_user if acting_user is not None and acting_user.pk else None,
    )
    audit_record(
        actor=acting_user,
        partner=partner,
        customer=plan.customer,
        action="azure_subscription.create",
        obj=azure_subscription,
        after={"friendlyName": azure_subscription.friendly_name},
        request_id=request_id,
    )
    return azure_subscription


def _resolve_azure_subscription(*, customer, partner, value):
    """The Azure subscription named by ``value`` (a GUID or an AzureSubscription), checked to
    be well-formed, known, the customer's, the partner's own and active. Another partner's
    Azure subscription is "not found": its existence is that partner's business."""
    if isinstance(value, AzureSubscription):
        candidate = value
    else:
        try:
            guid = uuid.UUID(str(value))
        except (ValueError, TypeError, AttributeError):
            raise OverageError(ErrorCode.INVALID_INPUT, AZURE_SUBSCRIPTION_MALFORMED, params={"value": value}) from None
        candidate = AzureSubscription.objects.select_related("plan").filter(pk=guid).first()
        if candidate is None:
            raise OverageError(ErrorCode.INVALID_INPUT, AZURE_SUBSCRIPTION_UNKNOWN, params={"value": value})
    if candidate.plan.customer_id != customer.pk:
        raise OverageError(ErrorCode.INVALID_INPUT, AZURE_SUBSCRIPTION_OTHER_CUSTOMER, params={"value": candidate.pk})
    if candidate.partner_id != partner.pk:
        raise OverageError(ErrorCode.INVALID_INPUT, AZURE_SUBSCRIPTION_UNKNOWN, params={"value": candidate.pk})
    if candidate.status != AzureSubscriptionStatus.ACTIVE:
        raise OverageError(
            ErrorCode.INVALID_INPUT,
            AZURE_SUBSCRIPTION_NOT_ACTIVE, params={"value": candidate.pk, "status": candidate.get_status_display().lower()},
        )
    return candidate


def _agreed_transfer(*, customer, to_partner):
    return (
        OverageTransfer.objects.select_for_update()
        .filter(customer=customer, service=OverageService.PHONE_SERVICES, to_partner=to_partner, completed_at__isnull=True)
        .exclude(customer_agreed_at=None)
        .exclude(from_partner_agreed_at=None)
        .exclude(to_partner_agreed_at=None)
        .first()
    )


def _snapshot(setting):
    if setting is None:
        return None
    return {
        "owner": setting.owner.mpn_id,
        "overageEnabled": setting.enabled,
        "azureEntitlementId": setting.azure_subscription_id,
    }


def _locked_setting(customer):
    """The customer's PhoneServices setting, locked (``None`` before its first owner)."""
    return (
        OverageSetting.objects.select_for_update(of=("self",))
        .select_related("owner", "azure_subscription")
        .filter(customer=customer, service=OverageService.PHONE_SERVICES)
        .first()
    )


def _check_may_update(*, customer, partner, setting):
    """Refuse a partner that does not own the setting (unless a fully agreed transfer names it
    once the owner has set None) or that has no overage-capable subscription for the customer.
    Returns that agreed transfer, or ``None``."""
    transfer = None
    if setting is not None and setting.owner_id != partner.pk:
        transfer = None if setting.enabled else _agreed_transfer(customer=customer, to_partner=partner)
        if transfer is None:
            raise OverageError(ErrorCode.OVERAGE_OWNED_BY_ANOTHER_PARTNER, OWNED_BY_ANOTHER_PARTNER, status=409)
    if not overage_capable_subscriptions(customer=customer, partner=partner).exists():
        raise OverageError(ErrorCode.INVALID_INPUT, NO_OVERAGE_SUBSCRIPTION)
    return transfer


def _acting_reseller(*, customer, partner, setting, reseller):
    """The indirect reseller of the change: the one named, else the owner's current one; it
    must be linked to the customer through the partner."""
    if reseller is None and setting is not None and setting.owner_id == partner.pk:
        reseller = setting.reseller
    if reseller is not None and not customer.relationships.owned_by(partner).filter(reseller=reseller).exists():
        raise OverageError(ErrorCode.INVALID_INPUT, RESELLER_NOT_LINKED, params={"mpn": reseller.mpn_id})
    return reseller


def _chosen_azure_subscription(*, customer, partner, enabled, azure_subscription):
    """The existing Azure subscription overage goes to (``None`` when switching off or for
    ``CREATE_NEW``), after the Azure-plan checks."""
    if not enabled:
        return None
    _check_can_create_azure(customer=customer, partner=partner)
    if azure_subscription is None:
        raise OverageError(ErrorCode.INVALID_INPUT, AZURE_SUBSCRIPTION_REQUIRED)
    if azure_subscription == CREATE_NEW:
        return None
    return _resolve_azure_subscription(customer=customer, partner=partner, value=azure_subscription)


def _check_seen(setting, seen):
    """The Azure subscription overage goes to now (``None`` when off); refused when it is not
    the one the user saw (``seen``) while choosing."""
    current_id = setting.azure_subscription_id if setting is not None and setting.enabled else None
    if seen is not UNSET and str(seen or "") != str(current_id or ""):
        raise OverageError(ErrorCode.OVERAGE_OWNED_BY_ANOTHER_PARTNER, CHANGED_MEANWHILE, status=409)
    return current_id


def _save_setting(*, setting, customer, partner, transfer, reseller, enabled, target, now):
    """Write the setting (a new one owned by ``partner``; the owner changed by a completed
    transfer). Returns it."""
    if setting is None:
        setting = OverageSetting(customer=customer, service=OverageService.PHONE_SERVICES, owner=partner)
    if transfer is not None:
        setting.owner = partner
        transfer.completed_at = now
        transfer.save(update_fields=["completed_at"])
    setting.reseller = reseller
    setting.enabled = bool(enabled)
    setting.azure_subscription = target if enabled else None
    try:
        with transaction.atomic():
            setting.save()
    except IntegrityError:
        # Only possible if a concurrent first owner slipped past the customer lock (it cannot
        # on PostgreSQL); the loser gets the same answer as any later partner.
        raise OverageError(ErrorCode.OVERAGE_OWNED_BY_ANOTHER_PARTNER, OWNED_BY_ANOTHER_PARTNER, status=409) from None
    return setting


def _reassign(*, customer, partner, reseller, enabled, target, acting_user, now):
    """End the customer's open overage interval and, when switched on, open the new one."""
    actor = acting_user if acting_user is not None and acting_user.pk else None
    OverageAssignment.objects.filter(
        customer=customer, service=OverageService.PHONE_SERVICES, ended_at__isnull=True
    ).update(ended_at=now, ended_by=actor)
    if enabled:
        OverageAssignment.objects.create(
            customer=customer,
            service=OverageService.PHONE_SERVICES,
            partner=partner,
            reseller=reseller,
            azure_subscription=target,
            started_at=now,
            started_by=actor,
        )


@transaction.atomic
def overage_update(
    *, customer, partner, acting_user, enabled, azure_subscription=None, reseller=None, seen=UNSET, request_id=""
):
    """Switch the customer's overage on (to ``azure_subscription``: an AzureSubscription, its
    GUID, or ``CREATE_NEW``) or off (``enabled=False``, the flyout's *None*).

    ``partner`` is the transacting partner acting (the owner, or the first overage seller,
    or the partner a fully agreed transfer names once the owner has set None); ``reseller``
    is the indirect reseller an indirect provider acts for. ``seen`` is the Azure subscription
    id (or None) the user saw when choosing: if the setting has changed since, nothing is done
    and the caller is told so. Returns the setting. Repeating the same change changes
    nothing, so a double click makes one change."""
    if not partner.transacts:
        raise OverageError(ErrorCode.NOT_PERMITTED, NOT_TRANSACTING, status=403)
    customer = _lock_customer(customer)
    setting = _locked_setting(customer)
    transfer = _check_may_update(customer=customer, partner=partner, setting=setting)
    reseller = _acting_reseller(customer=customer, partner=partner, setting=setting, reseller=reseller)
    target = _chosen_azure_subscription(
        customer=customer, partner=partner, enabled=enabled, azure_subscription=azure_subscription
    )
    current_id = _check_seen(setting, seen)
    unchanged = (
        setting is not None
        and transfer is None
        and azure_subscription != CREATE_NEW
        and setting.enabled == bool(enabled)
        and current_id == (target.pk if target else None)
        and setting.reseller_id == (reseller.pk if reseller else None)
    )
    if unchanged:
        return setting
    before = _snapshot(setting)
    now = timezone.now()
    if enabled and target is None:
        plan = azure_plan_create(customer=customer, partner=partner, acting_user=acting_user, request_id=request_id)
        target = azure_subscription_create(
            plan=plan, acting_user=acting_user, partner=partner, dedicated_to_overage=True, request_id=request_id
        )
    setting = _save_setting(
        setting=setting, customer=customer, partner=partner, transfer=transfer, reseller=reseller,
        enabled=enabled, target=target, now=now,
    )
    _reassign(
        customer=customer, partner=partner, reseller=reseller, enabled=enabled, target=target,
        acting_user=acting_user, now=now,
    )
    audit_record(
        actor=acting_user,
        partner=partner,
        customer=customer,
        action="overage.update",
        obj=setting,
        before=before,
        after=_snapshot(setting),
        request_id=request_id,
    )
    return setting


@transaction.atomic
def overage_transfer_propose(*, customer, to_partner, acting_user, partner, request_id=""):
    """Record that the customer's overage should move from its owner to ``to_partner``.
    Each of the three parties then agrees (``overage_transfer_agree``)."""
    customer = _lock_customer(customer)
    setting = OverageSetting.objects.filter(customer=customer, service=OverageService.PHONE_SERVICES).first()
    if setting is None or setting.owner_id == to_partner.pk:
        raise OverageError(ErrorCode.INVALID_INPUT, TRANSFER_SAME_PARTNER)
    if OverageTransfer.objects.filter(customer=customer, completed_at__isnull=True).exists():
        raise OverageError(ErrorCode.INVALID_INPUT, TRANSFER_PENDING, status=409)
    transfer = OverageTransfer.objects.create(
        customer=customer, from_partner=setting.owner, to_partner=to_partner, recorded_by=acting_user
    )
    audit_record(actor=acting_user, partner=partner, customer=customer, action="overage.transfer.propose", obj=transfer,
                 after={"from": setting.owner.mpn_id, "to": to_partner.mpn_id}, request_id=request_id)
    return transfer


PARTIES = ("customer", "from_partner", "to_partner")


@transaction.atomic
def overage_transfer_agree(*, transfer, party, acting_user, partner=None, request_id=""):
    """Record one party's agreement. A partner agrees for itself; the customer's agreement
    is recorded by the operator's staff or by either partner on the customer's word."""
    transfer = OverageTransfer.objects.select_for_update().get(pk=transfer.pk)
    if party not in PARTIES:
        raise OverageError(ErrorCode.INVALID_INPUT, _("Unknown party."))
    if party == "from_partner" and partner is not None and partner.pk != transfer.from_partner_id:
        raise OverageError(ErrorCode.NOT_PERMITTED, TRANSFER_NOT_OWNER, status=403)
    if party == "to_partner" and partner is not None and partner.pk != transfer.to_partner_id:
        raise OverageError(ErrorCode.NOT_PERMITTED, _("Only the receiving partner can agree for itself."), status=403)
    field = f"{party}_agreed_at"
    if getattr(transfer, field) is None:
        setattr(transfer, field, timezone.now())
        transfer.save(update_fields=[field])
        audit_record(actor=acting_user, partner=partner, customer=transfer.customer, action=f"overage.transfer.agree.{party}",
                     obj=transfer, request_id=request_id)
    return transfer
