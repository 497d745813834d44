"""The monthly instalment totals the database keeps (``MonthlyInstalmentTotal``, triggers of
migration 0009): after every kind of write to subscriptions, by the services' ``save``, by
bulk updates and by deletes, they equal the sum over the subscriptions themselves, so the
dashboard's licence estimate read from them is exact."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import DecimalField, ExpressionWrapper, F, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from catalog.models import AZURE_PLAN_PRODUCT_ID, BillingCycle
from subscriptions.models import MonthlyInstalmentTotal, Subscription, SubscriptionStatus
from tests.factories.catalog import SkuFactory
from tests.factories.subscriptions import SubscriptionFactory

pytestmark = pytest.mark.django_db


def stored():
    rows = (
        MonthlyInstalmentTotal.objects.values("partner_id", "reseller_key", "currency", "start_month", "end_month")
        .annotate(total=Sum("amount")).order_by()
    )
    return {
        (r["partner_id"], r["reseller_key"], r["currency"], r["start_month"], r["end_month"]): r["total"].quantize(Decimal("0.01"))
        for r in rows if r["total"].quantize(Decimal("0.01"))
    }


def computed():
    amount = ExpressionWrapper(F("quantity") * F("unit_price"), output_field=DecimalField(max_digits=24, decimal_places=6))
    rows = (
        Subscription.objects.licenses().live().filter(billing_cycle=BillingCycle.MONTHLY)
        .annotate(start_month=TruncMonth("start_date"), end_month=TruncMonth("commitment_end_date"))
        .values("partner_id", "reseller_id", "currency", "start_month", "end_month")
        .annotate(total=Sum(amount)).order_by()
    )
    return {
        (r["partner_id"], r["reseller_id"] or 0, r["currency"], r["start_month"], r["end_month"]): Decimal(r["total"]).quantize(Decimal("0.01"))
        for r in rows
    }


def test_totals_follow_every_write_to_subscriptions(partner_a, partner_b):
    today = timezone.localdate()
    one = SubscriptionFactory(partner=partner_a, quantity=3, unit_price=Decimal("12.50"))
    two = SubscriptionFactory(partner=partner_a, quantity=2, unit_price=Decimal("7.25"), currency="EUR")
    SubscriptionFactory(partner=partner_b, quantity=5, unit_price=Decimal("4.00"))
    SubscriptionFactory(partner=partner_a, billing_cycle=BillingCycle.ANNUAL, quantity=9)  # paid up front
    SubscriptionFactory(partner=partner_a, sku=SkuFactory(product__id=AZURE_PLAN_PRODUCT_ID), quantity=1)
    assert stored() == computed() != {}

    one.quantity = 8  # seats added
    one.save()
    assert stored() == computed()
    two.status = SubscriptionStatus.SUSPENDED  # still billed
    two.save(update_fields=["status"])
    assert stored() == computed()
    two.status = SubscriptionStatus.EXPIRED  # no longer billed
    two.save(update_fields=["status"])
    assert stored() == computed()
    # A renewal (a bulk update, as renew_subscriptions writes it) moves the term.
    Subscription.objects.filter(pk=one.pk).update(
        start_date=today, commitment_end_date=today + dt.timedelta(days=364), unit_price=Decimal("13.00"),
        version=F("version") + 1,
    )
    assert stored() == computed()
    Subscription.objects.filter(pk=one.pk).update(friendly_name="renamed")  # no figure changes
    assert stored() == computed()
    Subscription.objects.filter(partner=partner_b).delete()
    assert stored() == computed()
    assert {key[0] for key in stored()} == {partner_a.pk}


def test_totals_of_a_resold_subscription_count_for_provider_and_reseller(provider, reseller):
    subscription = SubscriptionFactory(partner=provider, reseller=reseller, quantity=2, unit_price=Decimal("10"))
    assert stored() == computed()
    for partner in (provider, reseller):
        assert MonthlyInstalmentTotal.objects.transacted_by(partner).aggregate(t=Sum("amount"))["t"] == Decimal("20")
    Subscription.objects.filter(pk=subscription.pk).update(reseller=None)
    assert stored() == computed()
    assert not MonthlyInstalmentTotal.objects.transacted_by(reseller).exclude(amount=0).exists()
