"""``/v1/customers/{tenantId}/subscriptions``: Partner Center's Subscription shape, the
168-hour window on the edges, all-or-nothing PATCH, scoping (404), roles (403), and the
allowed custom term end dates."""

import datetime
import importlib.util
import uuid

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import AZURE_PLAN_PRODUCT_ID, ProductType
from portal.errors import ErrorCode
from portal.models import Role
from subscriptions.models import SeatChange, SubscriptionStatus
from subscriptions.services.lifecycle import CANNOT_DECREASE, SCHEDULE_NEEDS_AUTO_RENEW
from tests.factories import (
    CustomerFactory,
    ProductFactory,
    SeatChangeFactory,
    SkuFactory,
    SubscriptionFactory,
    ensure_relationship,
)

pytestmark = pytest.mark.django_db

PURCHASED = datetime.datetime(2026, 3, 15, 10, 0, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)
MINUTE = datetime.timedelta(minutes=1)


def bought(partner, customer, quantity=5, at=PURCHASED, **fields):
    """A subscription bought at ``at`` with its purchase seat batch (reducible 168 hours)."""
    fields.setdefault("start_date", at.date())
    subscription = SubscriptionFactory(
        partner=partner, customer=customer, quantity=quantity, purchased_at=at, term_started_at=at, **fields
    )
    SeatChangeFactory(subscription=subscription, occurred_at=at, refundable_until=at + 168 * HOUR)
    return subscription


def url(customer, subscription=None):
    base = f"/v1/customers/{customer.tenant_id}/subscriptions"
    return f"{base}/{subscription.pk}" if subscription is not None else base


def patch(client, customer, subscription, body):
    return client.patch(url(customer, subscription), body, content_type="application/json")


# --- reading ------------------------------------------------------------------------------


def test_get_subscription_in_pc_shape(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    with time_machine.travel(PURCHASED, tick=False):
        subscription = bought(partner_a, customer, friendly_name="Sales")
    with time_machine.travel(PURCHASED + 2 * HOUR, tick=False):
        response = api_client(partner_a).get(url(customer, subscription))
    assert response.status_code == 200
    sku = subscription.sku
    assert response.json() == {
        "id": str(subscription.pk),
        "offerId": subscription.availability.catalog_item_id,
        "offerName": sku.title,
        "friendlyName": "Sales",
        "quantity": 5,
        "unitType": "Licenses",
        "status": "active",
        "termDuration": "P1Y",
        "billingCycle": "monthly",
        "effectiveStartDate": "2026-03-15T00:00:00Z",
        "commitmentEndDate": f"{subscription.commitment_end_date.isoformat()}T00:00:00Z",
        "creationDate": "2026-03-15T10:00:00Z",
        "autoRenewEnabled": True,
        "consumptionType": None,
        "refundableQuantity": {
            "totalQuantity": 5,
            "details": [{"quantity": 5, "allowedUntilDateTime": "2026-03-22T10:00:00Z"}],
        },
        "cancellationAllowedUntilDate": "2026-03-22T10:00:00Z",
        "scheduledNextTermInstructions": None,
        "partnerId": None,
        "isTrial": False,
        "productType": {"id": "OnlineServicesNCE", "displayName": "OnlineServicesNCE"},
        "links": {
            "self": {
                "uri": f"/customers/{customer.tenant_id}/subscriptions/{subscription.pk}",
                "method": "GET",
                "headers": [],
            }
        },
        "attributes": {"objectType": "Subscription", "etag": "\"1\""},
    }


def test_after_the_window_nothing_is_refundable_and_cancellation_is_null(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer)
    with time_machine.travel(PURCHASED + 169 * HOUR, tick=False):
        body = api_client(partner_a).get(url(customer, subscription)).json()
    assert body["refundableQuantity"] == {"totalQuantity": 0, "details": []}
    assert body["cancellationAllowedUntilDate"] is None


def test_list_includes_the_azure_plan_and_only_this_partners_subscriptions(
    api_client, partner_a, partner_b, customer_of
):
    customer = customer_of(partner_a)
    ensure_relationship(customer, partner_b)
    mine = bought(partner_a, customer)
    azure = ProductFactory(id=AZURE_PLAN_PRODUCT_ID, title="Azure plan", product_type=ProductType.AZURE)
    azure_sku = SkuFactory(product=azure, sku_id="0001", title="Azure plan")
    plan = SubscriptionFactory(partner=partner_a, customer=customer, sku=azure_sku)
    bought(partner_b, customer)
    body = api_client(partner_a).get(url(customer)).json()
    assert body["totalCount"] == 2
    assert body["attributes"] == {"objectType": "Collection"}
    by_id = {item["id"]: item for item in body["items"]}
    assert set(by_id) == {str(mine.pk), str(plan.pk)}
    assert by_id[str(plan.pk)]["offerId"].startswith("DZH318Z0BPS6")
    assert by_id[str(plan.pk)]["productType"]["id"] == "Azure"


def test_another_partners_subscription_is_404(api_client, partner_a, partner_b, customer_of):
    customer = customer_of(partner_a)
    ensure_relationship(customer, partner_b)
    theirs = bought(partner_b, customer)
    client = api_client(partner_a)
    assert client.get(url(customer, theirs)).status_code == 404
    response = patch(client, customer, theirs, {"quantity": 9})
    assert response.status_code == 404
    assert response.json()["code"] == ErrorCode.SUBSCRIPTION_NOT_FOUND
    theirs.refresh_from_db()
    assert theirs.quantity == 5


def test_subscription_under_another_customer_is_404(api_client, partner_a, customer_of):
    customer, other = customer_of(partner_a), customer_of(partner_a)
    subscription = bought(partner_a, customer)
    assert api_client(partner_a).get(url(other, subscription)).status_code == 404


@pytest.mark.parametrize("bad", ["not-a-guid", str(uuid.uuid4()), "12"])
def test_malformed_or_unknown_subscription_id_is_404(api_client, partner_a, customer_of, bad):
    customer = customer_of(partner_a)
    response = api_client(partner_a).get(f"{url(customer)}/{bad}")
    assert response.status_code == 404
    assert set(response.json()) == {"code", "description", "data"}


def test_list_query_count_is_constant(api_client, partner_a, customer_of):
    # Auth, the customer, the subscriptions (joined), their seat history (one prefetch).
    customer = customer_of(partner_a)
    client = api_client(partner_a)
    for _ in range(3):
        bought(partner_a, customer)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url(customer)).json()["totalCount"] == 3
    for _ in range(17):
        bought(partner_a, customer)
    with CaptureQueriesContext(connection) as large:
        assert client.get(url(customer)).json()["totalCount"] == 20
    assert len(small) == len(large)


