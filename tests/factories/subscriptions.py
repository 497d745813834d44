"""Factories for subscriptions: carts, cart lines, orders, subscriptions and their history.

Invariant kept here: the customer of a cart, order or subscription has a relationship with
its transacting partner (naming the reseller of record, if any), so the object is visible
through ``transacted_by`` exactly as one made by checkout would be.
"""

import datetime
from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from catalog.models import BillingCycle, TermDuration
from subscriptions.models import (
    AddonRemovalRequest,
    Cart,
    CartLine,
    CartStatus,
    ChargeEvent,
    ChargeType,
    Order,
    SeatChange,
    SeatChangeKind,
    Subscription,
    SubscriptionStatus,
)

from .catalog import AvailabilityFactory, SkuFactory
from .portal import CustomerFactory, PartnerFactory, UserFactory, ensure_relationship


class _RelatedToPartner(DjangoModelFactory):
    """Creates the customer relationship of ``partner``/``reseller`` before saving."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        ensure_relationship(kwargs.get("customer"), kwargs.get("partner"), kwargs.get("reseller"))
        return super()._create(model_class, *args, **kwargs)


class CartFactory(_RelatedToPartner):
    class Meta:
        model = Cart

    partner = factory.SubFactory(PartnerFactory)
    customer = factory.SubFactory(CustomerFactory)
    reseller = None
    status = CartStatus.ACTIVE
    expires_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=7))


class CartLineFactory(DjangoModelFactory):
    class Meta:
        model = CartLine

    cart = factory.SubFactory(CartFactory)
    line_number = factory.Sequence(lambda n: n + 1)
    availability = factory.SubFactory(AvailabilityFactory)
    quantity = 1
    term_duration = TermDuration.P1Y
    billing_cycle = BillingCycle.MONTHLY


class OrderFactory(DjangoModelFactory):
    """An order of a checked-out cart; partner, reseller and customer follow the cart."""

    class Meta:
        model = Order

    cart = factory.SubFactory(CartFactory, status=CartStatus.ORDERED)
    partner = factory.SelfAttribute("cart.partner")
    reseller = factory.SelfAttribute("cart.reseller")
    customer = factory.SelfAttribute("cart.customer")
    currency = "USD"
    created_by = factory.SubFactory(UserFactory)


class SubscriptionFactory(_RelatedToPartner):
    """An active annual (monthly-billed) subscription bought now, for one seat."""

    class Meta:
        model = Subscription

    partner = factory.SubFactory(PartnerFactory)
    customer = factory.SubFactory(CustomerFactory)
    reseller = None
    sku = factory.SubFactory(SkuFactory)
    availability = factory.SubFactory(AvailabilityFactory, sku=factory.SelfAttribute("..sku"))
    quantity = 1
    status = SubscriptionStatus.ACTIVE
    term_duration = TermDuration.P1Y
    billing_cycle = BillingCycle.MONTHLY
    start_date = factory.LazyFunction(timezone.localdate)
    commitment_end_date = factory.LazyAttribute(
        lambda o: o.start_date + datetime.timedelta(days=364 if o.term_duration == TermDuration.P1Y else 29)
    )
    auto_renew_enabled = True
    consumption_type = factory.LazyAttribute(lambda o: o.sku.consumption_type)
    unit_price = Decimal("10.000000")
    currency = "USD"
    purchased_at = factory.LazyFunction(timezone.now)
    term_started_at = factory.SelfAttribute("purchased_at")


class SeatChangeFactory(DjangoModelFactory):
    class Meta:
        model = SeatChange

    subscription = factory.SubFactory(SubscriptionFactory)
    kind = SeatChangeKind.PURCHASE
    delta = factory.SelfAttribute("subscription.quantity")
    quantity_after = factory.SelfAttribute("subscription.quantity")
    occurred_at = factory.LazyFunction(timezone.now)
    refundable_until = factory.LazyAttribute(lambda o: o.occurred_at + datetime.timedelta(hours=168))


class ChargeEventFactory(DjangoModelFactory):
    class Meta:
        model = ChargeEvent

    subscription = factory.SubFactory(SubscriptionFactory)
    charge_type = ChargeType.NEW
    sku = factory.SelfAttribute("subscription.sku")
    availability = factory.SelfAttribute("subscription.availability")
    term_duration = factory.SelfAttribute("subscription.term_duration")
    billing_cycle = factory.SelfAttribute("subscription.billing_cycle")
    quantity = 1
    unit_price = Decimal("10.000000")
    effective_unit_price = Decimal("10.000000")
    amount = Decimal("10.00")
    currency = "USD"
    charge_start = factory.LazyFunction(timezone.localdate)
    charge_end = factory.LazyAttribute(lambda o: o.charge_start + datetime.timedelta(days=30))
    occurred_at = factory.LazyFunction(timezone.now)


class AddonRemovalRequestFactory(DjangoModelFactory):
    class Meta:
        model = AddonRemovalRequest

    subscription = factory.SubFactory(SubscriptionFactory)
    upgraded_subscription = factory.SubFactory(
        SubscriptionFactory,
        partner=factory.SelfAttribute("..subscription.partner"),
        customer=factory.SelfAttribute("..subscription.customer"),
    )
    deadline = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=60))
    raised_by = factory.SubFactory(UserFactory)
