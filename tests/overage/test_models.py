"""Database constraints and ``owned_by``/``transacted_by`` scoping of Azure plans and overage."""

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from overage.models import (
    AzurePlan,
    AzureSubscription,
    OverageAssignment,
    OverageSetting,
    OverageTransfer,
)
from tests.factories import (
    AzurePlanFactory,
    AzureSubscriptionFactory,
    CustomerFactory,
    OverageAssignmentFactory,
    OverageSettingFactory,
    OverageTransferFactory,
    PartnerFactory,
    SubscriptionFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "factory",
    [AzurePlanFactory, AzureSubscriptionFactory, OverageSettingFactory, OverageAssignmentFactory,
     OverageTransferFactory],
)
def test_factory_builds_a_valid_row(factory):
    factory().full_clean()


def test_enabled_overage_setting_factory_points_at_the_customers_plan():
    setting = OverageSettingFactory(on=True)
    assert setting.enabled
    assert setting.azure_subscription.plan.customer == setting.customer
    assert setting.azure_subscription.plan.partner == setting.owner


# Constraints


def test_one_azure_plan_per_customer(partner_a, partner_b):
    customer = CustomerFactory()
    AzurePlan.objects.create(customer=customer, partner=partner_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        AzurePlan.objects.create(customer=customer, partner=partner_b)


def test_azure_plan_lists_one_subscription_only(partner_a):
    subscription = SubscriptionFactory(partner=partner_a)
    AzurePlanFactory(customer=subscription.customer, partner=partner_a, subscription=subscription)
    with pytest.raises(IntegrityError), transaction.atomic():
        AzurePlanFactory(subscription=subscription)


def test_azure_subscription_number_unique_per_plan():
    first = AzureSubscriptionFactory(number=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        AzureSubscriptionFactory(plan=first.plan, number=1)
    AzureSubscriptionFactory(plan=first.plan, number=2)
    AzureSubscriptionFactory(number=1)  # number 1 of another plan


def test_one_overage_setting_per_customer_and_service(partner_b):
    setting = OverageSettingFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        OverageSetting.objects.create(customer=setting.customer, service=setting.service, owner=partner_b)


def test_enabled_overage_needs_an_azure_subscription():
    with pytest.raises(IntegrityError), transaction.atomic():
        OverageSettingFactory(enabled=True, azure_subscription=None)
    OverageSettingFactory(enabled=False, azure_subscription=None)
    OverageSettingFactory(on=True)


def test_one_open_overage_assignment_per_customer_and_service():
    start = timezone.now() - datetime.timedelta(days=10)
    closed = OverageAssignmentFactory(started_at=start, ended_at=start + datetime.timedelta(days=1))
    # A closed interval followed by an open one is the normal history.
    open_ = OverageAssignmentFactory(
        customer=closed.customer,
        partner=closed.partner,
        azure_subscription=closed.azure_subscription,
        started_at=closed.ended_at,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        OverageAssignmentFactory(
            customer=closed.customer, partner=closed.partner, azure_subscription=open_.azure_subscription
        )
    assert OverageAssignment.objects.filter(customer=closed.customer).count() == 2


def test_overage_assignment_never_ends_before_it_starts():
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        OverageAssignmentFactory(started_at=now, ended_at=now - timezone.timedelta(seconds=1))
    # An interval closed in the instant it opened (enable, then None at once) is kept as a record.
    OverageAssignmentFactory(started_at=now, ended_at=now)


def test_overage_transfer_needs_two_partners(partner_a):
    with pytest.raises(IntegrityError), transaction.atomic():
        OverageTransferFactory(from_partner=partner_a, to_partner=partner_a)


def test_one_pending_overage_transfer_per_customer_and_service():
    pending = OverageTransferFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        OverageTransferFactory(customer=pending.customer)
    pending.completed_at = timezone.now()
    pending.save()
    OverageTransferFactory(customer=pending.customer)


# Scoping


def test_azure_plans_and_settings_scoped(partner_a, partner_b, customer_of):
    customer = customer_of(partner_a)
    setting = OverageSettingFactory(customer=customer, owner=partner_a, on=True)
    OverageSettingFactory(owner=partner_b, on=True)

    assert list(AzurePlan.objects.transacted_by(partner_a)) == [setting.azure_subscription.plan]
    assert list(AzureSubscription.objects.transacted_by(partner_a)) == [setting.azure_subscription]
    assert list(OverageSetting.objects.transacted_by(partner_a)) == [setting]
    assert AzurePlan.objects.transacted_by(partner_b).get().customer != customer


def test_azure_plan_of_a_resellers_customer(provider, reseller, partner_a, customer_of):
    plan = AzurePlanFactory(customer=customer_of(provider, reseller=reseller), partner=provider)
    assert list(AzurePlan.objects.transacted_by(provider)) == [plan]
    assert list(AzurePlan.objects.transacted_by(reseller)) == [plan]
    assert not AzurePlan.objects.transacted_by(partner_a).exists()


def test_assignments_and_transfers_scoped(partner_a, partner_b):
    assignment = OverageAssignmentFactory(partner=partner_a)
    OverageAssignmentFactory(partner=partner_b)
    transfer = OverageTransferFactory(from_partner=partner_a, to_partner=partner_b)
    OverageTransferFactory(from_partner=PartnerFactory(), to_partner=PartnerFactory())

    assert list(OverageAssignment.objects.owned_by(partner_a)) == [assignment]
    assert list(OverageTransfer.objects.transacted_by(partner_a)) == [transfer]
    assert list(OverageTransfer.objects.transacted_by(partner_b)) == [transfer]
