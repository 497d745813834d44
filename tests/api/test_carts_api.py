"""``/v1/customers/{tenantId}/carts`` and checkout: Partner Center's shapes, line errors with
201, bad input as a 400 that writes nothing, scoping (404) and roles (403), idempotency."""

import datetime
import json
import uuid

import pytest
import time_machine

from catalog.models import LicenseChannel
from portal.errors import ErrorCode
from portal.models import Role
from subscriptions.models import Cart, CartStatus, Order, Subscription
from tests.factories import CartFactory, CustomerFactory, ResellerFactory, TenantLicenseFactory, ensure_relationship
from tests.subscriptions.test_cart import make_catalog

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 15, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def catalog(db):
    return make_catalog()


def line(availability, quantity=1, term="P1Y", cycle="Monthly", **extra):
    return {"catalogItemId": availability.catalog_item_id, "quantity": quantity, "termDuration": term,
            "billingCycle": cycle, **extra}


def post_cart(client, customer, lines, **headers):
    return client.post(
        f"/v1/customers/{customer.tenant_id}/carts", {"lineItems": lines}, content_type="application/json",
        headers=headers,
    )


def checkout(client, customer, cart_id, **headers):
    return client.post(f"/v1/customers/{customer.tenant_id}/carts/{cart_id}/checkout", headers=headers)


# --- create -------------------------------------------------------------------------------


def test_create_cart_answers_201_with_the_cart_in_pc_shape(clock, api_client, partner_a, customer_of, catalog):
    customer = customer_of(partner_a)
    client = api_client(partner_a, Role.SALES_AGENT)
    response = post_cart(client, customer, [line(catalog.base_av, 3, friendlyName="Sales team")])
    assert response.status_code == 201
    body = response.json()
    cart = Cart.objects.get()
    assert body == {
        "id": str(cart.pk),
        "creationTimestamp": "2026-03-15T10:00:00Z",
        "lastModifiedTimestamp": "2026-03-15T10:00:00Z",
        "expirationTimestamp": "2026-03-22T10:00:00Z",
        "lastModifiedUser": client.user.email,
        "status": "Active",
        "lineItems": [
            {
                "id": 0,
                "catalogItemId": "CFQ7TTC0LF8Q:0001:CFQ7TTC0AAAA",
                "quantity": 3,
                "termDuration": "P1Y",
                "billingCycle": "monthly",
                "friendlyName": "Sales team",
                "currencyCode": "USD",
                "participants": [],
            }
        ],
        "links": {"self": {"uri": f"/customers/{customer.tenant_id}/carts/{cart.pk}", "method": "GET",
                           "headers": []}},
        "attributes": {"objectType": "Cart"},
    }
    assert cart.partner == partner_a and cart.customer == customer


def test_tenant_without_licenses_gets_400041_on_the_line_and_201(api_client, partner_a, customer_of, catalog):
    customer = customer_of(partner_a)
    response = post_cart(api_client(partner_a), customer, [line(catalog.base_av), line(catalog.addon_av)])
    assert response.status_code == 201
    items = response.json()["lineItems"]
    assert "error" not in items[0]
    assert items[1]["error"] == {
        "errorCode": 400041,
        "errorDescription": "The addon is not purchasable without a compatible base product.",
    }
    assert Cart.objects.count() == 1


