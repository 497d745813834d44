"""``/v1/customers``: the caller's customers only; anyone else's tenant id is 404, like an
unknown or malformed one."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.errors import ErrorCode
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_list_shows_own_customers_in_pc_shape(api_client, partner_a, partner_b, customer_of):
    mine = customer_of(partner_a, name="Alpine Ski House", domain="alpineskihouse.onmicrosoft.com", country="IT")
    customer_of(partner_b, name="Not Mine")
    response = api_client(partner_a).get("/v1/customers")
    assert response.status_code == 200
    body = response.json()
    assert body["totalCount"] == 1
    assert body["attributes"] == {"objectType": "Collection"}
    tenant_id = str(mine.tenant_id)
    assert body["items"][0] == {
        "id": tenant_id,
        "companyProfile": {
            "tenantId": tenant_id,
            "domain": "alpineskihouse.onmicrosoft.com",
            "companyName": "Alpine Ski House",
        },
        "billingProfile": {"defaultAddress": {"country": "IT"}},
        "relationshipToPartner": "reseller",
        "links": {"self": {"uri": f"/customers/{tenant_id}", "method": "GET", "headers": []}},
        "attributes": {"objectType": "Customer"},
    }


def test_get_own_customer(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    response = api_client(partner_a).get(f"/v1/customers/{customer.tenant_id}")
    assert response.status_code == 200
    assert response.json()["companyProfile"]["companyName"] == customer.name


def test_another_partners_customer_is_404(api_client, partner_a, partner_b, customer_of):
    customer = customer_of(partner_a)
    response = api_client(partner_b).get(f"/v1/customers/{customer.tenant_id}")
    assert response.status_code == 404
    assert response.json()["code"] == ErrorCode.CUSTOMER_NOT_FOUND


@pytest.mark.parametrize("tenant_id", [str(uuid.uuid4()), "not-a-guid", "1234", "%20"])
def test_unknown_or_malformed_tenant_is_404_not_500(api_client, partner_a, tenant_id):
    response = api_client(partner_a).get(f"/v1/customers/{tenant_id}")
    assert response.status_code == 404
    assert set(response.json()) == {"code", "description", "data"}


def test_provider_sees_its_resellers_customers_and_reseller_only_its_own(api_client, provider, reseller):
    via_reseller = CustomerFactory(partner=provider, reseller=reseller)
    direct = CustomerFactory(partner=provider)
    provider_ids = {c["id"] for c in api_client(provider).get("/v1/customers").json()["items"]}
    reseller_ids = {c["id"] for c in api_client(reseller).get("/v1/customers").json()["items"]}
    assert provider_ids == {str(via_reseller.tenant_id), str(direct.tenant_id)}
    assert reseller_ids == {str(via_reseller.tenant_id)}


def test_customer_list_query_count_is_constant(api_client, partner_a, customer_of):
    # Auth (token, last use) and one query for the customers, whatever their number.
    client = api_client(partner_a)
    for _ in range(3):
        customer_of(partner_a)
    with CaptureQueriesContext(connection) as small:
        assert client.get("/v1/customers").json()["totalCount"] == 3
    for _ in range(17):
        customer_of(partner_a)
    with CaptureQueriesContext(connection) as large:
        assert client.get("/v1/customers").json()["totalCount"] == 20
    assert len(small) == len(large) == 3
