"""Reads of the overage app: what the Manage overage button, flyout, Azure plan page and
transfer page show to the current member (SPEC §2, §6, §7).

``billing`` is a higher app: the customer's communication-credit account is read through the
reverse relation ``customer.credit_account`` only.
"""

from dataclasses import dataclass, field
from functools import cached_property

from django.db.models import Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Concat
from django.utils.translation import gettext_lazy as _

from catalog.models import ConsumptionType
from overage.models import (
    AzureSubscription,
    OverageAssignment,
    OverageService,
    OverageSetting,
    OverageTransfer,
)
from overage.rules import AUTO_RECHARGE_WARNING, azure_create_refusal, overage_capable_subscriptions
from portal import permissions
from portal.formatting import format_money
from portal.models import Customer
from subscriptions.models import Subscription

MANAGED_BY_ANOTHER_PARTNER = _("Overage is managed by another partner.")
NO_OVERAGE_CAPABLE = _("You have no overage-capable subscription for this customer.")


@dataclass
class OverageState:
    """Everything the overage UI shows for one customer to one member.

    The setting and "overage-capable" are read up front (every badge and button needs
    them: one query, two when there is a setting); the transfer, the assignment intervals,
    the acting reseller and the credit warning are read when first used, so a badge and a
    button cost one to three queries, not six."""

    customer: object
    partner: object
    setting: object = None
    capable: bool = False
    owned_by_other: bool = False
    may_take_over: bool = False
    can_manage: bool = False
    denial: str = ""
    azure_subscriptions: list = field(default_factory=list)

    @cached_property
    def transfer(self):
        """The customer's open transfer agreement the partner is a party to."""
        return pending_transfer(customer=self.customer, partner=self.partner)

    @cached_property
    def _assignment(self):
        """The open interval of the customer's overage or, when none is open, the latest
        ended one; only when the setting is not another partner's (its history is theirs)."""
        if self.owned_by_other:
            return None
        return (
            OverageAssignment.objects.filter(customer=self.customer, service=OverageService.PHONE_SERVICES)
            .select_related("azure_subscription", "started_by", "ended_by", "partner")
            .order_by(F("ended_at").desc(nulls_first=True))
            .first()
        )

    @property
    def open_assignment(self):
        assignment = self._assignment
        return assignment if assignment is not None and assignment.ended_at is None else None

    @property
    def last_assignment(self):
        assignment = self._assignment
        return assignment if assignment is not None and assignment.ended_at is not None else None

    @cached_property
    def reseller(self):
        """The reseller of record a transacting partner acts for on this customer (or None)."""
        return acting_reseller(customer=self.customer, partner=self.partner) if self.partner.transacts else None

    @cached_property
    def create_refusal(self):
        """Why *Create new* is not offered (legacy Azure offer, sandbox), or ``""``."""
        return str(azure_create_refusal(customer=self.customer, partner=self.partner))

    @cached_property
    def credit_warning(self):
        if self.capable and not self.owned_by_other:
            return credit_warning(self.customer)
        return ""

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
    relationship = customer.relationships.owned_by(partner).select_related("reseller").first()
    return relationship.reseller if relationship else None


