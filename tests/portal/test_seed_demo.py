"""``seed_demo`` loads SPEC §13's demo data, idempotently; ``demo_logins`` lists the sign-ins."""

import datetime as dt
import io
import math
import uuid
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import Sum
from django.test import override_settings

from billing.models import CallType, CreditAccount, Rate, UsageRecord
from catalog.models import LicenseChannel, PriceListEntry, Sku, TenantLicense
from overage.models import AzurePlan, OverageAssignment, OverageSetting
from portal.models import Customer, Partner
from subscriptions.models import ChargeEvent, SeatChange, Subscription

TENANTS = {
    "alpine": uuid.UUID("11111111-1111-4111-8111-111111111111"),
    "blueyonder": uuid.UUID("22222222-2222-4222-8222-222222222222"),
    "coho": uuid.UUID("33333333-3333-4333-8333-333333333333"),
    "datum": uuid.UUID("44444444-4444-4444-8444-444444444444"),
    "fourthcoffee": uuid.UUID("55555555-5555-4555-8555-555555555555"),
    "graphicdesign": uuid.UUID("66666666-6666-4666-8666-666666666666"),
    "humongous": uuid.UUID("77777777-7777-4777-8777-777777777777"),
}
# A day whose previous month lies wholly after the demo purchase date (40 days earlier).
FROZEN_TODAY = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


def seed(*args):
    call_command("seed_demo", *args, stdout=io.StringIO())


@pytest.fixture(scope="class")
def seeded_once(django_db_setup, django_db_blocker):
    """Seed once for a class of read-only tests, rolled back afterwards so no other test
    sees the demo data (each test still runs in its own savepoint)."""
    # The autouse fast-hasher fixture is function-scoped, so it is not active yet here.
    fast_hashing = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with django_db_blocker.unblock(), transaction.atomic():
        with fast_hashing:
            seed()
        yield
        transaction.set_rollback(True)


@pytest.fixture
def seeded(seeded_once, db):
    """The class's seeded database, inside this test's own savepoint."""


def customer(key):
    return Customer.objects.get(tenant_id=TENANTS[key])


def partner(mpn_id):
    return Partner.objects.get(mpn_id=mpn_id)


def row_counts():
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


@pytest.mark.django_db
def test_seeding_twice_gives_the_same_row_counts_for_every_model():
    seed()
    first = row_counts()
    seed()
    assert row_counts() == first
    assert first["subscriptions.Subscription"] > 0
    assert first["billing.UsageRecord"] > 0


@pytest.mark.django_db
def test_if_empty_does_nothing_on_a_seeded_database():
    seed()
    before = row_counts()
    out = io.StringIO()
    call_command("seed_demo", "--if-empty", stdout=out)
    assert "already" in out.getvalue()
    assert row_counts() == before


@pytest.mark.django_db
def test_if_empty_loads_an_empty_database():
    seed("--if-empty")
    assert Partner.objects.count() == 5


