"""Benchmark of the Subscriptions list and of renewal (issue 4): 100,000 subscriptions across
5,000 customers of one partner. Targets: the list's first page in 60 ms or less (median,
server side) with at most 10 queries, on SQLite and on PostgreSQL; renewing 100,000
subscriptions due on one day in 60 s or less.

Run it on SQLite (the default: a fresh file /tmp/portal_bench_subs.sqlite3) or on PostgreSQL,
on a database of its own:

    .venv/bin/python bench/subscriptions.py
    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE portal_bench_subs'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_subs .venv/bin/python bench/subscriptions.py

The script migrates the database, EMPTIES it (a new file on SQLite, ``flush`` on PostgreSQL;
it refuses a database whose name does not contain "bench"), builds the data with
``bulk_create`` (each subscription with its tenant license and its purchase seat change),
then measures in process with Django's test ``Client`` logged in as a global admin of the
partner: each page 3 times to warm up, then ``--runs`` times (default 30); prints the median
and p95 in ms and the queries of one request (the middleware's session, user and membership
lookups included). Last, it moves every subscription's term end to the day before today
(half of them with auto-renew on) and times ``renew_subscriptions(on_date=today)``.
``--skip-renewal`` leaves that out; ``--reuse`` measures the list on the data of a previous
run (it is built again when missing, or after a renewal).
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The repo root first, and not this folder: "subscriptions" must be the app, not this script.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/portal_bench_subs.sqlite3")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
os.environ.setdefault("PLAIN_STATIC_STORAGE", "1")
os.environ.setdefault("SECURE_COOKIES", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("LOG_LEVEL", "ERROR")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from catalog.models import Availability, Product, Sku, TenantLicense  # noqa: E402
from portal.models import Customer, CustomerRelationship, Membership, Partner  # noqa: E402
from subscriptions.models import ChargeEvent, SeatChange, Subscription, SubscriptionStatus  # noqa: E402
from subscriptions.services.renewal import renew_subscriptions  # noqa: E402

BATCH = 5000
PRODUCTS = 40
SKUS_PER_PRODUCT = 5  # the 5th SKU of each product is an add-on of its 1st
USERNAME = "bench-subs-admin"
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def check_database_name():
    name = str(connection.settings_dict["NAME"])
    if "bench" not in name:
        sys.exit(f"refusing to use {name!r}: the bench empties its database; give it one of its own "
                 "(its name containing 'bench')")


def fresh_database():
    """An empty, migrated database: a new file on SQLite, a flushed one on PostgreSQL."""
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite":
        connection.close()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(name + suffix):
                os.remove(name + suffix)
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)


def build(subscription_count, customer_count):
    """A partner and its admin user, ``customer_count`` customers, a catalog of 200 SKUs and
    ``subscription_count`` subscriptions spread evenly over the customers: bases and add-ons
    of 4 products each, ending over the next year, one in 20 suspended, half auto-renewing."""
    today = timezone.localdate()
    now = timezone.now()
    partner, user = build_partner()
    customers = build_customers(partner, customer_count)
    skus, availability = build_catalog()
    per_customer = subscription_count // customer_count
    for start in range(0, customer_count, 1000):
        build_subscriptions(partner, customers[start:start + 1000], start, per_customer, skus, availability,
                            today, now)
    return user


def build_partner():
    partner = Partner.objects.create(mpn_id="9900201", name="Bench partner", kind="direct_bill")
    user = get_user_model().objects.create_user(username=USERNAME, password="bench-password-123")
    Membership.objects.create(user=user, partner=partner, roles=["global_admin"])
    return partner, user


def build_customers(partner, customer_count):
    """The partner's customers, in id order."""
    Customer.objects.bulk_create(
        [Customer(name=f"Bench customer {i:05d}", domain=f"c{i}.bench.example", country="US")
         for i in range(customer_count)],
        batch_size=BATCH,
    )
    customers = list(Customer.objects.order_by("pk"))
    CustomerRelationship.objects.bulk_create(
        [CustomerRelationship(customer=c, partner=partner) for c in customers], batch_size=BATCH
    )
    return customers


