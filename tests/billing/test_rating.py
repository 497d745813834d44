"""The rating grid of SPEC §8 with exact amounts: pools, credits, auto-recharge, overage
intervals, blocked calls, toll-free, re-rating, late records and finalizing."""

from datetime import date, datetime
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
import time_machine

from billing.models import BillingMonth, CreditEntryKind, RatedCall, RatedCallStatus, RatingRun
from billing.services import rating
from billing.services.rating_finalize import billing_month_finalize
from billing.services.rating_context import whole_minutes
from billing.services.rating import RatingError
from catalog.models import LicenseChannel
from tests.factories import (
    AzurePlanFactory,
    AzureSubscriptionFactory,
    CreditAccountFactory,
    CreditLedgerEntryFactory,
    OverageAssignmentFactory,
    RateFactory,
    SkuFactory,
    TenantLicenseFactory,
    UsageRecordFactory,
)

SEPTEMBER = date(2026, 9, 1)
AFTER = datetime(2026, 10, 5, 8, tzinfo=dt_timezone.utc)


def at(day, hour=10, minute=0):
    return datetime(2026, 9, day, hour, minute, tzinfo=dt_timezone.utc)


@pytest.fixture(autouse=True)
def october():
    with time_machine.travel(AFTER, tick=False):
        yield


@pytest.fixture
def rates(db):
    RateFactory(destination_country="US", number_type="landline", currency="USD", unit_price=Decimal("0.020000"),
                effective_from=date(2025, 1, 1))
    RateFactory(destination_country="GB", number_type="mobile", currency="USD", unit_price=Decimal("0.150000"),
                effective_from=date(2025, 1, 1))
    RateFactory(destination_country="US", number_type="tollfree", currency="USD", unit_price=Decimal("0.030000"),
                effective_from=date(2025, 1, 1))


@pytest.fixture
def customer(partner_a, customer_of, rates):
    """A US customer with 2 licenses of a plan including 10 domestic minutes each (a 20-minute pool)."""
    customer = customer_of(partner_a, country="US")
    sku = SkuFactory(included_minutes_domestic=10)
    TenantLicenseFactory(customer=customer, sku=sku, quantity=2, channel=LicenseChannel.CSP_NCE,
                         source_partner=partner_a, provisioned_at=datetime(2026, 8, 20, tzinfo=dt_timezone.utc))
    return customer


@pytest.fixture
def overage(customer, partner_a):
    plan = AzurePlanFactory(customer=customer, partner=partner_a)
    sub1 = AzureSubscriptionFactory(plan=plan, number=1, friendly_name="Subscription 1")
    OverageAssignmentFactory(customer=customer, partner=partner_a, azure_subscription=sub1,
                             started_at=datetime(2026, 8, 1, tzinfo=dt_timezone.utc))
    return sub1


def call(customer, day, seconds, hour=10, call_type="domestic", country="US", number_type="landline", record_id=None):
    return UsageRecordFactory(customer=customer, started_at=at(day, hour), duration_seconds=seconds,
                              call_type=call_type, destination_country=country, number_type=number_type,
                              **({"record_id": record_id} if record_id else {}))


def rated(record):
    return RatedCall.objects.get(usage_record=record)


def test_calls_within_the_pool_cost_nothing(customer):
    first = call(customer, 2, 61)  # 2 started minutes
    rating.rate_month(month=SEPTEMBER)
    line = rated(first)
    assert (line.minutes, line.pool_minutes, line.billable_minutes, line.amount) == (2, 2, 0, Decimal("0"))
    assert line.status == RatedCallStatus.INCLUDED


def test_pools_count_the_licenses_held_in_the_month_whenever_it_is_re_rated(customer, overage, partner_a):
    # The fixture's 20-minute pool, plus: 10 minutes of a subscription that expired on
    # 20 September (held in September), and 50 of a license bought in October (not held).
    from subscriptions.models import SubscriptionStatus
    from tests.factories import SubscriptionFactory

    expired_sku = SkuFactory(included_minutes_domestic=10)
    expired = TenantLicenseFactory(customer=customer, sku=expired_sku, quantity=1, is_active=False,
                                   source_partner=partner_a,
                                   provisioned_at=datetime(2025, 9, 21, tzinfo=dt_timezone.utc))
    SubscriptionFactory(partner=partner_a, customer=customer, sku=expired_sku, license=expired,
                        status=SubscriptionStatus.EXPIRED, start_date=date(2025, 9, 21),
                        commitment_end_date=date(2026, 9, 20))
    TenantLicenseFactory(customer=customer, sku=SkuFactory(included_minutes_domestic=50), quantity=1,
                         source_partner=partner_a, provisioned_at=datetime(2026, 10, 2, tzinfo=dt_timezone.utc))
    record = call(customer, 25, 40 * 60)
    rating.rate_month(month=SEPTEMBER)
    assert (rated(record).pool_minutes, rated(record).postpaid_minutes) == (30, 10)


