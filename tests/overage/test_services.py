"""Overage ownership, the checks of Update overage in their order, Azure plans, intervals
and transfers (SPEC §6, §7, §10)."""

import uuid
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
import time_machine

from catalog.models import ConsumptionType
from overage import services
from overage.models import AzurePlan, AzureSubscription, AzureSubscriptionStatus, OverageAssignment, OverageSetting
from overage.services import CREATE_NEW, OverageError
from portal.models import AuditEvent
from tests.factories import (
    AzurePlanFactory,
    AzureSubscriptionFactory,
    OverageTransferFactory,
    PartnerFactory,
    SkuFactory,
    SubscriptionFactory,
)

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=dt_timezone.utc)


@pytest.fixture
def telco_sku(db):
    return SkuFactory(title="Teams Phone with Calling Plan", consumption_type=ConsumptionType.OVERAGE)


@pytest.fixture
def alpine(partner_a, customer_of, telco_sku):
    """A customer of partner A with an overage-capable subscription, an Azure plan with
    ``Subscription 1`` and A owning its (switched off) overage setting."""
    customer = customer_of(partner_a)
    SubscriptionFactory(partner=partner_a, customer=customer, sku=telco_sku)
    plan = AzurePlanFactory(customer=customer, partner=partner_a)
    AzureSubscriptionFactory(plan=plan, number=1, friendly_name="Subscription 1")
    OverageSetting.objects.create(customer=customer, owner=partner_a, enabled=False)
    return customer


def sub1(customer):
    return AzureSubscription.objects.get(plan__customer=customer, number=1)


def enable(customer, partner, target, **kwargs):
    return services.overage_update(customer=customer, partner=partner, acting_user=None, enabled=True,
                                   azure_subscription=target, **kwargs)


def disable(customer, partner, **kwargs):
    return services.overage_update(customer=customer, partner=partner, acting_user=None, enabled=False, **kwargs)


# --- the owner enables and disables ---------------------------------------------------

def test_owner_enables_overage_on_an_azure_subscription_and_an_interval_opens(alpine, partner_a):
    with time_machine.travel(T0, tick=False):
        setting = enable(alpine, partner_a, str(sub1(alpine).pk))
    assert setting.enabled and setting.azure_subscription == sub1(alpine)
    interval = OverageAssignment.objects.get(customer=alpine)
    assert (interval.started_at, interval.ended_at, interval.partner) == (T0, None, partner_a)
    event = AuditEvent.objects.get(action="overage.update")
    assert event.before["overageEnabled"] is False
    assert event.after["azureEntitlementId"] == str(sub1(alpine).pk)


def test_intervals_record_who_held_overage_at_any_moment(alpine, partner_a):
    plan = alpine.azure_plan
    second = AzureSubscriptionFactory(plan=plan, number=2, friendly_name="Subscription 2")
    with time_machine.travel(T0, tick=False):
        enable(alpine, partner_a, sub1(alpine))
    with time_machine.travel(T0 + timedelta(days=10), tick=False):
        enable(alpine, partner_a, second)
    with time_machine.travel(T0 + timedelta(days=20), tick=False):
        disable(alpine, partner_a)
    intervals = list(OverageAssignment.objects.filter(customer=alpine).order_by("started_at"))
    assert [(i.azure_subscription.number, i.started_at, i.ended_at) for i in intervals] == [
        (1, T0, T0 + timedelta(days=10)),
        (2, T0 + timedelta(days=10), T0 + timedelta(days=20)),
    ]
    at = OverageAssignment.objects.at
    assert at(T0 + timedelta(days=5)).get().azure_subscription.number == 1
    assert at(T0 + timedelta(days=15)).get().azure_subscription.number == 2
    assert not at(T0 + timedelta(days=25)).exists()
    assert not OverageSetting.objects.get(customer=alpine).enabled


