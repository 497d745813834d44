"""Reads of the catalog: prerequisite checks against the tenant and the price in force."""

import datetime
from decimal import Decimal

import pytest

from catalog.models import LicenseChannel, Sku
from catalog.selectors import (
    addon_prerequisite_rows,
    addons_missing_prerequisite,
    price_list_markets,
    with_current_price,
)
from tests.factories import CustomerFactory, PartnerFactory, PriceListEntryFactory, SkuFactory, TenantLicenseFactory

pytestmark = pytest.mark.django_db

JAN_1 = datetime.date(2025, 1, 1)
PRICE = {"market": "US", "term_duration": "P1Y", "billing_plan": "monthly", "segment": "commercial"}


@pytest.fixture
def addon_setup():
    base_a = SkuFactory(title="Base A")
    base_b = SkuFactory(title="Base B")
    addon = SkuFactory(is_addon=True, prerequisites=[base_a, base_b])
    return base_a, base_b, addon


@pytest.mark.parametrize(
    "channel", [LicenseChannel.CSP_NCE, LicenseChannel.CSP_LEGACY, LicenseChannel.WEB_DIRECT,
                LicenseChannel.VOLUME_LICENSING]
)
def test_a_prerequisite_from_any_channel_counts(channel, addon_setup):
    base_a, _base_b, addon = addon_setup
    customer = CustomerFactory()
    TenantLicenseFactory(customer=customer, sku=base_a, channel=channel)
    assert addons_missing_prerequisite(skus=[addon], customer=customer) == set()


def test_an_inactive_prerequisite_does_not_count(addon_setup):
    base_a, _base_b, addon = addon_setup
    customer = CustomerFactory()
    TenantLicenseFactory(customer=customer, sku=base_a, is_active=False)
    assert addons_missing_prerequisite(skus=[addon], customer=customer) == {addon.pk}


def test_another_tenants_license_does_not_count(addon_setup):
    base_a, _base_b, addon = addon_setup
    TenantLicenseFactory(sku=base_a)
    assert addons_missing_prerequisite(skus=[addon], customer=CustomerFactory()) == {addon.pk}


def test_base_skus_are_never_missing_anything(addon_setup):
    base_a, base_b, _addon = addon_setup
    assert addons_missing_prerequisite(skus=[base_a, base_b], customer=CustomerFactory()) == set()


def test_prerequisite_rows_mark_what_the_tenant_has(addon_setup):
    base_a, base_b, addon = addon_setup
    customer = CustomerFactory()
    TenantLicenseFactory(
        customer=customer, sku=base_b, channel=LicenseChannel.CSP_NCE, source_partner=PartnerFactory(), quantity=7
    )
    rows = {row.sku.pk: row for row in addon_prerequisite_rows(sku=addon, customer=customer)}
    assert not rows[base_a.pk].in_tenant
    assert rows[base_b.pk].in_tenant
    assert [lic.quantity for lic in rows[base_b.pk].licenses] == [7]


def test_prerequisite_rows_without_a_customer_list_the_skus(addon_setup):
    base_a, base_b, addon = addon_setup
    rows = addon_prerequisite_rows(sku=addon)
    assert {row.sku.pk for row in rows} == {base_a.pk, base_b.pk}
    assert not any(row.in_tenant for row in rows)


def price_on(sku, day, **overrides):
    return with_current_price(Sku.objects.filter(pk=sku.pk), **{**PRICE, **overrides}, on=day).get().price_unit


def test_price_in_force_starts_on_its_start_date_and_ends_before_its_end_date():
    sku = SkuFactory()
    PriceListEntryFactory(sku=sku, effective_start=JAN_1, effective_end=datetime.date(2025, 7, 1),
                          unit_price=Decimal("10"))
    assert price_on(sku, datetime.date(2024, 12, 31)) is None
    assert price_on(sku, JAN_1) == Decimal("10")
    assert price_on(sku, datetime.date(2025, 6, 30)) == Decimal("10")
    assert price_on(sku, datetime.date(2025, 7, 1)) is None  # the end date is exclusive


def test_the_latest_started_price_wins():
    sku = SkuFactory()
    PriceListEntryFactory(sku=sku, effective_start=JAN_1, unit_price=Decimal("10"))
    PriceListEntryFactory(sku=sku, effective_start=datetime.date(2025, 3, 1), unit_price=Decimal("11"))
    assert price_on(sku, datetime.date(2025, 2, 1)) == Decimal("10")
    assert price_on(sku, datetime.date(2025, 3, 1)) == Decimal("11")


def test_price_matches_market_term_billing_plan_and_segment():
    sku = SkuFactory()
    PriceListEntryFactory(sku=sku, market="IT", currency="EUR", unit_price=Decimal("9"))
    PriceListEntryFactory(sku=sku, segment="education", unit_price=Decimal("3"))
    day = datetime.date(2025, 2, 1)
    assert price_on(sku, day) is None
    assert price_on(sku, day, market="IT") == Decimal("9")
    assert price_on(sku, day, segment="education") == Decimal("3")
    assert price_on(sku, day, market="IT", term_duration="P1M") is None


def test_markets_come_from_the_price_list_and_include_us():
    PriceListEntryFactory(market="IT", currency="EUR")
    PriceListEntryFactory(market="GB", currency="GBP")
    assert price_list_markets() == ["GB", "IT", "US"]
