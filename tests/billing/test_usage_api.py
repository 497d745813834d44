"""``POST /v1/usage/records``: billing roles, idempotent by recordId, per-item errors by
index, the caller's customers only, at most 10,000 items."""

import json

import pytest

from billing.models import UsageImport, UsageRecord
from billing.services.usage_parse import (
    BAD_DATE,
    DUPLICATE_OF_ITEM,
    MAX_API_RECORDS,
    NEGATIVE_DURATION,
    NOT_AN_OBJECT,
    UNKNOWN_TENANT,
)
from portal.models import Role

URL = "/v1/usage/records"


def item(record_id, tenant, **overrides):
    return {
        "recordId": record_id,
        "tenantId": str(tenant),
        "user": "ann@contoso.example",
        "startTime": "2025-03-01T10:00:00Z",
        "durationSeconds": 61,
        "callType": "domestic",
        "destinationCountry": "US",
        "numberType": "landline",
        **overrides,
    }


def post(client, items):
    return client.post(URL, json.dumps({"items": items}), content_type="application/json")


@pytest.fixture
def customer(partner_a, customer_of):
    return customer_of(partner_a)


def test_batch_is_imported_and_resending_it_is_a_no_op(api_client, partner_a, customer):
    client = api_client(partner_a, Role.BILLING_ADMIN)
    items = [item("a1", customer.tenant_id), item("a2", customer.tenant_id, durationSeconds="30")]

    first = post(client, items)
    assert first.status_code == 200
    assert first.json() == {
        "totalCount": 2, "imported": 2, "duplicates": 0, "errors": [],
        "attributes": {"objectType": "UsageRecordBatchResult"},
    }
    again = post(client, items).json()
    assert (again["imported"], again["duplicates"], again["errors"]) == (0, 2, [])
    assert UsageRecord.objects.count() == 2
    assert UsageImport.objects.filter(source="api", partner=partner_a).count() == 2


def test_bad_items_are_reported_by_index_and_the_good_ones_kept(api_client, partner_a, partner_b, customer, customer_of):
    theirs = customer_of(partner_b)
    client = api_client(partner_a, Role.GLOBAL_ADMIN)
    items = [
        item("ok", customer.tenant_id),
        item("neg", customer.tenant_id, durationSeconds=-1),
        item("other", theirs.tenant_id),
        "not an object",
        item("ok", customer.tenant_id),
    ]
    body = post(client, items).json()

    assert (body["totalCount"], body["imported"], body["duplicates"]) == (5, 1, 0)
    assert body["errors"] == [
        {"index": 1, "recordId": "neg", "description": str(NEGATIVE_DURATION % {"value": "-1"})},
        {"index": 2, "recordId": "other", "description": str(UNKNOWN_TENANT % {"value": str(theirs.tenant_id)})},
        {"index": 3, "recordId": "", "description": str(NOT_AN_OBJECT)},
        {"index": 4, "recordId": "ok", "description": str(DUPLICATE_OF_ITEM % {"line": 0, "record_id": "ok"})},
    ]
    assert list(UsageRecord.objects.values_list("record_id", flat=True)) == ["ok"]


def test_a_start_time_out_of_range_once_in_utc_is_a_bad_date_not_a_500(api_client, partner_a, customer):
    # 0001-01-01 at +05:00 is still year 0 in UTC: Python cannot hold it (OverflowError).
    items = [item("early", customer.tenant_id, startTime="0001-01-01T00:00:00+05:00"), item("ok", customer.tenant_id)]
    response = post(api_client(partner_a, Role.GLOBAL_ADMIN), items)

    assert response.status_code == 200
    body = response.json()
    assert body["imported"] == 1
    assert body["errors"] == [
        {"index": 0, "recordId": "early", "description": str(BAD_DATE % {"value": "0001-01-01T00:00:00+05:00"})}
    ]
    assert list(UsageRecord.objects.values_list("record_id", flat=True)) == ["ok"]


def test_helpdesk_agent_is_forbidden(api_client, partner_a, customer):
    response = post(api_client(partner_a, Role.HELPDESK_AGENT), [item("h1", customer.tenant_id)])
    assert response.status_code == 403
    assert response.json()["code"] == "Forbidden"
    assert not UsageRecord.objects.exists()


def test_more_than_the_maximum_is_a_400(api_client, partner_a, customer):
    items = [item(f"r{i}", customer.tenant_id) for i in range(MAX_API_RECORDS + 1)]
    response = post(api_client(partner_a, Role.BILLING_ADMIN), items)
    assert response.status_code == 400
    assert "10000" in response.json()["description"]
    assert not UsageRecord.objects.exists()


def test_a_full_batch_of_realistic_records_fits_in_one_request(api_client, partner_a, customer):
    # 10 000 records with a real-looking user and record id are about 3 MB of JSON, over
    # Django's default 2.5 MB body limit (a 413): the limit must leave room for the maximum.
    items = [
        item(f"rec-2025-03-{i:09d}", customer.tenant_id, user="firstname.lastname@contoso.example",
             callType="international")
        for i in range(MAX_API_RECORDS)
    ]
    body = json.dumps({"items": items})
    assert len(body) > 2_621_440
    response = api_client(partner_a, Role.BILLING_ADMIN).post(URL, body, content_type="application/json")
    assert response.status_code == 200, response.content[:300]
    assert response.json()["totalCount"] == MAX_API_RECORDS


def test_bad_json_and_missing_items_are_400(api_client, partner_a):
    client = api_client(partner_a, Role.BILLING_ADMIN)
    assert client.post(URL, "{not json", content_type="application/json").status_code == 400
    assert client.post(URL, json.dumps({"records": []}), content_type="application/json").status_code == 400


def test_without_a_token_is_401(client, db):
    assert client.post(URL, json.dumps({"items": []}), content_type="application/json").status_code == 401


def test_the_api_refuses_old_and_future_calls_and_day_long_calls_by_index(api_client, partner_a, customer):
    # (A NUL anywhere in a JSON body is refused whole, with a 400, before any handler.)
    t = customer.tenant_id
    items = [item("tab", t, user="a\tb"), item("old", t, startTime="1999-01-01T00:00:00Z"),
             item("future", t, startTime="2999-01-01T00:00:00Z"), item("long", t, durationSeconds=90000),
             item("ok", t)]
    response = post(api_client(partner_a, Role.GLOBAL_ADMIN), items)
    assert response.status_code == 200
    body = response.json()
    assert body["imported"] == 1
    assert [error["index"] for error in body["errors"]] == [0, 1, 2, 3]
    assert list(UsageRecord.objects.values_list("record_id", flat=True)) == ["ok"]


def test_an_api_batch_is_named_in_english_and_shown_in_the_readers_language(api_client, make_member, partner_a,
                                                                            customer):
    from django.urls import reverse
    from django.utils import translation

    from billing.models import API_BATCH_NAME

    post(api_client(partner_a, Role.BILLING_ADMIN), [item("n1", customer.tenant_id)])
    usage_import = UsageImport.objects.get(source="api")
    with translation.override("it"):
        italian = str(API_BATCH_NAME % {"count": 1})
    assert usage_import.file_name == "API batch of 1 records" != italian

    member = make_member(partner_a, Role.BILLING_ADMIN)
    for url in (reverse("billing:usage_import_list"), reverse("billing:usage_import_detail", args=[usage_import.pk])):
        assert italian in member.get(url, HTTP_ACCEPT_LANGUAGE="it").content.decode()
        assert "API batch of 1 records" in member.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
