"""Benchmark of the dashboard (issue 13 §1): ``/`` for a global admin of the partner of
``bench/subscriptions.py`` (100,000 subscriptions across 5,000 customers). Target: the
dashboard rendered in 60 ms or less (median, server side), with a query count that does not
depend on the data.

Builds (or, with ``--reuse``, reuses) the data exactly as ``bench/subscriptions.py`` does, in
the same database (default: the SQLite file /tmp/portal_bench_subs.sqlite3; on PostgreSQL a
database of its own whose name contains "bench"), then adds what the subscriptions bench lacks
so every item of the to-do list has rows to find: 200 subscriptions whose 168-hour window
closes within a day, 200 overage-capable customers with overage off, auto-recharge on and
blocked calls this month and last, and 50 open removal requests. Half the subscriptions end
within a year with auto-renew off and every fifth is an add-on ending after its base, so those
lists are long already.

Measures in process with Django's test ``Client`` logged in: each request 3 times to warm up,
then ``--runs`` times (default 30): median and p95 in ms and the queries of one request (the
middleware's session, user and membership lookups included). In the same run, as a yardstick
of the machine's speed at that moment, a bare Django view (``HttpResponse("ok")`` behind the
same middleware and login), and the ratio of the two medians.

    .venv/bin/python bench/dashboard.py [--reuse]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_subs .venv/bin/python bench/dashboard.py
"""

import argparse
import datetime as dt
import importlib.util
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

# The subscriptions bench sets the environment up and calls django.setup(); its data builder,
# its database guard and its timing helpers are this bench's too.
_spec = importlib.util.spec_from_file_location("bench_subscriptions", Path(__file__).with_name("subscriptions.py"))
subs_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(subs_bench)

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.utils import timezone  # noqa: E402

from billing.models import (  # noqa: E402
    BillingMonth,
    CreditAccount,
    RatedCall,
    RatingRun,
    UsageRecord,
)
from catalog.models import Availability, Product, Sku  # noqa: E402
from portal.models import Customer, CustomerRelationship, Partner  # noqa: E402
from portal.views import partner_required  # noqa: E402
from subscriptions.models import (  # noqa: E402
    AddonRemovalRequest,
    ChargeEvent,
    SeatChange,
    Subscription,
)
from subscriptions.periods import add_months  # noqa: E402

EXTRA_ROWS = 200
TARGET_MS = 60


@partner_required
def yardstick(request):
    """The bare view: the same middleware and login as the dashboard, no query of its own."""
    return HttpResponse("ok")


# This module is the URLconf of the measured requests: the portal's own, plus the yardstick.
urlpatterns = [
    path("bench-yardstick/", yardstick),
    path("", include(settings.ROOT_URLCONF)),
]


def cpu_median(call, runs):
    """The median CPU time of this process for ``call``, in ms: what the machine's load does
    not inflate (a request waiting for a core counts in the wall time only). On SQLite it
    includes the SQL; on PostgreSQL the server's share is not in it."""
    timings = []
    for _ in range(runs):
        started = time.process_time()
        call()
        timings.append((time.process_time() - started) * 1000)
    return statistics.median(timings)


