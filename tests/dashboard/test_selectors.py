"""The dashboard's selectors, each in the app that owns its data: what they list, what they
leave out (another partner's rows, rows nobody needs to act on), the edges of their time
windows, and their query count, the same for one row and for many."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import selectors as billing_selectors
from billing.models import CreditEntryKind
from overage import selectors as overage_selectors
from subscriptions import selectors_attention
from subscriptions.models import RemovalRequestStatus, SeatChangeKind, Subscription, SubscriptionStatus
from subscriptions.periods import add_months
from tests.dashboard import scenario
from tests.factories.billing import (
    BillingMonthFactory,
    CreditAccountFactory,
    CreditLedgerEntryFactory,
    RatedCallFactory,
    RatingRunFactory,
    UsageRecordFactory,
)
from tests.factories.catalog import SkuFactory
from tests.factories.overage import OverageSettingFactory
from tests.factories.portal import CustomerFactory
from tests.factories.subscriptions import (
    AddonRemovalRequestFactory,
    ChargeEventFactory,
    SeatChangeFactory,
    SubscriptionFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 14, 10, 0, tzinfo=dt.UTC)


# --- 168-hour windows closing -------------------------------------------------------------


def test_windows_closing_within_24_hours_are_listed_with_removable_seats_and_deadline(partner_a):
    subscription = scenario.closing_window(partner_a, now=NOW, closes_in=dt.timedelta(hours=5), quantity=7)
    [row] = selectors_attention.seat_windows_closing(partner=partner_a, now=NOW)
    assert row.subscription == subscription
    assert row.seats == 7
    assert row.deadline == NOW + dt.timedelta(hours=5)


@pytest.mark.parametrize(
    ("closes_in", "listed"),
    [
        (dt.timedelta(hours=23, minutes=59), True),
        (dt.timedelta(hours=24, minutes=1), False),
        (dt.timedelta(minutes=-1), False),  # closed a minute ago: nothing can be removed
    ],
)
def test_windows_closing_edges(partner_a, closes_in, listed):
    scenario.closing_window(partner_a, now=NOW, closes_in=closes_in)
    assert bool(selectors_attention.seat_windows_closing(partner=partner_a, now=NOW)) is listed


@pytest.mark.parametrize(("removed", "left"), [(2, 1), (3, 0)])
def test_window_counts_only_the_seats_not_yet_removed(partner_a, removed, left):
    subscription = scenario.closing_window(partner_a, now=NOW, quantity=3)
    SeatChangeFactory(subscription=subscription, kind=SeatChangeKind.REDUCE, delta=-removed, quantity_after=3 - removed,
                      occurred_at=NOW - dt.timedelta(hours=1), refundable_until=None)
    rows = selectors_attention.seat_windows_closing(partner=partner_a, now=NOW)
    assert [row.seats for row in rows] == ([left] if left else [])


def test_windows_closing_of_another_partner_are_not_listed(partner_a, partner_b):
    scenario.closing_window(partner_b, now=NOW)
    assert selectors_attention.seat_windows_closing(partner=partner_a, now=NOW) == []


@pytest.mark.parametrize("n", [1, 4])
def test_windows_closing_reads_two_queries(partner_a, n, django_assert_num_queries):
    for _ in range(n):
        scenario.closing_window(partner_a, now=NOW)
    # The subscriptions with a window closing, then their seat history (one prefetch).
    with django_assert_num_queries(2):
        assert len(selectors_attention.seat_windows_closing(partner=partner_a, now=NOW)) == n


# --- Add-ons outliving their base, removal requests, expiring subscriptions ----------------


def test_addon_ending_after_its_base_is_listed_with_the_base_end(partner_a, partner_b):
    addon = scenario.outliving_addon(partner_a)
    scenario.outliving_addon(partner_b)
    [row] = selectors_attention.addons_outliving_base(partner=partner_a)
    assert row == addon
    assert row.base_end_date < row.commitment_end_date


def test_resold_addon_outliving_its_base_is_listed_for_the_provider_and_the_reseller(provider, reseller):
    customer = CustomerFactory(partner=provider, reseller=reseller)
    addon = scenario.outliving_addon(provider, customer)
    Subscription.objects.filter(customer=customer).update(reseller=reseller)
    assert selectors_attention.addons_outliving_base(partner=provider) == [addon]
    assert selectors_attention.addons_outliving_base(partner=reseller) == [addon]


def test_aligned_addon_is_not_listed(partner_a):
    addon = scenario.outliving_addon(partner_a)
    addon.commitment_end_date = timezone.localdate() + dt.timedelta(days=100)
    addon.save()
    assert selectors_attention.addons_outliving_base(partner=partner_a) == []


def test_open_removal_requests_nearest_deadline_first(partner_a, partner_b):
    today = timezone.localdate()
    later = AddonRemovalRequestFactory(subscription=SubscriptionFactory(partner=partner_a), deadline=today + dt.timedelta(days=40))
    sooner = AddonRemovalRequestFactory(subscription=SubscriptionFactory(partner=partner_a), deadline=today + dt.timedelta(days=3))
    AddonRemovalRequestFactory(subscription=SubscriptionFactory(partner=partner_a), status=RemovalRequestStatus.COMPLETED)
    AddonRemovalRequestFactory(subscription=SubscriptionFactory(partner=partner_b))
    assert selectors_attention.open_removal_requests(partner=partner_a) == [sooner, later]


@pytest.mark.parametrize(
    ("days", "auto_renew", "status", "listed"),
    [
        (0, False, SubscriptionStatus.ACTIVE, True),
        (30, False, SubscriptionStatus.ACTIVE, True),
        (31, False, SubscriptionStatus.ACTIVE, False),
        (10, True, SubscriptionStatus.ACTIVE, False),
        (10, False, SubscriptionStatus.DELETED, False),
        (-1, False, SubscriptionStatus.ACTIVE, False),
    ],
)
def test_ending_without_auto_renew(partner_a, days, auto_renew, status, listed):
    today = timezone.localdate()
    SubscriptionFactory(partner=partner_a, auto_renew_enabled=auto_renew, status=status,
                        start_date=today - dt.timedelta(days=300), commitment_end_date=today + dt.timedelta(days=days))
    assert bool(selectors_attention.ending_without_auto_renew(partner=partner_a, today=today)) is listed


@pytest.mark.parametrize("n", [1, 4])
def test_subscription_selectors_read_one_query_each(partner_a, n, django_assert_num_queries):
    scenario.build(partner_a, n)
    for selector in (selectors_attention.open_removal_requests, selectors_attention.ending_without_auto_renew):
        with django_assert_num_queries(1):
            rows = selector(partner=partner_a)
        assert len(rows) == n, selector.__name__
    # As transacting partner (the partner's kind says which branch), in end date order, the
    # base lookup on each until ``limit`` are found.
    with django_assert_num_queries(1):
        assert len(selectors_attention.addons_outliving_base(partner=partner_a)) == n


def test_addons_outliving_base_soonest_end_first_up_to_the_limit(partner_a):
    later = scenario.outliving_addon(partner_a, ends_in=200, base_ends_in=10)
    sooner = scenario.outliving_addon(partner_a, ends_in=20, base_ends_in=10)
    scenario.outliving_addon(partner_a, ends_in=300, base_ends_in=10)
    assert selectors_attention.addons_outliving_base(partner=partner_a, limit=2) == [sooner, later]


# --- Overage off, auto-recharge ------------------------------------------------------------


def test_overage_off_lists_capable_customers_whose_overage_is_not_on(partner_a, partner_b):
    no_setting = scenario.capable_customer(partner_a, name="A no setting")
    switched_off = scenario.capable_customer(partner_a, name="B switched off")
    OverageSettingFactory(customer=switched_off, owner=partner_a)
    switched_on = scenario.capable_customer(partner_a, name="C on")
    OverageSettingFactory(customer=switched_on, owner=partner_a, on=True)
    others = scenario.capable_customer(partner_a, name="D another partner's")
    OverageSettingFactory(customer=others, owner=partner_b)
    CustomerFactory(partner=partner_a, name="E nothing capable")
    scenario.capable_customer(partner_b, name="F partner B's")
    assert overage_selectors.customers_with_overage_off(partner=partner_a) == [no_setting, switched_off]


def test_overage_off_for_a_reseller_customer_is_listed_for_provider_and_reseller(provider, reseller):
    customer = scenario.capable_customer(provider, reseller=reseller)
    OverageSettingFactory(customer=customer, owner=provider, reseller=reseller)
    assert overage_selectors.customers_with_overage_off(partner=provider) == [customer]
    assert overage_selectors.customers_with_overage_off(partner=reseller) == [customer]


def test_auto_recharge_listed_only_where_the_partner_manages_overage(partner_a, partner_b):
    managed = scenario.capable_customer(partner_a, name="A managed")
    CreditAccountFactory(customer=managed, auto_recharge=True, recharge_amount=Decimal("50"))
    not_capable = CustomerFactory(partner=partner_a, name="B no capable subscription")
    CreditAccountFactory(customer=not_capable, auto_recharge=True, recharge_amount=Decimal("50"))
    recharge_off = scenario.capable_customer(partner_a, name="C recharge off")
    CreditAccountFactory(customer=recharge_off, auto_recharge=False)
    elsewhere = scenario.capable_customer(partner_a, name="D managed by B")
    OverageSettingFactory(customer=elsewhere, owner=partner_b)
    CreditAccountFactory(customer=elsewhere, auto_recharge=True, recharge_amount=Decimal("50"))
    assert [a.customer for a in billing_selectors.auto_recharge_blocking_postpaid(partner=partner_a)] == [managed]
    assert billing_selectors.auto_recharge_blocking_postpaid(partner=partner_b) == []


@pytest.mark.parametrize("n", [1, 4])
def test_overage_and_credit_selectors_read_one_query_each(partner_a, n, django_assert_num_queries):
    scenario.build(partner_a, n)
    with django_assert_num_queries(1):
        assert len(overage_selectors.customers_with_overage_off(partner=partner_a)) == n
    with django_assert_num_queries(1):
        assert len(billing_selectors.auto_recharge_blocking_postpaid(partner=partner_a)) == n


# --- Blocked calls, month's charges --------------------------------------------------------


def test_blocked_calls_per_customer_and_month(partner_a, partner_b):
    this_month = timezone.localdate().replace(day=1)
    last_month = add_months(this_month, -1)
    alpine = CustomerFactory(partner=partner_a, name="Alpine")
    scenario.blocked_calls(alpine, month=last_month, calls=3, minutes=4)
    scenario.blocked_calls(alpine, month=this_month, calls=1, minutes=2)
    scenario.blocked_calls(CustomerFactory(partner=partner_b), month=this_month)
    scenario.blocked_calls(alpine, month=add_months(this_month, -2))
    rows = billing_selectors.blocked_calls_in_months(partner=partner_a, months=[this_month, last_month])
    assert [(r["customer_name"], r["month"], r["calls"], r["minutes"]) for r in rows] == [
        ("Alpine", last_month, 3, 12),
        ("Alpine", this_month, 1, 2),
    ]


def test_blocked_calls_of_a_reseller_customer_are_listed_for_provider_and_reseller(provider, reseller, partner_b):
    month = timezone.localdate().replace(day=1)
    scenario.blocked_calls(CustomerFactory(partner=provider, reseller=reseller, name="Resold"), month=month)
    for partner in (provider, reseller):
        rows = billing_selectors.blocked_calls_in_months(partner=partner, months=[month])
        assert [(r["customer_name"], r["calls"]) for r in rows] == [("Resold", 2)], partner
    assert billing_selectors.blocked_calls_in_months(partner=partner_b, months=[month]) == []


def test_blocked_calls_of_an_unpublished_run_are_not_counted(partner_a):
    month = timezone.localdate().replace(day=1)
    customer = CustomerFactory(partner=partner_a)
    scenario.blocked_calls(customer, month=month)
    # A run still at work (or dead) writes rows beside the published ones: not the month's.
    running = RatingRunFactory(billing_month=BillingMonthFactory(month=month), status="running")
    RatedCallFactory(usage_record=UsageRecordFactory(customer=customer), billing_month=running.billing_month,
                     run=running, minutes=9, pool_minutes=0, billable_minutes=9, blocked_minutes=9, status="blocked")
    [row] = billing_selectors.blocked_calls_in_months(partner=partner_a, months=[month])
    assert (row["calls"], row["minutes"]) == (2, 10)


@pytest.mark.parametrize("n", [1, 4])
def test_blocked_calls_read_one_query(partner_a, n, django_assert_num_queries):
    scenario.build(partner_a, n)
    month = timezone.localdate().replace(day=1)
    with django_assert_num_queries(1):
        assert len(billing_selectors.blocked_calls_in_months(partner=partner_a, months=[month, add_months(month, -1)])) == n


def test_charges_of_the_month_per_currency(partner_a, partner_b):
    now = timezone.now()
    month = timezone.localdate(now).replace(day=1)
    customer = CustomerFactory(partner=partner_a)
    RatedCallFactory(
        usage_record=UsageRecordFactory(customer=customer), billing_month=BillingMonthFactory(month=month),
        minutes=10, pool_minutes=0, billable_minutes=10, postpaid_minutes=10, amount=Decimal("1.25"),
        postpaid_amount=Decimal("1.25"), partner=partner_a, status="postpaid",
    )
    account = CreditAccountFactory(customer=CustomerFactory(partner=partner_a, country="IT"), currency="EUR")
    CreditLedgerEntryFactory(account=account, kind=CreditEntryKind.USAGE_DRAW, amount=Decimal("-2.40"),
                             billing_month=BillingMonthFactory(month=month), occurred_at=now)
    CreditLedgerEntryFactory(account=account, kind=CreditEntryKind.PURCHASE, amount=Decimal("100"), occurred_at=now)
    ChargeEventFactory(subscription=SubscriptionFactory(partner=partner_a), amount=Decimal("30.00"), occurred_at=now)
    # Bought before the month, billed monthly: one instalment of 4 seats × 12.50 this month.
    SubscriptionFactory(partner=partner_a, quantity=4, unit_price=Decimal("12.50"),
                        start_date=add_months(month, -2), commitment_end_date=add_months(month, 10))
    SubscriptionFactory(partner=partner_b, quantity=99, start_date=add_months(month, -2))
    charges = {row.currency: row for row in billing_selectors.charges_by_month(partner=partner_a, months=[month])[month]}
    assert set(charges) == {"EUR", "USD"}
    assert charges["USD"].postpaid == Decimal("1.25")
    assert charges["USD"].licences == Decimal("80.00")
    assert charges["EUR"].credit_draws == Decimal("2.40")
    assert charges["EUR"].postpaid == Decimal("0.00")


def test_licence_estimate_matches_the_reconciliation_for_monthly_instalments(partner_a):
    month = timezone.localdate().replace(day=1)
    SubscriptionFactory(partner=partner_a, quantity=3, unit_price=Decimal("22.00"),
                        start_date=add_months(month, -3), commitment_end_date=add_months(month, 9) - dt.timedelta(days=1),
                        purchased_at=timezone.now() - dt.timedelta(days=100))
    [charges] = billing_selectors.charges_by_month(partner=partner_a, months=[month])[month]
    totals = billing_selectors.month_totals(partner=partner_a, month=month)
    assert charges.licences == totals["USD"]["license"] == Decimal("66.00")


@pytest.mark.parametrize("n", [1, 4])
def test_charges_of_two_months_read_four_queries(partner_a, n, django_assert_num_queries):
    scenario.build(partner_a, n)
    month = timezone.localdate().replace(day=1)
    # Post-paid overage, credit draws, charge events, monthly instalments: one aggregate each.
    with django_assert_num_queries(4):
        charges = billing_selectors.charges_by_month(partner=partner_a, months=[month, add_months(month, -1)])
    [usd] = charges[month]
    assert usd.credit_draws == Decimal("1.50") * n
