"""The subscription lifecycle rules of SPEC §5, on a frozen, movable clock."""

from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
import time_machine

from catalog.models import LicenseChannel
from portal.models import AuditEvent
from subscriptions.models import ChargeType, SeatChangeKind, SubscriptionStatus
from subscriptions.periods import add_months, billing_period, term_end
from subscriptions import windows
from subscriptions.services import charge_events, lifecycle, renewal
from subscriptions.services.lifecycle import SubscriptionError
from tests.factories import (
    PriceListEntryFactory,
    SeatChangeFactory,
    SkuFactory,
    SubscriptionFactory,
    TenantLicenseFactory,
)

PURCHASE = datetime(2026, 3, 1, 10, 0, tzinfo=dt_timezone.utc)


@pytest.fixture
def bought(db):
    """Five seats at 10.00 a month, bought at PURCHASE, with the ``new`` charge for March."""
    with time_machine.travel(PURCHASE, tick=False):
        sku = SkuFactory(min_quantity=1, max_quantity=50)
        license = None
        subscription = SubscriptionFactory(
            sku=sku,
            quantity=5,
            unit_price=Decimal("10.000000"),
            start_date=date(2026, 3, 1),
            commitment_end_date=date(2027, 2, 28),
            purchased_at=PURCHASE,
            term_started_at=PURCHASE,
        )
        license = TenantLicenseFactory(
            customer=subscription.customer,
            sku=sku,
            channel=LicenseChannel.CSP_NCE,
            source_partner=subscription.partner,
            quantity=5,
        )
        subscription.license = license
        subscription.save()
        SeatChangeFactory(subscription=subscription, kind=SeatChangeKind.PURCHASE, delta=5, quantity_after=5,
                          occurred_at=PURCHASE, refundable_until=PURCHASE + timedelta(hours=168))
        subscription.charge_events.create(
            charge_type=ChargeType.NEW, quantity=5, **charge_events.event_terms(subscription),
            unit_price=Decimal("10"), effective_unit_price=Decimal("10"),
            amount=Decimal("50.00"), currency="USD", charge_start=date(2026, 3, 1), charge_end=date(2026, 3, 31),
            occurred_at=PURCHASE,
        )
    return subscription


def at(hours, minutes=0):
    return time_machine.travel(PURCHASE + timedelta(hours=hours, minutes=minutes), tick=False)


# --- calendar helpers -------------------------------------------------------------------

def test_terms_end_the_day_before_the_anniversary_and_clamp_short_months():
    assert term_end(date(2026, 3, 15), "P1Y") == date(2027, 3, 14)
    assert term_end(date(2026, 1, 31), "P1M") == date(2026, 2, 27)
    assert term_end(date(2027, 3, 1), "P1Y") == date(2028, 2, 29)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)


def test_billing_period_containing_a_day():
    assert billing_period(date(2026, 3, 1), "monthly", date(2026, 3, 16), date(2027, 2, 28)) == (
        date(2026, 3, 1), date(2026, 3, 31))
    assert billing_period(date(2026, 3, 1), "monthly", date(2026, 4, 1), date(2027, 2, 28)) == (
        date(2026, 4, 1), date(2026, 4, 30))
    assert billing_period(date(2026, 3, 1), "annual", date(2026, 9, 9), date(2027, 2, 28)) == (
        date(2026, 3, 1), date(2027, 2, 28))


# --- the 168-hour window ----------------------------------------------------------------

def test_seats_can_be_reduced_at_167h59(bought):
    with at(167, 59):
        assert windows.refundable_quantity(bought) == 5
        lifecycle.subscription_set_quantity(subscription=bought, quantity=3, acting_user=None)
    bought.refresh_from_db()
    assert bought.quantity == 3
    assert bought.license.quantity == 3
    refund = bought.charge_events.get(charge_type=ChargeType.REMOVE_QUANTITY)
    # 2 seats × 10.00 for 24 of March's 31 days (the 8th to the 31st), truncated.
    assert refund.amount == Decimal("-15.48")
    assert refund.quantity == -2


def test_seats_cannot_be_reduced_at_168h01(bought):
    with at(168, 1):
        assert windows.refundable_quantity(bought) == 0
        with pytest.raises(SubscriptionError) as refused:
            lifecycle.subscription_set_quantity(subscription=bought, quantity=4, acting_user=None)
    assert refused.value.code == 800090
    assert refused.value.description == "Subscription quantity cannot be decreased."
    bought.refresh_from_db()
    assert bought.quantity == 5
    assert not bought.charge_events.filter(charge_type=ChargeType.REMOVE_QUANTITY).exists()


