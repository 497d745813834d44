"""Bearer-token auth, Partner Center's error body and the OpenAPI schema of ``/v1/``."""

import json

import pytest
from django.test import Client
from django.utils import timezone

from portal.errors import ErrorCode
from portal.models import ApiToken
from portal.tokens import TOKEN_PREFIX, api_token_revoke

pytestmark = pytest.mark.django_db


def assert_pc_error(response, status, code=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "description", "data"}
    assert body["description"]
    assert isinstance(body["data"], list)
    if code is not None:
        assert body["code"] == code
    return body


def test_missing_token_is_401_with_pc_body():
    body = assert_pc_error(Client().get("/v1/customers"), 401)
    assert "Bearer" in body["description"]


def test_unknown_token_is_401():
    client = Client(headers={"Authorization": f"Bearer {TOKEN_PREFIX}not-a-real-token"})
    assert_pc_error(client.get("/v1/customers"), 401)


def test_wrong_scheme_is_401():
    assert_pc_error(Client(headers={"Authorization": "Basic Zm9vOmJhcg=="}).get("/v1/customers"), 401)


def test_revoked_token_is_401(api_client, partner_a):
    client = api_client(partner_a)
    assert client.get("/v1/customers").status_code == 200
    api_token_revoke(token=client.token, acting_user=client.user)
    assert_pc_error(client.get("/v1/customers"), 401)


def test_session_login_alone_does_not_open_the_api(make_member, partner_a):
    assert_pc_error(make_member(partner_a).get("/v1/customers"), 401)


def test_token_acts_as_its_user_and_records_last_use(api_client, partner_a):
    client = api_client(partner_a)
    assert client.token.last_used_at is None
    before = timezone.now()
    assert client.get("/v1/customers").status_code == 200
    token = ApiToken.objects.get(pk=client.token.pk)
    assert token.last_used_at is not None and token.last_used_at >= before


def test_user_without_membership_is_403(api_client, partner_a):
    client = api_client(partner_a)
    client.membership.delete()
    body = assert_pc_error(client.get("/v1/customers"), 403)
    assert "member" in body["description"]


def test_inactive_user_token_is_401(api_client, partner_a):
    client = api_client(partner_a)
    client.user.is_active = False
    client.user.save()
    assert_pc_error(client.get("/v1/customers"), 401)


def test_request_and_correlation_ids_are_echoed(api_client, partner_a):
    client = api_client(partner_a)
    response = client.get(
        "/v1/customers", headers={"MS-RequestId": "req-123", "MS-CorrelationId": "corr-456"}
    )
    assert response.status_code == 200
    assert response["MS-RequestId"] == "req-123"
    assert response["MS-CorrelationId"] == "corr-456"


def test_request_id_is_made_when_not_sent_even_on_errors():
    response = Client().get("/v1/customers")
    assert response.status_code == 401
    assert response["MS-RequestId"]


def test_missing_required_query_is_400_naming_the_field(api_client, partner_a):
    body = assert_pc_error(api_client(partner_a).get("/v1/products"), 400, ErrorCode.INVALID_INPUT)
    assert "country" in body["description"]
    assert body["data"][0]["field"].startswith("country")


def test_malformed_query_value_is_400(api_client, partner_a):
    body = assert_pc_error(api_client(partner_a).get("/v1/products?country=USA1"), 400, ErrorCode.INVALID_INPUT)
    assert "country" in body["description"]


def test_unknown_api_path_is_404_pc_body(api_client, partner_a):
    assert_pc_error(api_client(partner_a).get("/v1/no-such-thing"), 404)


def test_openapi_schema_lists_the_paths():
    response = Client().get("/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/v1/products",
        "/v1/products/{product_id}/skus",
        "/v1/products/{product_id}/skus/{sku_id}/availabilities",
        "/v1/customers",
        "/v1/customers/{tenant_id}",
    ]:
        assert path in paths
    assert response.json()["components"]["securitySchemes"]["ApiTokenAuth"]["scheme"] == "bearer"


def test_malformed_json_body_is_400_with_a_clear_description(rf):
    # No endpoint of this module takes a body; build the error exactly as ninja raises it.
    import json

    from ninja.errors import HttpError

    from config.api import api

    request = rf.post("/v1/anything", data="{not json", content_type="application/json")
    try:
        try:
            json.loads(request.body)
        except json.JSONDecodeError as decode_error:
            raise HttpError(400, "Cannot parse request body") from decode_error
    except HttpError as exc:
        response = api.on_exception(request, exc)
    assert response.status_code == 400
    body = json.loads(response.content)
    assert body["code"] == ErrorCode.INVALID_INPUT
    assert "not valid JSON" in body["description"]


def test_docs_page_is_served():
    assert Client().get("/v1/docs").status_code == 200


def test_a_body_over_the_upload_limit_is_a_413_in_pc_shape_not_a_500(api_client, partner_a, settings):
    # Django refuses to read a body over DATA_UPLOAD_MAX_MEMORY_SIZE; that was an unhandled 500.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = api_client(partner_a)
    response = client.post("/v1/usage/records", json.dumps({"items": [], "pad": "x" * 2000}), content_type="application/json")
    body = assert_pc_error(response, 413, ErrorCode.INVALID_INPUT)
    assert "1000" in body["description"]
