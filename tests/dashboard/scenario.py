"""Builds ``n`` rows of every dashboard item for one partner, so tests can pin each
selector's and the page's query count for one row and for many."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from billing.models import CreditEntryKind, RatedCallStatus
from subscriptions.models import RemovalRequestStatus, SeatChangeKind
from tests.factories.billing import (
    BillingMonthFactory,
    CreditAccountFactory,
    CreditLedgerEntryFactory,
    RatedCallFactory,
    UsageRecordFactory,
)
from tests.factories.catalog import SkuFactory
from tests.factories.portal import CustomerFactory
from tests.factories.subscriptions import (
    AddonRemovalRequestFactory,
    ChargeEventFactory,
    SeatChangeFactory,
    SubscriptionFactory,
)


def closing_window(partner, *, now, closes_in=dt.timedelta(hours=18), quantity=3, **fields):
    """A subscription bought so that its purchase window closes ``closes_in`` after ``now``."""
    bought = now + closes_in - dt.timedelta(hours=168)
    subscription = SubscriptionFactory(partner=partner, quantity=quantity, purchased_at=bought, **fields)
    SeatChangeFactory(subscription=subscription, occurred_at=bought, kind=SeatChangeKind.PURCHASE)
    return subscription


def outliving_addon(partner, customer=None, *, ends_in=130, base_ends_in=100):
    """An active add-on ending ``ends_in`` days from today, after its only base (same
    customer, same partner) that ends ``base_ends_in`` days from today."""
    customer = customer or CustomerFactory(partner=partner)
    base_sku = SkuFactory()
    addon_sku = SkuFactory(is_addon=True, prerequisites=[base_sku])
    today = timezone.localdate()
    SubscriptionFactory(partner=partner, customer=customer, sku=base_sku, commitment_end_date=today + dt.timedelta(days=base_ends_in))
    return SubscriptionFactory(partner=partner, customer=customer, sku=addon_sku,
                               commitment_end_date=today + dt.timedelta(days=ends_in))


def capable_customer(partner, reseller=None, **fields):
    """A customer with a live overage-capable subscription of ``partner``, overage off."""
    customer = CustomerFactory(partner=partner, reseller=reseller, **fields)
    SubscriptionFactory(partner=partner, reseller=reseller, customer=customer, sku=SkuFactory(overage=True))
    return customer


def blocked_calls(customer, *, month, calls=2, minutes=5):
    billing_month = BillingMonthFactory(month=month)
    for _ in range(calls):
        record = UsageRecordFactory(customer=customer, started_at=dt.datetime.combine(month, dt.time(12), tzinfo=dt.UTC))
        RatedCallFactory(
            usage_record=record, billing_month=billing_month, minutes=minutes, pool_minutes=0,
            billable_minutes=minutes, blocked_minutes=minutes, status=RatedCallStatus.BLOCKED,
        )


def build(partner, n, *, now=None):
    """``n`` rows of every item for ``partner``: windows closing, blocked calls this month,
    removal requests, subscriptions ending without auto-renew, overage off with credits on
    auto-recharge, add-ons outliving their base, and this month's charges."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    month = today.replace(day=1)
    for i in range(n):
        closing_window(partner, now=now)
        customer = capable_customer(partner)
        blocked_calls(customer, month=month)
        account = CreditAccountFactory(customer=customer, currency="USD", auto_recharge=True,
                                       threshold=Decimal("20.00"), recharge_amount=Decimal("100.00"))
        CreditLedgerEntryFactory(account=account, kind=CreditEntryKind.USAGE_DRAW, amount=Decimal("-1.50"),
                                 billing_month=BillingMonthFactory(month=month), occurred_at=now)
        AddonRemovalRequestFactory(subscription=SubscriptionFactory(partner=partner),
                                   status=RemovalRequestStatus.OPEN, deadline=today + dt.timedelta(days=20 + i))
        SubscriptionFactory(partner=partner, auto_renew_enabled=False, commitment_end_date=today + dt.timedelta(days=10))
        outliving_addon(partner)
        ChargeEventFactory(subscription=SubscriptionFactory(partner=partner), occurred_at=now)
