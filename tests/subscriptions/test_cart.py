"""Cart services: request-level refusals (nothing written) and Partner Center line errors."""

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
import time_machine
from django.utils import timezone

from catalog.models import LicenseChannel
from portal.errors import ErrorCode
from subscriptions.errors import CartInputError
from subscriptions.models import Cart, CartLine, CartStatus, SubscriptionStatus
from subscriptions.selectors import allowed_custom_term_end_dates
from subscriptions.services.cart import LineInput, cart_create, cart_update, cart_validate
from tests.factories import (
    AvailabilityFactory,
    CustomerFactory,
    MembershipFactory,
    PartnerFactory,
    PriceListEntryFactory,
    ProductFactory,
    SkuFactory,
    SubscriptionFactory,
    TenantLicenseFactory,
)

pytestmark = pytest.mark.django_db

ALL_TERMS = [
    {"termDuration": "P1M", "billingCycle": "monthly"},
    {"termDuration": "P1Y", "billingCycle": "monthly"},
    {"termDuration": "P1Y", "billingCycle": "annual"},
]


def make_catalog():
    """A base SKU (Office 365 E3-like), a Teams Phone-like add-on needing it (overage
    capable), each with an availability and US prices for every term/billing plan."""
    base_product = ProductFactory(id="CFQ7TTC0LF8Q", title="Office 365 E3")
    base = SkuFactory(product=base_product, sku_id="0001", title="Office 365 E3", max_quantity=300)
    addon_product = ProductFactory(id="CFQ7TTC0RM8K", title="Teams Phone Standard")
    addon = SkuFactory(
        product=addon_product, sku_id="0001", title="Teams Phone Standard", is_addon=True, prerequisites=[base],
        consumption_type="overage",
    )
    base_av = AvailabilityFactory(sku=base, availability_id="CFQ7TTC0AAAA", terms=[dict(t) for t in ALL_TERMS])
    addon_av = AvailabilityFactory(sku=addon, availability_id="CFQ7TTC0BBBB", terms=[dict(t) for t in ALL_TERMS])
    for sku, monthly in ((base, Decimal("23.000000")), (addon, Decimal("8.000000"))):
        PriceListEntryFactory(sku=sku, term_duration="P1Y", billing_plan="monthly", unit_price=monthly)
        PriceListEntryFactory(sku=sku, term_duration="P1Y", billing_plan="annual", unit_price=monthly * 12)
        PriceListEntryFactory(sku=sku, term_duration="P1M", billing_plan="monthly", unit_price=monthly * Decimal("1.2"))
    return SimpleNamespace(base=base, addon=addon, base_av=base_av, addon_av=addon_av)


def line(availability, quantity=1, term="P1Y", cycle="monthly", **kwargs):
    return LineInput(
        catalog_item_id=availability.catalog_item_id, quantity=quantity, term_duration=term, billing_cycle=cycle,
        **kwargs,
    )


def make_buyer(partner=None, **customer_fields):
    partner = partner or PartnerFactory()
    customer = CustomerFactory(partner=partner, **customer_fields)
    user = MembershipFactory(partner=partner, roles=["sales_agent"]).user
    return partner, customer, user


def errors_of(cart):
    return [(ln.error_code, ln.error_description) for ln in cart.lines.order_by("line_number")]


# --- add-on prerequisites (SPEC §3) ------------------------------------------------------------


def test_addon_without_prerequisite_in_tenant_gets_400041_and_cart_is_still_created():
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    cart = cart_create(partner=partner, customer=customer, acting_user=user, lines=[line(catalog.addon_av)])
    assert cart.status == CartStatus.ACTIVE
    assert errors_of(cart) == [
        (400041, "The addon is not purchasable without a compatible base product.")
    ]


def test_prerequisite_through_volume_licensing_counts():
    catalog = make_catalog()
    partner, customer, user = make_buyer(name="Coho Winery")
    TenantLicenseFactory(customer=customer, sku=catalog.base, channel=LicenseChannel.VOLUME_LICENSING)
    cart = cart_create(partner=partner, customer=customer, acting_user=user, lines=[line(catalog.addon_av)])
    assert errors_of(cart) == [(None, "")]


def test_prerequisite_bought_through_another_partner_counts():
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    TenantLicenseFactory(customer=customer, sku=catalog.base, channel=LicenseChannel.CSP_NCE,
                         source_partner=PartnerFactory())
    cart = cart_create(partner=partner, customer=customer, acting_user=user, lines=[line(catalog.addon_av)])
    assert errors_of(cart) == [(None, "")]


def test_inactive_prerequisite_license_does_not_count():
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    TenantLicenseFactory(customer=customer, sku=catalog.base, channel=LicenseChannel.WEB_DIRECT, is_active=False)
    cart = cart_create(partner=partner, customer=customer, acting_user=user, lines=[line(catalog.addon_av)])
    assert errors_of(cart)[0][0] == ErrorCode.ADDON_PREREQUISITE_MISSING