def test_reseller_sees_its_subscriptions_with_partner_id(api_client, provider, reseller):
    customer = CustomerFactory(partner=provider, reseller=reseller)
    subscription = bought(provider, customer, reseller=reseller)
    body = api_client(reseller, Role.HELPDESK_AGENT).get(url(customer)).json()
    assert [(i["id"], i["partnerId"]) for i in body["items"]] == [(str(subscription.pk), reseller.mpn_id)]


def test_overage_path_is_not_taken_for_a_subscription_id(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    response = api_client(partner_a).get(f"{url(customer)}/overage")
    if importlib.util.find_spec("overage.api") is not None:
        # The overage router is mounted first: its collection answers, not our 404.
        assert response.status_code == 200
        assert response.json()["attributes"] == {"objectType": "Collection"}
    else:
        assert response.status_code == 404


# --- PATCH: seats and the 168-hour window -------------------------------------------------


@pytest.mark.parametrize("role", [Role.SALES_AGENT, Role.ADMIN_AGENT, Role.GLOBAL_ADMIN])
def test_reduce_at_167_59_is_allowed(api_client, partner_a, customer_of, role):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer)
    with time_machine.travel(PURCHASED + 167 * HOUR + 59 * MINUTE, tick=False):
        response = patch(api_client(partner_a, role), customer, subscription, {"quantity": 3})
    assert response.status_code == 200
    assert response.json()["quantity"] == 3
    subscription.refresh_from_db()
    assert subscription.quantity == 3


def test_reduce_at_168_01_is_800090(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer)
    with time_machine.travel(PURCHASED + 168 * HOUR + MINUTE, tick=False):
        response = patch(api_client(partner_a), customer, subscription, {"quantity": 3})
    assert response.status_code == 400
    assert response.json() == {"code": ErrorCode.CANNOT_DECREASE, "description": str(CANNOT_DECREASE), "data": []}
    subscription.refresh_from_db()
    assert subscription.quantity == 5


