"""Factories for catalog: products, SKUs, availabilities, price-list rows, tenant licenses.

Invariant kept here: a tenant license of a CSP channel has a ``source_partner``, any other
channel has none, as the database requires. No relationship is created for the source
partner: scoping tests rely on a license alone never making a customer visible.
"""

import datetime
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from catalog.models import (
    Availability,
    BillingCycle,
    LicenseChannel,
    PriceListEntry,
    Product,
    ProductType,
    Sku,
    TenantLicense,
    TermDuration,
)

from .portal import CustomerFactory, PartnerFactory

CSP_CHANNELS = {LicenseChannel.CSP_NCE, LicenseChannel.CSP_LEGACY}

DEFAULT_TERMS = [
    {"termDuration": TermDuration.P1Y.value, "billingCycle": BillingCycle.MONTHLY.value},
    {"termDuration": TermDuration.P1M.value, "billingCycle": BillingCycle.MONTHLY.value},
]


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("id",)

    id = factory.Sequence(lambda n: f"CFQ7TTC0{n:04d}")
    title = factory.Sequence(lambda n: f"Product {n}")
    product_type = ProductType.ONLINE_SERVICES_NCE
    segments = factory.LazyFunction(lambda: ["commercial"])


class SkuFactory(DjangoModelFactory):
    """A SKU; ``sku_id`` counts up per product: 0001, 0002, …"""

    class Meta:
        model = Sku
        skip_postgeneration_save = True

    product = factory.SubFactory(ProductFactory)
    sku_id = factory.LazyAttribute(lambda o: f"{o.product.skus.count() + 1:04d}")
    title = factory.LazyAttribute(lambda o: f"{o.product.title} SKU {o.sku_id}")
    min_quantity = 1
    max_quantity = 300
    supported_terms = factory.LazyFunction(lambda: [TermDuration.P1M.value, TermDuration.P1Y.value])
    supported_billing_cycles = factory.LazyFunction(lambda: [BillingCycle.MONTHLY.value, BillingCycle.ANNUAL.value])
    consumption_type = None
    is_addon = False

    class Params:
        overage = factory.Trait(consumption_type="overage", included_minutes_domestic=3000)

    @factory.post_generation
    def prerequisites(self, create, extracted, **kwargs):
        if create and extracted:
            self.prerequisites.set(extracted)


class AvailabilityFactory(DjangoModelFactory):
    class Meta:
        model = Availability

    sku = factory.SubFactory(SkuFactory)
    availability_id = factory.Sequence(lambda n: f"CFQ7TTC0{n:04d}")
    terms = factory.LazyFunction(lambda: [dict(t) for t in DEFAULT_TERMS])


class PriceListEntryFactory(DjangoModelFactory):
    class Meta:
        model = PriceListEntry

    sku = factory.SubFactory(SkuFactory)
    term_duration = TermDuration.P1Y
    billing_plan = BillingCycle.MONTHLY
    market = "US"
    currency = "USD"
    unit_price = Decimal("10.000000")
    erp_price = Decimal("12.000000")
    effective_start = datetime.date(2025, 1, 1)
    effective_end = None


class TenantLicenseFactory(DjangoModelFactory):
    """A license in the customer's tenant. CSP channels (the default is csp_nce) get a source
    partner; web direct and volume licensing get none."""

    class Meta:
        model = TenantLicense

    customer = factory.SubFactory(CustomerFactory)
    sku = factory.SubFactory(SkuFactory)
    channel = LicenseChannel.CSP_NCE
    source_partner = factory.Maybe(
        factory.LazyAttribute(lambda o: o.channel in CSP_CHANNELS),
        yes_declaration=factory.SubFactory(PartnerFactory),
        no_declaration=None,
    )
    quantity = 10
    is_active = True


    @factory.post_generation
    def provisioned_at(obj, create, extracted, **kwargs):
        """``provisioned_at=<datetime>``: when the license reached the tenant (the field is
        ``auto_now_add``, so it is set after the insert). Rating counts a license's minutes
        only in months that end after it was provisioned."""
        if create and extracted is not None:
            type(obj).objects.filter(pk=obj.pk).update(provisioned_at=extracted)
            obj.provisioned_at = extracted