def test_prerequisite_bought_in_the_same_cart_does_not_count_yet():
    """The check is against the tenant: a base line in the same cart is not provisioned yet."""
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    cart = cart_create(partner=partner, customer=customer, acting_user=user,
                       lines=[line(catalog.base_av), line(catalog.addon_av)])
    assert [code for code, _ in errors_of(cart)] == [None, 400041]


# --- other line errors (SPEC §4) ------------------------------------------------------------------


def test_term_not_supported_gets_400039_with_partner_center_text():
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    cart = cart_create(partner=partner, customer=customer, acting_user=user,
                       lines=[line(catalog.base_av), line(catalog.base_av, term="P3Y", cycle="triennial")])
    assert errors_of(cart)[1] == (
        400039, "Availability CFQ7TTC0AAAA referenced by line item 1 does not support term 'P3Y'."
    )


def test_billing_cycle_not_offered_for_the_term_gets_400039():
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    cart = cart_create(partner=partner, customer=customer, acting_user=user,
                       lines=[line(catalog.base_av, term="P1M", cycle="annual")])
    code, description = errors_of(cart)[0]
    assert code == 400039
    assert "does not support term 'P1M' with billing cycle 'annual'" in description


def test_quantity_over_sku_maximum_gets_10015():
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    cart = cart_create(partner=partner, customer=customer, acting_user=user, lines=[line(catalog.base_av, 301)])
    assert errors_of(cart) == [
        (10015, "The quantity 301 exceeds the maximum of 300 seats per subscription of CFQ7TTC0LF8Q:0001.")
    ]


def test_quantity_under_sku_minimum_gets_10015():
    catalog = make_catalog()
    catalog.base.min_quantity = 5
    catalog.base.save()
    partner, customer, user = make_buyer()
    cart = cart_create(partner=partner, customer=customer, acting_user=user, lines=[line(catalog.base_av, 2)])
    assert errors_of(cart) == [
        (10015, "The quantity 2 is below the minimum of 5 seats per subscription of CFQ7TTC0LF8Q:0001.")
    ]


def test_per_customer_limit_counts_subscriptions_of_every_partner_and_earlier_lines():
    catalog = make_catalog()
    catalog.base.max_per_customer = 10
    catalog.base.save()
    partner, customer, user = make_buyer()
    SubscriptionFactory(partner=PartnerFactory(), customer=customer, sku=catalog.base, quantity=4)
    SubscriptionFactory(partner=partner, customer=customer, sku=catalog.base, quantity=50,
                        status=SubscriptionStatus.DELETED)  # cancelled: not counted
    cart = cart_create(partner=partner, customer=customer, acting_user=user,
                       lines=[line(catalog.base_av, 5), line(catalog.base_av, 2)])
    assert errors_of(cart) == [
        (None, ""),
        (800089, "For the current term, the requested number of 2 asset(s) exceeded the remaining limit of "
                 "1 assets allowed per customer."),
    ]


def test_custom_term_end_date_not_in_the_allowed_list_gets_10017():
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    with time_machine.travel(datetime.datetime(2026, 3, 15, 12, tzinfo=datetime.UTC), tick=False):
        cart = cart_create(partner=partner, customer=customer, acting_user=user, lines=[
            line(catalog.base_av, custom_term_end_date=datetime.date(2026, 4, 30)),
            line(catalog.base_av, custom_term_end_date=datetime.date(2026, 4, 29)),
        ])
    assert errors_of(cart) == [
        (None, ""),
        (10017, "The custom term end date 2026-04-29 is not one of the allowed end dates for term 'P1Y'."),
    ]


def test_custom_term_end_date_aligned_with_an_active_subscription_of_the_same_partner_is_allowed():
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    SubscriptionFactory(partner=partner, customer=customer, sku=catalog.base,
                        start_date=datetime.date(2025, 6, 21), commitment_end_date=datetime.date(2026, 6, 20))
    with time_machine.travel(datetime.datetime(2026, 3, 15, 12, tzinfo=datetime.UTC), tick=False):
        cart = cart_create(partner=partner, customer=customer, acting_user=user,
                           lines=[line(catalog.base_av, custom_term_end_date=datetime.date(2026, 6, 20))])
    assert errors_of(cart) == [(None, "")]


def test_sandbox_partner_cannot_buy_more_than_25_licenses_per_subscription():
    catalog = make_catalog()
    partner, customer, user = make_buyer(PartnerFactory(is_sandbox=True))
    cart = cart_create(partner=partner, customer=customer, acting_user=user, lines=[line(catalog.base_av, 26)])
    assert errors_of(cart) == [(800018, "Sandbox limit reached: at most 25 licenses per subscription.")]