def test_a_subscription_license_counts_the_seats_it_had_at_the_months_end(customer, overage, partner_a):
    # 2 seats in September; the renewal on 1 October took the license to 5. September's pool
    # (20 from the fixture + 2 × 10) is the same whenever the month is rated.
    from subscriptions.models import SeatChangeKind
    from tests.factories import SeatChangeFactory, SubscriptionFactory

    sku = SkuFactory(included_minutes_domestic=10)
    license = TenantLicenseFactory(customer=customer, sku=sku, quantity=5, source_partner=partner_a,
                                   provisioned_at=datetime(2026, 8, 20, tzinfo=dt_timezone.utc))
    subscription = SubscriptionFactory(partner=partner_a, customer=customer, sku=sku, license=license, quantity=5)
    SeatChangeFactory(subscription=subscription, kind=SeatChangeKind.PURCHASE, delta=2, quantity_after=2,
                      occurred_at=datetime(2026, 8, 20, tzinfo=dt_timezone.utc))
    SeatChangeFactory(subscription=subscription, kind=SeatChangeKind.RENEW, delta=3, quantity_after=5,
                      occurred_at=datetime(2026, 10, 1, tzinfo=dt_timezone.utc))
    record = call(customer, 25, 45 * 60)
    rating.rate_month(month=SEPTEMBER)
    assert (rated(record).pool_minutes, rated(record).postpaid_minutes) == (40, 5)


def test_the_pool_runs_out_in_the_middle_of_a_call(customer, overage):
    first = call(customer, 2, 18 * 60)
    second = call(customer, 3, 5 * 60)
    rating.rate_month(month=SEPTEMBER)
    assert rated(first).pool_minutes == 18
    line = rated(second)
    assert (line.pool_minutes, line.billable_minutes, line.postpaid_minutes) == (2, 3, 3)
    assert line.postpaid_amount == Decimal("0.060000")
    assert line.azure_subscription == overage and line.status == RatedCallStatus.POSTPAID


def test_credits_pay_whole_minutes_and_the_rest_goes_post_paid(customer, overage):
    account = CreditAccountFactory(customer=customer, currency="USD", auto_recharge=False)
    CreditLedgerEntryFactory(account=account, kind=CreditEntryKind.PURCHASE, amount=Decimal("0.05"),
                             occurred_at=datetime(2026, 8, 20, tzinfo=dt_timezone.utc))
    call(customer, 2, 20 * 60)  # uses the pool
    mixed = call(customer, 4, 4 * 60)
    rating.rate_month(month=SEPTEMBER)
    line = rated(mixed)
    assert (line.credit_minutes, line.postpaid_minutes) == (2, 2)
    assert (line.credit_amount, line.postpaid_amount, line.amount) == (
        Decimal("0.040000"), Decimal("0.040000"), Decimal("0.080000"))
    assert line.status == RatedCallStatus.MIXED
    assert account.balance() == Decimal("0.010000")


def test_auto_recharge_refills_the_balance_so_post_paid_never_starts(customer, overage):
    account = CreditAccountFactory(customer=customer, currency="USD", auto_recharge=True,
                                   threshold=Decimal("1.00"), recharge_amount=Decimal("10.00"))
    CreditLedgerEntryFactory(account=account, kind=CreditEntryKind.PURCHASE, amount=Decimal("1.50"),
                             occurred_at=datetime(2026, 8, 20, tzinfo=dt_timezone.utc))
    call(customer, 2, 20 * 60)
    big = call(customer, 5, 100 * 60, country="GB", number_type="mobile", call_type="international")
    rating.rate_month(month=SEPTEMBER)
    line = rated(big)
    assert (line.credit_minutes, line.postpaid_minutes, line.blocked_minutes) == (100, 0, 0)
    assert line.credit_amount == Decimal("15.000000")
    recharges = account.entries.filter(kind=CreditEntryKind.RECHARGE)
    assert recharges.count() == 2
    assert account.balance() == Decimal("1.50") + Decimal("20.00") - Decimal("15.00")