def test_each_batch_of_added_seats_has_its_own_window(bought):
    with at(24 * 15):  # 16 March, 10:00
        lifecycle.subscription_set_quantity(subscription=bought, quantity=7, acting_user=None)
    added = bought.charge_events.get(charge_type=ChargeType.ADD_QUANTITY)
    # 2 seats × 10.00 for 16 of 31 days (16th to 31st inclusive).
    assert added.amount == Decimal("10.32")
    with at(24 * 15 + 100):
        assert windows.refundable_quantity(bought) == 2
        with pytest.raises(SubscriptionError):
            lifecycle.subscription_set_quantity(subscription=bought, quantity=4, acting_user=None)
        lifecycle.subscription_set_quantity(subscription=bought, quantity=5, acting_user=None)
        assert windows.refundable_quantity(bought) == 0
    with at(24 * 15 + 169):
        with pytest.raises(SubscriptionError):
            lifecycle.subscription_set_quantity(subscription=bought, quantity=4, acting_user=None)


def test_seats_can_be_added_any_time_in_the_term(bought):
    with time_machine.travel(datetime(2026, 11, 20, 12, tzinfo=dt_timezone.utc), tick=False):
        lifecycle.subscription_set_quantity(subscription=bought, quantity=6, acting_user=None)
    assert bought.seat_changes.filter(kind=SeatChangeKind.ADD).count() == 1


def test_cancel_at_167h59_refunds_the_unused_days(bought):
    with at(167, 59):
        lifecycle.subscription_cancel(subscription=bought, acting_user=None)
    bought.refresh_from_db()
    assert bought.status == SubscriptionStatus.DELETED
    assert bought.auto_renew_enabled is False
    assert bought.license.is_active is False
    refund = bought.charge_events.get(charge_type=ChargeType.CANCEL_IMMEDIATE)
    # 50.00 for March, cancelled on the 8th: the 8th to the 31st (24 days) come back.
    assert refund.amount == Decimal("-38.70")
    event = AuditEvent.objects.get(action="subscription.cancel")
    assert event.before["status"] == "active" and event.after["status"] == "deleted"


def test_cancel_on_the_day_of_purchase_refunds_everything(bought):
    with at(2):
        lifecycle.subscription_cancel(subscription=bought, acting_user=None)
    assert bought.charge_events.get(charge_type=ChargeType.CANCEL_IMMEDIATE).amount == Decimal("-50.00")


def test_cancel_at_168h01_is_refused_with_the_deadline(bought):
    with at(168, 1):
        assert not windows.can_cancel(bought)
        with pytest.raises(SubscriptionError) as refused:
            lifecycle.subscription_cancel(subscription=bought, acting_user=None)
    assert "168 hours" in refused.value.description
    assert "2026-03-08 10:00" in refused.value.description
    bought.refresh_from_db()
    assert bought.status == SubscriptionStatus.ACTIVE


@pytest.mark.parametrize("quantity", [0, 51, "3", 2.5, True])
def test_quantity_outside_the_sku_range_or_not_an_integer_changes_nothing(bought, quantity):
    with at(1):
        with pytest.raises(SubscriptionError):
            lifecycle.subscription_set_quantity(subscription=bought, quantity=quantity, acting_user=None)
    bought.refresh_from_db()
    assert bought.quantity == 5
    assert bought.seat_changes.count() == 1


# --- status, auto-renew, next-term changes ----------------------------------------------

def test_suspend_and_reactivate_follow_the_transition_table(bought):
    lifecycle.subscription_set_status(subscription=bought, status="suspended", acting_user=None)
    bought.refresh_from_db()
    assert bought.status == "suspended"
    lifecycle.subscription_set_status(subscription=bought, status="active", acting_user=None)
    bought.refresh_from_db()
    assert bought.status == "active"


def test_a_cancelled_subscription_cannot_come_back(bought):
    with at(1):
        lifecycle.subscription_cancel(subscription=bought, acting_user=None)
    with pytest.raises(SubscriptionError):
        lifecycle.subscription_set_status(subscription=bought, status="active", acting_user=None)
    with pytest.raises(SubscriptionError):
        lifecycle.subscription_set_status(subscription=bought, status="pending", acting_user=None)


def test_next_term_changes_need_auto_renew(bought):
    lifecycle.subscription_set_auto_renew(subscription=bought, enabled=False, acting_user=None)
    with pytest.raises(SubscriptionError) as refused:
        lifecycle.subscription_schedule_next_term(subscription=bought, quantity=8, acting_user=None)
    assert refused.value.description == str(lifecycle.SCHEDULE_NEEDS_AUTO_RENEW)


