"""The reconciliation page and CSV download: billing roles only, the signed-in partner's own
lines, a streamed file, filters and pages, and totals equal to the sum of all lines."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from billing.reconciliation_format import COLUMNS
from portal.models import Role
from subscriptions.models import ChargeType
from tests.billing.test_reconciliation import OCTOBER, at, bought, new_charge, rated_call
from tests.factories import AzureSubscriptionFactory, CustomerFactory, SkuFactory

CSV_URL = reverse("billing:reconciliation_csv", args=["2026-10"])
PAGE_URL = reverse("billing:reconciliation", args=["2026-10"])


def csv_rows(response):
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def october(partner_a):
    """Partner A's October: 60 license lines over two customers and a usage line."""
    alpine = CustomerFactory(partner=partner_a, name="Alpine Ski House")
    bellows = CustomerFactory(partner=partner_a, name="Bellows College")
    sku = SkuFactory(title="Business Basic")
    for n in range(30):
        new_charge(bought(partner=partner_a, customer=alpine, sku=sku, quantity=1 + n % 4, unit_price="6.10"),
                   amount=Decimal("5.13") * (1 + n % 4))
        new_charge(bought(partner=partner_a, customer=bellows, sku=sku, quantity=2, unit_price="7.00"), amount="13.33")
    azure = AzureSubscriptionFactory(plan__customer=alpine, plan__partner=partner_a)
    rated_call(customer=alpine, partner=partner_a, azure_subscription=azure, started_at=at(2026, 10, 3, 9),
               month=OCTOBER, postpaid_minutes=1234, unit_price="0.0137")
    return {"alpine": alpine, "bellows": bellows}


@pytest.mark.django_db
def test_billing_admin_downloads_a_streamed_csv(make_member, partner_a, october):
    client = make_member(partner_a, Role.BILLING_ADMIN)

    response = client.get(CSV_URL)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"reconciliation-{partner_a.mpn_id}-2026-10.csv" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == COLUMNS
    assert len(rows) == 1 + 61


@pytest.mark.django_db
@pytest.mark.parametrize("url", [CSV_URL, PAGE_URL])
def test_helpdesk_agent_cannot_see_reconciliation(make_member, partner_a, url):
    client = make_member(partner_a, Role.HELPDESK_AGENT)

    assert client.get(url).status_code == 403


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client):
    response = client.get(CSV_URL)

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_other_partner_downloads_only_its_own_lines(make_member, partner_a, partner_b, october):
    new_charge(bought(partner=partner_b, customer=CustomerFactory(partner=partner_b, name="Adatum Customer")))
    client = make_member(partner_b, Role.BILLING_ADMIN)

    rows = csv_rows(client.get(CSV_URL))[1:]
    page = client.get(PAGE_URL)

    assert [row[2] for row in rows] == ["Adatum Customer"]
    assert {row[0] for row in rows} == {partner_b.mpn_id}
    assert "Alpine Ski House" not in page.content.decode()


@pytest.mark.django_db
def test_bad_month_is_404(make_member, partner_a):
    client = make_member(partner_a, Role.BILLING_ADMIN)

    assert client.get("/billing/reconciliation/2026-13.csv").status_code == 404
    assert client.get("/billing/reconciliation/2026-1/").status_code == 404
    # Its next month would be past year 9999: refused, never an overflow.
    assert client.get("/billing/reconciliation/9999-12/").status_code == 404
    assert client.get("/billing/reconciliation/9999-12.csv").status_code == 404


@pytest.mark.django_db
def test_page_totals_equal_the_sum_of_every_line(make_member, partner_a, october):
    client = make_member(partner_a, Role.BILLING_ADMIN)
    lines = list(csv.DictReader(io.StringIO(b"".join(client.get(CSV_URL).streaming_content).decode())))
    expected = sum((Decimal(line["Subtotal"]) for line in lines), Decimal("0.00"))

    response = client.get(PAGE_URL)

    page = response.context["page"]
    assert len(page.rows) == 50  # one page
    assert page.count == 61
    assert page.totals["USD"]["total"] == expected  # all 61 lines, not the page
    assert page.totals["USD"]["usage"] == Decimal("16.90")
    assert f'data-currency="USD">${expected:,.2f}<' in response.content.decode()


