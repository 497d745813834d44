"""``/v1/customers/{tenantId}/subscriptions/overage`` and ``…/{planId}/azureEntitlements``:
Partner Center's shapes, the checks of Update overage in SPEC §10's order (the first failing
one answers), body validation, the indirect provider naming its reseller."""

import json

import pytest

from catalog.models import AZURE_PLAN_PRODUCT_ID, ConsumptionType
from overage import services
from overage.models import AzureSubscription, AzureSubscriptionStatus, OverageAssignment, OverageSetting
from portal.errors import ErrorCode
from portal.models import Role
from tests.api.conftest import api_client  # noqa: F401  (the bearer-token client fixture)
from tests.factories import (
    AzurePlanFactory,
    AzureSubscriptionFactory,
    PartnerFactory,
    ProductFactory,
    ResellerFactory,
    SkuFactory,
    SubscriptionFactory,
)

UNKNOWN_TENANT = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def telco_sku(db):
    return SkuFactory(title="Teams Phone with Calling Plan", consumption_type=ConsumptionType.OVERAGE)


@pytest.fixture
def alpine(partner_a, customer_of, telco_sku):
    customer = customer_of(partner_a, name="Alpine Ski House")
    SubscriptionFactory(partner=partner_a, customer=customer, sku=telco_sku)
    plan = AzurePlanFactory(customer=customer, partner=partner_a)
    AzureSubscriptionFactory(plan=plan, number=1, friendly_name="Subscription 1")
    OverageSetting.objects.create(customer=customer, owner=partner_a, enabled=False)
    return customer


def sub1(customer):
    return AzureSubscription.objects.get(plan__customer=customer, number=1)


def url(customer_or_tenant):
    tenant = getattr(customer_or_tenant, "tenant_id", customer_or_tenant)
    return f"/v1/customers/{tenant}/subscriptions/overage"


def put(client, target, body):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.put(url(target), data=data, content_type="application/json")


def assert_error(response, status, text=None, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "description", "data"}
    if text is not None:
        assert text in body["description"], body["description"]
    if code is not None:
        assert body["code"] == code


def unchanged(customer):
    setting = OverageSetting.objects.get(customer=customer)
    return not setting.enabled and not OverageAssignment.objects.filter(customer=customer).exists()


# --- GET --------------------------------------------------------------------------------------

def test_get_answers_the_overage_collection(api_client, partner_a, alpine):
    client = api_client(partner_a, Role.SALES_AGENT)  # every role may look
    services.overage_update(customer=alpine, partner=partner_a, acting_user=None, enabled=True, azure_subscription=sub1(alpine))
    body = client.get(url(alpine)).json()
    assert body == {
        "totalCount": 1,
        "items": [
            {
                "azureEntitlementId": str(sub1(alpine).pk),
                "partnerId": partner_a.mpn_id,
                "overageEnabled": True,
                "type": "PhoneServices",
                "links": {"overage": {"uri": f"/customers/{alpine.tenant_id}/subscriptions/overage", "method": "GET", "headers": []}},
                "attributes": {"objectType": "Overage"},
            }
        ],
        "attributes": {"objectType": "Collection"},
    }


def test_get_is_empty_without_a_setting_and_for_another_partners_setting(api_client, partner_a, partner_b, customer_of, alpine):
    assert api_client(partner_a).get(url(customer_of(partner_a))).json()["totalCount"] == 0
    customer_of(partner_b)  # B has a relationship with its own customer, not with alpine
    from tests.factories import ensure_relationship

    ensure_relationship(alpine, partner_b)
    assert api_client(partner_b).get(url(alpine)).json()["totalCount"] == 0


def test_get_for_an_indirect_customer_names_the_reseller(api_client, provider, reseller, customer_of, telco_sku):
    customer = customer_of(provider, reseller=reseller)
    OverageSetting.objects.create(customer=customer, owner=provider, reseller=reseller)
    items = api_client(provider).get(url(customer)).json()["items"]
    assert items[0]["partnerId"] == reseller.mpn_id and items[0]["azureEntitlementId"] is None
    # The reseller sees its own customer's setting too (read-only).
    assert api_client(reseller).get(url(customer)).json()["totalCount"] == 1


def test_get_another_partners_customer_is_404(api_client, partner_b, alpine):
    assert_error(api_client(partner_b).get(url(alpine)), 404)


# --- PUT: success -------------------------------------------------------------------------------