def pending_transfer(*, customer, partner):
    """The customer's open transfer agreement the partner is a party to."""
    return (
        OverageTransfer.objects.transacted_by(partner)
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
    return str(AUTO_RECHARGE_WARNING % {"threshold": format_money(account.threshold, account.currency)})


def overage_state(*, customer, membership, with_choices=False):
    """The overage state of ``customer`` as ``membership`` may see and change it.

    Another partner's setting is described only as "managed by another partner" (its owner
    and Azure subscription are that partner's business). A member may change it when the
    role table allows (admin agent, global admin of a transacting partner), the partner has
    an overage-capable subscription for the customer and owns the setting (or none exists,
    or a fully agreed transfer names it and the owner has set None).
    """
    partner = membership.partner
    # "Capable" and whether a setting exists in one query; the setting itself (with its
    # owner and Azure subscription) is read only when there is one.
    capable, setting_id = (
        Customer.objects.filter(pk=customer.pk)
        .values_list(
            Exists(overage_capable_subscriptions(customer=customer, partner=partner)),
            Subquery(
                OverageSetting.objects.filter(customer=customer, service=OverageService.PHONE_SERVICES).values("pk")[:1]
            ),
        )
        .first()
        or (False, None)
    )
    setting = overage_setting(customer) if setting_id is not None else None
    state = OverageState(customer=customer, partner=partner, setting=setting)
    state.capable = bool(capable)
    if setting is not None:
        ours = partner.pk in (setting.owner_id, setting.reseller_id)
        state.owned_by_other = not ours
    # The transfer is read only when it matters (another partner's setting, switched off).
    if (
        state.owned_by_other
        and not setting.enabled
        and state.transfer is not None
        and state.transfer.to_partner_id == partner.pk
        and state.transfer.fully_agreed
    ):
        state.may_take_over = True

    if not permissions.can(membership, permissions.MANAGE_OVERAGE):
        state.denial = str(permissions.denial_reason(membership, permissions.MANAGE_OVERAGE))
    elif not state.capable:
        state.denial = str(NO_OVERAGE_CAPABLE)
    elif state.owned_by_other and not state.may_take_over:
        state.denial = str(MANAGED_BY_ANOTHER_PARTNER)
    state.can_manage = not state.denial

    if with_choices:
        state.azure_subscriptions = list(
            AzureSubscription.objects.transacted_by(partner).active().filter(plan__customer=customer).order_by("number")
        )
    return state


def overage_history(*, customer, partner):
    """The intervals during which the partner (as transacting partner or reseller of record)
    held the customer's overage, newest first."""
    return (
        OverageAssignment.objects.transacted_by(partner)
        .filter(customer=customer)
        .select_related("azure_subscription", "partner", "reseller", "started_by", "ended_by")
        .order_by("-started_at")
    )


def overage_not_owned_by(partner, *, or_matching=None):
    """The customers' settings another partner owns (the partner neither owns nor is the
    reseller of record of them) and, with ``or_matching`` (a ``Q``), those that match it:
    filter with ``customer=OuterRef(...)``."""
    not_owned = ~Q(owner=partner) & ~Q(reseller=partner)
    return OverageSetting.objects.filter(service=OverageService.PHONE_SERVICES).filter(
        not_owned | or_matching if or_matching else not_owned
    )


def customers_overage_managed_by(partner, *, unless=None):
    """The partner's customers whose overage it manages: a live overage-capable subscription
    of the partner (as transacting partner or reseller of record) and no setting another
    partner owns (SPEC §7). A queryset, for the dashboard's overage items. ``unless`` (a
    ``Q`` on the setting) leaves out the customers whose setting matches it too, in the same
    probe (a customer has one setting per service)."""
    # Driven from the overage-capable subscriptions (the few of the overage SKUs, by the SKU
    # index), not from every customer of the partner with a probe each.
    capable = (
        Subscription.objects.transacted_by(partner).live()
        .filter(sku__consumption_type=ConsumptionType.OVERAGE)
        .values("customer_id")
    )
    return (
        Customer.objects.transacted_by(partner)
        .filter(pk__in=capable)
        .exclude(Exists(overage_not_owned_by(partner, or_matching=unless).filter(customer=OuterRef("pk"))))
    )


# Customers by name, as an expression the name index cannot give: in index order, with the
# limit, PostgreSQL walked every customer whose name sorts before the first listed one (5,000
# probes on the bench) instead of sorting the few listed ones.
BY_NAME = (Concat("name", Value("")), "pk")


def customers_with_overage_off(*, partner, limit=20):
    """The partner's customers for whom it has a live overage-capable subscription while
    overage is off: no setting yet, or the partner's own setting switched to *None*
    (SPEC §7). A setting another partner owns is that partner's business: not listed.
    By name; one query."""
    return list(customers_overage_managed_by(partner, unless=Q(enabled=True)).order_by(*BY_NAME)[:limit])