def test_coho_like_addon_with_volume_licensing_prerequisite_checks_out(
    clock, api_client, partner_a, customer_of, catalog
):
    customer = customer_of(partner_a, name="Coho Winery")
    TenantLicenseFactory(customer=customer, sku=catalog.base, channel=LicenseChannel.VOLUME_LICENSING)
    client = api_client(partner_a, Role.SALES_AGENT)
    created = post_cart(client, customer, [line(catalog.addon_av, 5, friendlyName="Phones")])
    assert created.status_code == 201
    assert "error" not in created.json()["lineItems"][0]

    response = checkout(client, customer, created.json()["id"])

    assert response.status_code == 200
    body = response.json()
    assert body["orderErrors"] == []
    assert body["attributes"] == {"objectType": "CartCheckoutResult"}
    order = Order.objects.get()
    subscription = Subscription.objects.get()
    assert (subscription.customer, subscription.partner, subscription.quantity) == (customer, partner_a, 5)
    assert body["orders"] == [
        {
            "id": str(order.pk),
            "alternateId": order.pk.hex[:12],
            "referenceCustomerId": str(customer.tenant_id),
            "billingCycle": "monthly",
            "currencyCode": "USD",
            "lineItems": [
                {
                    "lineItemNumber": 0,
                    "offerId": "CFQ7TTC0RM8K:0001:CFQ7TTC0BBBB",
                    "subscriptionId": str(subscription.pk),
                    "termDuration": "P1Y",
                    "transactionType": "New",
                    "friendlyName": "Phones",
                    "quantity": 5,
                }
            ],
            "creationDate": "2026-03-15T10:00:00Z",
            "status": "completed",
            "transactionType": "UserPurchase",
            "links": {"self": {"uri": f"/customers/{customer.tenant_id}/orders/{order.pk}", "method": "GET",
                               "headers": []}},
            "attributes": {"objectType": "Order"},
        }
    ]


def test_order_lines_name_the_subscription_each_line_created(clock, api_client, partner_a, customer_of, catalog):
    customer = customer_of(partner_a)
    TenantLicenseFactory(customer=customer, sku=catalog.base)
    client = api_client(partner_a)
    lines = [line(catalog.base_av, 2), line(catalog.addon_av, 7, term="P1M")]
    cart_id = post_cart(client, customer, lines).json()["id"]
    order_lines = checkout(client, customer, cart_id).json()["orders"][0]["lineItems"]
    for item in order_lines:
        subscription = Subscription.objects.get(pk=item["subscriptionId"])
        assert (subscription.availability.catalog_item_id, subscription.quantity, subscription.term_duration) == (
            item["offerId"], item["quantity"], item["termDuration"]
        )
    assert [i["lineItemNumber"] for i in order_lines] == [0, 1]


def test_line_errors_at_checkout_come_back_as_order_errors(clock, api_client, partner_a, customer_of, catalog):
    customer = customer_of(partner_a)
    client = api_client(partner_a)
    cart_id = post_cart(client, customer, [line(catalog.addon_av)]).json()["id"]
    body = checkout(client, customer, cart_id).json()
    assert body["orders"] == []
    assert [e["code"] for e in body["orderErrors"]] == [ErrorCode.CART_ITEM_ERRORS, ErrorCode.ADDON_PREREQUISITE_MISSING]
    assert body["orderErrors"][1]["lineItemNumber"] == 0
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda ln: ln.update(quantity="5"), id="quantity-string"),
        pytest.param(lambda ln: ln.update(quantity=2.5), id="quantity-fraction"),
        pytest.param(lambda ln: ln.update(quantity=0), id="quantity-zero"),
        pytest.param(lambda ln: ln.update(quantity=-3), id="quantity-negative"),
        pytest.param(lambda ln: ln.update(quantity="many"), id="quantity-text"),
        pytest.param(lambda ln: ln.update(catalogItemId="CFQ7TTC0ZZZZ:0001:CFQ7TTC0ZZZZ"), id="unknown-item"),
        pytest.param(lambda ln: ln.update(catalogItemId="nonsense"), id="malformed-item"),
        pytest.param(lambda ln: ln.pop("termDuration"), id="missing-term"),
        pytest.param(lambda ln: ln.pop("catalogItemId"), id="missing-item"),
        pytest.param(lambda ln: ln.update(termDuration="P2Y"), id="unknown-term"),
        pytest.param(lambda ln: ln.update(billingCycle="weekly"), id="unknown-cycle"),
        pytest.param(lambda ln: ln.update(customTermEndDate="soon"), id="bad-date"),
    ],
)
def test_bad_line_input_is_400_pc_body_and_writes_nothing(api_client, partner_a, customer_of, catalog, mutate):
    customer = customer_of(partner_a)
    bad = line(catalog.base_av)
    mutate(bad)
    response = post_cart(api_client(partner_a), customer, [bad])
    assert response.status_code == 400
    assert set(response.json()) == {"code", "description", "data"}
    assert Cart.objects.count() == 0