def build_catalog():
    """``PRODUCTS`` products of ``SKUS_PER_PRODUCT`` SKUs (the last an add-on of the first),
    each SKU with one availability. Returns the SKUs in code order and ``{sku pk: availability}``."""
    products = Product.objects.bulk_create(
        [Product(id=f"BS{i:010d}", title=f"Bench offer {i:02d}", product_type="OnlineServicesNCE",
                 segments=["commercial"]) for i in range(PRODUCTS)]
    )
    Sku.objects.bulk_create(
        [Sku(product=p, sku_id=f"{n:04d}", title=f"{p.title} {'add-on' if n == SKUS_PER_PRODUCT else 'plan'} {n}",
             supported_terms=["P1M", "P1Y"], supported_billing_cycles=["monthly", "annual"],
             is_addon=n == SKUS_PER_PRODUCT)
         for p in products for n in range(1, SKUS_PER_PRODUCT + 1)]
    )
    skus = list(Sku.objects.order_by("product_id", "sku_id"))
    through = Sku.prerequisites.through
    through.objects.bulk_create(
        [through(from_sku_id=skus[i + SKUS_PER_PRODUCT - 1].pk, to_sku_id=skus[i].pk)
         for i in range(0, len(skus), SKUS_PER_PRODUCT)]
    )
    terms = [{"termDuration": "P1Y", "billingCycle": "monthly"}, {"termDuration": "P1Y", "billingCycle": "annual"}]
    Availability.objects.bulk_create([Availability(sku=s, availability_id="CFQ7TTC0B001", terms=terms) for s in skus])
    return skus, {a.sku_id: a for a in Availability.objects.all()}


