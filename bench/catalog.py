"""Benchmark of the catalog (issue 3): 10,000 SKUs with 100,000 price-list rows; the catalog
page (HTMX results partial and full page) must answer in 50 ms or less (median, server side)
with a query count that does not grow with the data; validating a 100-line cart for a tenant
with 5,000 licenses must cost at most 5 queries.

Run it on SQLite (the default: a fresh file /tmp/portal_bench_catalog.sqlite3) or on
PostgreSQL, on a database of its own:

    .venv/bin/python bench/catalog.py
    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE portal_bench_catalog'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_catalog .venv/bin/python bench/catalog.py

The script migrates the database, EMPTIES it (``flush``: it refuses a database whose name does
not contain "bench"), builds the data with ``bulk_create`` and measures in process with
Django's test ``Client`` logged in as a global admin of the partner: each request 3 times to
warm up, then ``--runs`` times (default 30); prints the median and p95 in ms and the queries
of one request (the session, user and membership lookups of the middleware included).
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
# The repo root first, and not this folder: "catalog" must be the app, not this script.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/portal_bench_catalog.sqlite3")
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

from catalog.models import Availability, PriceListEntry, Product, Sku, TenantLicense, sku_search_text  # noqa: E402
from portal.models import Customer, CustomerRelationship, Membership, Partner  # noqa: E402
from subscriptions.models import Cart, CartLine, Subscription  # noqa: E402
from subscriptions.services.cart import cart_validate  # noqa: E402

BATCH = 5000
SKUS_PER_PRODUCT = 5  # the 5th SKU of each product is an add-on of the product's 1st
WORDS = ["Teams", "Exchange", "SharePoint", "Defender", "Intune", "Power BI", "Visio", "Project", "Copilot", "Entra"]
MARKETS = {"US": "USD", "GB": "GBP", "DE": "EUR", "FR": "EUR"}


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


def build(sku_count, license_count, cart_lines):
    """The catalog (``sku_count`` SKUs, 10 price rows each), a partner and its admin user, and a
    customer whose tenant has ``license_count`` licenses, with a cart of ``cart_lines`` lines."""
    today = timezone.localdate()
    skus = build_skus(build_products(sku_count))
    build_availabilities(skus)
    build_prices(skus, today)
    partner, user, customer = build_partner_and_customers()
    build_tenant_licenses(customer, skus, license_count)
    now = timezone.now()
    build_live_subscriptions(partner, customer, skus, today, now)
    cart = build_cart(partner, customer, user, skus, cart_lines, today, now)
    return user, cart


def build_products(sku_count):
    products = [
        Product(
            id=f"BP{i:010d}",
            title=f"Bench {WORDS[i % len(WORDS)]} plan {i:05d}",
            description=f"Benchmark product {i} for {WORDS[(i * 7) % len(WORDS)]} workloads.",
            product_type="OnlineServicesNCE",
            segments=["commercial"],
        )
        for i in range(sku_count // SKUS_PER_PRODUCT)
    ]
    Product.objects.bulk_create(products, batch_size=BATCH)
    return products


def build_skus(products):
    """``SKUS_PER_PRODUCT`` SKUs per product, the last an add-on of the first (its
    prerequisite), the 2nd with a per-customer limit; returned in code order, with their ids."""
    skus = []
    for product in products:
        for n in range(1, SKUS_PER_PRODUCT + 1):
            addon = n == SKUS_PER_PRODUCT
            skus.append(
                Sku(
                    product=product,
                    sku_id=f"{n:04d}",
                    title=f"{product.title} {'add-on' if addon else 'edition'} {n}",
                    description="Add-on" if addon else "Base offer",
                    supported_terms=["P1M", "P1Y"],
                    supported_billing_cycles=["monthly", "annual"],
                    is_addon=addon,
                    max_per_customer=1000 if n == 2 else None,
                )
            )
    for sku in skus:  # bulk_create skips save(), which keeps the search column
        sku.search_text = sku_search_text(sku, sku.product)
    Sku.objects.bulk_create(skus, batch_size=BATCH)
    skus = list(Sku.objects.order_by("product_id", "sku_id"))  # ids, on every database
    through = Sku.prerequisites.through
    through.objects.bulk_create(
        [
            through(from_sku_id=skus[i + SKUS_PER_PRODUCT - 1].pk, to_sku_id=skus[i].pk)
            for i in range(0, len(skus), SKUS_PER_PRODUCT)
        ],
        batch_size=BATCH,
    )
    return skus


def build_availabilities(skus):
    terms = [{"termDuration": t, "billingCycle": c} for t in ("P1M", "P1Y") for c in ("monthly", "annual")
             if not (t == "P1M" and c == "annual")]
    Availability.objects.bulk_create(
        [Availability(sku=sku, availability_id="CFQ7TTC0B001", terms=terms) for sku in skus], batch_size=BATCH
    )


def build_prices(skus, today):
    """10 price-list rows per SKU: 4 markets × 2 billing plans, an ended US row and a US
    monthly term."""
    old_start, start = today - dt.timedelta(days=400), today - dt.timedelta(days=35)
    prices = []
    for sku in skus:
        base = Decimal(sku.pk % 40 + 2)
        for market, currency in MARKETS.items():
            for term, plan in (("P1Y", "monthly"), ("P1Y", "annual")):
                prices.append(PriceListEntry(sku=sku, term_duration=term, billing_plan=plan, market=market,
                                             currency=currency, unit_price=base, erp_price=base * Decimal("1.2"),
                                             effective_start=start))
        # US history (an ended row) and the monthly term: 10 rows per SKU in all.
        prices.append(PriceListEntry(sku=sku, term_duration="P1Y", billing_plan="monthly", market="US",
                                     currency="USD", unit_price=base - 1, erp_price=base, effective_start=old_start,
                                     effective_end=start))
        prices.append(PriceListEntry(sku=sku, term_duration="P1M", billing_plan="monthly", market="US",
                                     currency="USD", unit_price=base * Decimal("1.2"), erp_price=base * 2,
                                     effective_start=start))
    PriceListEntry.objects.bulk_create(prices, batch_size=BATCH)


def build_partner_and_customers():
    """The partner, its global-admin user, 50 customers and the cart's customer."""
    partner = Partner.objects.create(mpn_id="9900101", name="Bench partner", kind="direct_bill")
    user = get_user_model().objects.create_user(username="bench-admin", password="bench-password-123")
    Membership.objects.create(user=user, partner=partner, roles=["global_admin"])
    others = Customer.objects.bulk_create(
        [Customer(name=f"Bench customer {i:03d}", domain=f"c{i}.bench.example", country="US") for i in range(50)]
    )
    customer = Customer.objects.create(name="Bench cart customer", domain="cart.bench.example", country="US")
    CustomerRelationship.objects.bulk_create(
        [CustomerRelationship(customer=c, partner=partner) for c in [*others, customer]]
    )
    return partner, user, customer


