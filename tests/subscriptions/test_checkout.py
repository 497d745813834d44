"""Checkout: one order, one independent subscription per line, idempotent, re-checked."""

import datetime
from decimal import Decimal

import pytest
import time_machine

from catalog.models import LicenseChannel, TenantLicense
from overage.models import OverageSetting
from portal.errors import ErrorCode
from portal.models import AuditEvent
from subscriptions import errors
from subscriptions.errors import CartInputError
from subscriptions.models import CartStatus, ChargeEvent, Order, SeatChange, Subscription
from subscriptions.services.cart import cart_create
from subscriptions.services.checkout import cart_checkout
from subscriptions.signals import subscriptions_purchased
from tests.factories import CustomerFactory, PartnerFactory, PriceListEntryFactory, TenantLicenseFactory
from tests.subscriptions.test_cart import line, make_buyer, make_catalog

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 15, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def test_coho_winery_addon_with_prerequisite_from_volume_licensing_checks_out(clock):
    catalog = make_catalog()
    partner, customer, user = make_buyer(name="Coho Winery")
    TenantLicenseFactory(customer=customer, sku=catalog.base, channel=LicenseChannel.VOLUME_LICENSING)
    cart = cart_create(partner=partner, customer=customer, acting_user=user, lines=[line(catalog.addon_av, 5)])

    result = cart_checkout(cart=cart, acting_user=user)

    assert result.order_errors == []
    order = result.order
    subscription = order.subscriptions.get()
    assert (subscription.customer, subscription.partner, subscription.sku, subscription.quantity) == (
        customer, partner, catalog.addon, 5
    )
    assert subscription.start_date == datetime.date(2026, 3, 15)
    assert subscription.commitment_end_date == datetime.date(2027, 3, 14)
    assert subscription.auto_renew_enabled and subscription.consumption_type == "overage"
    assert (subscription.unit_price, subscription.currency) == (Decimal("8.000000"), "USD")
    assert subscription.purchased_at == subscription.term_started_at == NOW
    assert subscription.license.channel == LicenseChannel.CSP_NCE
    assert subscription.license.source_partner == partner
    assert subscription.license.quantity == 5
    seat = SeatChange.objects.get(subscription=subscription)
    assert (seat.kind, seat.delta, seat.refundable_until) == ("purchase", 5, NOW + datetime.timedelta(hours=168))
    cart.refresh_from_db()
    assert cart.status == CartStatus.ORDERED
    assert AuditEvent.objects.filter(action="order.create", object_id=str(order.pk), partner=partner).exists()


def test_addon_subscription_is_independent_of_any_base_subscription(clock):
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    TenantLicenseFactory(customer=customer, sku=catalog.base)
    cart = cart_create(partner=partner, customer=customer, acting_user=user,
                       lines=[line(catalog.base_av, 2), line(catalog.addon_av, 2, term="P1M")])
    order = cart_checkout(cart=cart, acting_user=user).order
    subs = {s.sku: s for s in order.subscriptions.all()}
    base_sub, addon_sub = subs[catalog.base], subs[catalog.addon]
    assert addon_sub.upgraded_from is None
    assert base_sub.license_id != addon_sub.license_id
    assert (addon_sub.term_duration, addon_sub.commitment_end_date) == ("P1M", datetime.date(2026, 4, 14))
    assert base_sub.commitment_end_date == datetime.date(2027, 3, 14)


def test_tenant_without_licenses_checkout_creates_nothing(clock):
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    cart = cart_create(partner=partner, customer=customer, acting_user=user,
                       lines=[line(catalog.base_av), line(catalog.addon_av)])

    result = cart_checkout(cart=cart, acting_user=user)

    assert result.order is None
    assert result.order_errors == [
        {"orderGroupId": "0", "code": 800009, "description": str(errors.CART_HAS_ERRORS)},
        {"orderGroupId": "0", "code": 400041,
         "description": "The addon is not purchasable without a compatible base product.", "lineItemNumber": 1},
    ]
    assert not Order.objects.exists() and not Subscription.objects.exists()
    assert not TenantLicense.objects.filter(customer=customer).exists()
    cart.refresh_from_db()
    assert cart.status == CartStatus.ACTIVE


