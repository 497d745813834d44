"""The OpenAPI schema at ``/v1/openapi.json`` says exactly what the API accepts: what it
requires is marked required, what it refuses the schema does not allow, and what the schema
allows the API does not refuse for its shape (issue 11: generated calls found each of these)."""

import datetime
import re

import pytest
import time_machine
from django.test import Client

from catalog.models import ConsumptionType
from portal.models import Role
from subscriptions.models import Cart
from tests.api.test_carts_api import line, post_cart
from tests.api.test_subscriptions_api import PURCHASED, bought, patch
from tests.factories import SkuFactory, SubscriptionFactory
from tests.subscriptions.test_cart import make_catalog

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    return Client().get("/v1/openapi.json").json()


def operation(schema, path, method):
    return schema["paths"][f"/v1{path}"][method]


def parameter(schema, path, method, name):
    return next(p for p in operation(schema, path, method)["parameters"] if p["name"] == name)


def component(schema, name):
    return schema["components"]["schemas"][name]


def string_schema(property_schema):
    """The string branch of ``str | None`` (``anyOf: [string, null]``) or the schema itself."""
    for branch in property_schema.get("anyOf", [property_schema]):
        if branch.get("type") == "string":
            return branch
    raise AssertionError(f"no string in {property_schema}")


def matches(pattern, value):
    # JSON Schema patterns are ECMA-262; the ones used here mean the same in Python.
    return re.search(pattern, value) is not None


# --- customTermEndDates: term_duration ----------------------------------------------------------

TERM_END_DATES = "/customers/{tenant_id}/subscriptions/customTermEndDates"


def test_term_duration_is_marked_required(schema):
    term = parameter(schema, TERM_END_DATES, "get", "term_duration")
    assert term["required"] is True
    pattern = string_schema(term["schema"])["pattern"]
    assert [v for v in ["P1M", "P1Y", "P3Y", "p1y", "P2Y", "", "P1Y1"] if matches(pattern, v)] == ["P1M", "P1Y", "P3Y", "p1y"]


@pytest.mark.parametrize("value, accepted", [("P1Y", True), ("p1y", True), ("P2Y", False), ("", False)])
def test_term_duration_values_the_schema_allows_are_the_ones_the_api_accepts(
    api_client, partner_a, customer_of, schema, value, accepted
):
    customer = customer_of(partner_a)
    pattern = string_schema(parameter(schema, TERM_END_DATES, "get", "term_duration")["schema"])["pattern"]
    response = api_client(partner_a).get(
        f"/v1/customers/{customer.tenant_id}/subscriptions/customTermEndDates", {"term_duration": value}
    )
    assert (response.status_code == 200) is accepted is matches(pattern, value)


# --- catalog: targetSegment, targetView ---------------------------------------------------------


def test_an_empty_target_segment_means_every_segment(api_client, partner_a, schema):
    SkuFactory()
    client = api_client(partner_a)
    for url in ("/v1/products", "/v1/products/CFQ7TTC0LH18/skus"):
        response = client.get(url, {"country": "US", "targetSegment": ""})
        assert response.status_code in (200, 404)  # the product may not exist; the segment is fine
        assert response.json().get("code") != 400030
    pattern = string_schema(parameter(schema, "/products", "get", "targetSegment")["schema"])["pattern"]
    assert matches(pattern, "") and matches(pattern, "commercial") and matches(pattern, "Education")
    assert not matches(pattern, "retail")


def test_target_view_lists_the_views_the_api_knows(schema):
    view = parameter(schema, "/products", "get", "targetView")["schema"]
    assert view["enum"] == ["OnlineServices", "MicrosoftAzure"]


# --- reconciliation: month ----------------------------------------------------------------------

LINE_ITEMS = "/reconciliation/{month}/lineitems"


def test_the_month_format_is_documented(schema):
    month = parameter(schema, LINE_ITEMS, "get", "month")
    assert "YYYY-MM" in month["description"]
    pattern = month["schema"]["pattern"]
    accepted = [m for m in ["2026-10", "0001-01", "9999-11", "2026-13", "2026-1", "0000-05", "9999-12"] if matches(pattern, m)]
    assert accepted == ["2026-10", "0001-01", "9999-11"]


def test_a_month_the_pattern_refuses_is_refused(api_client, partner_a):
    # Digits of another script pass str.isdigit(): they are not YYYY-MM.
    response = api_client(partner_a, Role.BILLING_ADMIN).get("/v1/reconciliation/٢٠٢٦-١٠/lineitems")
    assert response.status_code == 400
    assert "YYYY-MM" in response.json()["description"]


# --- carts: lineItems ---------------------------------------------------------------------------


def test_line_items_need_at_least_one(schema):
    assert component(schema, "CartIn")["properties"]["lineItems"]["minItems"] == 1


@pytest.mark.parametrize("value, accepted", [("monthly", True), ("ANNUAL", True), ("Monthly", True),
                                             ("weekly", False), ("", False)])
def test_billing_cycle_values_the_schema_allows_are_the_ones_the_api_accepts(
    api_client, partner_a, customer_of, schema, value, accepted
):
    catalog = make_catalog()
    pattern = string_schema(component(schema, "CartLineIn")["properties"]["billingCycle"])["pattern"]
    response = post_cart(api_client(partner_a), customer_of(partner_a), [line(catalog.base_av, cycle=value)])
    assert (response.status_code == 201) is accepted is matches(pattern, value)