@pytest.mark.django_db
def test_alpine_ski_house_used_more_domestic_minutes_than_its_pool_last_month():
    with time_machine.travel(FROZEN_TODAY, tick=False):
        seed()
    domestic = UsageRecord.objects.filter(customer=customer("alpine"), call_type=CallType.DOMESTIC)
    assert domestic.exists()
    february = (dt.datetime(2026, 2, 1, tzinfo=dt.UTC), dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    assert all(february[0] <= started_at < february[1] for started_at in domestic.values_list("started_at", flat=True))
    minutes = sum(math.ceil(seconds / 60) for seconds in domestic.values_list("duration_seconds", flat=True))
    assert minutes > 25 * 3000


@pytest.mark.django_db
def test_demo_subscriptions_were_bought_forty_days_ago_with_history_and_first_charge():
    with time_machine.travel(FROZEN_TODAY, tick=False):
        seed()
    fourth = Subscription.objects.get(customer=customer("fourthcoffee"))
    assert fourth.partner == partner("2000001") and fourth.reseller == partner("3000001")
    assert fourth.start_date == dt.date(2026, 1, 21)
    assert fourth.commitment_end_date == dt.date(2027, 1, 20)
    assert fourth.quantity == 12 and fourth.currency == "EUR" and fourth.consumption_type == "overage"
    assert fourth.license.quantity == 12 and fourth.license.source_partner == partner("2000001")
    seat = SeatChange.objects.get(subscription=fourth)
    assert seat.refundable_until - seat.occurred_at == dt.timedelta(hours=168)
    charge = ChargeEvent.objects.get(subscription=fourth)
    assert charge.amount == (fourth.unit_price * 12).quantize(Decimal("0.01"))
    assert charge.charge_start == fourth.start_date
    plan = AzurePlan.objects.get(customer=customer("alpine"))
    assert plan.subscription.sku.product_id == "DZH318Z0BPS6" and plan.subscription.unit_price == 0


def test_seed_demo_rejects_unknown_arguments():
    with pytest.raises(CommandError, match="unrecognized arguments"):
        call_command("seed_demo", "--everything")


def test_demo_logins_prints_the_logins_password_and_url():
    out = io.StringIO()
    call_command("demo_logins", stdout=out)
    text = out.getvalue()
    assert "ada@contoso.example" in text and "Global admin" in text
    assert "staff@portal.example" in text
    assert "demo-pass-123" in text
    assert "http://127.0.0.1:8000/" in text



@pytest.mark.django_db
class TestDemoContents:
    """Read-only checks of one seeded database."""

    def test_each_partner_sees_only_its_demo_customers(self, seeded):
        def visible(mpn_id):
            return set(Customer.objects.transacted_by(partner(mpn_id)).values_list("tenant_id", flat=True))

        assert set(Customer.objects.values_list("tenant_id", flat=True)) == set(TENANTS.values())
        assert visible("1000001") == {TENANTS[k] for k in ["alpine", "blueyonder", "coho", "datum", "graphicdesign"]}
        assert visible("2000001") == {TENANTS["fourthcoffee"]}
        assert visible("3000001") == {TENANTS["fourthcoffee"]}
        assert visible("4000001") == {TENANTS["blueyonder"]}
        assert visible("5000001") == {TENANTS["humongous"]}

    def test_partners_have_the_demo_kinds_and_links(self, seeded):
        northwind = partner("3000001")
        assert northwind.kind == "indirect_reseller"
        assert list(northwind.providers.all()) == [partner("2000001")]
        tailspin = partner("5000001")
        assert tailspin.is_sandbox and not tailspin.sandbox_azure_access
        assert customer("datum").on_legacy_azure
        assert customer("fourthcoffee").relationships.get().reseller == northwind

    def test_demo_users_sign_in_with_the_demo_password(self, seeded):
        user = authenticate(username="alan@contoso.example", password="demo-pass-123")
        assert user is not None
        assert user.membership.partner.mpn_id == "1000001"
        assert user.membership.roles == ["admin_agent"]
        assert authenticate(username="admin@northwind.example", password="demo-pass-123").membership.partner.name == (
            "Northwind Reseller"
        )
        staff = authenticate(username="staff@portal.example", password="demo-pass-123")
        assert staff.is_staff and staff.is_superuser
        assert not hasattr(staff, "membership") or staff.membership is None

    def test_coho_winery_has_volume_licensing_e3_and_no_subscription(self, seeded):
        coho = customer("coho")
        license_ = TenantLicense.objects.get(customer=coho)
        assert license_.channel == LicenseChannel.VOLUME_LICENSING
        assert license_.sku.title == "Office 365 E3"
        assert license_.quantity == 40
        assert license_.source_partner is None
        assert not Subscription.objects.filter(customer=coho).exists()

    def test_blue_yonder_overage_is_owned_by_contoso_and_enabled_with_an_open_assignment(self, seeded):
        blue_yonder = customer("blueyonder")
        setting = OverageSetting.objects.get(customer=blue_yonder)
        assert setting.owner == partner("1000001")
        assert setting.enabled
        assert setting.azure_subscription.friendly_name == "Subscription 1"
        assignment = OverageAssignment.objects.get(customer=blue_yonder, ended_at__isnull=True)
        assert assignment.azure_subscription == setting.azure_subscription
        assert assignment.partner == setting.owner
        # Adatum bought an overage-capable SKU later; the owner stays Contoso.
        assert Subscription.objects.filter(customer=blue_yonder, partner=partner("4000001")).exists()

    def test_overage_settings_of_the_other_customers_are_not_enabled(self, seeded):
        settings = OverageSetting.objects.select_related("customer", "owner")
        owners = {s.customer.name: (s.owner.mpn_id, s.enabled) for s in settings}
        assert owners == {
            "Alpine Ski House": ("1000001", False),
            "Blue Yonder Airlines": ("1000001", True),
            "Datum Corporation": ("1000001", False),
            "Fourth Coffee": ("2000001", False),
            "Humongous Insurance": ("5000001", False),
        }
        assert OverageSetting.objects.get(customer=customer("fourthcoffee")).reseller == partner("3000001")
        plans = set(AzurePlan.objects.values_list("customer__name", flat=True))
        assert plans == {"Alpine Ski House", "Blue Yonder Airlines"}

    def test_every_demo_usage_customer_goes_beyond_its_pool(self, seeded):
        pools = {"alpine": 75_000, "blueyonder": 45_000, "fourthcoffee": 36_000}
        for key, pool in pools.items():
            durations = UsageRecord.objects.filter(customer=customer(key), call_type=CallType.DOMESTIC).values_list(
                "duration_seconds", flat=True
            )
            assert sum(math.ceil(s / 60) for s in durations) > pool, key
            assert UsageRecord.objects.filter(customer=customer(key), call_type=CallType.INTERNATIONAL).exists()
        assert UsageRecord.objects.count() < 15_000

    def test_catalog_has_business_basic_and_overage_addons(self, seeded):
        basic = Sku.objects.get(product_id="CFQ7TTC0LH18", sku_id="0001")
        assert basic.title == "Microsoft 365 Business Basic"
        azure = Sku.objects.get(product_id="DZH318Z0BPS6", sku_id="0001")
        assert azure.product.product_type == "Azure"
        assert not azure.prices.exists()
        calling = Sku.objects.get(title="Microsoft Teams Domestic Calling Plan")
        assert calling.is_addon and calling.consumption_type == "overage"
        assert calling.included_minutes_domestic == 3000
        assert {s.title for s in calling.prerequisites.all()} >= {"Microsoft Teams Phone Standard", "Office 365 E5"}
        e5 = Sku.objects.get(title="Office 365 E5")
        assert {"TeamsPhone", "AudioConferencing"} <= set(e5.included_services)
        assert Sku.objects.get(title="Office 365 E3").upgrade_targets.get() == e5
        for sku in Sku.objects.exclude(product_id="DZH318Z0BPS6"):
            availability = sku.availabilities.get()
            assert len(availability.availability_id) == 12
            assert {"termDuration": "P1Y", "billingCycle": "monthly"} in availability.terms

    def test_prices_exist_in_usd_eur_and_gbp_with_tags(self, seeded):
        assert set(PriceListEntry.objects.values_list("market", "currency").distinct()) == {
            ("US", "USD"), ("IT", "EUR"), ("GB", "GBP")
        }
        row = PriceListEntry.objects.get(
            sku__product_id="CFQ7TTC0LH18", market="US", term_duration="P1Y", billing_plan="monthly"
        )
        assert row.unit_price == Decimal("6.00")
        assert row.erp_price == Decimal("7.20")
        monthly = PriceListEntry.objects.get(sku__product_id="CFQ7TTC0LH18", market="US", term_duration="P1M")
        assert monthly.unit_price == Decimal("7.20")
        calling = PriceListEntry.objects.filter(sku__title="Microsoft Teams Domestic Calling Plan").first()
        assert set(calling.tags) == {"IncludesOverage", "AddOn"}

    def test_rates_cover_at_least_ten_countries_in_three_currencies(self, seeded):
        assert Rate.objects.values("destination_country").distinct().count() >= 10
        assert set(Rate.objects.values_list("currency", flat=True).distinct()) == {"USD", "EUR", "GBP"}
        assert Rate.objects.filter(number_type="tollfree", destination_country="IT").exists()

    def test_the_demo_month_is_rated_and_left_open(self, seeded):
        from billing.models import BillingMonth, RatedCall

        month = BillingMonth.objects.get()
        assert month.status == "open"
        blue_yonder = RatedCall.objects.filter(usage_record__customer=customer("blueyonder"))
        assert blue_yonder.filter(postpaid_minutes__gt=0, azure_subscription__friendly_name="Subscription 1").exists()
        alpine = RatedCall.objects.filter(usage_record__customer=customer("alpine"))
        assert alpine.filter(status="blocked").exists() and not alpine.filter(postpaid_minutes__gt=0).exists()
        fourth = RatedCall.objects.filter(usage_record__customer=customer("fourthcoffee"))
        assert fourth.filter(credit_minutes__gt=0).exists() and not fourth.filter(status="blocked").exists()

    def test_fourth_coffee_has_communication_credits_with_auto_recharge(self, seeded):
        account = CreditAccount.objects.get(customer=customer("fourthcoffee"))
        assert account.currency == "EUR" and account.auto_recharge
        assert (account.threshold, account.recharge_amount) == (Decimal("20.00"), Decimal("100.00"))
        assert account.entries.get(kind="purchase").amount == Decimal("120.00")
        # The demo month is rated: its calls draw on the credits, and auto-recharge keeps the
        # balance from falling below the threshold.
        assert account.entries.filter(kind="usage_draw").exists()
        assert account.entries.aggregate(total=Sum("amount"))["total"] >= Decimal("20.00")