def build_tenant_licenses(customer, skus, license_count):
    # The tenant has base SKUs of every product but the first 30's 1st SKU (the prerequisite
    # of their add-on): some cart add-ons have their base in the tenant, some do not.
    licensed = [
        sku for i, sku in enumerate(skus)
        if not sku.is_addon and not (i % SKUS_PER_PRODUCT == 0 and i < 30 * SKUS_PER_PRODUCT)
    ][:license_count]
    TenantLicense.objects.bulk_create(
        [TenantLicense(customer=customer, sku=sku, channel="web_direct", quantity=10) for sku in licensed],
        batch_size=BATCH,
    )


def build_live_subscriptions(partner, customer, skus, today, now):
    """Some live subscriptions of the customer (the per-customer limit counts them)."""
    Subscription.objects.bulk_create(
        [
            Subscription(customer=customer, partner=partner, sku=skus[i * SKUS_PER_PRODUCT + 1], quantity=5,
                         term_duration="P1Y", billing_cycle="monthly", start_date=today,
                         commitment_end_date=today + dt.timedelta(days=364), purchased_at=now, term_started_at=now)
            for i in range(50)
        ]
    )


def build_cart(partner, customer, user, skus, cart_lines, today, now):
    cart = Cart.objects.create(partner=partner, customer=customer, created_by=user,
                               expires_at=now + dt.timedelta(days=7))
    availabilities = {a.sku_id: a for a in Availability.objects.filter(sku__in=skus[: cart_lines * 3])}
    lines = []
    for n in range(cart_lines):
        # Bases, limited SKUs and add-ons, with and without their prerequisite in the tenant;
        # every tenth line on a custom term end date (coterminosity check).
        sku = skus[(n * 7) % (cart_lines * 3)]
        lines.append(
            CartLine(cart=cart, line_number=n + 1, availability=availabilities[sku.pk], quantity=1 + n % 5,
                     term_duration="P1Y", billing_cycle="monthly",
                     custom_term_end_date=today + dt.timedelta(days=200) if n % 10 == 9 else None)
        )
    CartLine.objects.bulk_create(lines)
    return cart


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def statements(captured):
    """The SQL statements of a capture, less transaction control (SQLite's BEGIN IMMEDIATE,
    the COMMIT of ``bulk_update``'s atomic block): those are not queries for data."""
    return [q for q in captured.captured_queries if not q["sql"].lstrip().upper().startswith(TRANSACTION_CONTROL)]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(call, runs, warmups=3):
    """``call`` ``warmups`` times, then ``runs`` times timed; then once more to count its
    queries. Returns (median ms, p95 ms, queries, last result)."""
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


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--licenses", type=int, default=5_000)
    parser.add_argument("--lines", type=int, default=100)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--show-queries", action="store_true", help="print the SQL of each measured request")
    parser.add_argument("--reuse", action="store_true", help="measure the data of the previous run, built again only when missing")
    return parser.parse_args()


