"""``GET /v1/reconciliation/{YYYY-MM}/lineitems``: the CSV's rows as camelCase line items,
billing roles only, paged with ``size``/``offset``, the caller's partner's lines only."""

import csv
import io

import pytest

from billing.reconciliation_api import camel_case
from billing.reconciliation_format import COLUMNS
from billing.reconciliation_selectors import reconciliation_csv
from portal.models import Role
from tests.billing.test_reconciliation import OCTOBER, at, bought, new_charge, rated_call
from tests.factories import AzureSubscriptionFactory, CustomerFactory

URL = "/v1/reconciliation/2026-10/lineitems"


@pytest.fixture
def five_lines(partner_a):
    customer = CustomerFactory(partner=partner_a, name="Alpine Ski House")
    for _ in range(4):
        new_charge(bought(partner=partner_a, customer=customer))
    azure = AzureSubscriptionFactory(plan__customer=customer, plan__partner=partner_a)
    rated_call(customer=customer, partner=partner_a, azure_subscription=azure, started_at=at(2026, 10, 3, 9),
               month=OCTOBER, postpaid_minutes=1234, unit_price="0.0137")


def test_camel_case_keys():
    assert camel_case("PartnerId") == "partnerId"
    assert camel_case("PCToBCExchangeRate") == "pcToBCExchangeRate"
    assert camel_case("PartnerEarnedCreditPercentage") == "partnerEarnedCreditPercentage"


@pytest.mark.django_db
def test_line_items_are_the_csv_rows_in_camel_case(api_client, partner_a, five_lines):
    client = api_client(partner_a, Role.BILLING_ADMIN)
    rows = list(csv.DictReader(io.StringIO("".join(reconciliation_csv(partner=partner_a, month=OCTOBER)))))

    response = client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["totalCount"] == 5
    assert body["attributes"] == {"objectType": "Collection"}
    assert "next" not in body["links"] or body["links"]["next"] is None
    first = body["items"][0]
    # Usage line items also carry links.calls (issue 10): the columns, then the attributes.
    assert [key for key in first if key != "links"] == [camel_case(c) for c in COLUMNS] + ["attributes"]
    assert first["attributes"] == {"objectType": "LineItem"}
    assert [{camel_case(c): row[c] for c in COLUMNS} for row in rows] == [
        {k: v for k, v in item.items() if k not in ("attributes", "links")} for item in body["items"]
    ]
    usage = next(item for item in body["items"] if item["chargeType"] == "usage")
    assert usage["subtotal"] == "16.90"
    assert usage["pcToBCExchangeRate"] == "1"


@pytest.mark.django_db
def test_paging_with_size_and_offset(api_client, partner_a, five_lines):
    client = api_client(partner_a, Role.GLOBAL_ADMIN)
    everything = client.get(URL).json()["items"]

    first = client.get(URL, {"size": 2}).json()
    last = client.get(URL, {"size": 2, "offset": 4}).json()

    assert first["totalCount"] == 5
    assert first["items"] == everything[:2]
    assert first["links"]["next"]["uri"] == "/v1/reconciliation/2026-10/lineitems?size=2&offset=2"
    assert last["items"] == everything[4:]
    assert last["links"].get("next") is None


@pytest.mark.django_db
@pytest.mark.parametrize("params", [{"size": 0}, {"size": 10001}, {"offset": -1}])
def test_paging_out_of_range_is_400(api_client, partner_a, params):
    response = api_client(partner_a, Role.BILLING_ADMIN).get(URL, params)

    assert response.status_code == 400
    assert set(response.json()) == {"code", "description", "data"}


@pytest.mark.django_db
@pytest.mark.parametrize("month", ["2026-13", "2026-1", "october", "2026-10-01", "9999-12", "0000-05"])
def test_bad_month_is_400(api_client, partner_a, month):
    response = api_client(partner_a, Role.BILLING_ADMIN).get(f"/v1/reconciliation/{month}/lineitems")

    assert response.status_code == 400
    assert "YYYY-MM" in response.json()["description"]


@pytest.mark.django_db
def test_helpdesk_agent_is_403(api_client, partner_a):
    response = api_client(partner_a, Role.HELPDESK_AGENT).get(URL)

    assert response.status_code == 403


@pytest.mark.django_db
def test_other_partner_sees_none_of_these_lines(api_client, partner_a, partner_b, five_lines):
    body = api_client(partner_b, Role.BILLING_ADMIN).get(URL).json()

    assert body["totalCount"] == 0
    assert body["items"] == []


@pytest.mark.django_db
def test_schema_documents_the_endpoint(api_client, partner_a):
    schema = api_client(partner_a).get("/v1/openapi.json").json()

    assert "/v1/reconciliation/{month}/lineitems" in schema["paths"]