def test_put_enables_and_answers_the_one_object(api_client, partner_a, alpine):
    client = api_client(partner_a, Role.GLOBAL_ADMIN)
    response = put(client, alpine, {"azureEntitlementId": str(sub1(alpine).pk), "overageEnabled": True,
                                   "azureResourceGroup": "ignored", "type": "PhoneServices"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["overageEnabled"] is True and body["azureEntitlementId"] == str(sub1(alpine).pk)
    assert body["partnerId"] == partner_a.mpn_id and body["attributes"] == {"objectType": "Overage"}
    assert OverageAssignment.objects.get(customer=alpine).started_by == client.user


def test_put_false_switches_overage_off_without_an_id(api_client, partner_a, alpine):
    client = api_client(partner_a)
    put(client, alpine, {"azureEntitlementId": str(sub1(alpine).pk), "overageEnabled": True})
    response = put(client, alpine, {"overageEnabled": False})
    assert response.status_code == 200 and response.json()["overageEnabled"] is False
    assert OverageAssignment.objects.get(customer=alpine).ended_at is not None


def test_indirect_provider_names_the_reseller_with_partner_id(api_client, provider, reseller, customer_of, telco_sku):
    customer = customer_of(provider, reseller=reseller)
    SubscriptionFactory(partner=provider, reseller=reseller, customer=customer, sku=telco_sku)
    az = AzureSubscriptionFactory(plan=AzurePlanFactory(customer=customer, partner=provider), number=1)
    response = put(api_client(provider), customer,
                   {"azureEntitlementId": str(az.pk), "partnerId": reseller.mpn_id, "overageEnabled": True})
    assert response.status_code == 200, response.content
    assert response.json()["partnerId"] == reseller.mpn_id
    setting = OverageSetting.objects.get(customer=customer)
    assert (setting.owner, setting.reseller) == (provider, reseller)


def test_indirect_provider_with_an_unknown_or_unlinked_partner_id_is_400(api_client, provider, reseller, customer_of, telco_sku):
    customer = customer_of(provider, reseller=reseller)
    SubscriptionFactory(partner=provider, reseller=reseller, customer=customer, sku=telco_sku)
    client = api_client(provider)
    for partner_id in ["9999999", ResellerFactory().mpn_id]:
        assert_error(put(client, customer, {"partnerId": partner_id, "overageEnabled": False}), 400, partner_id)
    assert not OverageSetting.objects.filter(customer=customer).exists()


# --- PUT: every error of SPEC §10, and the first one wins ------------------------------------

def test_404_unknown_or_another_partners_customer(api_client, partner_a, partner_b, alpine):
    assert_error(put(api_client(partner_a), UNKNOWN_TENANT, {"overageEnabled": False}), 404)
    assert_error(put(api_client(partner_a), "not-a-tenant", {"overageEnabled": False}), 404)
    assert_error(put(api_client(partner_b), alpine, {"overageEnabled": False}), 404)


def test_404_wins_over_403_and_a_bad_body(api_client, partner_b, alpine):
    # A sales agent of another partner sending a body that is not even a boolean: 404.
    assert_error(put(api_client(partner_b, Role.SALES_AGENT), alpine, {"overageEnabled": "true"}), 404)


@pytest.mark.parametrize("role", [Role.SALES_AGENT, Role.BILLING_ADMIN, Role.HELPDESK_AGENT])
def test_403_roles_that_may_not_manage_overage(api_client, partner_a, alpine, role):
    response = put(api_client(partner_a, role), alpine, {"azureEntitlementId": str(sub1(alpine).pk), "overageEnabled": True})
    assert_error(response, 403, "Only admin agents and global admins can manage overage.")
    assert unchanged(alpine)


def test_403_reseller_is_told_to_ask_its_provider(api_client, provider, reseller, customer_of, telco_sku):
    customer = customer_of(provider, reseller=reseller)
    SubscriptionFactory(partner=provider, reseller=reseller, customer=customer, sku=telco_sku)
    assert_error(put(api_client(reseller, Role.GLOBAL_ADMIN), customer, {"overageEnabled": False}), 403, provider.name)


def test_403_wins_over_a_bad_body_and_409(api_client, partner_a, partner_b, alpine, telco_sku):
    SubscriptionFactory(partner=partner_b, customer=alpine, sku=telco_sku)
    assert_error(put(api_client(partner_b, Role.SALES_AGENT), alpine, {}), 403)


def test_409_another_partner_owns_it_wins_over_400s(api_client, partner_a, partner_b, alpine):
    # B has no overage-capable subscription and names a malformed id: still 409 first.
    from tests.factories import ensure_relationship

    ensure_relationship(alpine, partner_b)
    response = put(api_client(partner_b), alpine, {"azureEntitlementId": "bogus", "overageEnabled": True})
    assert_error(response, 409, str(services.OWNED_BY_ANOTHER_PARTNER), ErrorCode.OVERAGE_OWNED_BY_ANOTHER_PARTNER)


def test_400_no_overage_capable_subscription_wins_over_legacy(api_client, partner_a, customer_of):
    customer = customer_of(partner_a, on_legacy_azure=True)
    response = put(api_client(partner_a), customer, {"azureEntitlementId": "bogus", "overageEnabled": True})
    assert_error(response, 400, str(services.NO_OVERAGE_SUBSCRIPTION))


def test_400_legacy_azure_names_the_offer_and_wins_over_sandbox(api_client, customer_of, telco_sku):
    sandbox = PartnerFactory(is_sandbox=True)
    customer = customer_of(sandbox, on_legacy_azure=True)
    SubscriptionFactory(partner=sandbox, customer=customer, sku=telco_sku)
    response = put(api_client(sandbox), customer, {"azureEntitlementId": "bogus", "overageEnabled": True})
    assert_error(response, 400, "MS-AZR-0145P")
    assert "Azure plan" in response.json()["description"]


def test_400_sandbox_without_azure_access_wins_over_a_bad_id(api_client, customer_of, telco_sku):
    sandbox = PartnerFactory(is_sandbox=True)
    customer = customer_of(sandbox)
    SubscriptionFactory(partner=sandbox, customer=customer, sku=telco_sku)
    response = put(api_client(sandbox), customer, {"azureEntitlementId": "bogus", "overageEnabled": True})
    assert_error(response, 400, "Sandbox")


@pytest.mark.parametrize(
    ("make_id", "expected"),
    [
        (lambda c, other: "bogus", "is not a valid GUID"),
        (lambda c, other: "new", "is not a valid GUID"),  # the flyout's Create new is not an API value
        (lambda c, other: "0b5b8c0e-0000-4000-8000-000000000000", "was not found"),
        (lambda c, other: str(AzureSubscriptionFactory(plan=c.azure_plan, number=9, status=AzureSubscriptionStatus.DELETED).pk), "is not active"),
        (lambda c, other: str(other.pk), "does not belong to this customer"),
    ],
    ids=["malformed", "new", "unknown", "cancelled", "other-customer"],
)
def test_400_bad_azure_subscription(api_client, partner_a, alpine, customer_of, make_id, expected):
    other = AzureSubscriptionFactory(plan=AzurePlanFactory(customer=customer_of(partner_a), partner=partner_a), number=1)
    response = put(api_client(partner_a), alpine, {"azureEntitlementId": make_id(alpine, other), "overageEnabled": True})
    assert_error(response, 400, expected)
    assert unchanged(alpine)
    assert AzureSubscription.objects.filter(plan__customer=alpine).count() in (1, 2)  # nothing created


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"azureEntitlementId": "x"}, "overageEnabled is required"),
        ({"overageEnabled": None}, "overageEnabled is required"),
        ({"overageEnabled": "true"}, 'not "true"'),
        ({"overageEnabled": 1}, "must be a JSON boolean"),
        ({"overageEnabled": True}, "azureEntitlementId is required"),
        ({"overageEnabled": True, "azureEntitlementId": 5}, "must be a string"),
        ([], "must be a JSON object"),
        ("{not json", "must be a JSON object"),
    ],
    ids=["missing", "null", "string-true", "number", "no-id", "id-not-string", "array", "invalid-json"],
)
def test_400_bad_body_says_which_and_changes_nothing(api_client, partner_a, alpine, body, expected):
    assert_error(put(api_client(partner_a), alpine, body), 400, expected)
    assert unchanged(alpine)