def prepare_data(args):
    """The user and the cart to measure with: the previous run's with ``--reuse`` (when there
    is one), otherwise built on an emptied database. Prints what the data is."""
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    if args.reuse and Cart.objects.filter(created_by__username="bench-admin").exists():
        cart = Cart.objects.get(created_by__username="bench-admin")
        user = cart.created_by
    else:
        fresh_database()
        with transaction.atomic():
            user, cart = build(args.skus, args.licenses, args.lines)
        with connection.cursor() as cursor:
            # Planner statistics (and on PostgreSQL the visibility map) as a live database has
            # them from autovacuum, rather than those of tables just bulk-loaded.
            cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    print(f"data: {Sku.objects.count():,} SKUs, {PriceListEntry.objects.count():,} price rows, "
          f"{TenantLicense.objects.count():,} tenant licenses, {cart.lines.count()} cart lines "
          f"(built in {time.perf_counter() - started:.1f} s)")
    return user, cart


def measure_catalog(user, args):
    """The catalog page's cases: median, p95 and queries of each, against the target."""
    client = Client()
    client.force_login(user)
    htmx = {"HX-Request": "true"}
    cases = [
        ("results partial, unfiltered", "/catalog/?market=US", htmx, 25),
        ("results partial, add-ons", "/catalog/?market=US&product_type=addons", htmx, 25),
        ("results partial, search 'Teams'", "/catalog/?market=US&q=Teams", htmx, 25),
        # Not a target: shows that the query count does not grow with the page number.
        ("results partial, last page (no target)", f"/catalog/?market=US&page={args.skus // 25}", htmx, 25),
        ("full page, unfiltered", "/catalog/?market=US", {}, 25),
        ("full page, add-ons", "/catalog/?market=US&product_type=addons", {}, 25),
        ("full page, search 'Teams'", "/catalog/?market=US&q=Teams", {}, 25),
    ]
    print(f"\ncatalog ({args.runs} runs after 3 warm-ups; target: median <= 50 ms, a constant query count)")
    print(f"{'request':42} {'median':>9} {'p95':>9} {'queries':>8}")
    for label, url, headers, rows in cases:
        median, p95, queries, response, captured = measure(lambda: client.get(url, headers=headers), args.runs)
        assert response.status_code == 200, (url, response.status_code)
        found = response.content.count(b'data-testid="catalog-row"')
        assert found == rows, (url, found)
        verdict = "" if "no target" in label else "pass" if median <= 50 else "FAIL"
        print(f"{label:42} {median:7.1f}ms {p95:7.1f}ms {queries:8d}  {verdict}")
        if args.show_queries:
            for q in captured.captured_queries:
                print(f"    {q['time']}s {q['sql'][:300]}")


def measure_cart_validate(cart, args):
    """``cart_validate`` on the cart, 3 warm-ups then ``args.runs`` timed runs: statements
    (less the cart's fetch; transaction control apart) and time, against the target."""

    def validate():
        # Every run starts from lines without errors, so each one also writes them back.
        CartLine.objects.filter(cart=cart).update(error_code=None, error_description="")
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            cart_validate(cart=Cart.objects.select_related("partner", "customer").get(pk=cart.pk))
        return (time.perf_counter() - started) * 1000, captured

    for _ in range(3):
        validate()
    timings, counts, control = [], set(), set()
    for _ in range(args.runs):
        ms, captured = validate()
        timings.append(ms)
        counts.add(len(statements(captured)) - 1)  # less the fetch of the cart itself
        control.add(len(captured) - len(statements(captured)))
    errors = CartLine.objects.filter(cart=cart, error_code__isnull=False).count()
    print(f"\ncart_validate: {args.lines} lines, {TenantLicense.objects.filter(customer=cart.customer).count():,} "
          f"tenant licenses, {errors} lines with an error (target: at most 5 queries)")
    print(f"queries {sorted(counts)} (+ {sorted(control)} transaction control), median {statistics.median(timings):.1f} ms, "
          f"p95 {percentile(timings, 0.95):.1f} ms  {'pass' if max(counts) <= 5 else 'FAIL'}")
    if args.show_queries:
        for q in captured.captured_queries:
            print(f"    {q['time']}s {q['sql'][:300]}")


def main():
    args = parse_args()
    check_database_name()
    user, cart = prepare_data(args)
    measure_catalog(user, args)
    measure_cart_validate(cart, args)


if __name__ == "__main__":
    main()
