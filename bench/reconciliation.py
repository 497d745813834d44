"""Benchmark of the reconciliation file (issue 6): a month of N rated calls across M customers
(post-paid overage of one partner), streamed as CSV to /dev/null. Target: 30 s or less for
1,000,000 calls across 10,000 customers.

Run it on PostgreSQL, on a database of its own:

    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE portal_bench_recon'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_recon .venv/bin/python bench/reconciliation.py

(SQLite works too: ``DATABASE_URL=sqlite:////tmp/bench_recon.sqlite3``.) The script migrates
that database, builds the data with ``bulk_create`` once (a partner with MPN 9900001, its
customers, their Azure plans and subscriptions, the usage records and rated calls of
2026-10) and reuses it on later runs; ``--rebuild`` is not offered: drop the database instead.
Flags: ``--calls`` (default 1,000,000), ``--customers`` (default 10,000). Prints the seconds
taken to stream the CSV, its lines and bytes.
"""

import argparse
import datetime as dt
import os
import random
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from billing.models import BillingMonth, RatedCall, RatedCallStatus, UsageRecord  # noqa: E402
from billing.reconciliation_selectors import reconciliation_csv# noqa: E402
from overage.models import AzurePlan, AzureSubscription  # noqa: E402
from portal.models import Customer, CustomerRelationship, Partner, PartnerKind  # noqa: E402

MPN = "9900001"
MONTH = dt.date(2026, 10, 1)
METERS = [
    ("US", "landline", Decimal("0.013700")),
    ("US", "mobile", Decimal("0.021000")),
    ("GB", "landline", Decimal("0.024000")),
    ("GB", "mobile", Decimal("0.180000")),
    ("DE", "mobile", Decimal("0.190000")),
    ("FR", "landline", Decimal("0.026000")),
]
BATCH = 10_000


def build(calls, customers):
    """The partner, ``customers`` customers with an Azure subscription each, and ``calls``
    post-paid rated calls of October 2026 spread over them and over the meters."""
    partner = Partner.objects.create(mpn_id=MPN, name="Bench Partner", kind=PartnerKind.DIRECT_BILL)
    month, _ = BillingMonth.objects.get_or_create(month=MONTH)
    Customer.objects.bulk_create(
        [Customer(name=f"Bench Customer {n:05d}", domain=f"c{n}.bench-recon.example", country="US") for n in range(customers)],
        batch_size=BATCH,
    )
    people = list(Customer.objects.filter(domain__endswith=".bench-recon.example").order_by("pk"))
    CustomerRelationship.objects.bulk_create([CustomerRelationship(customer=c, partner=partner) for c in people], batch_size=BATCH)
    AzurePlan.objects.bulk_create([AzurePlan(customer=c, partner=partner) for c in people], batch_size=BATCH)
    plans = dict(AzurePlan.objects.filter(partner=partner).values_list("customer_id", "pk"))
    azure = [AzureSubscription(id=uuid.uuid4(), plan_id=plans[c.pk], partner=partner, number=1, friendly_name="Subscription 1") for c in people]
    AzureSubscription.objects.bulk_create(azure, batch_size=BATCH)
    azure_of = {c.pk: a.pk for c, a in zip(people, azure, strict=True)}

    rng = random.Random(6)
    start = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    made = 0
    while made < calls:
        size = min(BATCH, calls - made)
        records, meters = [], []
        for n in range(made, made + size):
            customer = people[n % len(people)]
            country, number_type, price = METERS[rng.randrange(len(METERS))]
            minutes = rng.randint(1, 30)
            records.append(
                UsageRecord(
                    record_id=f"bench-recon-{n:09d}", customer_id=customer.pk, user=f"u@{customer.domain}",
                    started_at=start + dt.timedelta(seconds=rng.randrange(31 * 86400)),
                    duration_seconds=minutes * 60 - rng.randrange(60), call_type="domestic",
                    destination_country=country, number_type=number_type,
                )
            )
            meters.append((customer.pk, minutes, price))
        with transaction.atomic():
            UsageRecord.objects.bulk_create(records)
            RatedCall.objects.bulk_create(
                [
                    RatedCall(
                        usage_record_id=record.pk, billing_month=month, minutes=minutes, pool_minutes=0,
                        billable_minutes=minutes, postpaid_minutes=minutes, unit_price=price,
                        amount=price * minutes, postpaid_amount=price * minutes, currency="USD",
                        azure_subscription_id=azure_of[customer_id], partner=partner, status=RatedCallStatus.POSTPAID,
                    )
                    for record, (customer_id, minutes, price) in zip(records, meters, strict=True)
                ]
            )
        made += size
        print(f"  built {made:,} calls", end="\r", flush=True)
    print()
    return partner


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    partner = Partner.objects.filter(mpn_id=MPN).first()
    if partner is None:
        print(f"Building {args.calls:,} rated calls across {args.customers:,} customers on {connection.vendor}…")
        began = time.perf_counter()
        partner = build(args.calls, args.customers)
        print(f"Built in {time.perf_counter() - began:.1f} s")
    calls = RatedCall.objects.filter(partner=partner, billing_month__month=MONTH).count()

    began = time.perf_counter()
    lines = size = 0
    with open(os.devnull, "w", encoding="utf-8") as sink:
        for chunk in reconciliation_csv(partner=partner, month=MONTH):
            sink.write(chunk)
            lines += chunk.count("\n")
            size += len(chunk.encode())
    seconds = time.perf_counter() - began
    print(
        f"Reconciliation CSV of {calls:,} calls on {connection.vendor}: {seconds:.2f} s "
        f"({lines - 1:,} lines, {size / 1e6:.1f} MB)"
    )


if __name__ == "__main__":
    main()