@pytest.mark.parametrize("item", ["CFQ7TTC0LH18:0001:CFQ7TTC0K971", "cfq7ttc0lh18:0001:cfq7ttc0k971"])
def test_catalog_item_id_pattern_allows_what_the_api_reads(schema, item):
    assert matches(component(schema, "CartLineIn")["properties"]["catalogItemId"]["pattern"], item)


def test_an_empty_cart_is_refused_with_pc_body(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    response = post_cart(api_client(partner_a), customer, [])
    assert response.status_code == 400
    assert set(response.json()) == {"code", "description", "data"}
    assert not Cart.objects.exists()


# --- overage: azureEntitlementId ----------------------------------------------------------------


def test_azure_entitlement_id_is_required_when_enabling(schema):
    body = operation(schema, "/customers/{tenant_id}/subscriptions/overage", "put")["requestBody"]
    overage_in = body["content"]["application/json"]["schema"]
    assert overage_in["required"] == ["overageEnabled"]
    assert overage_in["if"] == {"properties": {"overageEnabled": {"const": True}}, "required": ["overageEnabled"]}
    assert overage_in["then"]["required"] == ["azureEntitlementId"]
    assert "required when overageEnabled is true" in overage_in["properties"]["azureEntitlementId"]["description"]


@pytest.mark.parametrize(
    "extra, accepted",
    [
        ({}, True),
        ({"azureResourceGroup": None, "type": None}, True),
        ({"azureResourceGroup": {"tags": {"k": "v"}, "location": "canadacentral"}, "type": "PhoneServices"}, True),
        ({"azureResourceGroup": "ignored"}, True),  # any value: the schema says so
        ({"type": "Other"}, False),
        ({"type": 5}, False),
    ],
)
def test_overage_fields_are_checked_as_the_schema_says(api_client, partner_a, customer_of, extra, accepted):
    customer = customer_of(partner_a)
    SubscriptionFactory(partner=partner_a, customer=customer, sku=SkuFactory(consumption_type=ConsumptionType.OVERAGE))
    response = api_client(partner_a).put(
        f"/v1/customers/{customer.tenant_id}/subscriptions/overage", {"overageEnabled": False, **extra},
        content_type="application/json",
    )
    assert response.status_code == (200 if accepted else 400)


# --- PATCH: nested objects are objects ----------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"scheduledNextTermInstructions": {"product": 5}},
        {"scheduledNextTermInstructions": {"product": "P1Y"}},
        {"scheduledNextTermInstructions": {"product": [1]}},
        {"scheduledNextTermInstructions": 5},
        {"scheduledNextTermInstructions": {"customTermEndDate": 20270101}},
    ],
)
def test_a_nested_object_that_is_not_an_object_is_400(api_client, partner_a, customer_of, body):
    customer = customer_of(partner_a)
    with time_machine.travel(PURCHASED, tick=False):
        subscription = bought(partner_a, customer)
        response = patch(api_client(partner_a), customer, subscription, body)
    assert response.status_code == 400
    assert response.json()["code"] == 800002  # the shape, not the date or a rule, is refused
    subscription.refresh_from_db()
    assert subscription.next_term_quantity is None and subscription.next_term_end_date is None


def test_a_cart_line_that_is_not_an_object_is_400(api_client, partner_a, customer_of):
    response = post_cart(api_client(partner_a), customer_of(partner_a), [5])
    assert response.status_code == 400


@pytest.mark.parametrize(
    "value, accepted",
    [("2026-05-10", True), ("2026-05-10T00:00:00", True), ("2026-05-10T00:00:00Z", True),
     ("2026-05-10T10:00:00", False), ("1700000000", False), ("10/05/2026", False)],
)
def test_a_date_is_accepted_as_the_schema_writes_it(api_client, partner_a, customer_of, schema, value, accepted):
    customer = customer_of(partner_a)
    pattern = string_schema(parameter(schema, TERM_END_DATES, "get", "term_start_date")["schema"])["pattern"]
    with time_machine.travel(datetime.datetime(2026, 3, 15, tzinfo=datetime.UTC), tick=False):
        response = api_client(partner_a).get(
            f"/v1/customers/{customer.tenant_id}/subscriptions/customTermEndDates",
            {"term_duration": "P1M", "term_start_date": value},
        )
    assert (response.status_code == 200) is accepted is matches(pattern, value)


def test_an_allowed_end_date_as_the_api_answers_it_can_be_sent_back_in_a_cart(api_client, partner_a, customer_of):
    catalog = make_catalog()
    customer = customer_of(partner_a)
    client = api_client(partner_a)
    with time_machine.travel(datetime.datetime(2026, 3, 15, tzinfo=datetime.UTC), tick=False):
        allowed = client.get(f"/v1/customers/{customer.tenant_id}/subscriptions/customTermEndDates",
                             {"term_duration": "P1Y"}).json()["items"][0]["allowedCustomTermEndDate"]
        response = post_cart(client, customer, [line(catalog.base_av, customTermEndDate=allowed)])
    assert allowed.endswith("T00:00:00")
    assert response.status_code == 201
    assert "error" not in response.json()["lineItems"][0]


def test_status_values_are_documented(schema):
    status = string_schema(component(schema, "SubscriptionPatchIn")["properties"]["status"])
    assert [v for v in ["active", "Suspended", "deleted", "expired", ""] if matches(status["pattern"], v)] == [
        "active", "Suspended", "deleted"]
