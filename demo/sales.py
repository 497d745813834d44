"""Builds the demo purchases: tenant licenses, carts and orders, subscriptions with their
seat history and first charge (SPEC §5, §13)."""

import datetime as dt
from decimal import ROUND_DOWN, Decimal

from catalog.models import Availability, LicenseChannel, TenantLicense
from subscriptions.models import (
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

from . import demo_uuid
from .catalog import price_for
from .clock import add_months

TERM, BILLING_CYCLE = "P1Y", "monthly"
REFUND_WINDOW = dt.timedelta(hours=168)

# (customer, transacting partner, reseller of record, [(SKU, quantity)], hours after the demo
# purchase time). Adatum buys for Blue Yonder after Contoso, so Contoso owns its overage.
PURCHASES = [
    ("alpine", "contoso", None, [("m365_e5", 25), ("teams_domestic", 25)], 0),
    ("blueyonder", "contoso", None, [("teams_phone_calling", 10)], 0),
    ("blueyonder", "adatum", None, [("m365_e5_calling", 5)], 3),
    ("datum", "contoso", None, [("teams_phone_calling", 5)], 0),
    ("fourthcoffee", "fabrikam", "northwind", [("m365_e5_calling", 12)], 0),
    ("humongous", "tailspin", None, [("teams_phone_calling", 3)], 0),
]

# Licenses the tenants got outside CSP: (customer, SKU, channel, quantity).
OTHER_CHANNEL_LICENSES = [
    ("coho", "o365_e3", LicenseChannel.VOLUME_LICENSING, 40),
]


def term_end(start):
    """Last day of an annual term starting on ``start``."""
    return add_months(start, 12) - dt.timedelta(days=1)


def build_other_licenses(customers, skus):
    for customer_key, sku_key, channel, quantity in OTHER_CHANNEL_LICENSES:
        TenantLicense.objects.get_or_create(
            customer=customers[customer_key],
            sku=skus[sku_key],
            channel=channel,
            source_partner=None,
            defaults={"quantity": quantity, "is_active": True},
        )


def build_purchases(clock, *, partners, customers, skus, actors):
    """One checked-out cart per purchase, one subscription per line; returns the count created."""
    created = 0
    for customer_key, partner_key, reseller_key, lines, hours_later in PURCHASES:
        customer, partner = customers[customer_key], partners[partner_key]
        reseller = partners[reseller_key] if reseller_key else None
        purchased_at = clock.purchased_at(hours_later=hours_later)
        order = _checked_out_order(
            customer=customer, partner=partner, reseller=reseller, lines=lines, skus=skus,
            purchased_at=purchased_at, actor=actors[partner_key],
        )
        for sku_key, quantity in lines:
            created += _subscription(
                clock, order=order, sku=skus[sku_key], quantity=quantity, purchased_at=purchased_at,
                actor=actors[partner_key],
            )
    return created


def _checked_out_order(*, customer, partner, reseller, lines, skus, purchased_at, actor):
    key = (customer.tenant_id, partner.mpn_id, purchased_at.isoformat())
    cart, created = Cart.objects.get_or_create(
        id=demo_uuid("cart", *key),
        defaults={
            "partner": partner, "customer": customer, "reseller": reseller, "status": CartStatus.ORDERED,
            "created_by": actor, "expires_at": purchased_at + dt.timedelta(days=7),
        },
    )
    if created:
        # auto_now_add stamps "now"; the demo cart was made at purchase time.
        Cart.objects.filter(pk=cart.pk).update(created_at=purchased_at, updated_at=purchased_at)
        for number, (sku_key, quantity) in enumerate(lines, start=1):
            CartLine.objects.create(
                cart=cart, line_number=number, availability=_availability(skus[sku_key]), quantity=quantity,
                term_duration=TERM, billing_cycle=BILLING_CYCLE, friendly_name=skus[sku_key].title,
            )
    order, created = Order.objects.get_or_create(
        id=demo_uuid("order", *key),
        defaults={
            "cart": cart, "partner": partner, "reseller": reseller, "customer": customer,
            "currency": customer.currency, "created_by": actor,
        },
    )
    if created:
        Order.objects.filter(pk=order.pk).update(created_at=purchased_at)
    return order


def _availability(sku):
    return Availability.objects.filter(sku=sku).order_by("availability_id").first()


def _subscription(clock, *, order, sku, quantity, purchased_at, actor):
    """Create one active annual subscription with its license, seat history and first
    monthly charge, unless it exists. Returns 1 when created."""
    customer = order.customer
    subscription_id = demo_uuid("subscription", customer.tenant_id, order.partner.mpn_id, sku.code)
    if Subscription.objects.filter(pk=subscription_id).exists():
        return 0
    price = price_for(sku, market=customer.country, term=TERM, cycle=BILLING_CYCLE, clock=clock)
    license_ = TenantLicense.objects.create(
        customer=customer, sku=sku, channel=LicenseChannel.CSP_NCE, source_partner=order.partner,
        quantity=quantity, is_active=True,
    )
    TenantLicense.objects.filter(pk=license_.pk).update(provisioned_at=purchased_at)
    start = purchased_at.date()
    subscription = Subscription.objects.create(
        id=subscription_id, customer=customer, partner=order.partner, reseller=order.reseller, sku=sku,
        availability=_availability(sku), order=order, license=license_, friendly_name=sku.title,
        quantity=quantity, status=SubscriptionStatus.ACTIVE, term_duration=TERM, billing_cycle=BILLING_CYCLE,
        start_date=start, commitment_end_date=term_end(start), auto_renew_enabled=True,
        consumption_type=sku.consumption_type, unit_price=price.unit_price, currency=price.currency,
        purchased_at=purchased_at, term_started_at=purchased_at,
    )
    SeatChange.objects.create(
        subscription=subscription, kind=SeatChangeKind.PURCHASE, delta=quantity, quantity_after=quantity,
        occurred_at=purchased_at, refundable_until=purchased_at + REFUND_WINDOW, actor=actor,
    )
    ChargeEvent.objects.create(
        subscription=subscription, order=order, charge_type=ChargeType.NEW, quantity=quantity,
        sku=sku, availability=subscription.availability, term_duration=TERM, billing_cycle=BILLING_CYCLE,
        unit_price=price.unit_price, effective_unit_price=price.unit_price,
        amount=(price.unit_price * quantity).quantize(Decimal("0.01"), rounding=ROUND_DOWN),
        currency=price.currency, charge_start=start, charge_end=add_months(start, 1) - dt.timedelta(days=1),
        occurred_at=purchased_at,
    )
    return 1


def azure_plan_subscription(clock, *, customer, partner, sku, actor):
    """The no-cost Subscription row an Azure plan is listed as among the customer's subscriptions."""
    purchased_at = clock.purchased_at()
    start = purchased_at.date()
    subscription, _ = Subscription.objects.get_or_create(
        id=demo_uuid("azure-plan", customer.tenant_id),
        defaults={
            "customer": customer, "partner": partner, "sku": sku, "availability": _availability(sku),
            "friendly_name": sku.title, "quantity": 1, "status": SubscriptionStatus.ACTIVE,
            "term_duration": TERM, "billing_cycle": BILLING_CYCLE, "start_date": start,
            "commitment_end_date": term_end(start), "auto_renew_enabled": True, "consumption_type": None,
            "unit_price": Decimal("0"), "currency": customer.currency, "purchased_at": purchased_at,
            "term_started_at": purchased_at,
        },
    )
    return subscription