def test_the_notes_of_draws_and_recharges_are_stored_in_english_and_read_in_the_readers_language(customer, overage):
    from django.utils import translation

    account = CreditAccountFactory(customer=customer, currency="USD", auto_recharge=True,
                                   threshold=Decimal("1.00"), recharge_amount=Decimal("10.00"))
    CreditLedgerEntryFactory(account=account, kind=CreditEntryKind.PURCHASE, amount=Decimal("1.50"),
                             occurred_at=datetime(2026, 8, 20, tzinfo=dt_timezone.utc), note="Bought at the fair")
    call(customer, 5, 100 * 60, country="GB", number_type="mobile", call_type="international")
    with translation.override("it"):  # a run started from an Italian page
        rating.rate_month(month=SEPTEMBER)
    draw = account.entries.get(kind=CreditEntryKind.USAGE_DRAW)
    recharge = account.entries.filter(kind=CreditEntryKind.RECHARGE).first()
    purchase = account.entries.get(kind=CreditEntryKind.PURCHASE)
    assert (draw.note, recharge.note) == ("Calls of 2026-09-05", "Auto-recharge below 1.00")
    with translation.override("it"):
        assert (draw.note_text, recharge.note_text) == ("Chiamate del 2026-09-05", "Ricarica automatica sotto 1.00")
        assert purchase.note_text == "Bought at the fair"  # a person's note, as typed
    with translation.override("en"):
        assert draw.note_text == "Calls of 2026-09-05"


def test_a_runs_message_is_stored_in_english_and_read_in_the_readers_language(customer):
    from django.utils import translation

    call(customer, 2, 60)
    with translation.override("it"):  # a run started from an Italian page
        run = rating.rate_month(month=SEPTEMBER)
    run.refresh_from_db()
    assert run.message == "Calls rated: 1"
    with translation.override("it"):
        assert run.message_text == "Chiamate tariffate: 1"
    run.message = "disk full"  # a failure's own words are shown as they are
    assert run.message_text == "disk full"


def test_overage_moved_mid_month_bills_each_call_to_the_subscription_holding_it(customer, partner_a):
    plan = AzurePlanFactory(customer=customer, partner=partner_a)
    sub1 = AzureSubscriptionFactory(plan=plan, number=1)
    sub2 = AzureSubscriptionFactory(plan=plan, number=2)
    OverageAssignmentFactory(customer=customer, partner=partner_a, azure_subscription=sub1,
                             started_at=at(1, 0), ended_at=at(15, 12))
    OverageAssignmentFactory(customer=customer, partner=partner_a, azure_subscription=sub2, started_at=at(15, 12))
    call(customer, 1, 20 * 60, hour=1)
    before = call(customer, 15, 60, hour=11)
    after = call(customer, 15, 60, hour=13)
    rating.rate_month(month=SEPTEMBER)
    assert rated(before).azure_subscription == sub1
    assert rated(after).azure_subscription == sub2
    assert rated(after).partner == partner_a


def test_with_neither_credits_nor_overage_the_call_is_blocked(customer):
    call(customer, 2, 20 * 60)
    blocked = call(customer, 3, 90)
    rating.rate_month(month=SEPTEMBER)
    line = rated(blocked)
    assert (line.billable_minutes, line.blocked_minutes, line.amount) == (2, 2, Decimal("0"))
    assert line.status == RatedCallStatus.BLOCKED
    assert line.azure_subscription is None


def test_every_toll_free_minute_is_charged_even_with_pool_left(customer, overage):
    tollfree = call(customer, 2, 3 * 60, call_type="tollfree_inbound", number_type="tollfree")
    rating.rate_month(month=SEPTEMBER)
    line = rated(tollfree)
    assert (line.pool_minutes, line.postpaid_minutes, line.postpaid_amount) == (0, 3, Decimal("0.090000"))


def test_rating_twice_gives_the_same_lines_and_credit_draws(customer, overage):
    account = CreditAccountFactory(customer=customer, currency="USD", auto_recharge=False)
    CreditLedgerEntryFactory(account=account, kind=CreditEntryKind.PURCHASE, amount=Decimal("0.10"),
                             occurred_at=datetime(2026, 8, 20, tzinfo=dt_timezone.utc))
    for day in range(1, 8):
        call(customer, day, 7 * 60)

    def snapshot():
        return sorted(RatedCall.objects.values_list(
            "usage_record__record_id", "pool_minutes", "credit_minutes", "postpaid_minutes", "blocked_minutes", "amount"))

    rating.rate_month(month=SEPTEMBER)
    first, balance = snapshot(), account.balance()
    rating.rate_month(month=SEPTEMBER)
    assert snapshot() == first
    assert account.balance() == balance
    assert RatingRun.objects.filter(status="done").count() == 2


def test_a_month_that_has_not_ended_is_refused(customer):
    with pytest.raises(RatingError, match="has not ended"):
        rating.rate_month(month=date(2026, 10, 1))
    assert not RatingRun.objects.exists()


def test_finalizing_twice_is_refused_and_a_finalized_month_never_changes(customer, overage):
    record = call(customer, 2, 30 * 60)
    rating.rate_month(month=SEPTEMBER)
    billing_month_finalize(month=SEPTEMBER)
    with pytest.raises(RatingError, match="already finalized"):
        billing_month_finalize(month=SEPTEMBER)
    with pytest.raises(RatingError, match="finalized"):
        rating.rate_month(month=SEPTEMBER)
    assert rated(record).billing_month.month == SEPTEMBER