@pytest.mark.parametrize("raw", ['{"lineItems": [', "[]", '{"lineItems": []}', "{}", "not json"])
def test_malformed_or_empty_body_is_400_and_writes_nothing(api_client, partner_a, customer_of, raw):
    customer = customer_of(partner_a)
    response = api_client(partner_a).post(
        f"/v1/customers/{customer.tenant_id}/carts", raw, content_type="application/json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"code", "description", "data"}
    assert Cart.objects.count() == 0


def test_billing_cycle_is_case_insensitive(api_client, partner_a, customer_of, catalog):
    customer = customer_of(partner_a)
    response = post_cart(api_client(partner_a), customer, [line(catalog.base_av, cycle="ANNUAL")])
    assert response.status_code == 201
    assert response.json()["lineItems"][0]["billingCycle"] == "annual"


# --- roles and scoping --------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.GLOBAL_ADMIN, Role.ADMIN_AGENT, Role.SALES_AGENT])
def test_buying_roles_can_create_carts(api_client, partner_a, customer_of, catalog, role):
    customer = customer_of(partner_a)
    assert post_cart(api_client(partner_a, role), customer, [line(catalog.base_av)]).status_code == 201


@pytest.mark.parametrize("role", [Role.BILLING_ADMIN, Role.HELPDESK_AGENT])
def test_billing_admin_and_helpdesk_cannot_buy(api_client, partner_a, customer_of, catalog, role):
    customer = customer_of(partner_a)
    response = post_cart(api_client(partner_a, role), customer, [line(catalog.base_av)])
    assert response.status_code == 403
    assert Cart.objects.count() == 0


def test_reseller_user_cannot_buy_even_as_admin(api_client, provider, reseller, catalog):
    customer = CustomerFactory(partner=provider, reseller=reseller)
    response = post_cart(api_client(reseller, Role.GLOBAL_ADMIN), customer, [line(catalog.base_av)])
    assert response.status_code == 403
    assert "indirect provider" in response.json()["description"]
    assert Cart.objects.count() == 0


def test_another_partners_customer_is_404(api_client, partner_a, partner_b, customer_of, catalog):
    customer = customer_of(partner_a)
    response = post_cart(api_client(partner_b), customer, [line(catalog.base_av)])
    assert response.status_code == 404
    assert Cart.objects.count() == 0


def test_get_own_cart_and_404_for_another_customer_or_partner(api_client, partner_a, partner_b, customer_of, catalog):
    customer = customer_of(partner_a)
    other_customer = customer_of(partner_a)
    client = api_client(partner_a)
    cart_id = post_cart(client, customer, [line(catalog.base_av)]).json()["id"]

    assert client.get(f"/v1/customers/{customer.tenant_id}/carts/{cart_id}").json()["id"] == cart_id
    assert client.get(f"/v1/customers/{other_customer.tenant_id}/carts/{cart_id}").status_code == 404
    # Partner B shares the customer, yet not partner A's cart.
    ensure_relationship(customer, partner_b)
    assert api_client(partner_b).get(f"/v1/customers/{customer.tenant_id}/carts/{cart_id}").status_code == 404
    for bad in ("not-a-guid", str(uuid.uuid4()), "1"):
        response = client.get(f"/v1/customers/{customer.tenant_id}/carts/{bad}")
        assert response.status_code == 404
        assert response.json()["code"] == 800008


def test_checkout_of_another_partners_cart_is_404(api_client, partner_a, partner_b, customer_of):
    customer = customer_of(partner_a)
    cart = CartFactory(partner=partner_a, customer=customer)
    ensure_relationship(customer, partner_b)
    assert checkout(api_client(partner_b), customer, cart.pk).status_code == 404
    assert not Order.objects.exists()


# --- PUT ----------------------------------------------------------------------------------


def test_put_replaces_the_lines(api_client, partner_a, customer_of, catalog):
    customer = customer_of(partner_a)
    client = api_client(partner_a)
    cart_id = post_cart(client, customer, [line(catalog.base_av), line(catalog.addon_av)]).json()["id"]
    response = client.put(
        f"/v1/customers/{customer.tenant_id}/carts/{cart_id}",
        {"lineItems": [line(catalog.base_av, 9, term="P1M")]},
        content_type="application/json",
    )
    assert response.status_code == 200
    items = response.json()["lineItems"]
    assert [(i["id"], i["quantity"], i["termDuration"]) for i in items] == [(0, 9, "P1M")]


def test_put_bad_input_leaves_the_cart_as_it_was(api_client, partner_a, customer_of, catalog):
    customer = customer_of(partner_a)
    client = api_client(partner_a)
    cart_id = post_cart(client, customer, [line(catalog.base_av, 4)]).json()["id"]
    response = client.put(
        f"/v1/customers/{customer.tenant_id}/carts/{cart_id}",
        {"lineItems": [line(catalog.base_av, 0)]},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert Cart.objects.get().lines.get().quantity == 4


def test_put_of_an_ordered_cart_is_refused(clock, api_client, partner_a, customer_of, catalog):
    customer = customer_of(partner_a)
    client = api_client(partner_a)
    cart_id = post_cart(client, customer, [line(catalog.base_av)]).json()["id"]
    checkout(client, customer, cart_id)
    response = client.put(
        f"/v1/customers/{customer.tenant_id}/carts/{cart_id}",
        {"lineItems": [line(catalog.base_av, 2)]},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == ErrorCode.CART_NOT_ACTIVE


def test_helpdesk_can_read_a_cart_but_not_change_it(api_client, partner_a, customer_of, catalog):
    customer = customer_of(partner_a)
    cart_id = post_cart(api_client(partner_a), customer, [line(catalog.base_av)]).json()["id"]
    helpdesk = api_client(partner_a, Role.HELPDESK_AGENT)
    url = f"/v1/customers/{customer.tenant_id}/carts/{cart_id}"
    assert helpdesk.get(url).status_code == 200
    assert helpdesk.put(url, {"lineItems": [line(catalog.base_av)]}, content_type="application/json").status_code == 403
    assert checkout(helpdesk, customer, cart_id).status_code == 403


# --- indirect: the provider names the reseller --------------------------------------------


def test_provider_names_the_reseller_via_participants(clock, api_client, provider, reseller, catalog):
    customer = CustomerFactory(partner=provider)
    client = api_client(provider)
    participants = [{"key": "TransactionReseller", "value": reseller.mpn_id}]
    created = post_cart(client, customer, [line(catalog.base_av, participants=participants)])
    assert created.status_code == 201
    assert created.json()["lineItems"][0]["participants"] == participants

    order = checkout(client, customer, created.json()["id"]).json()["orders"][0]

    subscription = Subscription.objects.get()
    assert subscription.reseller == reseller
    assert order["lineItems"][0]["partnerIdOnRecord"] == reseller.mpn_id
    listed = client.get(f"/v1/customers/{customer.tenant_id}/subscriptions").json()["items"]
    assert listed[0]["partnerId"] == reseller.mpn_id


def test_different_resellers_on_different_lines_is_400(api_client, provider, reseller, catalog):
    other = ResellerFactory(providers=[provider])
    customer = CustomerFactory(partner=provider)
    lines = [
        line(catalog.base_av, participants=[{"key": "TransactionReseller", "value": reseller.mpn_id}]),
        line(catalog.base_av, participants=[{"key": "TransactionReseller", "value": other.mpn_id}]),
    ]
    response = post_cart(api_client(provider), customer, lines)
    assert response.status_code == 400
    assert Cart.objects.count() == 0


@pytest.mark.parametrize("mpn", ["9999999", "unlinked"])
def test_unknown_or_unlinked_reseller_is_800016(api_client, provider, catalog, mpn):
    if mpn == "unlinked":
        mpn = ResellerFactory().mpn_id  # a reseller of another provider
    customer = CustomerFactory(partner=provider)
    lines = [line(catalog.base_av, participants=[{"key": "TransactionReseller", "value": mpn}])]
    response = post_cart(api_client(provider), customer, lines)
    assert response.status_code == 400
    assert response.json()["code"] == ErrorCode.INVALID_RESELLER
    assert Cart.objects.count() == 0


def test_direct_bill_partner_cannot_name_a_reseller(api_client, partner_a, customer_of, reseller, catalog):
    customer = customer_of(partner_a)
    lines = [line(catalog.base_av, participants=[{"key": "TransactionReseller", "value": reseller.mpn_id}])]
    response = post_cart(api_client(partner_a), customer, lines)
    assert response.status_code == 400
    assert response.json()["code"] == ErrorCode.INVALID_RESELLER


# --- idempotency --------------------------------------------------------------------------


def test_checkout_retried_with_the_same_ms_request_id_makes_one_order(
    clock, api_client, partner_a, customer_of, catalog
):
    customer = customer_of(partner_a)
    client = api_client(partner_a)
    cart_id = post_cart(client, customer, [line(catalog.base_av)]).json()["id"]
    request_id = str(uuid.uuid4())
    first = checkout(client, customer, cart_id, **{"MS-RequestId": request_id})
    second = checkout(client, customer, cart_id, **{"MS-RequestId": request_id})
    assert first.status_code == second.status_code == 200
    assert first.json()["orders"][0]["id"] == second.json()["orders"][0]["id"]
    assert second["MS-RequestId"] == request_id
    assert Order.objects.get().idempotency_key == request_id
    assert Subscription.objects.count() == 1


def test_checkout_of_an_ordered_cart_answers_the_same_order(clock, api_client, partner_a, customer_of, catalog):
    customer = customer_of(partner_a)
    client = api_client(partner_a)
    cart_id = post_cart(client, customer, [line(catalog.base_av)]).json()["id"]
    first = checkout(client, customer, cart_id).json()["orders"][0]["id"]
    again = checkout(client, customer, cart_id).json()["orders"][0]["id"]
    assert first == again
    assert Cart.objects.get().status == CartStatus.ORDERED
    assert Subscription.objects.count() == 1


def test_idempotency_key_used_for_another_cart_is_409(clock, api_client, partner_a, customer_of, catalog):
    customer = customer_of(partner_a)
    client = api_client(partner_a)
    first = post_cart(client, customer, [line(catalog.base_av)]).json()["id"]
    second = post_cart(client, customer, [line(catalog.base_av)]).json()["id"]
    assert checkout(client, customer, first, **{"Idempotency-Key": "order-1"}).status_code == 200
    response = checkout(client, customer, second, **{"Idempotency-Key": "order-1"})
    assert response.status_code == 409
    assert Order.objects.count() == 1


def test_ms_request_id_is_echoed(api_client, partner_a, customer_of, catalog):
    customer = customer_of(partner_a)
    response = post_cart(api_client(partner_a), customer, [line(catalog.base_av)], **{"MS-RequestId": "abc-123"})
    assert response["MS-RequestId"] == "abc-123"


def test_openapi_documents_the_cart_endpoints(api_client, partner_a):
    schema = json.loads(api_client(partner_a).get("/v1/openapi.json").content)
    assert "/v1/customers/{tenant_id}/carts" in schema["paths"]
    assert "/v1/customers/{tenant_id}/carts/{cart_id}/checkout" in schema["paths"]


def test_a_friendly_name_longer_than_200_characters_is_400_and_writes_nothing(api_client, partner_a, customer_of,
                                                                               catalog):
    customer = customer_of(partner_a)
    response = post_cart(api_client(partner_a), customer, [line(catalog.base_av, friendlyName="n" * 201)])
    assert response.status_code == 400
    assert "friendlyName" in response.json()["description"]
    assert Cart.objects.count() == 0
    assert post_cart(api_client(partner_a), customer, [line(catalog.base_av, friendlyName="n" * 200)]).status_code == 201