def test_create_new_makes_the_plan_and_numbered_subscriptions(partner_a, customer_of, telco_sku):
    customer = customer_of(partner_a)
    SubscriptionFactory(partner=partner_a, customer=customer, sku=telco_sku)
    setting = enable(customer, partner_a, CREATE_NEW)
    plan = AzurePlan.objects.get(customer=customer)
    assert setting.azure_subscription.friendly_name == "Subscription 1"
    assert setting.azure_subscription.dedicated_to_overage
    assert setting.owner == partner_a  # the first partner to act owns it
    setting = enable(customer, partner_a, CREATE_NEW)
    assert setting.azure_subscription.friendly_name == "Subscription 2"
    assert plan.azure_subscriptions.count() == 2
    assert OverageAssignment.objects.filter(customer=customer, ended_at__isnull=True).count() == 1


def test_the_same_change_twice_is_one_change(alpine, partner_a):
    enable(alpine, partner_a, sub1(alpine))
    enable(alpine, partner_a, sub1(alpine))
    assert OverageAssignment.objects.filter(customer=alpine).count() == 1
    assert AuditEvent.objects.filter(action="overage.update").count() == 1


def test_a_double_submitted_create_new_makes_one_azure_subscription(alpine, partner_a):
    enable(alpine, partner_a, CREATE_NEW, seen=None)
    with pytest.raises(OverageError) as second:
        enable(alpine, partner_a, CREATE_NEW, seen=None)
    assert second.value.status == 409
    assert second.value.description == str(services.CHANGED_MEANWHILE)
    assert alpine.azure_plan.azure_subscriptions.count() == 2  # Subscription 1 existed; one more


# --- the checks, in Partner Center's order --------------------------------------------

def test_another_partner_gets_409_and_nothing_changes(alpine, partner_b, telco_sku):
    SubscriptionFactory(partner=partner_b, customer=alpine, sku=telco_sku)
    with pytest.raises(OverageError) as refused:
        enable(alpine, partner_b, CREATE_NEW)
    assert refused.value.status == 409
    assert refused.value.description == str(services.OWNED_BY_ANOTHER_PARTNER)
    assert OverageSetting.objects.get(customer=alpine).owner != partner_b
    assert not OverageAssignment.objects.exists()


def test_409_comes_before_the_missing_subscription_check(alpine, partner_b):
    with pytest.raises(OverageError) as refused:
        enable(alpine, partner_b, "not-a-guid")
    assert refused.value.status == 409


def test_a_customer_without_overage_capable_subscription_gets_400(partner_a, customer_of):
    customer = customer_of(partner_a)
    SubscriptionFactory(partner=partner_a, customer=customer)  # not overage-capable
    with pytest.raises(OverageError) as refused:
        enable(customer, partner_a, CREATE_NEW)
    assert refused.value.status == 400
    assert refused.value.description == str(services.NO_OVERAGE_SUBSCRIPTION)


def test_a_legacy_azure_customer_is_told_to_move_to_azure_plan(partner_a, customer_of, telco_sku):
    customer = customer_of(partner_a, on_legacy_azure=True)
    SubscriptionFactory(partner=partner_a, customer=customer, sku=telco_sku)
    with pytest.raises(OverageError) as refused:
        enable(customer, partner_a, CREATE_NEW)
    assert "MS-AZR-0145P" in refused.value.description and "Azure plan" in refused.value.description
    assert not AzurePlan.objects.filter(customer=customer).exists()


def test_a_sandbox_partner_without_azure_access_cannot_enable(customer_of, telco_sku):
    sandbox = PartnerFactory(is_sandbox=True, sandbox_azure_access=False)
    customer = customer_of(sandbox)
    SubscriptionFactory(partner=sandbox, customer=customer, sku=telco_sku)
    with pytest.raises(OverageError) as refused:
        enable(customer, sandbox, CREATE_NEW)
    assert "andbox" in refused.value.description
    granted = PartnerFactory(is_sandbox=True, sandbox_azure_access=True)
    other = customer_of(granted)
    SubscriptionFactory(partner=granted, customer=other, sku=telco_sku)
    assert enable(other, granted, CREATE_NEW).enabled


