"""Reads of the overage app: what the Manage overage button, flyout, Azure plan page and
transfer page show to the current member (SPEC §2, §6, §7).

``billing`` is a higher app: the customer's communication-credit account is read through the
reverse relation ``customer.credit_account`` only.
"""

from dataclasses import dataclass, field

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from overage.models import (
    AzureSubscription,
    OverageAssignment,
    OverageService,
    OverageSetting,
    OverageTransfer,
)
from overage.services import AUTO_RECHARGE_WARNING, overage_capable_subscriptions
from portal import permissions

MANAGED_BY_ANOTHER_PARTNER = _("Overage is managed by another partner.")
NO_OVERAGE_CAPABLE = _("You have no overage-capable subscription for this customer.")


@dataclass
class OverageState:
    """Everything the overage UI shows for one customer to one member."""

    customer: object
    partner: object
    setting: object = None
    open_assignment: object = None
    last_assignment: object = None
    capable: bool = False
    owned_by_other: bool = False
    may_take_over: bool = False
    can_manage: bool = False
    denial: str = ""
    credit_warning: str = ""
    transfer: object = None
    reseller: object = None
    azure_subscriptions: list = field(default_factory=list)

    @property
    def show_button(self):
        """The button shows for partners with overage-capable subscriptions, unless another
        partner owns the setting (then only that fact is said)."""
        return self.capable and (not self.owned_by_other or self.may_take_over)

    @property
    def enabled(self):
        return bool(self.setting and self.setting.enabled and not self.owned_by_other)

    @property
    def current_azure_subscription(self):
        if self.setting is not None and self.setting.enabled and not self.owned_by_other:
            return self.setting.azure_subscription
        return None

    @property
    def seen(self):
        """The Azure subscription id the member sees now (the service's ``seen=`` guard)."""
        current = self.current_azure_subscription
        return str(current.pk) if current else ""


def overage_setting(customer):
    return (
        OverageSetting.objects.select_related("owner", "reseller", "azure_subscription")
        .filter(customer=customer, service=OverageService.PHONE_SERVICES)
        .first()
    )


def acting_reseller(*, customer, partner):
    """The reseller of record an indirect provider acts for on this customer (or None)."""
    relationship = customer.relationships.filter(partner=partner).select_related("reseller").first()
    return relationship.reseller if relationship else None


def pending_transfer(*, customer, partner):
    """The customer's open transfer agreement the partner is a party to."""
    return (
        OverageTransfer.objects.for_partner(partner)
        .select_related("from_partner", "to_partner")
        .filter(customer=customer, service=OverageService.PHONE_SERVICES, completed_at__isnull=True)
        .first()
    )


def credit_warning(customer):
    """The auto-recharge warning when the customer's credits refill themselves (post-paid
    overage would never start), else an empty string."""
    if not hasattr(customer, "credit_account"):
        return ""
    account = getattr(customer, "credit_account", None)
    if account is None or not account.auto_recharge:
        return ""
    return str(AUTO_RECHARGE_WARNING % {"threshold": account.threshold, "currency": account.currency})


def overage_state(*, customer, membership, with_choices=False):
    """The overage state of ``customer`` as ``membership`` may see and change it.

    Another partner's setting is described only as "managed by another partner" (its owner
    and Azure subscription are that partner's business). A member may change it when the
    role table allows (admin agent, global admin of a transacting partner), the partner has
    an overage-capable subscription for the customer and owns the setting (or none exists,
    or a fully agreed transfer names it and the owner has set None).
    """
    partner = membership.partner
    setting = overage_setting(customer)
    state = OverageState(customer=customer, partner=partner, setting=setting)
    state.capable = overage_capable_subscriptions(customer=customer, partner=partner).exists()
    if setting is not None:
        ours = partner.pk in (setting.owner_id, setting.reseller_id)
        state.owned_by_other = not ours
    state.transfer = pending_transfer(customer=customer, partner=partner)
    if (
        state.owned_by_other
        and state.transfer is not None
        and state.transfer.to_partner_id == partner.pk
        and state.transfer.fully_agreed
        and not setting.enabled
    ):
        state.may_take_over = True

    if not state.owned_by_other:
        intervals = OverageAssignment.objects.filter(customer=customer, service=OverageService.PHONE_SERVICES)
        intervals = intervals.select_related("azure_subscription", "started_by", "ended_by", "partner")
        state.open_assignment = intervals.filter(ended_at__isnull=True).first()
        if state.open_assignment is None:
            state.last_assignment = intervals.order_by("-ended_at").first()

    if not permissions.can(membership, permissions.MANAGE_OVERAGE):
        state.denial = str(permissions.denial_reason(membership, permissions.MANAGE_OVERAGE))
    elif not state.capable:
        state.denial = str(NO_OVERAGE_CAPABLE)
    elif state.owned_by_other and not state.may_take_over:
        state.denial = str(MANAGED_BY_ANOTHER_PARTNER)
    state.can_manage = not state.denial

    if partner.transacts:
        state.reseller = acting_reseller(customer=customer, partner=partner)
    if state.capable and not state.owned_by_other:
        state.credit_warning = credit_warning(customer)
    if with_choices:
        state.azure_subscriptions = list(
            AzureSubscription.objects.for_partner(partner).active().filter(plan__customer=customer).order_by("number")
        )
    return state


def overage_history(*, customer, partner):
    """The intervals during which the partner (as transacting partner or reseller of record)
    held the customer's overage, newest first."""
    return (
        OverageAssignment.objects.filter(customer=customer)
        .filter(Q(partner=partner) | Q(reseller=partner))
        .select_related("azure_subscription", "partner", "reseller", "started_by", "ended_by")
        .order_by("-started_at")
    )