def test_checkout_rechecks_prerequisites_that_disappeared_after_the_cart_was_made(clock):
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    prerequisite = TenantLicenseFactory(customer=customer, sku=catalog.base, channel=LicenseChannel.WEB_DIRECT)
    cart = cart_create(partner=partner, customer=customer, acting_user=user, lines=[line(catalog.addon_av)])
    assert cart.lines.get().error_code is None
    prerequisite.is_active = False
    prerequisite.save()

    result = cart_checkout(cart=cart, acting_user=user)

    assert result.order is None
    assert [e["code"] for e in result.order_errors] == [800009, 400041]
    assert cart.lines.get().error_code == 400041
    assert not Subscription.objects.exists()


def test_checkout_twice_makes_one_order_and_one_subscription_per_line(clock):
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    cart = cart_create(partner=partner, customer=customer, acting_user=user,
                       lines=[line(catalog.base_av, 3), line(catalog.base_av, 1, term="P1M")])
    first = cart_checkout(cart=cart, acting_user=user, idempotency_key="key-1")
    second = cart_checkout(cart=cart, acting_user=user)
    again = cart_checkout(cart=cart, acting_user=user, idempotency_key="key-1")
    assert first.order == second.order == again.order
    assert Order.objects.count() == 1
    assert Subscription.objects.count() == 2
    assert ChargeEvent.objects.count() == 2


def test_same_idempotency_key_returns_the_order_and_refuses_another_cart(clock):
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    cart = cart_create(partner=partner, customer=customer, acting_user=user, lines=[line(catalog.base_av)])
    other = cart_create(partner=partner, customer=customer, acting_user=user, lines=[line(catalog.base_av)])
    order = cart_checkout(cart=cart, acting_user=user, idempotency_key="retry-me").order
    with pytest.raises(CartInputError) as caught:
        cart_checkout(cart=other, acting_user=user, idempotency_key="retry-me")
    assert caught.value.status == 409
    assert Order.objects.get() == order


def test_expired_cart_cannot_be_checked_out(clock):
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    cart = cart_create(partner=partner, customer=customer, acting_user=user, lines=[line(catalog.base_av)])
    clock.shift(datetime.timedelta(days=7, seconds=1))
    with pytest.raises(CartInputError) as caught:
        cart_checkout(cart=cart, acting_user=user)
    assert caught.value.code == ErrorCode.CART_NOT_ACTIVE
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("term", "cycle", "end", "amount", "charge_end"),
    [
        # One month of 23.00 for 7 seats.
        ("P1Y", "monthly", None, Decimal("161.00"), datetime.date(2026, 4, 14)),
        # The year, billed up front: 276.00 × 7.
        ("P1Y", "annual", None, Decimal("1932.00"), datetime.date(2027, 3, 14)),
        # Co-termed to 2026-03-31 (17 of the month's 31 days): 23 × 17 / 31 × 7 = 88.290… → 88.29.
        ("P1Y", "monthly", datetime.date(2026, 3, 31), Decimal("88.29"), datetime.date(2026, 3, 31)),
        # Annual billing co-termed to 2026-08-31 (170 of 365 days): 276 × 170 / 365 × 7 = 899.835… → 899.83.
        ("P1Y", "annual", datetime.date(2026, 8, 31), Decimal("899.83"), datetime.date(2026, 8, 31)),
    ],
)
def test_new_charge_amount_is_exact(clock, term, cycle, end, amount, charge_end):
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    cart = cart_create(partner=partner, customer=customer, acting_user=user,
                       lines=[line(catalog.base_av, 7, term=term, cycle=cycle, custom_term_end_date=end)])
    order = cart_checkout(cart=cart, acting_user=user).order
    charge = ChargeEvent.objects.get(order=order)
    assert isinstance(charge.amount, Decimal)
    assert (charge.charge_type, charge.quantity, charge.amount, charge.currency) == ("new", 7, amount, "USD")
    assert (charge.charge_start, charge.charge_end) == (datetime.date(2026, 3, 15), charge_end)
    subscription = order.subscriptions.get()
    assert subscription.commitment_end_date == (end or datetime.date(2027, 3, 14))


