"""The billing home (``/billing/``): months with state and totals, the overage and credit
charts (server-rendered SVG), blocked calls per customer; billing roles only, own data only."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from billing import charts
from billing.models import BillingMonthStatus, CreditEntryKind
from billing.selectors import billing_months, blocked_calls_by_customer, credit_balance_over_time, month_totals
from portal.models import Role
from tests.billing.test_reconciliation import OCTOBER, at, bought, new_charge, rated_call
from tests.factories import (
    AzureSubscriptionFactory,
    BillingMonthFactory,
    CreditAccountFactory,
    CreditLedgerEntryFactory,
    CustomerFactory,
)

HOME = reverse("billing:home")


@pytest.fixture
def october(partner_a):
    customer = CustomerFactory(partner=partner_a, name="Alpine <Ski> House")
    new_charge(bought(partner=partner_a, customer=customer, quantity=2, unit_price="10.00"))  # 20.00
    azure = AzureSubscriptionFactory(plan__customer=customer, plan__partner=partner_a, friendly_name="Calls & more")
    rated_call(customer=customer, partner=partner_a, azure_subscription=azure, started_at=at(2026, 10, 3, 9),
               month=OCTOBER, postpaid_minutes=1234, unit_price="0.0137")
    rated_call(customer=customer, partner=partner_a, azure_subscription=None, started_at=at(2026, 10, 4, 9),
               month=OCTOBER, postpaid_minutes=0, blocked_minutes=12, unit_price="0.0137")
    rated_call(customer=customer, partner=partner_a, azure_subscription=None, started_at=at(2026, 10, 5, 9),
               month=OCTOBER, postpaid_minutes=0, blocked_minutes=3, unit_price="0.0137")
    account = CreditAccountFactory(customer=customer, currency="USD")
    CreditLedgerEntryFactory(account=account, amount=Decimal("50.00"), occurred_at=at(2026, 9, 20, 9))
    CreditLedgerEntryFactory(account=account, kind=CreditEntryKind.USAGE_DRAW, amount=Decimal("-12.50"),
                             occurred_at=at(2026, 10, 2, 9))
    BillingMonthFactory(month=dt.date(2026, 9, 1), status=BillingMonthStatus.FINALIZED)
    return customer


@pytest.mark.django_db
def test_months_list_state_and_totals(partner_a, october):
    months = billing_months(partner=partner_a, today=dt.date(2026, 11, 3))

    assert [m["month"] for m in months] == [dt.date(2026, 11, 1), OCTOBER, dt.date(2026, 9, 1)]
    assert [m["finalized"] for m in months] == [False, False, True]
    october_totals = months[1]["totals"]["USD"]
    assert (october_totals["license"], october_totals["usage"], october_totals["total"]) == (
        Decimal("20.00"), Decimal("16.90"), Decimal("36.90")
    )
    assert october_totals == month_totals(partner=partner_a, month=OCTOBER)["USD"]


@pytest.mark.django_db
def test_billing_home_shows_months_charts_and_blocked_calls(make_member, partner_a, october):
    client = make_member(partner_a, Role.BILLING_ADMIN)

    with time_machine.travel(at(2026, 11, 3, 9), tick=False):
        response = client.get(HOME, {"month": "2026-10"})

    assert response.status_code == 200
    content = response.content.decode()
    assert reverse("billing:reconciliation", args=["2026-10"]) in content
    assert reverse("billing:reconciliation_csv", args=["2026-10"]) in content
    assert "36.90" in content
    assert "Finalized" in content and "Open" in content
    assert content.count("<svg") == 2
    assert "Calls &amp; more" in content  # the overage chart's legend, escaped
    assert "Alpine &lt;Ski&gt; House" in content
    assert "<Ski>" not in content
    assert response.context["blocked"] == [
        {"usage_record__customer__name": "Alpine <Ski> House",
         "usage_record__customer__tenant_id": october.tenant_id, "calls": 2, "minutes": 15}
    ]


@pytest.mark.django_db
def test_billing_home_defaults_to_latest_month_and_ignores_a_bad_one(make_member, partner_a):
    client = make_member(partner_a, Role.GLOBAL_ADMIN)

    with time_machine.travel(at(2026, 11, 3, 9), tick=False):
        response = client.get(HOME, {"month": "nonsense"})

    assert response.status_code == 200
    assert response.context["month"] == dt.date(2026, 11, 1)
    assert "No post-paid overage this month." in response.content.decode()


@pytest.mark.django_db
def test_helpdesk_agent_cannot_see_billing(make_member, partner_a):
    assert make_member(partner_a, Role.HELPDESK_AGENT).get(HOME).status_code == 403


@pytest.mark.django_db
def test_other_partner_sees_none_of_it(make_member, partner_b, october):
    client = make_member(partner_b, Role.BILLING_ADMIN)

    response = client.get(HOME, {"month": "2026-10"})

    content = response.content.decode()
    assert "Alpine" not in content
    assert "36.90" not in content
    assert response.context["blocked"] == []


@pytest.mark.django_db
def test_blocked_calls_and_credit_balances_are_scoped(partner_a, partner_b, october):
    assert blocked_calls_by_customer(partner=partner_b, month=OCTOBER) == []
    assert credit_balance_over_time(partner=partner_b, until=dt.date(2026, 10, 31)) == ([], 0)
    series, more = credit_balance_over_time(partner=partner_a, until=dt.date(2026, 10, 31))
    assert more == 0
    assert series == [
        ("Alpine <Ski> House (USD)", [(dt.date(2026, 9, 20), Decimal("50.00")), (dt.date(2026, 10, 2), Decimal("37.50"))])
    ]


def test_bar_chart_escapes_labels_and_has_axis_titles():
    svg = charts.bar_chart(
        categories=["01", "02"],
        series=[("<script>alert(1)</script>", [Decimal("1.5"), Decimal("0")]), ("B & C", [Decimal("2"), Decimal("1")])],
        title="Overage",
        x_label="Day of 2026-10",
        y_label="Amount (USD)",
    )

    assert svg.startswith("<svg")
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "B &amp; C" in svg
    assert "Day of 2026-10" in svg and "Amount (USD)" in svg
    assert svg.count("<rect") == 3 + 2  # three bar segments, two legend swatches


def test_line_chart_draws_steps_and_handles_negatives():
    svg = charts.line_chart(
        series=[("A", [(dt.date(2026, 10, 1), Decimal("10")), (dt.date(2026, 10, 5), Decimal("-2"))])],
        title="Credits",
        x_label="Date",
        y_label="Balance",
    )

    assert "<path" in svg and "H" in svg
    assert "2026-10-01" in svg and "2026-10-05" in svg
    assert "stroke-dasharray" in svg  # the zero line of a negative balance


def test_empty_charts_say_so():
    assert "Nothing" in charts.bar_chart(categories=[], series=[], title="t", x_label="x", y_label="y",
                                         empty_message="Nothing")
    assert "Nothing" in charts.line_chart(series=[], title="t", x_label="x", y_label="y", empty_message="Nothing")


def test_nice_ceiling():
    assert charts.nice_ceiling(Decimal("16.9")) == 20
    assert charts.nice_ceiling(Decimal("0.3")) == Decimal("0.5")
    assert charts.nice_ceiling(Decimal("0")) == 1


def test_charts_are_laid_out_in_css_pixels_with_the_last_date_inside():
    svg = charts.line_chart(
        series=[("Alpine", [(dt.date(2026, 10, 1), Decimal("12345.67")), (dt.date(2026, 11, 30), Decimal(5))])],
        title="t", x_label="x", y_label="y",
    )
    # Its own size, not width="100%": the text is not scaled with the page (12 px everywhere).
    assert 'width="760"' in svg and 'width="100%"' not in svg and 'font-size="12"' in svg
    # The last date ends at the axis instead of being centred on the edge and cut ("2026-11-").
    assert 'text-anchor="end" font-size="12" fill="#6c757d" class="chart-tick">2026-11-30</text>' in svg
    # Room for the longest value on the y axis.
    assert charts._margin_left(Decimal(0), Decimal(25000)) > charts.MARGIN_LEFT
