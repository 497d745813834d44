"""Database constraints and ``owned_by``/``transacted_by`` scoping of credits, usage and rating."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from billing.models import CreditAccount, CreditEntryKind, CreditLedgerEntry, RatedCall, RatedCallStatus, UsageRecord
from tests.factories import (
    BillingMonthFactory,
    CreditAccountFactory,
    CreditLedgerEntryFactory,
    RatedCallFactory,
    RateFactory,
    RatingRunFactory,
    UsageImportFactory,
    UsageRecordFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "factory",
    [CreditAccountFactory, CreditLedgerEntryFactory, RateFactory, UsageImportFactory, UsageRecordFactory,
     BillingMonthFactory, RatingRunFactory, RatedCallFactory],
)
def test_factory_builds_a_valid_row(factory):
    factory().full_clean()


# Constraints


def test_one_credit_account_per_customer():
    account = CreditAccountFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditAccount.objects.create(customer=account.customer, currency="USD")


def test_credit_account_amounts_not_negative():
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditAccountFactory(threshold=Decimal("-1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditAccountFactory(recharge_amount=Decimal("-1"))


def test_auto_recharge_needs_an_amount():
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditAccountFactory(auto_recharge=True, recharge_amount=Decimal("0"))
    CreditAccountFactory(auto_recharge=True, threshold=Decimal("20"), recharge_amount=Decimal("100"))


@pytest.mark.parametrize(
    "kind, amount, valid",
    [
        (CreditEntryKind.PURCHASE, "100.00", True),
        (CreditEntryKind.PURCHASE, "-1.00", False),
        (CreditEntryKind.PURCHASE, "0.00", False),
        (CreditEntryKind.RECHARGE, "50.00", True),
        (CreditEntryKind.RECHARGE, "-50.00", False),
        (CreditEntryKind.USAGE_DRAW, "-0.05", True),
        (CreditEntryKind.USAGE_DRAW, "0.05", False),
        (CreditEntryKind.ADJUSTMENT, "-10.00", True),
        (CreditEntryKind.ADJUSTMENT, "10.00", True),
    ],
)
def test_credit_ledger_sign_matches_kind(kind, amount, valid):
    account = CreditAccountFactory()
    if valid:
        CreditLedgerEntryFactory(account=account, kind=kind, amount=Decimal(amount))
    else:
        with pytest.raises(IntegrityError), transaction.atomic():
            CreditLedgerEntryFactory(account=account, kind=kind, amount=Decimal(amount))


def test_credit_balance_is_the_sum_of_the_ledger():
    account = CreditAccountFactory()
    assert account.balance() == 0
    CreditLedgerEntryFactory(account=account, amount=Decimal("120.00"))
    CreditLedgerEntryFactory(account=account, kind=CreditEntryKind.USAGE_DRAW, amount=Decimal("-0.35"))
    assert account.balance() == Decimal("119.65")


def test_rate_not_negative():
    with pytest.raises(IntegrityError), transaction.atomic():
        RateFactory(unit_price=Decimal("-0.01"))


def test_rate_unique_per_destination_type_currency_and_start():
    RateFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        RateFactory()
    RateFactory(effective_from=datetime.date(2026, 1, 1))


def test_usage_record_id_is_unique():
    record = UsageRecordFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        UsageRecordFactory(record_id=record.record_id)
    assert UsageRecord.objects.count() == 1


def test_billing_month_is_a_first_day():
    BillingMonthFactory(month=datetime.date(2025, 2, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        BillingMonthFactory(month=datetime.date(2025, 2, 15))


def test_a_call_is_rated_once():
    rated = RatedCallFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        RatedCallFactory(usage_record=rated.usage_record)


def test_rated_call_minutes_add_up():
    RatedCallFactory(minutes=5, pool_minutes=3, billable_minutes=2, postpaid_minutes=2, status=RatedCallStatus.POSTPAID)
    with pytest.raises(IntegrityError), transaction.atomic():
        RatedCallFactory(minutes=5, pool_minutes=3, billable_minutes=3, postpaid_minutes=3)


def test_rated_call_billable_minutes_are_split_into_credits_postpaid_and_blocked():
    RatedCallFactory(minutes=4, pool_minutes=0, billable_minutes=4, credit_minutes=1, postpaid_minutes=2,
                     blocked_minutes=1, status=RatedCallStatus.BLOCKED)
    with pytest.raises(IntegrityError), transaction.atomic():
        RatedCallFactory(minutes=4, pool_minutes=0, billable_minutes=4, credit_minutes=1, postpaid_minutes=2)


def test_rated_call_amount_is_what_credits_and_postpaid_paid():
    RatedCallFactory(
        minutes=2, pool_minutes=0, billable_minutes=2, credit_minutes=1, postpaid_minutes=1, amount=Decimal("0.04"),
        credit_amount=Decimal("0.02"), postpaid_amount=Decimal("0.02"), status=RatedCallStatus.MIXED,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        RatedCallFactory(
            minutes=2, pool_minutes=0, billable_minutes=2, postpaid_minutes=2, amount=Decimal("0.04"),
            credit_amount=Decimal("0"), postpaid_amount=Decimal("0.03"), status=RatedCallStatus.POSTPAID,
        )
    # Blocked minutes are not billed: nothing paid, nothing charged.
    RatedCallFactory(minutes=2, pool_minutes=0, billable_minutes=2, blocked_minutes=2, status=RatedCallStatus.BLOCKED)


# Scoping


def test_credits_and_usage_scoped(partner_a, partner_b, provider, reseller, customer_of):
    account = CreditAccountFactory(customer=customer_of(partner_a))
    entry = CreditLedgerEntryFactory(account=account)
    record = UsageRecordFactory(customer=account.customer)
    resellers = CreditAccountFactory(customer=customer_of(provider, reseller=reseller))

    assert list(CreditAccount.objects.transacted_by(partner_a)) == [account]
    assert list(CreditLedgerEntry.objects.transacted_by(partner_a)) == [entry]
    assert list(UsageRecord.objects.transacted_by(partner_a)) == [record]
    assert not CreditAccount.objects.transacted_by(partner_b).exists()
    assert not UsageRecord.objects.transacted_by(partner_b).exists()
    assert list(CreditAccount.objects.transacted_by(reseller)) == [resellers]
    assert list(CreditAccount.objects.transacted_by(provider)) == [resellers]


def test_rated_calls_scoped_and_reseller_of_record(partner_a, provider, reseller):
    direct = RatedCallFactory(partner=partner_a)
    indirect = RatedCallFactory(partner=provider, reseller=reseller)
    assert list(RatedCall.objects.transacted_by(partner_a)) == [direct]
    assert list(RatedCall.objects.transacted_by(provider)) == [indirect]
    assert list(RatedCall.objects.transacted_by(reseller)) == [indirect]