@pytest.mark.django_db
def test_page_filters_by_customer_charge_type_and_product(make_member, partner_a, october):
    client = make_member(partner_a, Role.GLOBAL_ADMIN)

    by_customer = client.get(PAGE_URL, {"customer": str(october["bellows"].tenant_id)}).context["page"]
    by_type = client.get(PAGE_URL, {"charge_type": "usage"}).context["page"]
    by_product = client.get(PAGE_URL, {"product": "DZH318Z0BPS6"}).context["page"]

    assert by_customer.count == 30
    assert {row["CustomerName"] for row in by_customer.rows} == {"Bellows College"}
    assert by_customer.filtered_totals["USD"]["total"] == Decimal("13.32") * 30
    assert by_type.count == 1 and by_type.rows[0]["ChargeType"] == "usage"
    assert by_product.count == 1
    # The month's totals stay those of every line.
    assert by_customer.totals == by_type.totals


@pytest.mark.django_db
def test_second_page_and_htmx_partial(make_member, partner_a, october):
    client = make_member(partner_a, Role.BILLING_ADMIN)

    second = client.get(PAGE_URL, {"page": 2})
    partial = client.get(PAGE_URL, {"page": 2}, headers={"HX-Request": "true"})

    assert len(second.context["page"].rows) == 11
    assert "<html" in second.content.decode()
    assert "<html" not in partial.content.decode()
    assert 'data-testid="line-table"' in partial.content.decode()


@pytest.mark.django_db
def test_reconciliation_page_lists_charge_types(make_member, partner_a, october):
    client = make_member(partner_a, Role.BILLING_ADMIN)
    sub = bought(partner=partner_a, customer=october["alpine"])
    new_charge(sub, charge_type=ChargeType.CANCEL_IMMEDIATE, amount="-3.00", occurred_at=at(2026, 10, 6))

    content = client.get(PAGE_URL, {"charge_type": "cancelImmediate"}).content.decode()

    assert "cancelImmediate" in content
    assert "-$3.00" in content


@pytest.mark.django_db
def test_csv_query_count_does_not_grow_with_lines(make_member, partner_a, october, django_assert_max_num_queries):
    client = make_member(partner_a, Role.BILLING_ADMIN)
    response = client.get(CSV_URL)

    # Streams: charge events, subscriptions with two prefetches, two usage aggregates, the
    # month's state, whatever the number of lines.
    with django_assert_max_num_queries(8):
        rows = csv_rows(response)
    assert len(rows) == 62
    assert dt.date(2026, 10, 1).isoformat() in {row[24] for row in rows[1:]}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, count",
    [({"customer": "bellows"}, 30), ({"charge_type": "usage"}, 1), ({"product": "DZH318Z0BPS6"}, 1),
     ({"customer": "alpine", "charge_type": "new"}, 30), ({}, 61)],
)
def test_csv_download_follows_the_page_filters(make_member, partner_a, october, query, count):
    """Issue 13 defect 11: the download held every line of the month while the page showed the
    filtered ones. The page's button links the CSV with the page's query, and the file holds
    exactly the lines the page counts, in the file's columns."""
    client = make_member(partner_a, Role.BILLING_ADMIN)
    if "customer" in query:
        query = {**query, "customer": str(october[query["customer"]].tenant_id)}

    page = client.get(PAGE_URL, query)
    rows = csv_rows(client.get(CSV_URL, query))

    assert page.context["page"].count == count
    assert rows[0] == COLUMNS and len(rows) == 1 + count
    link = reverse("billing:reconciliation_csv", args=["2026-10"])
    if query:
        link += "?" + page.context["filter_query"].replace("&", "&amp;")
    assert f'href="{link}"' in page.content.decode()


@pytest.mark.django_db
def test_htmx_filtering_replaces_the_download_link(make_member, partner_a, october):
    client = make_member(partner_a, Role.BILLING_ADMIN)

    partial = client.get(PAGE_URL, {"charge_type": "usage"}, headers={"HX-Request": "true"}).content.decode()

    assert 'id="csv-download"' in partial and 'hx-swap-oob="true"' in partial
    assert "?charge_type=usage" in partial


@pytest.mark.django_db
def test_csv_with_an_invalid_filter_is_empty_not_the_whole_month(make_member, partner_a, october):
    client = make_member(partner_a, Role.BILLING_ADMIN)

    rows = csv_rows(client.get(CSV_URL, {"customer": "not-a-tenant", "charge_type": "nonsense"}))

    assert rows == [COLUMNS]
