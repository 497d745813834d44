"""The set-based engine gives the results of the row-by-row engine it replaced (issue 10), on
whichever database the suite runs (CI runs it on SQLite and on PostgreSQL).

Each seed generates a month at random: customers in three currencies under two partners
(one indirect, with a reseller), pooled licenses, credit accounts with and without
auto-recharge and purchases inside the month, overage assignments that end and move to
another Azure subscription mid-month, rates that change on a day of the month, calls tied on
the same second, zero-second calls, and late calls of a finalized month. The month is rated
by the reference engine (``reference_rating``), whose rows are written as a published run to
produce the reconciliation files; then by ``rate_month`` in small chunks. Every rated call,
every credit draw and recharge, and every byte of every partner's file must be equal."""

import random
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
import time_machine

from billing.models import BillingMonth, CreditLedgerEntry, RatedCall, RatingRun
from billing.services import rating
from billing.services.rating_finalize import billing_month_finalize
from billing.reconciliation_selectors import reconciliation_csv
from catalog.models import LicenseChannel
from portal.models import Partner
from tests.billing.reference_rating import FIELDS, reference_rating
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

AUGUST, SEPTEMBER = date(2026, 8, 1), date(2026, 9, 1)
UTC = dt_timezone.utc
TYPES = [("domestic", "landline"), ("domestic", "mobile"), ("international", "mobile"),
         ("international", "landline"), ("tollfree_inbound", "tollfree"), ("conference_dialout", "landline")]


def at(day, seconds, month=9):
    return datetime(2026, month, day, tzinfo=UTC) + timedelta(seconds=seconds)


def build_world(rng, partner_a, provider, reseller, customer_of):
    for country in ("US", "GB", "IT", "FR"):
        for number_type in ("landline", "mobile", "tollfree"):
            for currency in ("USD", "GBP", "EUR"):
                price = Decimal(rng.randrange(5, 400)) / Decimal(1000) + Decimal("0.000123")
                RateFactory(destination_country=country, number_type=number_type, currency=currency,
                            unit_price=price, effective_from=date(2025, 1, 1))
                if rng.random() < 0.3:  # a new price from a day of September
                    RateFactory(destination_country=country, number_type=number_type, currency=currency,
                                unit_price=price * 2, effective_from=date(2026, 9, rng.randint(2, 28)),
                                effective_to=None if rng.random() < 0.5 else date(2026, 9, 29))
    sku = SkuFactory(included_minutes_domestic=rng.choice([0, 20, 60]), included_minutes_international=10,
                     included_minutes_conferencing=5)
    customers = []
    for n in range(10):
        indirect = n % 3 == 2
        customer = (customer_of(provider, reseller=reseller, country=rng.choice(["US", "GB", "IT"])) if indirect
                    else customer_of(partner_a, country=rng.choice(["US", "GB", "IT"])))
        owner = provider if indirect else partner_a
        customers.append(customer)
        if rng.random() < 0.7:
            TenantLicenseFactory(customer=customer, sku=sku, quantity=rng.randint(1, 3), channel=LicenseChannel.CSP_NCE,
                                 source_partner=owner, provisioned_at=datetime(2026, 7, 1, tzinfo=UTC))
        if rng.random() < 0.6:
            plan = AzurePlanFactory(customer=customer, partner=owner)
            first = AzureSubscriptionFactory(plan=plan, number=1)
            kwargs = {"reseller": reseller} if indirect else {}
            if rng.random() < 0.5:
                switch = at(rng.randint(3, 27), rng.randrange(86400))
                OverageAssignmentFactory(customer=customer, partner=owner, azure_subscription=first,
                                         started_at=datetime(2026, 7, 1, tzinfo=UTC), ended_at=switch, **kwargs)
                OverageAssignmentFactory(customer=customer, partner=owner, started_at=switch, **kwargs,
                                         azure_subscription=AzureSubscriptionFactory(plan=plan, number=2))
            else:
                OverageAssignmentFactory(customer=customer, partner=owner, azure_subscription=first,
                                         started_at=at(rng.randint(1, 20), 0), **kwargs)
        if rng.random() < 0.5:
            account = CreditAccountFactory(customer=customer, currency=customer.currency,
                                           auto_recharge=rng.random() < 0.5, threshold=Decimal("0.40"),
                                           recharge_amount=Decimal("1.50"))
            CreditLedgerEntryFactory(account=account, kind="purchase", amount=Decimal(rng.randint(1, 5)),
                                     occurred_at=datetime(2026, 7, 20, tzinfo=UTC))
            if rng.random() < 0.5:
                CreditLedgerEntryFactory(account=account, kind="purchase", amount=Decimal("0.77"),
                                         occurred_at=at(rng.randint(5, 25), 3600))
    return customers


