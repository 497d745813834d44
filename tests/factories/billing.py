"""Factories for billing: credit accounts and ledger, rates, usage, months and rated calls.

Money is ``Decimal``. A rated call's minutes add up (pool + billable) and its amount is paid
(credits + post-paid), as the database requires.
"""

import datetime
from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from billing.models import (
    BillingMonth,
    CallType,
    CreditAccount,
    CreditEntryKind,
    CreditLedgerEntry,
    NumberType,
    Rate,
    RatedCall,
    RatedCallStatus,
    RatingRun,
    UsageImport,
    UsageRecord,
)

from .portal import CustomerFactory


class CreditAccountFactory(DjangoModelFactory):
    class Meta:
        model = CreditAccount
        django_get_or_create = ("customer",)

    customer = factory.SubFactory(CustomerFactory)
    currency = factory.LazyAttribute(lambda o: o.customer.currency)
    auto_recharge = False
    threshold = Decimal("0.00")
    recharge_amount = Decimal("0.00")


class CreditLedgerEntryFactory(DjangoModelFactory):
    """A purchase of 100.00 credits unless told otherwise."""

    class Meta:
        model = CreditLedgerEntry

    account = factory.SubFactory(CreditAccountFactory)
    kind = CreditEntryKind.PURCHASE
    amount = Decimal("100.00")
    occurred_at = factory.LazyFunction(timezone.now)
    note = ""


class RateFactory(DjangoModelFactory):
    """A landline rate; vary ``destination_country``, ``number_type`` or ``effective_from``
    when a test needs several (they are unique together with the currency)."""

    class Meta:
        model = Rate

    destination_country = "US"
    number_type = NumberType.LANDLINE
    currency = "USD"
    unit_price = Decimal("0.020000")
    erp_price = Decimal("0.024000")
    effective_from = datetime.date(2020, 1, 1)
    effective_to = None


class UsageImportFactory(DjangoModelFactory):
    class Meta:
        model = UsageImport

    file_name = factory.Sequence(lambda n: f"usage-{n}.csv")


class UsageRecordFactory(DjangoModelFactory):
    """A one-minute domestic call to a US landline, now."""

    class Meta:
        model = UsageRecord

    record_id = factory.Sequence(lambda n: f"call-{n:08d}")
    customer = factory.SubFactory(CustomerFactory)
    user = factory.LazyAttribute(lambda o: f"user@{o.customer.domain}")
    started_at = factory.LazyFunction(timezone.now)
    duration_seconds = 60
    call_type = CallType.DOMESTIC
    destination_country = "US"
    number_type = NumberType.LANDLINE


class BillingMonthFactory(DjangoModelFactory):
    """The billing month of the first day of the current month (reused if it exists)."""

    class Meta:
        model = BillingMonth
        django_get_or_create = ("month",)

    month = factory.LazyFunction(lambda: timezone.localdate().replace(day=1))


class RatingRunFactory(DjangoModelFactory):
    class Meta:
        model = RatingRun

    billing_month = factory.SubFactory(BillingMonthFactory)


def published_run_of(billing_month):
    if billing_month.published_run_id is None:
        billing_month.published_run = RatingRun.objects.create(billing_month=billing_month, status="done")
        billing_month.save(update_fields=["published_run"])
    return billing_month.published_run


class RatedCallFactory(DjangoModelFactory):
    """A call rated entirely within the included minutes."""

    class Meta:
        model = RatedCall

    usage_record = factory.SubFactory(UsageRecordFactory)
    billing_month = factory.SubFactory(BillingMonthFactory)
    # The month's published run (made and published on first use), so the row is billed.
    run = factory.LazyAttribute(lambda o: published_run_of(o.billing_month))
    minutes = 1
    pool_minutes = 1
    billable_minutes = 0
    unit_price = Decimal("0")
    amount = Decimal("0")
    credit_amount = Decimal("0")
    postpaid_amount = Decimal("0")
    currency = "USD"
    partner = None
    reseller = None
    status = RatedCallStatus.INCLUDED
