"""A UI seat change and an API PATCH of the same fresh subscription at the same moment (issue
11, defect 2): a reduction never becomes a charged addition. Before optimistic concurrency,
"10 → 6" from the page and "PATCH quantity 4" together were recorded as "remove 6, then add
2" in 18 rounds of 20. PostgreSQL only: SQLite serialises every write transaction."""

import datetime
import threading

import pytest
from django.db import connection, connections
from django.urls import reverse

from portal.models import Role
from subscriptions.models import SeatChange, SeatChangeKind, Subscription
from tests.factories import SeatChangeFactory, SkuFactory, SubscriptionFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency needs PostgreSQL row locks"),
]

ROUNDS = 20
OK = {200, 303}


def fresh_subscription(partner, customer):
    now = datetime.datetime.now(datetime.UTC)
    subscription = SubscriptionFactory(
        partner=partner, customer=customer, sku=SkuFactory(min_quantity=1, max_quantity=50), quantity=10,
        purchased_at=now, term_started_at=now, start_date=now.date(),
        commitment_end_date=now.date() + datetime.timedelta(days=364),
    )
    SeatChangeFactory(subscription=subscription, kind=SeatChangeKind.PURCHASE, delta=10, quantity_after=10,
                      occurred_at=now, refundable_until=now + datetime.timedelta(hours=168))
    return subscription


def test_a_ui_seat_change_and_an_api_patch_at_once_never_record_an_addition(make_member, api_client, partner_a,
                                                                            customer_of):
    page = make_member(partner_a, Role.SALES_AGENT)
    api = api_client(partner_a)
    customer = customer_of(partner_a)
    for _round in range(ROUNDS):
        subscription = fresh_subscription(partner_a, customer)
        form_version = subscription.version  # the version the seat form was rendered with
        barrier = threading.Barrier(2)
        statuses, unexpected = {}, []

        def ui():
            try:
                barrier.wait()
                response = page.post(reverse("subscriptions:subscription_quantity", args=[subscription.pk]),
                                     {"quantity": "6", "version": str(form_version)})
                statuses["ui"] = response.status_code
            except Exception as error:  # noqa: BLE001 - the test client re-raises a view's 500
                unexpected.append(repr(error))
            finally:
                connections.close_all()

        def patch():
            try:
                barrier.wait()
                response = api.patch(f"/v1/customers/{customer.tenant_id}/subscriptions/{subscription.pk}",
                                     {"quantity": 4}, content_type="application/json")
                statuses["api"] = response.status_code
            except Exception as error:  # noqa: BLE001
                unexpected.append(repr(error))
            finally:
                connections.close_all()

        threads = [threading.Thread(target=ui), threading.Thread(target=patch)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert unexpected == []
        assert set(statuses.values()) <= OK | {409}, statuses
        assert any(status in OK for status in statuses.values())
        changes = list(
            SeatChange.objects.filter(subscription=subscription).exclude(kind=SeatChangeKind.PURCHASE)
            .order_by("occurred_at", "id").values_list("kind", "delta")
        )
        assert all(kind == SeatChangeKind.REDUCE for kind, _delta in changes), changes
        final = Subscription.objects.get(pk=subscription.pk)
        assert final.quantity == 10 + sum(delta for _kind, delta in changes)
        assert final.version == 1 + len(changes)
