"""Builds the demo Azure plans, overage settings and communication credits (SPEC §6-§8)."""

from decimal import Decimal

from billing.models import CreditAccount, CreditEntryKind, CreditLedgerEntry
from overage.models import AzurePlan, AzureSubscription, OverageAssignment, OverageService, OverageSetting

from . import demo_uuid
from .sales import azure_plan_subscription

# (customer, partner that created the plan, Azure subscriptions as (number, dedicated to overage))
AZURE_PLANS = [
    ("alpine", "contoso", [(1, False)]),
    ("blueyonder", "contoso", [(1, True)]),
]

# (customer, owner, reseller of record, Azure subscription number receiving overage or None).
# The owner is the first partner that bought an overage-capable SKU for the customer.
OVERAGE_SETTINGS = [
    ("alpine", "contoso", None, None),
    ("blueyonder", "contoso", None, 1),
    ("datum", "contoso", None, None),
    ("fourthcoffee", "fabrikam", "northwind", None),
    ("humongous", "tailspin", None, None),
]

# (customer, currency, auto-recharge, threshold, recharge amount, first purchase)
CREDIT_ACCOUNTS = [
    ("fourthcoffee", "EUR", True, Decimal("20.00"), Decimal("100.00"), Decimal("120.00")),
]


def build_azure_plans(clock, *, partners, customers, skus, actors):
    """Create the Azure plans with their Azure subscriptions.

    Returns ``{customer key: {number: AzureSubscription}}``.
    """
    azure_subscriptions = {}
    for customer_key, partner_key, numbers in AZURE_PLANS:
        customer, partner = customers[customer_key], partners[partner_key]
        subscription = azure_plan_subscription(
            clock, customer=customer, partner=partner, sku=skus["azure_plan"], actor=actors[partner_key]
        )
        plan, created = AzurePlan.objects.get_or_create(
            customer=customer, defaults={"partner": partner, "subscription": subscription}
        )
        if created:
            AzurePlan.objects.filter(pk=plan.pk).update(created_at=clock.purchased_at())
        azure_subscriptions[customer_key] = {}
        for number, dedicated in numbers:
            azure_subscription, created = AzureSubscription.objects.get_or_create(
                plan=plan,
                number=number,
                defaults={
                    "id": demo_uuid("azure-subscription", customer.tenant_id, number),
                    "friendly_name": f"Subscription {number}",
                    "partner": partner,
                    "dedicated_to_overage": dedicated,
                    "created_by": actors[partner_key],
                },
            )
            if created:
                AzureSubscription.objects.filter(pk=azure_subscription.pk).update(created_at=clock.purchased_at())
            azure_subscriptions[customer_key][number] = azure_subscription
    return azure_subscriptions


def build_overage(clock, *, partners, customers, azure_subscriptions, actors):
    """Create each customer's overage setting and, where enabled, its open assignment."""
    for customer_key, owner_key, reseller_key, number in OVERAGE_SETTINGS:
        customer, owner = customers[customer_key], partners[owner_key]
        reseller = partners[reseller_key] if reseller_key else None
        target = azure_subscriptions[customer_key][number] if number else None
        setting, created = OverageSetting.objects.get_or_create(
            customer=customer,
            service=OverageService.PHONE_SERVICES,
            defaults={"owner": owner, "reseller": reseller, "azure_subscription": target, "enabled": bool(target)},
        )
        if not created or target is None:
            continue
        OverageAssignment.objects.create(
            customer=customer, service=OverageService.PHONE_SERVICES, partner=owner, reseller=reseller,
            azure_subscription=target, started_at=clock.purchased_at(), started_by=actors[owner_key],
        )


def build_credits(clock, *, customers, actors_by_customer):
    """Open the communication-credit accounts with their first purchase."""
    for customer_key, currency, auto_recharge, threshold, recharge_amount, first in CREDIT_ACCOUNTS:
        account, created = CreditAccount.objects.get_or_create(
            customer=customers[customer_key],
            defaults={
                "currency": currency, "auto_recharge": auto_recharge, "threshold": threshold,
                "recharge_amount": recharge_amount,
            },
        )
        if created:
            CreditLedgerEntry.objects.create(
                account=account, kind=CreditEntryKind.PURCHASE, amount=first, occurred_at=clock.purchased_at(),
                actor=actors_by_customer.get(customer_key), note="Initial purchase of communication credits",
            )
