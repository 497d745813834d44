"""Issue 13 defect 13: partners look up the telco call rates (seed 000: rates per destination
and number type, downloadable) in force in their markets, and download them as CSV."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from portal.models import Role
from tests.factories import CustomerFactory, RateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates():
    with time_machine.travel(date(2026, 11, 10), tick=False):
        yield {
            "old": RateFactory(destination_country="US", number_type="landline", currency="EUR",
                               unit_price=Decimal("0.020000"), effective_from=date(2025, 1, 1), effective_to=date(2026, 1, 1)),
            "now": RateFactory(destination_country="US", number_type="landline", currency="EUR",
                               unit_price=Decimal("0.018000"), effective_from=date(2026, 1, 1)),
            "next": RateFactory(destination_country="US", number_type="landline", currency="EUR",
                                unit_price=Decimal("0.015000"), effective_from=date(2027, 1, 1)),
            "mobile": RateFactory(destination_country="GB", number_type="mobile", currency="EUR",
                                  unit_price=Decimal("0.120000"), effective_from=date(2026, 1, 1)),
            "usd": RateFactory(destination_country="US", number_type="landline", currency="USD",
                               unit_price=Decimal("0.017000"), effective_from=date(2026, 1, 1)),
        }


def test_rates_page_lists_the_rates_in_force_in_the_market(make_member, partner_a, rates, django_assert_num_queries):
    CustomerFactory(partner=partner_a, country="DE")
    CustomerFactory(partner=partner_a, country="US")
    client = make_member(partner_a, Role.SALES_AGENT)

    assert client.get(reverse("billing:rates_home")).url == reverse("billing:rates", args=["DE"])
    # Session, user, membership, the partner's markets, the rates: whatever the number of rates.
    with django_assert_num_queries(5):
        response = client.get(reverse("billing:rates", args=["DE"]))

    assert response.status_code == 200
    assert [r.pk for r in response.context["rates"]] == [rates["mobile"].pk, rates["now"].pk]
    html = response.content.decode()
    assert "€0.018" in html and "€0.02<" not in html and "€0.015" not in html
    assert f'href="{reverse("billing:rates_csv", args=["DE"])}"' in html
    assert f'href="{reverse("billing:rates", args=["US"])}"' in html


def test_rates_csv_holds_the_same_rates(make_member, partner_a, rates):
    CustomerFactory(partner=partner_a, country="DE")

    response = make_member(partner_a).get(reverse("billing:rates_csv", args=["DE"]))

    assert response["Content-Disposition"] == 'attachment; filename="call-rates-DE-2026-11-10.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        ["DestinationCountry", "NumberType", "Currency", "UnitPricePerMinute", "ErpPricePerMinute", "EffectiveFrom", "EffectiveTo"],
        ["GB", "mobile", "EUR", "0.120000", str(rates["mobile"].erp_price), "2026-01-01", ""],
        ["US", "landline", "EUR", "0.018000", str(rates["now"].erp_price), "2026-01-01", ""],
    ]


@pytest.mark.parametrize("name", ["billing:rates", "billing:rates_csv"])
def test_a_market_without_customers_of_the_partner_is_404(make_member, partner_a, partner_b, rates, name):
    CustomerFactory(partner=partner_a, country="DE")
    CustomerFactory(partner=partner_b, country="US")

    assert make_member(partner_b).get(reverse(name, args=["DE"])).status_code == 404
    assert make_member(partner_b).get(reverse(name, args=["US"])).status_code == 200


def test_partner_without_customers_is_told_why_there_are_no_rates(make_member, partner_a):
    response = make_member(partner_a).get(reverse("billing:rates_home"))
    assert response.status_code == 200 and 'data-testid="no-markets"' in response.content.decode()


def test_billing_home_links_the_rates(make_member, partner_a):
    html = make_member(partner_a, Role.BILLING_ADMIN).get(reverse("billing:home")).content.decode()
    assert f'href="{reverse("billing:rates_home")}"' in html
