"""The reconciliation file neutralises text cells a spreadsheet would run as formulas (OWASP,
CSV injection) and leaves every amount and quantity as it is, negative ones included. The
golden files (``test_demo_golden``, ``test_reconciliation``) pin that nothing else moved."""

import csv
import io

import pytest

from subscriptions.models import ChargeType
from tests.billing.test_reconciliation import OCTOBER, bought, export, new_charge, parse
from tests.factories import CustomerFactory, SkuFactory

pytestmark = pytest.mark.django_db


def test_text_cells_starting_a_formula_are_neutralised_and_numbers_kept(partner_a):
    customer = CustomerFactory(partner=partner_a, name='=HYPERLINK("http://evil","x")', domain="@evil.example")
    subscription = bought(partner=partner_a, customer=customer, quantity=3, sku=SkuFactory(title="-Tools +2"))
    new_charge(subscription)
    new_charge(subscription, charge_type=ChargeType.CANCEL_IMMEDIATE, quantity=3, amount="-30.24",
               occurred_at=subscription.purchased_at)

    lines = {line["ChargeType"]: line for line in parse(export(partner_a, OCTOBER))}
    new, cancel = lines["new"], lines["cancelImmediate"]

    assert new["CustomerName"] == "'=HYPERLINK(\"http://evil\",\"x\")"
    assert new["CustomerDomainName"] == "'@evil.example"
    assert new["SkuName"] == "'-Tools +2"
    assert cancel["Subtotal"] == "-30.24" == cancel["Total"]
    assert cancel["EffectiveUnitPrice"] == "-10.08"


def test_the_calls_csv_of_a_usage_line_neutralises_text_and_keeps_numbers(partner_a, customer_of, client):
    import datetime as dt
    from decimal import Decimal

    import time_machine
    from django.urls import reverse

    from billing.services import rating
    from tests.billing.test_usage_line_calls import _login, usage_lines
    from tests.factories import (
        AzurePlanFactory,
        AzureSubscriptionFactory,
        OverageAssignmentFactory,
        RateFactory,
        UsageRecordFactory,
    )

    customer = customer_of(partner_a, country="US")
    RateFactory(destination_country="US", number_type="landline", currency="USD", unit_price=Decimal("0.02"),
                effective_from=dt.date(2025, 1, 1))
    plan = AzurePlanFactory(customer=customer, partner=partner_a)
    OverageAssignmentFactory(customer=customer, partner=partner_a, azure_subscription=AzureSubscriptionFactory(plan=plan),
                             started_at=dt.datetime(2026, 8, 1, tzinfo=dt.UTC))
    UsageRecordFactory(record_id="+1-call", user="=HYPERLINK(\"http://evil\",\"x\")@contoso.example",
                       customer=customer, started_at=dt.datetime(2026, 8, 5, tzinfo=dt.UTC), duration_seconds=120)
    with time_machine.travel(dt.datetime(2026, 9, 2, tzinfo=dt.UTC), tick=False):
        rating.rate_month(month=dt.date(2026, 8, 1))
        [(_row, key)] = usage_lines(partner_a, dt.date(2026, 8, 1))
        _login(client, partner_a)
        response = client.get(reverse("billing:usage_line_calls_csv", args=["2026-08", str(key)]))
    [call] = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert call["record_id"] == "'+1-call"
    assert call["user"] == "'=HYPERLINK(\"http://evil\",\"x\")@contoso.example"
    assert call["postpaid_minutes"] == "2" and call["unit_price"] == "0.020000"