def test_adding_seats_any_time_opens_a_new_batch(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer)
    later = PURCHASED + 30 * 24 * HOUR
    with time_machine.travel(later, tick=False):
        body = patch(api_client(partner_a), customer, subscription, {"quantity": 8}).json()
    assert body["quantity"] == 8
    assert body["refundableQuantity"]["details"] == [
        {"quantity": 3, "allowedUntilDateTime": "2026-04-21T10:00:00Z"}
    ]


@pytest.mark.parametrize("quantity", ["5", 2.5, None, True])
def test_quantity_must_be_an_integer(api_client, partner_a, customer_of, quantity):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer)
    response = patch(api_client(partner_a), customer, subscription, {"quantity": quantity, "friendlyName": "X"})
    if quantity is None:  # null means "not changing the quantity"
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert set(response.json()) == {"code", "description", "data"}
    subscription.refresh_from_db()
    assert (subscription.quantity, subscription.friendly_name) == (5, "")


def test_a_refused_field_rolls_back_the_others(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer, friendly_name="Before")
    with time_machine.travel(PURCHASED + 200 * HOUR, tick=False):
        response = patch(
            api_client(partner_a), customer, subscription,
            {"friendlyName": "After", "autoRenewEnabled": False, "quantity": 1},
        )
    assert response.status_code == 400
    assert response.json()["code"] == ErrorCode.CANNOT_DECREASE
    subscription.refresh_from_db()
    assert (subscription.friendly_name, subscription.auto_renew_enabled, subscription.quantity) == ("Before", True, 5)
    assert SeatChange.objects.filter(subscription=subscription).count() == 1


# --- PATCH: status, auto-renew, friendly name ---------------------------------------------


def test_cancel_inside_the_window(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer)
    with time_machine.travel(PURCHASED + 100 * HOUR, tick=False):
        response = patch(api_client(partner_a), customer, subscription, {"status": "deleted"})
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["autoRenewEnabled"], body["cancellationAllowedUntilDate"]) == ("deleted", False, None)


def test_cancel_outside_the_window_is_400_with_the_deadline(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer)
    with time_machine.travel(PURCHASED + 168 * HOUR + MINUTE, tick=False):
        response = patch(api_client(partner_a), customer, subscription, {"status": "deleted"})
    assert response.status_code == 400
    assert "2026-03-22 10:00" in response.json()["description"]
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE


def test_suspend_and_reactivate(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer)
    client = api_client(partner_a)
    assert patch(client, customer, subscription, {"status": "suspended"}).json()["status"] == "suspended"
    assert patch(client, customer, subscription, {"status": "active"}).json()["status"] == "active"


def test_a_cancelled_subscription_cannot_be_reactivated(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer, status=SubscriptionStatus.DELETED)
    response = patch(api_client(partner_a), customer, subscription, {"status": "active"})
    assert response.status_code == 400
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.DELETED


@pytest.mark.parametrize("status", ["expired", "pending", "frozen", ""])
def test_unknown_or_unsettable_status_is_400(api_client, partner_a, customer_of, status):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer)
    response = patch(api_client(partner_a), customer, subscription, {"status": status})
    assert response.status_code == 400
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE


def test_auto_renew_and_friendly_name(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer)
    body = patch(
        api_client(partner_a), customer, subscription, {"autoRenewEnabled": False, "friendlyName": " Phones "}
    ).json()
    assert (body["autoRenewEnabled"], body["friendlyName"]) == (False, "Phones")


def test_auto_renew_must_be_a_boolean(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer)
    assert patch(api_client(partner_a), customer, subscription, {"autoRenewEnabled": "no"}).status_code == 400


def test_sending_the_resource_back_unchanged_changes_nothing(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer)
    client = api_client(partner_a)
    with time_machine.travel(PURCHASED + 300 * HOUR, tick=False):
        resource = client.get(url(customer, subscription)).json()
        response = patch(client, customer, subscription, resource)
    assert response.status_code == 200
    assert response.json() == resource


# --- PATCH: roles --------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.BILLING_ADMIN, Role.HELPDESK_AGENT])
def test_billing_admin_and_helpdesk_cannot_change(api_client, partner_a, customer_of, role):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer)
    assert patch(api_client(partner_a, role), customer, subscription, {"quantity": 9}).status_code == 403


def test_reseller_of_record_cannot_change_its_subscription(api_client, provider, reseller):
    customer = CustomerFactory(partner=provider, reseller=reseller)
    subscription = bought(provider, customer, reseller=reseller)
    response = patch(api_client(reseller, Role.GLOBAL_ADMIN), customer, subscription, {"quantity": 9})
    assert response.status_code == 403
    subscription.refresh_from_db()
    assert subscription.quantity == 5


