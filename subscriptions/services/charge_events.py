"""What every change of a live subscription shares when it writes: the charge event it
records (with the subscription's terms at that moment), the current billing period it
prorates over, and the next-term changes any mid-term change drops (Partner Center).
Used by ``lifecycle``, ``changes`` and ``renewal``.
"""

from subscriptions.models import ChargeEvent
from subscriptions.periods import billing_period


def _drop_scheduled_changes(subscription):
    """Any mid-term change drops the changes scheduled for the next term (Partner Center)."""
    subscription.next_term_quantity = None
    subscription.next_term_duration = None
    subscription.next_term_billing_cycle = None
    subscription.next_term_end_date = None


def _current_period(subscription, today):
    return billing_period(subscription.start_date, subscription.billing_cycle, today, subscription.commitment_end_date)


def event_terms(subscription):
    """The SKU, availability, term and billing cycle a charge event records (the subscription's, now)."""
    return {
        "sku_id": subscription.sku_id,
        "availability_id": subscription.availability_id,
        "term_duration": subscription.term_duration,
        "billing_cycle": subscription.billing_cycle,
    }


def _charge(subscription, *, charge_type, quantity, amount, first, last, now):
    return ChargeEvent.objects.create(
        subscription=subscription,
        charge_type=charge_type,
        **event_terms(subscription),
        quantity=quantity,
        unit_price=subscription.unit_price,
        effective_unit_price=subscription.unit_price,
        amount=amount,
        currency=subscription.currency,
        charge_start=first,
        charge_end=last,
        occurred_at=now,
    )
