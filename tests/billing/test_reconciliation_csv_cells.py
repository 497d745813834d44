"""The reconciliation file neutralises text cells a spreadsheet would run as formulas (OWASP,
CSV injection) and leaves every amount and quantity as it is, negative ones included. The
golden files (``test_demo_golden``, ``test_reconciliation``) pin that nothing else moved."""

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
