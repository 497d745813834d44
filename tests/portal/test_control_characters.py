"""NUL and the other control characters are refused in one place for the whole portal
(``portal.middleware.RejectControlCharactersMiddleware``): the address, every query string,
form field and JSON string. Pages answer a 400 page, HTMX a message, ``/v1/`` Partner
Center's error body; nothing reaches a view or the database (PostgreSQL refuses NUL with a
500 of its own)."""

import pytest
from django.conf import settings
from django.test import RequestFactory

from portal.errors import ErrorCode
from portal.middleware import RejectControlCharactersMiddleware
from portal.models import ApiToken
from subscriptions.models import Cart
from tests.api.test_carts_api import line, post_cart
from tests.subscriptions.test_cart import make_catalog

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(make_member, partner_a):
    return make_member(partner_a)


@pytest.mark.parametrize("path", ["/customers/", "/customers/options/", "/subscriptions/", "/catalog/"])
@pytest.mark.parametrize("value", ["\x00", "a\x00b", "\x1f", "\x7f", "\x85", "tab\there"])
def test_a_page_refuses_a_control_character_in_the_query_string(member, path, value):
    response = member.get(path, {"q": value})
    assert response.status_code == 400
    body = response.content.decode()
    assert "<html" in body
    assert "control character" in body and "“q”" in body


def test_the_refusal_names_the_character(member):
    body = member.get("/customers/", {"q": "a\x00b"}).content.decode()
    assert "U+0000" in body


def test_a_control_character_in_a_query_parameter_name_is_refused(member):
    assert member.get("/customers/?a%00=1").status_code == 400


def test_htmx_gets_the_reason_as_a_message_it_swaps(member):
    response = member.get("/customers/options/", {"q": "\x00"}, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#messages"
    assert "<html" not in response.content.decode()
    assert "control character" in response.content.decode()


def test_a_form_field_with_nul_is_refused_and_nothing_is_written(member):
    response = member.post("/tokens/", {"name": "build\x00bot"})
    assert response.status_code == 400
    assert "“name”" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_form_field_may_hold_tab_and_line_breaks(member):
    """Multi-line text (a textarea sends CR LF) is legitimate in a form; the form decides."""
    response = member.post("/tokens/", {"name": "build\tbot"})
    assert response.status_code == 200


def test_api_path_with_nul_is_a_pc_400(api_client, partner_a):
    response = api_client(partner_a).get("/v1/products/%00/skus", {"country": "US"})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "description", "data"}
    assert body["code"] == ErrorCode.INVALID_INPUT
    assert "control character" in body["description"]


def test_api_query_string_with_nul_is_a_pc_400(api_client, partner_a):
    response = api_client(partner_a).get("/v1/products", {"country": "U\x00"}, headers={"MS-RequestId": "req-nul"})
    assert response.status_code == 400
    assert response.json()["data"] == [{"field": "country (query)"}]
    assert response["MS-RequestId"] == "req-nul"


def test_api_json_string_with_nul_is_a_pc_400_and_writes_nothing(api_client, partner_a, customer_of):
    catalog = make_catalog()
    customer = customer_of(partner_a)
    response = post_cart(api_client(partner_a), customer, [line(catalog.base_av, friendlyName="a\u0000b")])
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == ErrorCode.INVALID_INPUT
    assert body["data"] == [{"field": "lineItems[0].friendlyName"}]
    assert "lineItems[0].friendlyName" in body["description"]
    assert not Cart.objects.exists()


@pytest.mark.parametrize("text", ["\x1b[31m", "\u0085", "\x7f", "\x0b"])
def test_api_json_strings_refuse_the_control_characters_no_text_holds(api_client, partner_a, customer_of, text):
    customer = customer_of(partner_a)
    response = post_cart(api_client(partner_a), customer, [{"catalogItemId": "X", "friendlyName": text}])
    assert response.status_code == 400
    assert response.json()["data"] == [{"field": "lineItems[0].friendlyName"}]


@pytest.mark.parametrize("text", ["line\nbreak", "tab\there", "cr\rlf"])
def test_a_single_line_api_field_refuses_tab_and_line_breaks_itself(api_client, partner_a, customer_of, text):
    """Tab, CR and LF pass the middleware in JSON strings (multi-line text holds them); a
    friendly name is one line and says so."""
    catalog = make_catalog()
    customer = customer_of(partner_a)
    response = post_cart(api_client(partner_a), customer, [line(catalog.base_av, friendlyName=text)])
    assert response.status_code == 400
    assert "friendly name of line item 0 is one line" in response.json()["description"]
    assert not Cart.objects.exists()


def test_a_subscription_friendly_name_refuses_a_line_break(api_client, partner_a, customer_of):
    from tests.api.test_subscriptions_api import bought, patch

    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer, friendly_name="Before")
    response = patch(api_client(partner_a), customer, subscription, {"friendlyName": "two\nlines"})
    assert response.status_code == 400
    subscription.refresh_from_db()
    assert subscription.friendly_name == "Before"


def test_api_json_key_with_a_control_character_is_refused(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    response = post_cart(api_client(partner_a), customer, [{"catalog\u0000ItemId": "X"}])
    assert response.status_code == 400
    assert "control character" in response.json()["description"]


def test_a_body_that_is_not_json_is_left_to_the_api_to_refuse(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    response = api_client(partner_a).post(
        f"/v1/customers/{customer.tenant_id}/carts", "not json \x00", content_type="application/json"
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["description"]


def test_clean_input_passes_through():
    middleware = RejectControlCharactersMiddleware(lambda request: "reached the view")
    request = RequestFactory().post("/x/?q=caf%C3%A9", {"note": "two\r\nlines"})
    assert middleware(request) == "reached the view"


def test_the_middleware_is_installed_after_the_request_id_and_partner():
    chain = settings.MIDDLEWARE
    guard = chain.index("portal.middleware.RejectControlCharactersMiddleware")
    assert guard > chain.index("portal.middleware.RequestIdMiddleware")
    assert guard > chain.index("portal.middleware.CurrentPartnerMiddleware")