def test_a_mid_term_change_drops_the_scheduled_changes(bought):
    lifecycle.subscription_schedule_next_term(subscription=bought, quantity=8, acting_user=None)
    bought.refresh_from_db()
    assert bought.next_term_quantity == 8
    with at(24 * 30):
        lifecycle.subscription_set_quantity(subscription=bought, quantity=6, acting_user=None)
    bought.refresh_from_db()
    assert bought.next_term_quantity is None


def test_turning_auto_renew_off_drops_the_scheduled_changes(bought):
    lifecycle.subscription_schedule_next_term(subscription=bought, quantity=8, acting_user=None)
    lifecycle.subscription_set_auto_renew(subscription=bought, enabled=False, acting_user=None)
    bought.refresh_from_db()
    assert bought.next_term_quantity is None


# --- renewal ----------------------------------------------------------------------------

def test_nothing_renews_on_the_last_day_of_the_term(bought):
    assert renewal.renew_subscriptions(on_date=date(2027, 2, 28)) == (0, 0)


def test_renewal_starts_a_new_term_with_a_new_window_and_applies_scheduled_changes(bought):
    lifecycle.subscription_schedule_next_term(subscription=bought, quantity=8, acting_user=None)
    renewal_moment = datetime(2027, 3, 1, 0, 30, tzinfo=dt_timezone.utc)
    with time_machine.travel(renewal_moment, tick=False):
        assert renewal.renew_subscriptions(on_date=date(2027, 3, 1)) == (1, 0)
        assert renewal.renew_subscriptions(on_date=date(2027, 3, 1)) == (0, 0)  # repeatable
    bought.refresh_from_db()
    assert bought.status == "active"
    assert bought.start_date == date(2027, 3, 1)
    assert bought.commitment_end_date == date(2028, 2, 29)
    assert bought.quantity == 8
    assert bought.next_term_quantity is None
    renew = bought.charge_events.get(charge_type=ChargeType.RENEW)
    assert renew.amount == Decimal("80.00")
    assert (renew.charge_start, renew.charge_end) == (date(2027, 3, 1), date(2027, 3, 31))
    with time_machine.travel(renewal_moment + timedelta(hours=167), tick=False):
        assert windows.can_cancel(bought)
        assert windows.refundable_quantity(bought) == 8
    with time_machine.travel(renewal_moment + timedelta(hours=169), tick=False):
        assert not windows.can_cancel(bought)
    bought.license.refresh_from_db()
    assert bought.license.quantity == 8  # the tenant holds the new term's seats (rating pools count them)


def renew_on_1_march_2027():
    with time_machine.travel(datetime(2027, 3, 1, 0, 30, tzinfo=dt_timezone.utc), tick=False):
        assert renewal.renew_subscriptions(on_date=date(2027, 3, 1)) == (1, 0)


def test_a_new_term_takes_the_price_in_force_on_the_renewal_day(bought):
    # The old price (10.00) was locked for the old term only; 12.00 applies from 2027-01-01.
    PriceListEntryFactory(sku=bought.sku, term_duration="P1Y", billing_plan="monthly", unit_price=Decimal("10.00"),
                          effective_start=date(2025, 1, 1), effective_end=date(2027, 1, 1))
    PriceListEntryFactory(sku=bought.sku, term_duration="P1Y", billing_plan="monthly", unit_price=Decimal("12.00"),
                          effective_start=date(2027, 1, 1))
    PriceListEntryFactory(sku=bought.sku, term_duration="P1Y", billing_plan="monthly", market="GB", currency="GBP",
                          unit_price=Decimal("9.00"), effective_start=date(2027, 1, 1))  # another market
    renew_on_1_march_2027()
    bought.refresh_from_db()
    assert (bought.unit_price, bought.currency) == (Decimal("12.00"), "USD")
    renew = bought.charge_events.get(charge_type=ChargeType.RENEW)
    assert (renew.unit_price, renew.amount) == (Decimal("12.00"), Decimal("60.00"))


@pytest.fixture
def annual_offered(bought):
    bought.availability.terms = [*bought.availability.terms, {"termDuration": "P1Y", "billingCycle": "annual"}]
    bought.availability.save()
    return bought


def test_a_billing_cycle_changed_at_renewal_is_priced_from_the_new_cycles_row(annual_offered):
    bought = annual_offered
    PriceListEntryFactory(sku=bought.sku, term_duration="P1Y", billing_plan="annual", unit_price=Decimal("110.00"))
    lifecycle.subscription_schedule_next_term(subscription=bought, billing_cycle="annual", acting_user=None)
    renew_on_1_march_2027()
    renew = bought.charge_events.get(charge_type=ChargeType.RENEW)
    assert (renew.charge_start, renew.charge_end) == (date(2027, 3, 1), date(2028, 2, 29))
    assert (renew.unit_price, renew.amount) == (Decimal("110.00"), Decimal("550.00"))