def test_missing_price_is_a_line_error_not_a_crash(clock):
    catalog = make_catalog()
    partner, customer, user = make_buyer(country="IT")
    PriceListEntryFactory(sku=catalog.base, market="IT", currency="EUR", unit_price=Decimal("21.000000"))
    cart = cart_create(partner=partner, customer=customer, acting_user=user,
                       lines=[line(catalog.base_av), line(catalog.base_av, term="P1M")])
    result = cart_checkout(cart=cart, acting_user=user)
    assert result.order is None
    assert result.order_errors[1]["code"] == ErrorCode.PRICE_NOT_AVAILABLE
    assert result.order_errors[1]["lineItemNumber"] == 1
    assert "market IT" in result.order_errors[1]["description"]


def test_uses_the_price_in_force_today_for_the_customer_market(clock):
    catalog = make_catalog()
    partner, customer, user = make_buyer(country="IT")
    PriceListEntryFactory(sku=catalog.base, market="IT", currency="EUR", unit_price=Decimal("20.000000"),
                          effective_start=datetime.date(2025, 1, 1), effective_end=datetime.date(2026, 3, 1))
    PriceListEntryFactory(sku=catalog.base, market="IT", currency="EUR", unit_price=Decimal("21.500000"),
                          effective_start=datetime.date(2026, 3, 1))
    PriceListEntryFactory(sku=catalog.base, market="IT", currency="EUR", unit_price=Decimal("99.000000"),
                          effective_start=datetime.date(2026, 4, 1))
    cart = cart_create(partner=partner, customer=customer, acting_user=user, lines=[line(catalog.base_av, 2)])
    order = cart_checkout(cart=cart, acting_user=user).order
    assert order.currency == "EUR"
    assert order.subscriptions.get().unit_price == Decimal("21.500000")
    assert ChargeEvent.objects.get(order=order).amount == Decimal("43.00")


def test_indirect_provider_purchase_records_the_reseller_of_record(clock, provider, reseller):
    catalog = make_catalog()
    customer = CustomerFactory(partner=provider, reseller=reseller)
    cart = cart_create(partner=provider, customer=customer, acting_user=None, lines=[line(catalog.base_av)])
    order = cart_checkout(cart=cart, acting_user=None).order
    assert order.reseller == reseller
    assert order.subscriptions.get().reseller == reseller
    assert order in Order.objects.transacted_by(reseller)


def test_signal_lists_the_new_subscriptions(clock):
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    received = []

    def receiver(sender, order, subscriptions, **kwargs):
        received.append((sender, order, list(subscriptions)))

    subscriptions_purchased.connect(receiver)
    try:
        cart = cart_create(partner=partner, customer=customer, acting_user=user,
                           lines=[line(catalog.base_av), line(catalog.base_av, 2)])
        order = cart_checkout(cart=cart, acting_user=user).order
    finally:
        subscriptions_purchased.disconnect(receiver)
    assert received == [(Order, order, list(order.subscriptions.order_by("quantity")))]


# --- overage ownership (SPEC §7) --------------------------------------------------------------------


def test_first_partner_buying_an_overage_sku_owns_the_overage_setting_and_a_later_one_changes_nothing(
    clock, provider, reseller
):
    catalog = make_catalog()
    customer = CustomerFactory(partner=provider, reseller=reseller)
    TenantLicenseFactory(customer=customer, sku=catalog.base, channel=LicenseChannel.VOLUME_LICENSING)
    cart = cart_create(partner=provider, customer=customer, acting_user=None, lines=[line(catalog.addon_av)])
    cart_checkout(cart=cart, acting_user=None)

    setting = OverageSetting.objects.get(customer=customer)
    assert (setting.service, setting.owner, setting.reseller, setting.enabled) == (
        "PhoneServices", provider, reseller, False
    )

    second = PartnerFactory()
    from tests.factories import ensure_relationship

    ensure_relationship(customer, second)
    cart = cart_create(partner=second, customer=customer, acting_user=None, lines=[line(catalog.addon_av)])
    assert cart_checkout(cart=cart, acting_user=None).order is not None
    setting = OverageSetting.objects.get(customer=customer)
    assert (setting.owner, setting.reseller) == (provider, reseller)


def test_buying_a_sku_that_cannot_overage_creates_no_overage_setting(clock):
    catalog = make_catalog()
    partner, customer, user = make_buyer()
    cart = cart_create(partner=partner, customer=customer, acting_user=user, lines=[line(catalog.base_av)])
    cart_checkout(cart=cart, acting_user=user)
    assert not OverageSetting.objects.exists()