# --- azureEntitlements ----------------------------------------------------------------------

def test_azure_entitlements_of_the_plan(api_client, partner_a, customer_of):
    SkuFactory(product=ProductFactory(id=AZURE_PLAN_PRODUCT_ID, title="Azure plan"))
    customer = customer_of(partner_a)
    plan = services.azure_plan_create(customer=customer, partner=partner_a, acting_user=None)
    first = services.azure_subscription_create(plan=plan, partner=partner_a, acting_user=None)
    AzureSubscription.objects.filter(pk=services.azure_subscription_create(plan=plan, partner=partner_a, acting_user=None).pk).update(
        status=AzureSubscriptionStatus.DELETED
    )
    response = api_client(partner_a, Role.HELPDESK_AGENT).get(
        f"/v1/customers/{customer.tenant_id}/subscriptions/{plan.subscription_id}/azureEntitlements"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["totalCount"] == 2 and body["attributes"] == {"objectType": "Collection"}
    assert body["items"][0] == {
        "id": str(first.pk),
        "friendlyName": "Subscription 1",
        "status": "active",
        "subscriptionId": str(plan.subscription_id),
        "attributes": {"objectType": "AzureEntitlement"},
    }
    assert body["items"][1]["status"] == "deleted"


def test_azure_entitlements_unknown_plan_or_other_partner_is_404(api_client, partner_a, partner_b, customer_of):
    SkuFactory(product=ProductFactory(id=AZURE_PLAN_PRODUCT_ID, title="Azure plan"))
    customer = customer_of(partner_a)
    plan = services.azure_plan_create(customer=customer, partner=partner_a, acting_user=None)
    base = f"/v1/customers/{customer.tenant_id}/subscriptions"
    client = api_client(partner_a)
    assert_error(client.get(f"{base}/{UNKNOWN_TENANT}/azureEntitlements"), 404)
    assert_error(client.get(f"{base}/not-a-guid/azureEntitlements"), 404)
    assert_error(client.get(f"{base}/{plan.pk}/azureEntitlements"), 404)  # the AzurePlan pk is not the plan id
    assert_error(api_client(partner_b).get(f"{base}/{plan.subscription_id}/azureEntitlements"), 404)


def test_overage_routes_are_in_the_openapi_schema(api_client, partner_a):
    paths = api_client(partner_a).get("/v1/openapi.json").json()["paths"]
    assert "put" in paths["/v1/customers/{tenant_id}/subscriptions/overage"]
    assert "/v1/customers/{tenant_id}/subscriptions/{plan_id}/azureEntitlements" in paths