def test_sandbox_partner_cannot_hold_more_than_5_subscriptions_per_customer():
    catalog = make_catalog()
    partner, customer, user = make_buyer(PartnerFactory(is_sandbox=True))
    for _ in range(4):
        SubscriptionFactory(partner=partner, customer=customer, sku=catalog.base)
    cart = cart_create(partner=partner, customer=customer, acting_user=user,
                       lines=[line(catalog.base_av), line(catalog.base_av)])
    assert errors_of(cart) == [
        (None, ""), (800018, "Sandbox limit reached: at most 5 subscriptions per customer."),
    ]


def test_sandbox_partner_over_75_customers_cannot_buy():
    catalog = make_catalog()
    partner, customer, user = make_buyer(PartnerFactory(is_sandbox=True))
    for _ in range(75):
        CustomerFactory(partner=partner)
    cart = cart_create(partner=partner, customer=customer, acting_user=user, lines=[line(catalog.base_av)])
    assert errors_of(cart) == [(800018, "Sandbox limit reached: a sandbox partner can have at most 75 customers.")]


# --- request-level refusals: nothing written -------------------------------------------------


@pytest.mark.parametrize(
    ("catalog_item_id", "code", "description"),
    [
        ("CFQ7TTC0LF8Q:0001:CFQ7TTC0ZZZZ", 800004, "Catalog item CFQ7TTC0LF8Q:0001:CFQ7TTC0ZZZZ was not found."),
        ("CFQ7TTC0LF8Q:0001", 800002,
         "Catalog item id 'CFQ7TTC0LF8Q:0001' is malformed: expected productId:skuId:availabilityId."),
    ],
)
def test_bad_catalog_item_is_refused_before_writing(catalog_item_id, code, description):
    make_catalog()
    partner, customer, user = make_buyer()
    with pytest.raises(CartInputError) as caught:
        cart_create(partner=partner, customer=customer, acting_user=user,
                    lines=[LineInput(catalog_item_id, 1, "P1Y", "monthly")])
    assert (caught.value.code, caught.value.description, caught.value.status) == (code, description, 400)
    assert not Cart.objects.exists()


@pytest.mark.parametrize("quantity", [0, -1, "3", 1.5, True])
def test_bad_quantity_is_refused_with_800002(quantity):
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    with pytest.raises(CartInputError) as caught:
        cart_create(partner=partner, customer=customer, acting_user=user,
                    lines=[LineInput(catalog.base_av.catalog_item_id, quantity, "P1Y", "monthly")])
    assert caught.value.code == ErrorCode.INVALID_INPUT
    assert not Cart.objects.exists()


def test_indirect_reseller_cannot_create_a_cart(provider, reseller):
    catalog = make_catalog()
    customer = CustomerFactory(partner=provider, reseller=reseller)
    with pytest.raises(CartInputError) as caught:
        cart_create(partner=reseller, customer=customer, acting_user=None, lines=[line(catalog.base_av)])
    assert (caught.value.code, caught.value.status) == (ErrorCode.NOT_PERMITTED, 403)
    assert not Cart.objects.exists()


def test_partner_without_relationship_with_the_customer_is_refused():
    catalog = make_catalog()
    partner, _, user = make_buyer()
    stranger = CustomerFactory(partner=PartnerFactory())
    with pytest.raises(CartInputError) as caught:
        cart_create(partner=partner, customer=stranger, acting_user=user, lines=[line(catalog.base_av)])
    assert caught.value.code == ErrorCode.NO_RELATIONSHIP


def test_indirect_provider_cart_names_the_reseller_of_record_by_default(provider, reseller):
    catalog = make_catalog()
    customer = CustomerFactory(partner=provider, reseller=reseller)
    cart = cart_create(partner=provider, customer=customer, acting_user=None, lines=[line(catalog.base_av)])
    assert cart.reseller == reseller


def test_reseller_not_linked_to_the_provider_is_refused_with_800016(provider, reseller):
    from tests.factories import ResellerFactory

    catalog = make_catalog()
    customer = CustomerFactory(partner=provider, reseller=reseller)
    other = ResellerFactory()  # linked to another provider
    with pytest.raises(CartInputError) as caught:
        cart_create(partner=provider, customer=customer, acting_user=None, lines=[line(catalog.base_av)],
                    reseller=other)
    assert caught.value.code == 800016
    assert not Cart.objects.exists()


def test_direct_bill_partner_cannot_name_a_reseller(reseller):
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    with pytest.raises(CartInputError) as caught:
        cart_create(partner=partner, customer=customer, acting_user=user, lines=[line(catalog.base_av)],
                    reseller=reseller)
    assert caught.value.code == 800016


