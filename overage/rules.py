"""Overage rules that the reads and the writes share (SPEC §6–§7): which subscriptions make a
customer overage-capable, why an Azure plan cannot be created for a customer, and the warning
shown when auto-recharge keeps post-paid overage from ever starting. No writes: selectors and services both import it."""

from django.utils.translation import gettext_lazy as _

from catalog.models import ConsumptionType
from subscriptions.models import Subscription

AUTO_RECHARGE_WARNING = _(
    "This customer's communication credits have auto-recharge on: the balance is refilled whenever it falls "
    "below %(threshold)s, so post-paid overage will never start. The customer's global admin can "
    "turn auto-recharge off in the Microsoft 365 admin center (Billing › Your products)."
)

LEGACY_AZURE = _(
    "The customer is still on the legacy Microsoft Azure offer (MS-AZR-0145P). Move the customer to Azure plan "
    "before enabling overage."
)
SANDBOX_NO_AZURE = _(
    "Sandbox partners cannot create Azure plans unless they are granted access, so overage cannot be enabled "
    "from this sandbox account."
)


def azure_create_refusal(*, customer, partner):
    """Why ``partner`` cannot create an Azure plan or subscription for ``customer`` (the
    legacy MS-AZR-0145P offer, a sandbox without Azure-plan access), or ``""``. Pages show it
    beside a disabled *Create new* before anyone tries (SPEC §2); the services refuse with it."""
    if customer.on_legacy_azure:
        return LEGACY_AZURE
    if partner.is_sandbox and not partner.sandbox_azure_access:
        return SANDBOX_NO_AZURE
    return ""


def overage_capable_subscriptions(*, customer, partner):
    """The partner's live overage-capable subscriptions for the customer (as transacting
    partner or as reseller of record)."""
    return (
        Subscription.objects.transacted_by(partner)
        .live()
        .filter(customer=customer, sku__consumption_type=ConsumptionType.OVERAGE)
    )
