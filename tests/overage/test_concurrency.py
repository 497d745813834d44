"""Two partners and many threads enabling overage for one customer at once end with exactly
one owner and one open interval; the others get 409 (SPEC §7). PostgreSQL only: SQLite
serialises writers, which proves nothing about row locks."""

import threading

import pytest
from django.db import connection, connections

from catalog.models import ConsumptionType
from overage import services
from overage.models import AzureSubscription, OverageAssignment, OverageSetting
from tests.factories import SkuFactory, SubscriptionFactory

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