def test_update_replaces_the_lines_and_revalidates():
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    cart = cart_create(partner=partner, customer=customer, acting_user=user, lines=[line(catalog.addon_av)])
    cart = cart_update(cart=cart, acting_user=user, lines=[line(catalog.base_av, 3), line(catalog.addon_av)])
    assert [(ln.line_number, ln.availability, ln.quantity) for ln in cart.lines.all()] == [
        (0, catalog.base_av, 3), (1, catalog.addon_av, 1),
    ]
    assert [code for code, _ in errors_of(cart)] == [None, 400041]


def test_expired_cart_cannot_be_updated():
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    cart = cart_create(partner=partner, customer=customer, acting_user=user, lines=[line(catalog.base_av)])
    Cart.objects.filter(pk=cart.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    with pytest.raises(CartInputError) as caught:
        cart_update(cart=cart, acting_user=user, lines=[line(catalog.base_av, 2)])
    assert caught.value.code == ErrorCode.CART_NOT_ACTIVE
    assert cart.lines.get().quantity == 1


def test_cart_expires_seven_days_after_creation():
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    cart = cart_create(partner=partner, customer=customer, acting_user=user, lines=[line(catalog.base_av)])
    lifetime = cart.expires_at - cart.created_at
    assert abs(lifetime - datetime.timedelta(days=7)) < datetime.timedelta(seconds=2)


# --- query budget -----------------------------------------------------------------------------


def test_validating_100_lines_for_a_tenant_with_5000_licenses_takes_at_most_5_queries(
    django_assert_max_num_queries,
):
    catalog = make_catalog()
    catalog.addon.max_per_customer = 10_000
    catalog.addon.save()
    partner, customer, user = make_buyer()
    other_partner = PartnerFactory()
    bulk = [
        TenantLicenseFactory.build(customer=customer, sku=catalog.base, source_partner=other_partner, quantity=1)
        for _ in range(5000)
    ]
    from catalog.models import TenantLicense

    TenantLicense.objects.bulk_create(bulk)
    lines = [line(catalog.addon_av if n % 2 else catalog.base_av) for n in range(100)]
    cart = cart_create(partner=partner, customer=customer, acting_user=user, lines=lines)
    CartLine.objects.filter(cart=cart).update(error_code=1, error_description="stale")  # force the write
    with django_assert_max_num_queries(5):
        cart_validate(cart=cart)
    assert set(errors_of(cart)) == {(None, "")}


# --- coterminosity --------------------------------------------------------------------------------


def test_allowed_end_dates_are_month_ends_and_same_partner_active_subscription_ends():
    catalog = make_catalog()
    partner, customer, _ = make_buyer()
    start = datetime.date(2026, 3, 15)
    aligned = SubscriptionFactory(partner=partner, customer=customer, sku=catalog.base,
                                  commitment_end_date=datetime.date(2026, 8, 20), start_date=datetime.date(2025, 8, 21))
    SubscriptionFactory(partner=partner, customer=customer, sku=catalog.base, term_duration="P1M",
                        start_date=datetime.date(2026, 3, 10), commitment_end_date=datetime.date(2026, 4, 9))
    SubscriptionFactory(partner=PartnerFactory(), customer=customer, sku=catalog.base,
                        start_date=datetime.date(2025, 9, 11), commitment_end_date=datetime.date(2026, 9, 10))
    SubscriptionFactory(partner=partner, customer=customer, sku=catalog.base, status=SubscriptionStatus.SUSPENDED,
                        start_date=datetime.date(2025, 10, 11), commitment_end_date=datetime.date(2026, 10, 10))
    items = allowed_custom_term_end_dates(customer=customer, partner=partner, term_duration="P1Y", start_date=start)
    month_ends = [
        i["allowedCustomTermEndDate"] for i in items if i["allowedCustomTermEndDateType"] == "calendarMonthAligned"
    ]
    assert month_ends[0] == datetime.date(2026, 3, 31)
    assert month_ends[-1] == datetime.date(2027, 2, 28)  # natural end is 2027-03-14
    assert len(month_ends) == 12
    assert [i for i in items if i["allowedCustomTermEndDateType"] == "subscriptionAligned"] == [
        {"allowedCustomTermEndDateType": "subscriptionAligned", "allowedCustomTermEndDate": datetime.date(2026, 8, 20),
         "cotermSubscriptionIds": [str(aligned.pk)]}
    ]
    monthly = allowed_custom_term_end_dates(customer=customer, partner=partner, term_duration="P1M", start_date=start)
    assert [(i["allowedCustomTermEndDateType"], i["allowedCustomTermEndDate"]) for i in monthly] == [
        ("calendarMonthAligned", datetime.date(2026, 3, 31)),
        ("subscriptionAligned", datetime.date(2026, 4, 9)),
    ]
