"""Factories for overage: Azure plans and subscriptions, overage settings, assignments, transfers.

Invariants kept here: a customer has at most one Azure plan (the factory reuses it); the
plan's partner, the setting's owner and the assignment's partner have a relationship with the
customer; an enabled setting points at an Azure subscription of the customer's plan.
"""

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from overage.models import (
    AzurePlan,
    AzureSubscription,
    AzureSubscriptionStatus,
    OverageAssignment,
    OverageService,
    OverageSetting,
    OverageTransfer,
)

from .portal import CustomerFactory, PartnerFactory, ensure_relationship


class AzurePlanFactory(DjangoModelFactory):
    class Meta:
        model = AzurePlan
        django_get_or_create = ("customer",)

    customer = factory.SubFactory(CustomerFactory)
    partner = factory.SubFactory(PartnerFactory)
    subscription = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        ensure_relationship(kwargs.get("customer"), kwargs.get("partner"))
        return super()._create(model_class, *args, **kwargs)


class AzureSubscriptionFactory(DjangoModelFactory):
    class Meta:
        model = AzureSubscription

    plan = factory.SubFactory(AzurePlanFactory)
    partner = factory.SelfAttribute("plan.partner")
    number = factory.Sequence(lambda n: n + 1)
    friendly_name = factory.LazyAttribute(lambda o: f"Subscription {o.number}")
    status = AzureSubscriptionStatus.ACTIVE


class OverageSettingFactory(DjangoModelFactory):
    """The customer's PhoneServices setting, owned by ``owner``, overage off. The ``on``
    trait enables it to a new Azure subscription of the customer's plan."""

    class Meta:
        model = OverageSetting

    customer = factory.SubFactory(CustomerFactory)
    service = OverageService.PHONE_SERVICES
    owner = factory.SubFactory(PartnerFactory)
    reseller = None
    azure_subscription = None
    enabled = False

    class Params:
        on = factory.Trait(
            enabled=True,
            azure_subscription=factory.SubFactory(
                AzureSubscriptionFactory,
                plan__customer=factory.SelfAttribute("...customer"),
                plan__partner=factory.SelfAttribute("...owner"),
            ),
        )

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        ensure_relationship(kwargs.get("customer"), kwargs.get("owner"), kwargs.get("reseller"))
        return super()._create(model_class, *args, **kwargs)


class OverageAssignmentFactory(DjangoModelFactory):
    """An open interval (from now) during which the Azure subscription holds overage."""

    class Meta:
        model = OverageAssignment

    customer = factory.SubFactory(CustomerFactory)
    service = OverageService.PHONE_SERVICES
    partner = factory.SubFactory(PartnerFactory)
    reseller = None
    azure_subscription = factory.SubFactory(
        AzureSubscriptionFactory,
        plan__customer=factory.SelfAttribute("...customer"),
        plan__partner=factory.SelfAttribute("...partner"),
    )
    started_at = factory.LazyFunction(timezone.now)
    ended_at = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        ensure_relationship(kwargs.get("customer"), kwargs.get("partner"), kwargs.get("reseller"))
        return super()._create(model_class, *args, **kwargs)


class OverageTransferFactory(DjangoModelFactory):
    class Meta:
        model = OverageTransfer

    customer = factory.SubFactory(CustomerFactory)
    service = OverageService.PHONE_SERVICES
    from_partner = factory.SubFactory(PartnerFactory)
    to_partner = factory.SubFactory(PartnerFactory)