def load_average():
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def add_attention_rows(partner):
    """What ``bench/subscriptions.py`` has none of: closing windows, overage-capable customers
    with overage off, auto-recharge and blocked calls, open removal requests."""
    now = timezone.now()
    today = timezone.localdate()
    product = Product.objects.create(id="BSOVERAGE01", title="Bench calling plan", product_type="OnlineServicesNCE",
                                     segments=["commercial"])
    sku = Sku.objects.create(product=product, sku_id="0001", title="Bench calling plan", consumption_type="overage",
                             supported_terms=["P1Y"], supported_billing_cycles=["monthly"])
    availability = Availability.objects.create(sku=sku, availability_id="CFQ7TTC0B001", terms=[])
    customers = Customer.objects.bulk_create(
        [Customer(name=f"Bench overage customer {i:04d}", domain=f"o{i}.bench.example", country="US")
         for i in range(EXTRA_ROWS)]
    )
    customers = list(Customer.objects.filter(domain__endswith=".bench.example", name__startswith="Bench overage"))
    CustomerRelationship.objects.bulk_create([CustomerRelationship(customer=c, partner=partner) for c in customers])
    bought = now - dt.timedelta(hours=168 - 6)  # windows closing in 6 hours
    capable = Subscription.objects.bulk_create(
        [Subscription(customer=c, partner=partner, sku=sku, availability=availability, quantity=5, term_duration="P1Y",
                      billing_cycle="monthly", start_date=today, commitment_end_date=today + dt.timedelta(days=364),
                      consumption_type="overage", unit_price=Decimal("8.000000"), currency="USD",
                      purchased_at=bought, term_started_at=bought)
         for c in customers]
    )
    SeatChange.objects.bulk_create(
        [SeatChange(subscription=s, kind="purchase", delta=5, quantity_after=5, occurred_at=bought,
                    refundable_until=bought + dt.timedelta(hours=168)) for s in capable]
    )
    CreditAccount.objects.bulk_create(
        [CreditAccount(customer=c, currency="USD", auto_recharge=True, threshold=Decimal("20"),
                       recharge_amount=Decimal("100")) for c in customers]
    )
    this_month = today.replace(day=1)
    for month in (this_month, add_months(this_month, -1)):
        billing_month = BillingMonth.objects.create(month=month)
        run = RatingRun.objects.create(billing_month=billing_month, status="done")
        billing_month.published_run = run
        billing_month.save(update_fields=["published_run"])
        started = dt.datetime.combine(month, dt.time(9), tzinfo=dt.UTC)
        records = UsageRecord.objects.bulk_create(
            [UsageRecord(record_id=f"bench-{month:%Y%m}-{c.pk}-{n}", customer=c, user="u@bench.example",
                         started_at=started, duration_seconds=300, call_type="domestic", destination_country="US",
                         number_type="landline")
             for c in customers for n in range(5)]
        )
        RatedCall.objects.bulk_create(
            [RatedCall(usage_record=r, run=run, billing_month=billing_month, minutes=5, pool_minutes=0,
                       billable_minutes=5, blocked_minutes=5, currency="USD", status="blocked") for r in records]
        )
    redundant = Subscription.objects.filter(partner=partner, sku__is_addon=True).order_by("pk")[:50]
    AddonRemovalRequest.objects.bulk_create(
        [AddonRemovalRequest(subscription=s, upgraded_subscription=s, deadline=today + dt.timedelta(days=30 + n))
         for n, s in enumerate(redundant)]
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--reuse", action="store_true", help="measure on the data of a previous run of this bench")
    parser.add_argument("--show-queries", action="store_true", help="print the SQL of the dashboard request")
    args = parser.parse_args()

    subs_bench.check_database_name()
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.filter(username=subs_bench.USERNAME).first()
    reusable = user and not ChargeEvent.objects.exists() and AddonRemovalRequest.objects.exists()
    if not (args.reuse and reusable):
        subs_bench.fresh_database()
        with transaction.atomic():
            user = subs_bench.build(args.subscriptions, args.customers)
            add_attention_rows(Partner.objects.get(memberships__user=user))
        subs_bench.refresh_statistics()
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    print(f"data: {Subscription.objects.count():,} subscriptions, {Customer.objects.count():,} customers, "
          f"{RatedCall.objects.count():,} rated calls (ready in {time.perf_counter() - started:.1f} s)")

    client = Client()
    client.force_login(user)
    load_before = load_average()
    with override_settings(ROOT_URLCONF=__name__):
        bare_median, bare_p95, bare_queries, response, _ = subs_bench.measure(
            lambda: client.get("/bench-yardstick/"), args.runs)
        assert response.status_code == 200
        median, p95, queries, response, captured = subs_bench.measure(lambda: client.get("/"), args.runs)
        assert response.status_code == 200
        bare_cpu = cpu_median(lambda: client.get("/bench-yardstick/"), args.runs)
        cpu = cpu_median(lambda: client.get("/"), args.runs)
    items = response.content.count(b'data-testid="todo-item"')
    kinds = sorted({part.split(b'"')[0].decode() for part in response.content.split(b'data-kind="')[1:]})
    print(f"\ndashboard ({args.runs} runs after 3 warm-ups; target: median <= {TARGET_MS} ms; "
          f"load average {load_before} before, {load_average()} after)")
    print(f"{'request':28} {'median':>9} {'p95':>9} {'queries':>8} {'cpu median':>11}")
    print(f"{'yardstick (bare view)':28} {bare_median:7.1f}ms {bare_p95:7.1f}ms {bare_queries:8d} {bare_cpu:9.1f}ms")
    verdict = "pass" if median <= TARGET_MS else "FAIL"
    print(f"{'dashboard /':28} {median:7.1f}ms {p95:7.1f}ms {queries:8d} {cpu:9.1f}ms  {verdict}")
    print(f"ratio dashboard / yardstick: {median / bare_median:.1f}x; {items} items of kinds {', '.join(kinds)}")
    print("cpu: this process's CPU time (SQLite: with the SQL; PostgreSQL: without the server's)")
    if args.show_queries:
        for q in subs_bench.statements(captured):
            print(f"    {q['time']}s {q['sql'][:300]}")


if __name__ == "__main__":
    sys.exit(main())
