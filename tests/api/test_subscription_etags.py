"""Subscriptions answer with an ``ETag``; a PATCH with a stale ``If-Match`` is a 412, and one
whose subscription changed between the request's read and its write is a 409 (issue 11,
defect 2; Partner Center's optimistic concurrency). Nothing is changed by a refused PATCH."""

import datetime

import pytest
import time_machine

from portal.errors import ErrorCode
from subscriptions.models import SeatChange, SeatChangeKind, Subscription
from subscriptions.services import lifecycle
from tests.api.test_subscriptions_api import PURCHASED, bought, patch, url

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock():
    with time_machine.travel(PURCHASED + datetime.timedelta(hours=1), tick=False) as traveller:
        yield traveller


@pytest.fixture
def setup(clock, api_client, partner_a, customer_of):
    customer = customer_of(partner_a)
    subscription = bought(partner_a, customer, quantity=10)
    return api_client(partner_a), customer, subscription


def test_get_answers_the_etag_in_the_header_and_the_attributes(setup):
    client, customer, subscription = setup
    response = client.get(url(customer, subscription))
    assert response["ETag"] == '"1"'
    assert response.json()["attributes"] == {"objectType": "Subscription", "etag": '"1"'}
    listed = client.get(url(customer)).json()["items"][0]
    assert listed["attributes"]["etag"] == '"1"'


def test_patch_with_the_current_etag_applies_and_answers_the_new_one(setup):
    client, customer, subscription = setup
    response = client.patch(url(customer, subscription), {"quantity": 12}, content_type="application/json",
                            headers={"If-Match": '"1"'})
    assert response.status_code == 200
    assert response["ETag"] == '"2"' == response.json()["attributes"]["etag"]


def test_patch_with_a_stale_etag_is_412_and_changes_nothing(setup):
    client, customer, subscription = setup
    lifecycle.subscription_set_auto_renew(subscription=subscription, enabled=False, acting_user=None)
    response = client.patch(url(customer, subscription), {"quantity": 4}, content_type="application/json",
                            headers={"If-Match": '"1"'})
    assert response.status_code == 412
    body = response.json()
    assert body["code"] == ErrorCode.PRECONDITION_FAILED
    assert body["data"] == [{"currentETag": '"2"'}]
    assert Subscription.objects.get(pk=subscription.pk).quantity == 10


@pytest.mark.parametrize("header", ['W/"1"', "1", "garbage", '"0", "7"'])
def test_an_if_match_that_names_no_current_etag_is_412(setup, header):
    client, customer, subscription = setup
    response = client.patch(url(customer, subscription), {"quantity": 4}, content_type="application/json",
                            headers={"If-Match": header})
    assert response.status_code == 412


@pytest.mark.parametrize("header", ["*", '"0", "1"'])
def test_if_match_star_or_a_list_with_the_current_etag_applies(setup, header):
    client, customer, subscription = setup
    response = client.patch(url(customer, subscription), {"quantity": 4}, content_type="application/json",
                            headers={"If-Match": header})
    assert response.status_code == 200


def test_a_change_between_the_read_and_the_write_without_if_match_is_409(setup, monkeypatch):
    client, customer, subscription = setup
    from subscriptions import api

    read = api._subscription_or_404
    reads = []

    def read_then_the_ui_changes_it(request, customer, subscription_id):
        found = read(request, customer, subscription_id)
        if not reads:
            lifecycle.subscription_set_quantity(subscription=subscription, quantity=6, acting_user=None)
        reads.append(found)
        return found

    monkeypatch.setattr(api, "_subscription_or_404", read_then_the_ui_changes_it)
    response = patch(client, customer, subscription, {"quantity": 4})

    assert response.status_code == 409
    assert response.json()["code"] == ErrorCode.CONCURRENCY_CONFLICT
    # The UI's reduction stands; the API's did not turn into anything else.
    assert list(SeatChange.objects.filter(subscription=subscription).exclude(kind=SeatChangeKind.PURCHASE)
                .values_list("delta", flat=True)) == [-4]
    assert Subscription.objects.get(pk=subscription.pk).quantity == 6


def test_the_same_change_in_the_same_state_twice_is_one_change(setup):
    client, customer, subscription = setup
    for _retry in range(2):
        assert patch(client, customer, subscription, {"quantity": 6}).status_code == 200
    assert Subscription.objects.get(pk=subscription.pk).version == 2
