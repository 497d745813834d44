"""Database constraints and ``owned_by``/``transacted_by`` scoping of carts, orders and subscriptions."""

import datetime

import pytest
from django.db import IntegrityError, transaction

from portal.models import Customer
from subscriptions.models import (
    AddonRemovalRequest,
    Cart,
    CartLine,
    ChargeEvent,
    Order,
    SeatChange,
    Subscription,
)
from tests.factories import (
    AddonRemovalRequestFactory,
    CartFactory,
    CartLineFactory,
    ChargeEventFactory,
    OrderFactory,
    SeatChangeFactory,
    SubscriptionFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "factory",
    [CartFactory, CartLineFactory, OrderFactory, SubscriptionFactory, SeatChangeFactory, ChargeEventFactory,
     AddonRemovalRequestFactory],
)
def test_factory_builds_a_valid_row(factory):
    factory().full_clean()


def test_subscription_factory_keeps_the_customer_visible_to_its_partner(partner_a, provider, reseller):
    direct = SubscriptionFactory(partner=partner_a)
    indirect = SubscriptionFactory(partner=provider, reseller=reseller)
    assert direct.customer in Customer.objects.transacted_by(partner_a)
    assert indirect.customer in Customer.objects.transacted_by(provider)
    assert indirect.customer in Customer.objects.transacted_by(reseller)
    assert indirect.customer.relationships.get().reseller == reseller


# Constraints


def test_subscription_quantity_positive():
    with pytest.raises(IntegrityError), transaction.atomic():
        SubscriptionFactory(quantity=0)


def test_subscription_next_term_quantity_positive_when_set():
    SubscriptionFactory(next_term_quantity=None)
    SubscriptionFactory(next_term_quantity=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        SubscriptionFactory(next_term_quantity=0)


def test_subscription_ends_on_or_after_its_start():
    start = datetime.date(2025, 3, 1)
    SubscriptionFactory(start_date=start, commitment_end_date=start)
    with pytest.raises(IntegrityError), transaction.atomic():
        SubscriptionFactory(start_date=start, commitment_end_date=start - datetime.timedelta(days=1))


def test_subscription_status_must_be_known():
    with pytest.raises(IntegrityError), transaction.atomic():
        SubscriptionFactory(status="archived")


def test_cart_line_quantity_positive():
    with pytest.raises(IntegrityError), transaction.atomic():
        CartLineFactory(quantity=0)


def test_cart_line_number_unique_per_cart():
    line = CartLineFactory(line_number=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        CartLineFactory(cart=line.cart, line_number=1)
    CartLineFactory(cart=line.cart, line_number=2)


def test_one_order_per_cart():
    order = OrderFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(cart=order.cart)


def test_order_idempotency_key_unique_per_partner():
    first = OrderFactory(idempotency_key="key-1")
    OrderFactory(idempotency_key=None)
    OrderFactory(idempotency_key=None)  # many orders without a key are fine
    OrderFactory(idempotency_key="key-1")  # another partner's key is its own business
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(idempotency_key="key-1", cart__partner=first.partner)


def test_charge_ends_on_or_after_its_start():
    day = datetime.date(2025, 3, 1)
    ChargeEventFactory(charge_start=day, charge_end=day)
    with pytest.raises(IntegrityError), transaction.atomic():
        ChargeEventFactory(charge_start=day, charge_end=day - datetime.timedelta(days=1))


def test_one_removal_request_per_addon():
    request = AddonRemovalRequestFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        AddonRemovalRequestFactory(subscription=request.subscription)


# Scoping


def test_subscriptions_scoped(partner_a, partner_b):
    mine = SubscriptionFactory(partner=partner_a)
    SubscriptionFactory(partner=partner_b)
    assert list(Subscription.objects.transacted_by(partner_a)) == [mine]


def test_subscriptions_scoped_include_reseller_of_record(provider, reseller, partner_a):
    indirect = SubscriptionFactory(partner=provider, reseller=reseller)
    providers_own = SubscriptionFactory(partner=provider)
    assert set(Subscription.objects.transacted_by(provider)) == {indirect, providers_own}
    assert list(Subscription.objects.transacted_by(reseller)) == [indirect]
    assert not Subscription.objects.transacted_by(partner_a).exists()


def test_another_partners_subscription_of_a_shared_customer_is_not_visible(partner_a, partner_b):
    theirs = SubscriptionFactory(partner=partner_b)
    mine = SubscriptionFactory(partner=partner_a, customer=theirs.customer)
    assert list(Subscription.objects.transacted_by(partner_a)) == [mine]
    assert list(theirs.customer.subscriptions.transacted_by(partner_a)) == [mine]


def test_carts_and_orders_scoped(provider, reseller, partner_a):
    cart = CartFactory(partner=partner_a)
    CartFactory(partner=provider)
    order = OrderFactory(cart__partner=provider, cart__reseller=reseller)
    assert list(Cart.objects.owned_by(partner_a)) == [cart]
    assert list(Order.objects.transacted_by(reseller)) == [order]
    assert list(Order.objects.transacted_by(provider)) == [order]
    assert not Order.objects.transacted_by(partner_a).exists()
    assert CartLine.objects.filter(cart__in=Cart.objects.owned_by(partner_a)).count() == 0


def test_history_rows_follow_their_subscription(provider, reseller, partner_a):
    subscription = SubscriptionFactory(partner=provider, reseller=reseller)
    seat_change = SeatChangeFactory(subscription=subscription)
    charge = ChargeEventFactory(subscription=subscription)
    removal = AddonRemovalRequestFactory(subscription=subscription)
    for partner in (provider, reseller):
        assert list(SeatChange.objects.transacted_by(partner)) == [seat_change]
        assert list(ChargeEvent.objects.transacted_by(partner)) == [charge]
        assert list(AddonRemovalRequest.objects.transacted_by(partner)) == [removal]
    assert not SeatChange.objects.transacted_by(partner_a).exists()
    assert not ChargeEvent.objects.transacted_by(partner_a).exists()
    assert not AddonRemovalRequest.objects.transacted_by(partner_a).exists()