def build_subscriptions(partner, chunk, first, per_customer, skus, availability, today, now):
    """``per_customer`` subscriptions for each customer of ``chunk`` (the ``first``-th
    customer onwards), each with its tenant license and its purchase seat change."""
    plan = [(c, ci, k) for ci, c in enumerate(chunk, first) for k in range(per_customer)]
    sku_of = [skus[((ci + k // SKUS_PER_PRODUCT) % PRODUCTS) * SKUS_PER_PRODUCT + k % SKUS_PER_PRODUCT]
              for c, ci, k in plan]
    licenses = TenantLicense.objects.bulk_create(
        [TenantLicense(customer=c, sku=sku, channel="csp_nce", source_partner=partner, quantity=1 + k % 20)
         for (c, ci, k), sku in zip(plan, sku_of)],
        batch_size=BATCH,
    )
    subscriptions = []
    for n, ((c, ci, k), sku, lic) in enumerate(zip(plan, sku_of, licenses)):
        end = today + dt.timedelta(days=(ci * per_customer + k) % 365)
        begin = end - dt.timedelta(days=364)
        subscriptions.append(
            Subscription(
                customer=c, partner=partner, sku=sku, availability=availability[sku.pk], license=lic,
                quantity=1 + k % 20, term_duration="P1Y", billing_cycle="monthly", start_date=begin,
                commitment_end_date=end, auto_renew_enabled=n % 2 == 0,
                status=SubscriptionStatus.SUSPENDED if n % 20 == 19 else SubscriptionStatus.ACTIVE,
                unit_price=Decimal("12.500000"), currency="USD",
                purchased_at=now - dt.timedelta(days=364), term_started_at=now - dt.timedelta(days=364),
                next_term_quantity=5 if n % 10 == 0 else None,
            )
        )
    Subscription.objects.bulk_create(subscriptions, batch_size=BATCH)
    SeatChange.objects.bulk_create(
        [SeatChange(subscription=s, kind="purchase", delta=s.quantity, quantity_after=s.quantity,
                    occurred_at=s.purchased_at, refundable_until=s.purchased_at + dt.timedelta(hours=168))
         for s in subscriptions],
        batch_size=BATCH,
    )


def refresh_statistics():
    """Planner statistics (and on PostgreSQL the visibility map, for index-only scans) as a
    live database has them from autovacuum, rather than those of tables just bulk-loaded."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def statements(captured):
    """The SQL statements of a capture, less transaction control (not queries for data)."""
    return [q for q in captured.captured_queries if not q["sql"].lstrip().upper().startswith(TRANSACTION_CONTROL)]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(call, runs, warmups=3):
    """``call`` ``warmups`` times, then ``runs`` times timed; then once more to count its
    queries. Returns (median ms, p95 ms, queries, last result, capture)."""
    for _ in range(warmups):
        call()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as captured:
        result = call()
    return statistics.median(timings), percentile(timings, 0.95), len(statements(captured)), result, captured


def measure_list(user, runs, show_queries):
    client = Client()
    client.force_login(user)
    partner = user.membership.partner
    customer = Customer.objects.transacted_by(partner).order_by("name").last()
    htmx = {"HX-Request": "true"}
    cases = [
        ("results partial, unfiltered", "/subscriptions/", htmx),
        ("results partial, one customer", f"/subscriptions/?customer={customer.tenant_id}", htmx),
        ("results partial, add-ons", "/subscriptions/?addons=on", htmx),
        ("full page, unfiltered", "/subscriptions/", {}),
        ("full page, one customer", f"/subscriptions/?customer={customer.tenant_id}", {}),
        ("full page, add-ons", "/subscriptions/?addons=on", {}),
    ]
    print(f"\nsubscriptions list, first page ({runs} runs after 3 warm-ups; target: median <= 60 ms, "
          "at most 10 queries)")
    print(f"{'request':34} {'median':>9} {'p95':>9} {'queries':>8}")
    for label, url, headers in cases:
        median, p95, queries, response, captured = measure(lambda: client.get(url, headers=headers), runs)
        assert response.status_code == 200, (url, response.status_code)
        rows = response.content.count(b'data-testid="subscription-row"')
        assert rows == (20 if "customer=" in url else 25), (url, rows)
        verdict = "pass" if median <= 60 and queries <= 10 else "FAIL"
        print(f"{label:34} {median:7.1f}ms {p95:7.1f}ms {queries:8d}  {verdict}")
        if show_queries:
            for q in statements(captured):
                print(f"    {q['time']}s {q['sql'][:300]}")


def measure_renewal(batch_size):
    """Every subscription's term ends yesterday (half auto-renew): time the renewal run."""
    today = timezone.localdate()
    yesterday = today - dt.timedelta(days=1)
    Subscription.objects.update(
        commitment_end_date=yesterday, start_date=yesterday - dt.timedelta(days=364), status=SubscriptionStatus.ACTIVE
    )
    refresh_statistics()
    due = Subscription.objects.filter(commitment_end_date=yesterday).count()
    auto = Subscription.objects.filter(commitment_end_date=yesterday, auto_renew_enabled=True).count()
    seat_changes = SeatChange.objects.count()
    print(f"\nrenewal: {due:,} subscriptions due ({auto:,} auto-renew), {seat_changes:,} seat changes "
          f"(target: 60 s or less)")
    started = time.perf_counter()
    renewed, expired = renew_subscriptions(on_date=today, batch_size=batch_size)
    seconds = time.perf_counter() - started
    assert (renewed, expired) == (auto, due - auto), (renewed, expired)
    assert not Subscription.objects.live().filter(commitment_end_date__lt=today).exists()
    print(f"renewed {renewed:,}, expired {expired:,}, +{ChargeEvent.objects.count():,} charge events in "
          f"{seconds:.1f} s ({due / seconds:,.0f} subscriptions/second)  {'pass' if seconds <= 60 else 'FAIL'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=2000, help="renew_subscriptions' batch_size")
    parser.add_argument("--skip-renewal", action="store_true")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the list on the data of the previous run (built again when missing)")
    parser.add_argument("--show-queries", action="store_true", help="print the SQL of each measured request")
    args = parser.parse_args()

    check_database_name()
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.filter(username=USERNAME).first()
    if not (args.reuse and user and not ChargeEvent.objects.exists()):
        fresh_database()
        with transaction.atomic():
            user = build(args.subscriptions, args.customers)
        refresh_statistics()
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    print(f"data: {Subscription.objects.count():,} subscriptions, {Customer.objects.count():,} customers, "
          f"{SeatChange.objects.count():,} seat changes (ready in {time.perf_counter() - started:.1f} s)")
    measure_list(user, args.runs, args.show_queries)
    if not args.skip_renewal:
        measure_renewal(args.batch_size)


if __name__ == "__main__":
    main()
