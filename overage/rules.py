"""Overage rules that the reads and the writes share (SPEC §7): which subscriptions make a
customer overage-capable, and the warning shown when auto-recharge keeps post-paid overage
from ever starting. No writes: selectors and services both import it."""

from django.utils.translation import gettext_lazy as _

from catalog.models import ConsumptionType
from subscriptions.models import Subscription

AUTO_RECHARGE_WARNING = _(
    "This customer's communication credits have auto-recharge on: the balance is refilled whenever it falls "
    "below %(threshold)s, so post-paid overage will never start. The customer's global admin can "
    "turn auto-recharge off in the Microsoft 365 admin center (Billing › Your products)."
)


def overage_capable_subscriptions(*, customer, partner):
    """The partner's live overage-capable subscriptions for the customer (as transacting
    partner or as reseller of record)."""
    return (
        Subscription.objects.transacted_by(partner)
        .live()
        .filter(customer=customer, sku__consumption_type=ConsumptionType.OVERAGE)
    )