def test_a_month_never_rated_cannot_be_finalized(customer):
    call(customer, 2, 60)
    with pytest.raises(RatingError, match="has not been rated completely"):
        billing_month_finalize(month=SEPTEMBER)
    assert not BillingMonth.objects.filter(month=SEPTEMBER, status="finalized").exists()


def test_a_run_that_fails_half_way_leaves_the_published_lines_and_the_month_can_be_finalized(customer, monkeypatch):
    # Issue 10: a failed re-rate used to delete the month's lines first. Now it publishes
    # nothing, so the month keeps the lines of its last completed run.
    record = call(customer, 2, 60)
    first = rating.rate_month(month=SEPTEMBER)

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(rating.rating_sql, "rate_chunk", broken)
    with pytest.raises(RuntimeError):
        rating.rate_month(month=SEPTEMBER)
    monkeypatch.undo()
    assert RatingRun.objects.filter(billing_month__month=SEPTEMBER).order_by("-pk").first().status == "failed"
    assert BillingMonth.objects.get(month=SEPTEMBER).published_run_id == first.pk
    assert rated(record).run_id == first.pk
    assert billing_month_finalize(month=SEPTEMBER).status == "finalized"


def test_a_late_record_for_a_finalized_month_is_billed_next_month_as_an_adjustment(customer, overage):
    call(customer, 2, 19 * 60)
    rating.rate_month(month=SEPTEMBER)
    billing_month_finalize(month=SEPTEMBER)
    late = call(customer, 20, 3 * 60)  # arrives after finalizing; one pool minute was left
    with time_machine.travel(datetime(2026, 11, 2, tzinfo=dt_timezone.utc), tick=False):
        rating.rate_month(month=date(2026, 10, 1))
    line = rated(late)
    assert line.is_adjustment
    assert line.billing_month.month == date(2026, 10, 1)
    assert (line.pool_minutes, line.postpaid_minutes) == (1, 2)
    assert BillingMonth.objects.get(month=SEPTEMBER).rated_calls.count() == 1


def test_a_call_is_never_rated_twice(customer):
    record = call(customer, 2, 60)
    rating.rate_month(month=SEPTEMBER)
    rating.rate_month(month=SEPTEMBER)
    assert RatedCall.objects.filter(usage_record=record).count() == 1


def test_the_rows_of_a_re_rate_never_share_an_id_with_the_rows_they_replace(customer, overage):
    # PostgreSQL computes a rated call's id from (run, call); the replaced run's rows stay
    # beside the new ones until the publication, and the id is the model's primary key.
    records = [call(customer, day, 600) for day in (2, 3, 4)]
    first = rating.rate_month(month=SEPTEMBER)
    first_ids = set(RatedCall.objects.filter(run=first).values_list("id", flat=True))
    second = rating.rate_month(month=SEPTEMBER)
    second_ids = set(RatedCall.objects.filter(run=second).values_list("id", flat=True))
    assert len(first_ids) == len(second_ids) == len(records)
    assert not first_ids & second_ids


def test_a_re_sent_record_is_not_billed_again(customer, overage, partner_a):
    # The carrier sends the same call again after the month was rated and finalized: the
    # import counts it as a duplicate, so the next month has nothing to adjust.
    from billing.services.usage_import import usage_import_records

    item = {"recordId": "carrier-42", "tenantId": str(customer.tenant_id), "user": "ann@example.com",
            "startTime": "2026-09-02T10:00:00Z", "durationSeconds": 25 * 60, "callType": "domestic",
            "destinationCountry": "US", "numberType": "landline"}
    assert usage_import_records(records=[item], partner=partner_a, acting_user=None).imported == 1
    rating.rate_month(month=SEPTEMBER)
    billing_month_finalize(month=SEPTEMBER)
    again = usage_import_records(records=[item], partner=partner_a, acting_user=None)
    assert (again.imported, again.duplicates) == (0, 1)
    with time_machine.travel(datetime(2026, 11, 2, tzinfo=dt_timezone.utc), tick=False):
        rating.rate_month(month=date(2026, 10, 1))
    assert RatedCall.objects.filter(usage_record__record_id="carrier-42").count() == 1
    assert not RatedCall.objects.filter(billing_month__month=date(2026, 10, 1)).exists()
    line = RatedCall.objects.get(usage_record__record_id="carrier-42")
    assert (line.pool_minutes, line.postpaid_minutes, line.amount) == (20, 5, Decimal("0.100000"))


def test_whole_started_minutes():
    assert [whole_minutes(s) for s in (0, 1, 59, 60, 61, 3600)] == [0, 1, 1, 1, 2, 60]
