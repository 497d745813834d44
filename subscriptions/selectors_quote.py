"""What upgrading a subscription to one of its SKU's ``upgradeTargetOffers`` costs (SPEC §5):
the one computation of the prorated ``convert`` charge and of the add-ons the upgrade makes
redundant. The upgrade page shows it; ``changes.subscription_upgrade`` charges it (it calls
``upgrade_quote`` under its row lock), so the preview and the charge cannot disagree.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from catalog.models import PriceListEntry, Sku
from subscriptions.models import Subscription
from subscriptions.periods import billing_period, days_inclusive, prorate
from subscriptions.prices import prices_in_force


@dataclass(frozen=True)
class UpgradeQuote:
    """Upgrading ``subscription`` to ``sku`` on ``charge_start``: the target's price (None when
    the market has none: the upgrade is refused), the per-seat ``difference``, the ``charge``
    for ``days`` of the ``period_days`` of the current billing period (ending ``charge_end``),
    and the customer's add-ons whose services ``sku`` includes (made redundant)."""

    sku: Sku
    price: PriceListEntry | None
    difference: Decimal | None
    charge: Decimal | None
    charge_start: datetime.date
    charge_end: datetime.date
    days: int
    period_days: int
    redundant: list


def _candidate_addons(subscription):
    """The customer's live add-ons sold by the same partner and not yet redundant."""
    return list(
        Subscription.objects.owned_by(subscription.partner)
        .live()
        .filter(
            customer=subscription.customer_id,
            sku__is_addon=True,
            redundant_since__isnull=True,
        )
        .exclude(pk=subscription.pk)
        .select_related("sku")
    )


def upgrade_quotes(subscription, targets, *, at):
    """One ``UpgradeQuote`` per SKU of ``targets``, upgrading on the date ``at``: one query for
    the prices, one for the add-ons, whatever the number of targets."""
    targets = list(targets)
    keys = [(target.pk, subscription.term_duration, subscription.billing_cycle) for target in targets]
    prices = prices_in_force(keys=keys, market=subscription.customer.country, on_date=at)
    addons = _candidate_addons(subscription)
    first, last = billing_period(subscription.start_date, subscription.billing_cycle, at, subscription.commitment_end_date)
    days, period_days = days_inclusive(at, last), days_inclusive(first, last)
    quotes = []
    for target, key in zip(targets, keys):
        price = prices.get(key)
        difference = charge = None
        if price is not None:
            difference = price.unit_price - subscription.unit_price
            charge = prorate(difference * subscription.quantity, days, period_days)
        included = set(target.included_services or [])
        redundant = [a for a in addons if a.sku.included_services and set(a.sku.included_services) <= included]
        quotes.append(UpgradeQuote(target, price, difference, charge, at, last, days, period_days, redundant))
    return quotes


def upgrade_quote(subscription, target, *, at):
    """The ``UpgradeQuote`` of upgrading ``subscription`` to the SKU ``target`` on ``at``."""
    return upgrade_quotes(subscription, [target], at=at)[0]
