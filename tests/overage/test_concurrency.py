"""Two partners and many threads enabling overage for one customer at once end with exactly
one owner and one open interval; the others get 409 (SPEC §7). PostgreSQL only: SQLite
serialises writers, which proves nothing about row locks."""

import threading

import pytest
from django.db import connection, connections
from django.urls import reverse

from catalog.models import AZURE_PLAN_PRODUCT_ID, ConsumptionType
from overage import services
from overage.models import AzurePlan, AzureSubscription, OverageAssignment, OverageSetting
from tests.factories import ProductFactory, SkuFactory, SubscriptionFactory, ensure_relationship

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency needs PostgreSQL row locks"),
]

THREADS = 12


def test_many_threads_of_two_partners_end_with_one_owner_and_one_open_interval(partner_a, partner_b, customer_of):
    sku = SkuFactory(consumption_type=ConsumptionType.OVERAGE)
    customer = customer_of(partner_a)
    for partner in (partner_a, partner_b):
        SubscriptionFactory(partner=partner, customer=customer, sku=sku)
    barrier = threading.Barrier(THREADS)
    outcomes, unexpected = [], []

    def attempt(partner):
        try:
            barrier.wait()
            services.overage_update(
                customer=customer, partner=partner, acting_user=None, enabled=True, azure_subscription=services.CREATE_NEW
            )
            outcomes.append(("ok", partner.pk))
        except services.OverageError as error:
            outcomes.append((error.status, partner.pk))
        except Exception as error:  # noqa: BLE001 - any other exception is the failure we look for
            unexpected.append(repr(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(partner_a if i % 2 else partner_b,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert unexpected == []
    owner = OverageSetting.objects.get(customer=customer).owner
    assert {status for status, pk in outcomes if pk != owner.pk} == {409}
    assert all(status == "ok" for status, pk in outcomes if pk == owner.pk)
    assert OverageAssignment.objects.filter(customer=customer, ended_at__isnull=True).count() == 1
    # Every winning call of the owner made its own Azure subscription; the open interval is the last.
    assert AzureSubscription.objects.filter(plan__customer=customer).count() == sum(1 for s, _ in outcomes if s == "ok")


ROUNDS = 20


def test_two_partners_adding_an_azure_subscription_at_once_share_the_one_new_plan(
    make_member, partner_a, partner_b, customer_of
):
    """Contoso's and Adatum's admin agents press "Add Azure subscription" at the same moment
    for a customer without an Azure plan: both get their Azure subscription, in one plan (it
    was a 500 on the one-plan-per-customer constraint in 20 rounds of 20)."""
    SkuFactory(product=ProductFactory(id=AZURE_PLAN_PRODUCT_ID, title="Azure plan"), title="Azure plan")
    members = [make_member(partner_a), make_member(partner_b)]
    for _round in range(ROUNDS):
        customer = customer_of(partner_a)
        ensure_relationship(customer, partner_b)
        url = reverse("overage:azure_subscription_create", args=[customer.tenant_id])
        barrier = threading.Barrier(len(members))
        statuses, unexpected = [], []

        def post(client):
            try:
                barrier.wait()
                statuses.append(client.post(url).status_code)
            except Exception as error:  # noqa: BLE001 - the test client re-raises a view's 500
                unexpected.append(repr(error))
            finally:
                connections.close_all()

        threads = [threading.Thread(target=post, args=(client,)) for client in members]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert unexpected == []
        assert statuses == [303, 303]
        plan = AzurePlan.objects.get(customer=customer)
        assert sorted(plan.azure_subscriptions.values_list("partner", flat=True)) == sorted([partner_a.pk, partner_b.pk])
        assert sorted(plan.azure_subscriptions.values_list("number", flat=True)) == [1, 2]