def make_calls(rng, customers, count, month, prefix):
    made = []
    for n in range(count):
        call_type, number_type = rng.choice(TYPES)
        started = at(rng.randint(1, 28), rng.randrange(86400), month=month)
        if made and rng.random() < 0.1:  # the same second as an earlier call of the customer
            started = made[-1].started_at
            customer = made[-1].customer
        else:
            customer = rng.choice(customers)
        made.append(UsageRecordFactory(
            record_id=f"{prefix}-{rng.choice(['a', 'B', '_', '-'])}{n}", customer=customer, started_at=started,
            duration_seconds=rng.choice([0, 1, 59, 60, 61, rng.randint(1, 3600)]), call_type=call_type,
            destination_country=rng.choice(["US", "GB", "IT", "FR"]), number_type=number_type,
        ))
    return made


def publish_reference(month, rows, entries):
    """Write the reference's rating as the month's published run, as the old engine did."""
    billing_month = BillingMonth.objects.get(month=month)
    run = RatingRun.objects.create(billing_month=billing_month, status="done")
    RatedCall.objects.bulk_create(
        [RatedCall(usage_record_id=pk, run=run, billing_month=billing_month, **values) for pk, values in rows.items()]
    )
    CreditLedgerEntry.objects.filter(billing_month=billing_month).delete()
    CreditLedgerEntry.objects.bulk_create(
        [CreditLedgerEntry(account_id=account, kind=kind, amount=amount, occurred_at=moment, billing_month=billing_month)
         for account, kind, amount, moment in entries]
    )
    billing_month.published_run = run
    billing_month.save()


def engine_rows(month):
    rows = RatedCall.objects.billed_in(month).values("usage_record_id", *FIELDS)
    return {row.pop("usage_record_id"): row for row in rows}


def engine_entries(month):
    return sorted(
        CreditLedgerEntry.objects.filter(billing_month__month=month).values_list("account_id", "kind", "amount",
                                                                                  "occurred_at")
    )


def files(month):
    partners = Partner.objects.order_by("pk")
    return {partner.pk: "".join(reconciliation_csv(partner=partner, month=month)) for partner in partners}


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_set_based_engine_rates_like_the_row_by_row_engine(seed, partner_a, provider, reseller, customer_of,
                                                               settings):
    settings.RATING_CHUNK_CALLS = 40  # several chunks, customers split across them
    rng = random.Random(seed)
    customers = build_world(rng, partner_a, provider, reseller, customer_of)
    make_calls(rng, customers, 150, 8, "aug")
    with time_machine.travel(datetime(2026, 9, 2, tzinfo=UTC), tick=False):
        rating.rate_month(month=AUGUST)
        billing_month_finalize(month=AUGUST)
    make_calls(rng, customers, 25, 8, "late")  # late calls of the finalized month
    make_calls(rng, customers, 300, 9, "sep")
    with time_machine.travel(datetime(2026, 10, 3, tzinfo=UTC), tick=False):
        rating.billing_month_for(SEPTEMBER)
        expected, expected_entries = reference_rating(SEPTEMBER)
        publish_reference(SEPTEMBER, expected, expected_entries)
        expected_files = files(SEPTEMBER)
        run = rating.rate_month(month=SEPTEMBER)
        assert run.total_chunks > 1 and run.processed_records == len(expected)
        actual = engine_rows(SEPTEMBER)
        assert set(actual) == set(expected)
        for pk, values in expected.items():
            assert actual[pk] == values, f"usage record {pk}"
        assert engine_entries(SEPTEMBER) == expected_entries
        assert files(SEPTEMBER) == expected_files
        assert any(values["is_adjustment"] for values in actual.values())
        assert {values["status"] for values in actual.values()} >= {"included", "postpaid", "blocked", "credits"}
