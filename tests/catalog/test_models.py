"""Database constraints and ``owned_by``/``transacted_by`` scoping of the catalog models."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from catalog.models import Availability, LicenseChannel, PriceListEntry, Sku, TenantLicense
from tests.factories import (
    DEFAULT_TERMS,
    AvailabilityFactory,
    PriceListEntryFactory,
    ProductFactory,
    SkuFactory,
    TenantLicenseFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "factory", [ProductFactory, SkuFactory, AvailabilityFactory, PriceListEntryFactory, TenantLicenseFactory]
)
def test_factory_builds_a_valid_row(factory):
    factory().full_clean()


def test_factory_defaults_follow_partner_center_shapes():
    availability = AvailabilityFactory()
    assert len(availability.sku.product_id) == 12
    assert availability.sku.sku_id == "0001"
    assert SkuFactory(product=availability.sku.product).sku_id == "0002"
    assert availability.terms == DEFAULT_TERMS
    assert availability.supports("P1Y", "monthly")


# Constraints


def test_sku_id_is_unique_per_product():
    sku = SkuFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Sku.objects.create(product=sku.product, sku_id=sku.sku_id, title="Duplicate")
    SkuFactory(sku_id=sku.sku_id)  # the same id under another product is fine


def test_sku_min_quantity_not_above_max():
    SkuFactory(min_quantity=5, max_quantity=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        SkuFactory(min_quantity=10, max_quantity=5)


def test_sku_min_quantity_positive():
    with pytest.raises(IntegrityError), transaction.atomic():
        SkuFactory(min_quantity=0)


def test_availability_id_is_unique_per_sku():
    availability = AvailabilityFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Availability.objects.create(sku=availability.sku, availability_id=availability.availability_id)


def test_price_not_negative():
    PriceListEntryFactory(unit_price=Decimal("0"), erp_price=Decimal("0"))
    with pytest.raises(IntegrityError), transaction.atomic():
        PriceListEntryFactory(unit_price=Decimal("-0.01"))
    with pytest.raises(IntegrityError), transaction.atomic():
        PriceListEntryFactory(erp_price=Decimal("-1"))


def test_price_ends_after_it_starts():
    start = datetime.date(2025, 1, 1)
    PriceListEntryFactory(effective_start=start, effective_end=start + datetime.timedelta(days=1))
    with pytest.raises(IntegrityError), transaction.atomic():
        PriceListEntryFactory(effective_start=start, effective_end=start)


def test_price_row_is_unique():
    row = PriceListEntryFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        PriceListEntry.objects.create(
            sku=row.sku,
            term_duration=row.term_duration,
            billing_plan=row.billing_plan,
            market=row.market,
            currency=row.currency,
            segment=row.segment,
            unit_price=Decimal("1"),
            erp_price=Decimal("1"),
            effective_start=row.effective_start,
        )


def test_tenant_license_quantity_positive():
    with pytest.raises(IntegrityError), transaction.atomic():
        TenantLicenseFactory(quantity=0)


@pytest.mark.parametrize("channel", [LicenseChannel.CSP_NCE, LicenseChannel.CSP_LEGACY])
def test_csp_tenant_license_needs_a_source_partner(channel, partner_a):
    assert TenantLicenseFactory(channel=channel).source_partner is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        TenantLicenseFactory(channel=channel, source_partner=None)


@pytest.mark.parametrize("channel", [LicenseChannel.WEB_DIRECT, LicenseChannel.VOLUME_LICENSING])
def test_non_csp_tenant_license_has_no_source_partner(channel, partner_a):
    assert TenantLicenseFactory(channel=channel).source_partner is None
    with pytest.raises(IntegrityError), transaction.atomic():
        TenantLicenseFactory(channel=channel, source_partner=partner_a)


# Scoping


def test_tenant_licenses_of_a_partners_customers_from_every_channel(partner_a, partner_b, customer_of):
    customer = customer_of(partner_a)
    own = TenantLicenseFactory(customer=customer, source_partner=partner_a)
    # Licenses another partner (or Microsoft directly) provisioned in the same tenant are part
    # of what A must see to know which add-ons it can sell.
    others = TenantLicenseFactory(customer=customer, source_partner=partner_b)
    ea = TenantLicenseFactory(customer=customer, channel=LicenseChannel.VOLUME_LICENSING)
    TenantLicenseFactory(customer=customer_of(partner_b), source_partner=partner_b)

    assert set(TenantLicense.objects.transacted_by(partner_a)) == {own, others, ea}
    assert TenantLicense.objects.transacted_by(partner_b).count() == 1


def test_tenant_licenses_of_a_resellers_customer(provider, reseller, partner_a, customer_of):
    license_ = TenantLicenseFactory(customer=customer_of(provider, reseller=reseller), source_partner=provider)
    assert list(TenantLicense.objects.transacted_by(provider)) == [license_]
    assert list(TenantLicense.objects.transacted_by(reseller)) == [license_]
    assert not TenantLicense.objects.transacted_by(partner_a).exists()


def test_the_search_text_follows_the_sku_and_its_product(db):
    from catalog.models import Sku
    from tests.factories import ProductFactory, SkuFactory

    product = ProductFactory(id="CFQ7TTC0ZZ01", title="Contoso Phone System")
    sku = SkuFactory(product=product, title="Annual Seats", description="Voice for everyone")
    text = Sku.objects.get(pk=sku.pk).search_text
    assert {"contoso phone system", "annual seats", "voice for everyone", "cfq7ttc0zz01:0001"} <= set(text.split("\n"))
    product.title = "Fabrikam Voice"
    product.save()
    assert "fabrikam voice" in Sku.objects.get(pk=sku.pk).search_text