def test_without_a_row_for_the_new_cycle_the_price_is_converted_by_the_cycles_length(annual_offered):
    bought = annual_offered
    # Monthly 10.00 with no annual row in the price list: 120.00 a year, never 10.00 a year.
    lifecycle.subscription_schedule_next_term(subscription=bought, billing_cycle="annual", acting_user=None)
    renew_on_1_march_2027()
    renew = bought.charge_events.get(charge_type=ChargeType.RENEW)
    assert (renew.unit_price, renew.amount) == (Decimal("120.00"), Decimal("600.00"))


def test_without_auto_renew_the_subscription_expires_and_its_license_goes(bought):
    lifecycle.subscription_set_auto_renew(subscription=bought, enabled=False, acting_user=None)
    with time_machine.travel(datetime(2027, 3, 1, 1, tzinfo=dt_timezone.utc), tick=False):
        assert renewal.renew_subscriptions(on_date=date(2027, 3, 1)) == (0, 1)
    bought.refresh_from_db()
    assert bought.status == "expired"
    assert bought.license.is_active is False


def test_base_and_add_on_renew_separately(bought):
    addon = SubscriptionFactory(
        partner=bought.partner, customer=bought.customer, start_date=date(2026, 6, 1),
        commitment_end_date=date(2027, 5, 31), purchased_at=PURCHASE, term_started_at=PURCHASE,
    )
    with time_machine.travel(datetime(2027, 3, 2, tzinfo=dt_timezone.utc), tick=False):
        assert renewal.renew_subscriptions(on_date=date(2027, 3, 2)) == (1, 0)
    addon.refresh_from_db()
    assert addon.commitment_end_date == date(2027, 5, 31)


def test_the_azure_plan_has_no_seats_to_change_or_cancel(db):
    from catalog.models import AZURE_PLAN_PRODUCT_ID
    from tests.factories import ProductFactory

    plan_sku = SkuFactory(product=ProductFactory(id=AZURE_PLAN_PRODUCT_ID, product_type="Azure"))
    plan = SubscriptionFactory(sku=plan_sku)
    for change in (
        lambda: lifecycle.subscription_set_quantity(subscription=plan, quantity=2, acting_user=None),
        lambda: lifecycle.subscription_cancel(subscription=plan, acting_user=None),
        lambda: lifecycle.subscription_set_auto_renew(subscription=plan, enabled=False, acting_user=None),
    ):
        with pytest.raises(SubscriptionError, match="Azure plan"):
            change()


def test_the_azure_plan_is_never_a_coterm_target(db):
    # Pay as you go: whatever end date the plan's row carries, no term ends there.
    from catalog.models import AZURE_PLAN_PRODUCT_ID
    from subscriptions.selectors import allowed_custom_term_end_dates
    from tests.factories import ProductFactory

    plan_sku = SkuFactory(product=ProductFactory(id=AZURE_PLAN_PRODUCT_ID, product_type="Azure"))
    plan = SubscriptionFactory(sku=plan_sku, start_date=date(2026, 2, 10), commitment_end_date=date(2027, 2, 9))
    licence = SubscriptionFactory(partner=plan.partner, customer=plan.customer, start_date=date(2026, 2, 10),
                                  commitment_end_date=date(2027, 2, 10))
    items = allowed_custom_term_end_dates(customer=plan.customer, partner=plan.partner, term_duration="P1Y",
                                          start_date=date(2026, 3, 1))
    aligned = [item for item in items if item["allowedCustomTermEndDateType"] == "subscriptionAligned"]
    assert [(item["allowedCustomTermEndDate"], item["cotermSubscriptionIds"]) for item in aligned] == [
        (date(2027, 2, 10), [str(licence.pk)])
    ]


def test_a_triennial_price_converted_to_annual_is_truncated_once(db):
    # 150.03 for three years is 50.01 a year: divide after multiplying, truncate once.
    subscription = SubscriptionFactory(billing_cycle="triennial", term_duration="P3Y", unit_price=Decimal("150.03"),
                                       next_term_billing_cycle="annual", start_date=date(2024, 3, 1),
                                       commitment_end_date=date(2027, 2, 28))
    renewal.renew_or_expire(subscription, now=datetime(2027, 3, 1, tzinfo=dt_timezone.utc))
    assert subscription.unit_price == Decimal("50.01")
