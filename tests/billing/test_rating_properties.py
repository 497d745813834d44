"""Properties of the rating engine over random months (hypothesis), through ``rate_month``
itself: every call of the month is rated exactly once; re-rating a draft month gives the same
lines; a call arriving after its month was finalized is rated once, in the next month, as an
adjustment; and the reconciliation file bills exactly the post-paid minutes, no more."""

import csv
import io
from datetime import date, datetime
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import RatedCall, UsageRecord
from billing.services import rating
from billing.services.rating_finalize import billing_month_finalize
from billing.reconciliation_selectors import reconciliation_csv
from catalog.models import LicenseChannel
from tests.billing.test_reconciliation_properties import _in_rollback
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

SEPTEMBER, OCTOBER = date(2026, 9, 1), date(2026, 10, 1)

calls = st.lists(
    st.tuples(
        st.integers(0, 2),  # customer
        st.integers(1, 30),  # day of September
        st.integers(0, 23),  # hour
        st.integers(0, 3600),  # seconds
        st.sampled_from([("domestic", "US", "landline"), ("international", "GB", "mobile"),
                         ("tollfree_inbound", "US", "tollfree"), ("conference_dialout", "US", "landline")]),
    ),
    min_size=1,
    max_size=30,
)
late_calls = st.lists(st.tuples(st.integers(0, 2), st.integers(1, 30), st.integers(1, 1800)), max_size=5)


@pytest.fixture
def world(partner_a, customer_of):
    """Three US customers: one with a pool and overage, one with credits (auto-recharge) and
    overage from the 15th, one with neither (its billable minutes are blocked)."""
    for country, number_type, price in (("US", "landline", "0.020000"), ("GB", "mobile", "0.150000"),
                                        ("US", "tollfree", "0.030000")):
        RateFactory(destination_country=country, number_type=number_type, currency="USD", unit_price=Decimal(price),
                    effective_from=date(2025, 1, 1))
    customers = [customer_of(partner_a, country="US") for _ in range(3)]
    TenantLicenseFactory(customer=customers[0], sku=SkuFactory(included_minutes_domestic=30,
                                                               included_minutes_conferencing=10),
                         quantity=2, channel=LicenseChannel.CSP_NCE, source_partner=partner_a,
                         provisioned_at=datetime(2026, 8, 1, tzinfo=dt_timezone.utc))
    for customer, start in ((customers[0], datetime(2026, 8, 1, tzinfo=dt_timezone.utc)),
                            (customers[1], datetime(2026, 9, 15, tzinfo=dt_timezone.utc))):
        plan = AzurePlanFactory(customer=customer, partner=partner_a)
        OverageAssignmentFactory(customer=customer, partner=partner_a, started_at=start,
                                 azure_subscription=AzureSubscriptionFactory(plan=plan, number=1))
    account = CreditAccountFactory(customer=customers[1], currency="USD", auto_recharge=True,
                                   threshold=Decimal("0.50"), recharge_amount=Decimal("1.00"))
    CreditLedgerEntryFactory(account=account, kind="purchase", amount=Decimal("2.00"),
                             occurred_at=datetime(2026, 8, 20, tzinfo=dt_timezone.utc))
    return partner_a, customers


def lines_of(month):
    return sorted(
        RatedCall.objects.filter(billing_month__month=month).values_list(
            "usage_record_id", "is_adjustment", "minutes", "pool_minutes", "credit_minutes", "postpaid_minutes",
            "blocked_minutes", "amount", "azure_subscription_id",
        )
    )


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(month_calls=calls, late=late_calls)
def test_every_call_is_rated_once_and_re_rating_changes_nothing(world, month_calls, late):
    partner, customers = world

    def check():
        for n, (who, day, hour, seconds, (call_type, country, number_type)) in enumerate(month_calls):
            UsageRecordFactory(record_id=f"p-{n}", customer=customers[who], duration_seconds=seconds,
                               started_at=datetime(2026, 9, day, hour, tzinfo=dt_timezone.utc), call_type=call_type,
                               destination_country=country, number_type=number_type)
        with time_machine.travel(datetime(2026, 10, 2, tzinfo=dt_timezone.utc), tick=False):
            rating.rate_month(month=SEPTEMBER)
            first = lines_of(SEPTEMBER)
            rating.rate_month(month=SEPTEMBER)
            assert lines_of(SEPTEMBER) == first  # re-rating a draft month: the same lines
            billing_month_finalize(month=SEPTEMBER)
        assert len(first) == len(month_calls) == UsageRecord.objects.count()
        for line in first:
            minutes, pool, credit, postpaid, blocked = line[2:7]
            assert minutes == pool + credit + postpaid + blocked

        for n, (who, day, seconds) in enumerate(late):  # arrive after September was finalized
            UsageRecordFactory(record_id=f"late-{n}", customer=customers[who], duration_seconds=seconds,
                               started_at=datetime(2026, 9, day, 12, tzinfo=dt_timezone.utc))
        with time_machine.travel(datetime(2026, 11, 2, tzinfo=dt_timezone.utc), tick=False):
            rating.rate_month(month=OCTOBER)
            rating.rate_month(month=OCTOBER)
        assert lines_of(SEPTEMBER) == first  # a finalized month never changes
        october = lines_of(OCTOBER)
        assert len(october) == len(late) and all(line[1] for line in october)  # adjustments
        # No usage record is rated twice, none is left unrated.
        assert RatedCall.objects.count() == UsageRecord.objects.count()

        # The file bills exactly the post-paid minutes of each month, to the cent of its lines.
        for month in (SEPTEMBER, OCTOBER):
            rows = list(csv.DictReader(io.StringIO("".join(reconciliation_csv(partner=partner, month=month)))))
            usage = [row for row in rows if row["ChargeType"] == "usage"]
            postpaid = sum(line[5] for line in lines_of(month))
            assert sum(int(row["BillableQuantity"]) for row in usage) == postpaid

    _in_rollback(check)
