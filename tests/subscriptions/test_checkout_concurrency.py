"""Eight simultaneous checkouts of one cart make exactly one order (PostgreSQL only: SQLite
serialises every write transaction, so it cannot show a race)."""

import threading

import pytest
from django.db import connection

from subscriptions.errors import CartInputError
from subscriptions.models import Order, Subscription
from subscriptions.services.cart import cart_create
from subscriptions.services.checkout import cart_checkout
from tests.factories import CustomerFactory, PartnerFactory
from tests.subscriptions.test_cart import line, make_catalog

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency needs PostgreSQL"),
]

THREADS = 8


@pytest.mark.parametrize("same_key", [False, True])
def test_concurrent_checkouts_of_one_cart_make_one_order(same_key):
    catalog = make_catalog()
    partner = PartnerFactory()
    customer = CustomerFactory(partner=partner)
    cart = cart_create(partner=partner, customer=customer, acting_user=None,
                       lines=[line(catalog.base_av, 2), line(catalog.base_av, 1, term="P1M")])
    barrier = threading.Barrier(THREADS)
    orders, failures = [], []

    def checkout(n):
        try:
            barrier.wait()
            key = "same-key" if same_key else f"key-{n}"
            result = cart_checkout(cart=cart, acting_user=None, idempotency_key=key)
            orders.append(result.order.pk if result.order else None)
        except CartInputError as error:  # handled: a refused request, never a second order
            failures.append(error)
        except Exception as error:  # noqa: BLE001 - the test reports any other failure
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=checkout, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert Order.objects.count() == 1
    assert set(orders) == {Order.objects.get().pk}
    assert Subscription.objects.count() == 2