# --- PATCH: next term ---------------------------------------------------------------------


def test_schedule_next_term(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    terms = [{"termDuration": "P1Y", "billingCycle": "monthly"}, {"termDuration": "P1Y", "billingCycle": "annual"}]
    subscription = bought(partner_a, customer, availability__terms=terms)
    body = patch(
        api_client(partner_a), customer, subscription,
        {"scheduledNextTermInstructions": {"quantity": 9, "product": {"billingCycle": "Annual"}}},
    ).json()
    sku = subscription.sku
    assert body["scheduledNextTermInstructions"] == {
        "product": {
            "productId": sku.product_id,
            "skuId": sku.sku_id,
            "availabilityId": subscription.availability.availability_id,
            "billingCycle": "annual",
            "termDuration": "P1Y",
        },
        "quantity": 9,
        "customTermEndDate": None,
    }
    # An explicit null clears it.
    cleared = patch(api_client(partner_a), customer, subscription, {"scheduledNextTermInstructions": None}).json()
    assert cleared["scheduledNextTermInstructions"] is None


def test_scheduled_next_term_needs_auto_renew(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer, auto_renew_enabled=False)
    response = patch(api_client(partner_a), customer, subscription, {"scheduledNextTermInstructions": {"quantity": 9}})
    assert response.status_code == 400
    assert response.json()["description"] == str(SCHEDULE_NEEDS_AUTO_RENEW)


def test_turning_auto_renew_off_with_a_schedule_in_one_request_is_refused_whole(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer)
    response = patch(
        api_client(partner_a), customer, subscription,
        {"autoRenewEnabled": False, "scheduledNextTermInstructions": {"quantity": 9}},
    )
    assert response.status_code == 400
    subscription.refresh_from_db()
    assert subscription.auto_renew_enabled and subscription.next_term_quantity is None


def test_schedule_a_term_the_offer_does_not_have_is_400(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer)  # P1Y/P1M billed monthly only
    response = patch(
        api_client(partner_a), customer, subscription,
        {"scheduledNextTermInstructions": {"product": {"billingCycle": "annual"}}},
    )
    assert response.status_code == 400
    subscription.refresh_from_db()
    assert subscription.next_term_billing_cycle is None


def test_schedule_unknown_term_is_400(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer)
    response = patch(
        api_client(partner_a), customer, subscription,
        {"scheduledNextTermInstructions": {"product": {"termDuration": "P9Y"}}},
    )
    assert response.status_code == 400


def test_align_next_term_end_date_to_another_subscription(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    with time_machine.travel(PURCHASED, tick=False):
        subscription = bought(partner_a, customer, commitment_end_date=datetime.date(2027, 3, 14))
        # Ends during the subscription's next term (2027-03-15 … 2028-03-14).
        target = bought(partner_a, customer, start_date=datetime.date(2026, 11, 1),
                        commitment_end_date=datetime.date(2027, 10, 31))
        client = api_client(partner_a)
        aligned = patch(client, customer, subscription,
                        {"scheduledNextTermInstructions": {"customTermEndDate": "2027-10-31"}})
        refused = patch(client, customer, target,
                        {"scheduledNextTermInstructions": {"customTermEndDate": "2027-11-15"}})
    assert aligned.status_code == 200
    assert aligned.json()["scheduledNextTermInstructions"]["customTermEndDate"] == "2027-10-31T00:00:00Z"
    assert refused.status_code == 400
    assert refused.json()["code"] == 10017


# --- customTermEndDates --------------------------------------------------------------------


def end_dates(client, customer, **params):
    return client.get(f"{url(customer)}/customTermEndDates", params)


def test_custom_term_end_dates_shape_and_rules(api_client, partner_a, partner_b, customer_of):
    customer = customer_of(partner_a)
    ensure_relationship(customer, partner_b)
    with time_machine.travel(PURCHASED, tick=False):
        annual = bought(partner_a, customer, start_date=datetime.date(2025, 10, 1),
                        commitment_end_date=datetime.date(2026, 9, 30))
        monthly = bought(partner_a, customer, term_duration="P1M", start_date=datetime.date(2026, 3, 10),
                         commitment_end_date=datetime.date(2026, 4, 9))
        bought(partner_b, customer, start_date=datetime.date(2025, 12, 1),
               commitment_end_date=datetime.date(2026, 11, 30))  # another partner's: never offered
        client = api_client(partner_a)
        yearly = end_dates(client, customer, term_duration="P1Y")
        monthly_line = end_dates(client, customer, term_duration="P1M")
    assert yearly.status_code == 200
    body = yearly.json()
    assert body["attributes"] == {"objectType": "Collection"}
    month_ends = [i for i in body["items"] if i["allowedCustomTermEndDateType"] == "calendarMonthAligned"]
    assert month_ends[0] == {
        "allowedCustomTermEndDateType": "calendarMonthAligned",
        "allowedCustomTermEndDate": "2026-03-31T00:00:00",
        "cotermSubscriptionIds": [],
    }
    assert len(month_ends) == 12 and month_ends[-1]["allowedCustomTermEndDate"] == "2027-02-28T00:00:00"
    aligned = [i for i in body["items"] if i["allowedCustomTermEndDateType"] == "subscriptionAligned"]
    # An annual line never aligns with a monthly subscription.
    assert aligned == [
        {
            "allowedCustomTermEndDateType": "subscriptionAligned",
            "allowedCustomTermEndDate": "2026-09-30T00:00:00",
            "cotermSubscriptionIds": [str(annual.pk)],
        }
    ]
    monthly_aligned = [
        i["cotermSubscriptionIds"] for i in monthly_line.json()["items"]
        if i["allowedCustomTermEndDateType"] == "subscriptionAligned"
    ]
    # A P1M line starting 2026-03-15 ends by 2026-04-14: the monthly subscription qualifies.
    assert monthly_aligned == [[str(monthly.pk)]]


def test_custom_term_end_dates_target_filter(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    with time_machine.travel(PURCHASED, tick=False):
        target = bought(partner_a, customer, commitment_end_date=datetime.date(2026, 9, 30),
                        start_date=datetime.date(2025, 10, 1))
        bought(partner_a, customer, commitment_end_date=datetime.date(2026, 10, 30),
               start_date=datetime.date(2025, 10, 31))
        body = end_dates(api_client(partner_a), customer, term_duration="P1Y",
                         target_coterm_subscription_id=str(target.pk)).json()
    assert body["totalCount"] == 1
    assert body["items"][0]["allowedCustomTermEndDate"] == "2026-09-30T00:00:00"


def test_custom_term_end_dates_from_a_future_start_date(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    with time_machine.travel(PURCHASED, tick=False):
        body = end_dates(api_client(partner_a), customer, term_duration="P1M", term_start_date="2026-05-10").json()
    assert [i["allowedCustomTermEndDate"] for i in body["items"]] == ["2026-05-31T00:00:00"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"term_duration": "P2Y"},
        {"term_duration": "P1Y", "term_start_date": "2026-03-14"},
        {"term_duration": "P1Y", "term_start_date": "yesterday"},
        {"term_duration": "P1Y", "target_coterm_subscription_id": "not-a-guid"},
        {"term_duration": "P3Y", "term_start_date": "9999-06-01"},  # its end would be past year 9999
    ],
)
def test_custom_term_end_dates_bad_input_is_400(api_client, partner_a, customer_of, params):
    customer = customer_of(partner_a)
    with time_machine.travel(PURCHASED, tick=False):
        response = end_dates(api_client(partner_a), customer, **params)
    assert response.status_code == 400
    assert set(response.json()) == {"code", "description", "data"}


def test_custom_term_end_dates_of_another_partners_customer_is_404(api_client, partner_a, partner_b, customer_of):
    customer = customer_of(partner_a)
    assert end_dates(api_client(partner_b), customer, term_duration="P1Y").status_code == 404


def test_ms_request_id_is_echoed(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    response = api_client(partner_a).get(url(customer), headers={"MS-RequestId": "req-42"})
    assert response["MS-RequestId"] == "req-42"


def test_subscription_without_availability_offers_the_sku_code(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    sku = SkuFactory()
    subscription = SubscriptionFactory(partner=partner_a, customer=customer, sku=sku, availability=None)
    body = api_client(partner_a).get(url(customer, subscription)).json()
    assert body["offerId"] == sku.code


def test_a_friendly_name_longer_than_200_characters_is_400_not_cut(api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer, friendly_name="Before")
    response = patch(api_client(partner_a), customer, subscription, {"friendlyName": "n" * 201})
    assert response.status_code == 400
    assert "friendlyName" in response.json()["description"]
    subscription.refresh_from_db()
    assert subscription.friendly_name == "Before"
