"""Upgrades, redundant add-ons and end-date alignment (SPEC §5)."""

from datetime import date, datetime
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
import time_machine

from subscriptions.models import AddonRemovalRequest, ChargeType
from subscriptions.services import changes, renewal
from subscriptions.services.lifecycle import SubscriptionError
from tests.factories import PriceListEntryFactory, SkuFactory, SubscriptionFactory

NOW = datetime(2026, 3, 16, 9, 0, tzinfo=dt_timezone.utc)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def e3_with_teams_phone(frozen, partner_a, customer_of):
    customer = customer_of(partner_a, country="US")
    e5 = SkuFactory(title="Office 365 E5", included_services=["TeamsPhone", "AudioConferencing"])
    e3 = SkuFactory(title="Office 365 E3", included_services=[])
    e3.upgrade_targets.add(e5)
    PriceListEntryFactory(sku=e5, market="US", currency="USD", term_duration="P1Y", billing_plan="monthly",
                          unit_price=Decimal("38.00"), effective_start=date(2026, 1, 1))
    teams_phone = SkuFactory(title="Teams Phone Standard", is_addon=True, included_services=["TeamsPhone"])
    teams_phone.prerequisites.add(e3)
    base = SubscriptionFactory(partner=partner_a, customer=customer, sku=e3, quantity=10, unit_price=Decimal("23.00"),
                               start_date=date(2026, 3, 1), commitment_end_date=date(2027, 2, 28))
    addon = SubscriptionFactory(partner=partner_a, customer=customer, sku=teams_phone, quantity=10,
                                start_date=date(2026, 3, 1), commitment_end_date=date(2027, 2, 28))
    return base, addon, e5


def test_upgrade_charges_the_difference_by_day_and_flags_the_redundant_add_on(e3_with_teams_phone):
    base, addon, e5 = e3_with_teams_phone
    upgraded, redundant = changes.subscription_upgrade(subscription=base, target_sku=e5, acting_user=None)
    assert upgraded.sku == e5
    assert upgraded.unit_price == Decimal("38.00")
    convert = upgraded.charge_events.get(charge_type=ChargeType.CONVERT)
    # (38 - 23) × 10 seats for 16 of March's 31 days.
    assert convert.amount == Decimal("77.41")
    assert redundant == [addon]
    addon.refresh_from_db()
    assert addon.redundant_since is not None
    assert addon.made_redundant_by == upgraded


def test_upgrade_only_to_an_upgrade_target(e3_with_teams_phone, partner_a):
    base, _, _ = e3_with_teams_phone
    with pytest.raises(SubscriptionError):
        changes.subscription_upgrade(subscription=base, target_sku=SkuFactory(), acting_user=None)
    base.refresh_from_db()
    assert base.sku.title == "Office 365 E3"


def test_removal_request_is_accepted_until_the_end_of_the_second_billing_cycle(e3_with_teams_phone):
    base, addon, e5 = e3_with_teams_phone
    changes.subscription_upgrade(subscription=base, target_sku=e5, acting_user=None)
    addon.refresh_from_db()
    # First billed in the March cycle (1–31 March); the second cycle ends on 30 April.
    assert changes.removal_request_deadline(addon) == date(2026, 4, 30)
    with time_machine.travel(datetime(2026, 4, 30, 23, tzinfo=dt_timezone.utc), tick=False):
        request = changes.addon_removal_request_raise(subscription=addon, acting_user=None)
    assert request.deadline == date(2026, 4, 30)
    with pytest.raises(SubscriptionError):
        changes.addon_removal_request_raise(subscription=addon, acting_user=None)


def test_removal_request_after_the_deadline_is_refused(e3_with_teams_phone):
    base, addon, e5 = e3_with_teams_phone
    changes.subscription_upgrade(subscription=base, target_sku=e5, acting_user=None)
    with time_machine.travel(datetime(2026, 5, 1, 8, tzinfo=dt_timezone.utc), tick=False):
        with pytest.raises(SubscriptionError) as refused:
            changes.addon_removal_request_raise(subscription=addon, acting_user=None)
    assert "2026-04-30" in refused.value.description
    assert not AddonRemovalRequest.objects.exists()


def test_a_non_redundant_add_on_cannot_be_removed_by_request(e3_with_teams_phone):
    _, addon, _ = e3_with_teams_phone
    with pytest.raises(SubscriptionError):
        changes.addon_removal_request_raise(subscription=addon, acting_user=None)


def test_alignment_offers_month_ends_and_other_subscriptions_end_dates(e3_with_teams_phone, partner_a):
    base, addon, _ = e3_with_teams_phone
    other = SubscriptionFactory(partner=partner_a, customer=base.customer, start_date=date(2026, 1, 1),
                                commitment_end_date=date(2027, 12, 31))
    monthly = SubscriptionFactory(partner=partner_a, customer=base.customer, term_duration="P1M",
                                  start_date=date(2026, 3, 10), commitment_end_date=date(2027, 10, 9))
    dates = changes.allowed_alignment_dates(addon)
    by_date = {d["allowedCustomTermEndDate"]: d for d in dates}
    assert date(2027, 3, 31) in by_date  # a month end of the next term
    assert by_date[date(2027, 12, 31)]["cotermSubscriptionIds"] == [str(other.pk)]
    # An annual term never aligns with a monthly subscription.
    assert date(2027, 10, 9) not in by_date
    assert str(monthly.pk) not in {i for d in dates for i in d["cotermSubscriptionIds"]}


def test_aligned_next_term_ends_on_the_date_with_a_prorated_first_charge(e3_with_teams_phone, partner_a):
    base, addon, _ = e3_with_teams_phone
    SubscriptionFactory(partner=partner_a, customer=base.customer, start_date=date(2026, 3, 16),
                        commitment_end_date=date(2027, 3, 15))
    changes.subscription_align_end_date(subscription=addon, end_date=date(2027, 3, 15), acting_user=None)
    with time_machine.travel(datetime(2027, 3, 1, 1, tzinfo=dt_timezone.utc), tick=False):
        renewal.renew_subscriptions(on_date=date(2027, 3, 1))
    addon.refresh_from_db()
    assert addon.commitment_end_date == date(2027, 3, 15)
    assert addon.next_term_end_date is None
    renew = addon.charge_events.get(charge_type=ChargeType.RENEW)
    # 10 seats × 10.00 for the 15 days of a 31-day period.
    assert renew.amount == Decimal("48.38")


def test_an_end_date_outside_the_list_is_refused_with_10017(e3_with_teams_phone):
    _, addon, _ = e3_with_teams_phone
    with pytest.raises(SubscriptionError) as refused:
        changes.subscription_align_end_date(subscription=addon, end_date=date(2027, 3, 14), acting_user=None)
    assert refused.value.code == 10017
    addon.refresh_from_db()
    assert addon.next_term_end_date is None