@pytest.mark.parametrize(
    "make_target, expected",
    [
        (lambda c: "12345", "not a valid GUID"),
        (lambda c: str(uuid.uuid4()), "was not found"),
        (lambda c: str(AzureSubscriptionFactory(plan=c.azure_plan, number=5, status=AzureSubscriptionStatus.DELETED).pk), "not active"),
        (lambda c: str(AzureSubscriptionFactory().pk), "does not belong to this customer"),
    ],
    ids=["malformed", "unknown", "cancelled", "other-customer"],
)
def test_a_bad_azure_subscription_gets_400_saying_which(alpine, partner_a, make_target, expected):
    with pytest.raises(OverageError) as refused:
        enable(alpine, partner_a, make_target(alpine))
    assert refused.value.status == 400
    assert expected in refused.value.description
    assert not OverageAssignment.objects.exists()


def test_an_indirect_reseller_cannot_manage_overage(reseller, customer_of, telco_sku):
    with pytest.raises(OverageError) as refused:
        enable(customer_of(reseller), reseller, CREATE_NEW)
    assert refused.value.status == 403


def test_an_indirect_provider_acts_for_its_reseller(provider, reseller, customer_of, telco_sku):
    customer = customer_of(provider, reseller=reseller)
    SubscriptionFactory(partner=provider, reseller=reseller, customer=customer, sku=telco_sku)
    setting = enable(customer, provider, CREATE_NEW, reseller=reseller)
    assert (setting.owner, setting.reseller) == (provider, reseller)
    assert OverageAssignment.objects.get(customer=customer).reseller == reseller
    with pytest.raises(OverageError):
        enable(customer, provider, CREATE_NEW, reseller=PartnerFactory(kind="indirect_reseller"))


# --- transfer between partners ----------------------------------------------------------

def test_an_agreed_transfer_lets_the_other_partner_take_over_once_the_owner_set_none(alpine, partner_a, partner_b, telco_sku):
    SubscriptionFactory(partner=partner_b, customer=alpine, sku=telco_sku)
    enable(alpine, partner_a, sub1(alpine))
    transfer = services.overage_transfer_propose(customer=alpine, to_partner=partner_b, acting_user=None, partner=partner_a)
    for party, who in [("customer", None), ("from_partner", partner_a), ("to_partner", partner_b)]:
        services.overage_transfer_agree(transfer=transfer, party=party, acting_user=None, partner=who)
    with pytest.raises(OverageError):  # the owner has not set None yet
        enable(alpine, partner_b, CREATE_NEW)
    disable(alpine, partner_a)
    setting = enable(alpine, partner_b, CREATE_NEW)
    assert setting.owner == partner_b
    transfer.refresh_from_db()
    assert transfer.completed_at is not None
    assert OverageAssignment.objects.filter(customer=alpine, ended_at__isnull=True).get().partner == partner_b
    with pytest.raises(OverageError):  # and now A is the other partner
        enable(alpine, partner_a, sub1(alpine))


def test_a_transfer_not_agreed_by_everyone_does_not_move_ownership(alpine, partner_a, partner_b, telco_sku):
    SubscriptionFactory(partner=partner_b, customer=alpine, sku=telco_sku)
    transfer = OverageTransferFactory(customer=alpine, from_partner=partner_a, to_partner=partner_b,
                                      customer_agreed_at=T0, from_partner_agreed_at=None, to_partner_agreed_at=T0)
    with pytest.raises(OverageError) as refused:
        enable(alpine, partner_b, CREATE_NEW)
    assert refused.value.status == 409
    transfer.refresh_from_db()
    assert transfer.completed_at is None


def test_only_the_owner_agrees_to_give_overage_away(alpine, partner_a, partner_b):
    transfer = services.overage_transfer_propose(customer=alpine, to_partner=partner_b, acting_user=None, partner=partner_b)
    with pytest.raises(OverageError):
        services.overage_transfer_agree(transfer=transfer, party="from_partner", acting_user=None, partner=partner_b)
