"""Properties of the reconciliation file over random months (hypothesis): the totals the pages
show are the sum of the lines to the cent, and every post-paid call is in exactly one usage
line (no call billed twice, none lost)."""

import csv
import io
from collections import Counter
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.selectors import line_page, month_totals
from billing.reconciliation_selectors import reconciliation_csv
from billing.reconciliation_usage import meter_description
from subscriptions.models import ChargeType
from tests.billing.test_reconciliation import OCTOBER, at, bought, new_charge, rated_call
from tests.factories import AzureSubscriptionFactory, CustomerFactory, SkuFactory

charge_events = st.lists(
    st.tuples(
        st.integers(0, 2),  # subscription
        st.sampled_from([c for c in ChargeType if c != ChargeType.CYCLE_CHARGE]),
        st.integers(1, 40),  # quantity
        st.integers(-50000, 50000),  # amount in cents
        st.integers(1, 31),  # day of October
    ),
    max_size=12,
)
calls = st.lists(
    st.tuples(
        st.integers(0, 2),  # customer
        st.integers(0, 1),  # its Azure subscription
        st.sampled_from([("US", "landline"), ("US", "mobile"), ("GB", "landline")]),
        st.sampled_from(["0.0137", "0.021", "0.2", "0.000123"]),
        st.integers(0, 900),  # post-paid minutes
        st.integers(0, 30),  # credit minutes
        st.booleans(),  # late adjustment
        st.integers(1, 28),  # day
    ),
    max_size=25,
)


@pytest.fixture
def world(partner_a):
    customers = [CustomerFactory(partner=partner_a, name=f"Customer {n}") for n in range(3)]
    azure = [[AzureSubscriptionFactory(plan__customer=c, plan__partner=partner_a) for _ in range(2)] for c in customers]
    subscriptions = [
        bought(partner=partner_a, customer=customers[n], sku=SkuFactory(), purchased=at(2026, 8, 10 + n, 9))
        for n in range(3)
    ]
    return partner_a, customers, azure, subscriptions


class _Rollback(Exception):
    pass


def _in_rollback(check):
    """Run ``check`` in a transaction that is always rolled back: each example starts clean."""
    try:
        with transaction.atomic():
            check()
            raise _Rollback
    except _Rollback:
        pass


@pytest.mark.django_db
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=charge_events, rated=calls)
def test_totals_are_the_sum_of_the_lines_and_no_call_is_billed_twice(world, events, rated):
    partner, customers, azure, subscriptions = world

    def check():
        for sub_index, charge_type, quantity, cents, day in events:
            new_charge(subscriptions[sub_index], charge_type=charge_type, quantity=quantity,
                       amount=Decimal(cents) / 100, occurred_at=at(2026, 10, day, 12))
        made = []
        for cust, az, (country, number_type), unit_price, postpaid, credit, adjustment, day in rated:
            # Calls paid partly from credits and partly post-paid are included: the
            # rated_call_amount_paid check allows half a millionth for SQLite's REAL arithmetic.
            made.append(rated_call(
                customer=customers[cust], partner=partner, azure_subscription=azure[cust][az],
                started_at=at(2026, 9 if adjustment else 10, day, 10), month=OCTOBER,
                postpaid_minutes=postpaid, credit_minutes=credit, unit_price=unit_price,
                is_adjustment=adjustment, country=country, number_type=number_type,
            ))

        lines = list(csv.DictReader(io.StringIO("".join(reconciliation_csv(partner=partner, month=OCTOBER)))))
        by_currency = Counter()
        for line in lines:
            by_currency[line["Currency"]] += Decimal(line["Subtotal"])
            assert Decimal(line["Total"]) == Decimal(line["Subtotal"])

        totals = month_totals(partner=partner, month=OCTOBER)
        assert {c: t["total"] for c, t in totals.items()} == dict(by_currency)
        assert {c: t["license"] + t["usage"] for c, t in totals.items()} == dict(by_currency)
        page = line_page(partner=partner, month=OCTOBER, limit=3)
        assert page.totals == totals
        assert page.count == len(lines)

        # Every post-paid call falls in exactly one usage line; the others in none.
        usage = [line for line in lines if line["ChargeType"] == "usage"]
        keys = Counter(
            (l["CustomerId"], l["SubscriptionId"], l["MeterDescription"], Decimal(l["UnitPrice"]), l["ChargeStartDate"])
            for l in usage
        )
        assert all(count == 1 for count in keys.values())
        minutes = Counter()
        for call in made:
            record = call.usage_record
            key = (
                str(record.customer.tenant_id),
                str(call.azure_subscription_id) if call.azure_subscription_id else "",
                meter_description(record.destination_country, record.number_type),
                call.unit_price,
                ("2026-09-01" if call.is_adjustment else "2026-10-01"),
            )
            if call.postpaid_minutes:
                assert key in keys
                minutes[key] += call.postpaid_minutes
        assert {k: int(l["BillableQuantity"]) for k, l in zip(keys, usage, strict=True)} == dict(minutes)
        assert sum(int(l["BillableQuantity"]) for l in usage) == sum(c.postpaid_minutes for c in made)

    _in_rollback(check)
