"""Benchmark of rating a month (issues 6 and 10): 1,000,000 calls across 10,000 customers,
measured beside the yardsticks of issue 10 in the same run.

Each customer has a telco license (a pooled domestic allowance), a third have communication
credits (some with auto-recharge), half have overage assigned to an Azure subscription, and the
calls mix domestic, international, toll-free and conference dial-out to 12 countries, so every
branch of the rating runs. Run it on a database of its own:

    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE portal_bench_rating'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_rating .venv/bin/python bench/rating.py

Without DATABASE_URL it uses a fresh SQLite file under /tmp. It migrates the database and loads
the data once (reused on later runs of the same database: drop it to measure the import again).
The calls are written to a CSV and imported with the usage import service, timed (records per
second). Then it rates the month twice (the second run is the re-rating of a draft month),
prints the seconds and the peak memory of the rating process, and streams the month's
reconciliation CSV of the partner, timed. Flags: ``--calls`` (default 1,000,000),
``--customers`` (default 10,000).

Yardsticks (PostgreSQL only, same database, same calls, same run): a plain ``COPY`` of the
calls' CSV into a new table with the usage table's indexes (against the import's
throughput), and one plain SQL statement that joins each call to its rate by effective date
and computes each customer's running minutes with a window function, writing every row into
a new table (against rating and re-rating). The ratios are printed last. The calls CSV is
kept under /tmp (``portal_bench_calls_<calls>.csv``) so the COPY has the same file on later
runs; ``--reload`` empties the usage and rating tables and imports it again; ``--import-only``
stops after the import and its yardstick. ``bench/usage_import.py`` and ``bench/reconciliation.py``
measure the import and the file on their own, with more options.
"""

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = "sqlite:////tmp/portal_bench_rating.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from billing.models import CreditAccount, CreditLedgerEntry, Rate, RatedCall, UsageRecord  # noqa: E402
from billing.services.rating import rate_month  # noqa: E402
from billing.reconciliation_selectors import reconciliation_csv# noqa: E402
from billing.services.usage_import import usage_import_file  # noqa: E402
from billing.services.usage_parse import COLUMNS, file_chunks  # noqa: E402
from catalog.models import Product, Sku, TenantLicense  # noqa: E402
from overage.models import AzurePlan, AzureSubscription, OverageAssignment  # noqa: E402
from portal.models import Customer, CustomerRelationship, Partner  # noqa: E402

MONTH = date(2026, 9, 1)
COUNTRIES = ["US", "CA", "GB", "IT", "DE", "FR", "ES", "IN", "AU", "JP", "BR", "MX"]
CALL_TYPES = ["domestic"] * 6 + ["international"] * 2 + ["tollfree_inbound", "conference_dialout"]


def load(calls, customers):
    if UsageRecord.objects.filter(record_id__startswith="bench-").exists():
        print("data already loaded")
        return
    rng = random.Random(7)
    partner, _ = Partner.objects.get_or_create(mpn_id="9900001", defaults={"name": "Bench partner", "kind": "direct_bill"})
    product, _ = Product.objects.get_or_create(id="BENCHTELCO01", defaults={"title": "Bench telco", "product_type": "OnlineServicesNCE"})
    sku, _ = Sku.objects.get_or_create(product=product, sku_id="0001", defaults={
        "title": "Bench calling plan", "consumption_type": "overage", "included_minutes_domestic": 300,
        "included_minutes_conferencing": 60, "supported_terms": ["P1Y"], "supported_billing_cycles": ["monthly"]})
    rates = []
    for country in COUNTRIES:
        for number_type, price in (("landline", "0.021"), ("mobile", "0.094"), ("tollfree", "0.035")):
            for currency in ("USD", "EUR", "GBP"):
                rates.append(Rate(destination_country=country, number_type=number_type, currency=currency,
                                  unit_price=Decimal(price), erp_price=Decimal(price), effective_from=date(2025, 1, 1)))
    Rate.objects.bulk_create(rates, ignore_conflicts=True)
    objs = Customer.objects.bulk_create(
        [Customer(name=f"Bench {i:05d}", domain=f"bench{i}.example", country=rng.choice(["US", "GB", "IT"]))
         for i in range(customers)], batch_size=2000)
    objs = list(Customer.objects.filter(name__startswith="Bench ").order_by("pk"))
    CustomerRelationship.objects.bulk_create([CustomerRelationship(customer=c, partner=partner) for c in objs], batch_size=2000)
    TenantLicense.objects.bulk_create([TenantLicense(customer=c, sku=sku, channel="csp_nce", source_partner=partner,
                                                     quantity=rng.randint(1, 5)) for c in objs], batch_size=2000)
    # Held since before the month (provisioned_at is auto_now_add): the pools count them.
    TenantLicense.objects.filter(sku=sku).update(provisioned_at=datetime(2026, 8, 1, tzinfo=UTC))
    start = datetime(2026, 8, 1, tzinfo=UTC)
    with_overage = objs[: customers // 2]
    plans = AzurePlan.objects.bulk_create([AzurePlan(customer=c, partner=partner) for c in with_overage], batch_size=2000)
    plans = list(AzurePlan.objects.filter(customer__in=with_overage).order_by("pk"))
    subs = AzureSubscription.objects.bulk_create(
        [AzureSubscription(plan=p, partner=partner, number=1, friendly_name="Subscription 1") for p in plans], batch_size=2000)
    subs = {s.plan.customer_id: s for s in AzureSubscription.objects.filter(plan__in=plans).select_related("plan")}
    OverageAssignment.objects.bulk_create(
        [OverageAssignment(customer_id=cid, partner=partner, azure_subscription=s, started_at=start)
         for cid, s in subs.items()], batch_size=2000)
    with_credits = objs[:: 3]
    accounts = CreditAccount.objects.bulk_create(
        [CreditAccount(customer=c, currency="USD", auto_recharge=(i % 2 == 0), threshold=Decimal("5"),
                       recharge_amount=Decimal("20")) for i, c in enumerate(with_credits)], batch_size=2000)
    accounts = list(CreditAccount.objects.filter(customer__in=with_credits))
    CreditLedgerEntry.objects.bulk_create(
        [CreditLedgerEntry(account=a, kind="purchase", amount=Decimal("10"), occurred_at=start) for a in accounts],
        batch_size=2000)
    write_calls(objs, calls, rng)
    import_calls(calls)


def calls_path(calls):
    return Path(tempfile.gettempdir()) / f"portal_bench_calls_{calls}.csv"


def write_calls(customers, calls, rng):
    """The carrier's CSV of the month's calls (kept: the COPY yardstick reads the same file)."""
    month_start = datetime(2026, 9, 1, tzinfo=UTC)
    per_customer = calls // len(customers)
    n = 0
    with open(calls_path(calls), "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for c in customers:
            for k in range(per_customer):
                call_type = rng.choice(CALL_TYPES)
                started = month_start + timedelta(seconds=rng.randrange(30 * 86400))
                writer.writerow([
                    f"bench-{n}", c.tenant_id, f"u{k % 20}@{c.domain}", started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    rng.randint(20, 1800), call_type,
                    c.country if call_type == "domestic" else rng.choice(COUNTRIES),
                    "tollfree" if call_type == "tollfree_inbound" else rng.choice(["landline", "mobile"]),
                ])
                n += 1


def import_calls(calls):
    """The calls go through the import service (the upload page, import_usage and the API use
    it): its speed is the first figure of this bench."""
    started = time.perf_counter()
    with open(calls_path(calls), "rb") as fileobj:
        result = usage_import_file(fileobj_chunks=file_chunks(fileobj), file_name="calls.csv")
    seconds = time.perf_counter() - started
    rate = result.imported_rows / seconds
    print(f"import: {result.imported_rows:,} calls in {seconds:.1f} s ({rate:,.0f} records/s, status {result.status})")
    IMPORT_FIGURE.write_text(str(rate))


IMPORT_FIGURE = Path(tempfile.gettempdir()) / "portal_bench_import_rate.txt"


def reload_calls(calls):
    """Empty the month's usage and rating rows, then import the kept CSV again."""
    with connection.cursor() as cursor:
        tables = ["billing_ratedcall", "billing_stagedcreditentry", "billing_ratingchunk"]
        if connection.vendor == "postgresql":
            cursor.execute("UPDATE billing_billingmonth SET published_run_id = NULL")
            cursor.execute(f"TRUNCATE {', '.join(tables)}, billing_usagerecord")
        else:
            cursor.execute("UPDATE billing_billingmonth SET published_run_id = NULL")
            for table in [*tables, "billing_usagerecord"]:
                cursor.execute(f"DELETE FROM {table}")
    CreditLedgerEntry.objects.exclude(billing_month=None).delete()
    import_calls(calls)


def plain_copy(calls):
    """Yardstick: COPY the same CSV into a new table with the usage table's indexes."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_plain_copy")
        cursor.execute(
            "CREATE TABLE bench_plain_copy (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
            "record_id varchar(100) NOT NULL UNIQUE, tenant_id uuid NOT NULL, \"user\" varchar(254) NOT NULL, "
            "start_time timestamptz NOT NULL, duration_seconds integer NOT NULL, call_type varchar(20) NOT NULL, "
            "destination_country varchar(2) NOT NULL, number_type varchar(10) NOT NULL)"
        )
        cursor.execute("CREATE INDEX ON bench_plain_copy (tenant_id, start_time)")
        started = time.perf_counter()
        with open(calls_path(calls), "rb") as fileobj, cursor.cursor.copy(
            "COPY bench_plain_copy (record_id, tenant_id, \"user\", start_time, duration_seconds, call_type, "
            "destination_country, number_type) FROM STDIN WITH (FORMAT csv, HEADER true)"
        ) as copy:
            while block := fileobj.read(1 << 20):
                copy.write(block)
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_plain_copy")
    return seconds


PLAIN_PASS = """
CREATE TABLE bench_plain_pass AS
SELECT u.id, r.id AS rate_id, r.unit_price,
       SUM((u.duration_seconds + 59) / 60) OVER (
           PARTITION BY u.customer_id ORDER BY u.started_at, u.record_id) AS running_minutes
FROM billing_usagerecord u
JOIN portal_customer c ON c.id = u.customer_id
LEFT JOIN billing_rate r ON r.destination_country = u.destination_country AND r.number_type = u.number_type
    AND r.currency = CASE c.country WHEN 'GB' THEN 'GBP' WHEN 'IT' THEN 'EUR' ELSE 'USD' END
    AND r.effective_from <= (u.started_at AT TIME ZONE 'UTC')::date
    AND (r.effective_to IS NULL OR (u.started_at AT TIME ZONE 'UTC')::date < r.effective_to)
WHERE u.started_at >= %s AND u.started_at < %s
"""


def plain_sql_pass():
    """Yardstick: join each call to its rate, running minutes per customer by window
    function, every row written into a new table; (seconds, rows)."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_plain_pass")
        started = time.perf_counter()
        cursor.execute(PLAIN_PASS, [datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)])
        rows = cursor.rowcount
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_plain_pass")
    return seconds, rows


def stream_reconciliation(partner):
    """The month's reconciliation file of the partner, streamed into nothing: (seconds, lines, bytes)."""
    started = time.perf_counter()
    lines = size = 0
    for chunk in reconciliation_csv(partner=partner, month=MONTH):
        lines += chunk.count("\n")
        size += len(chunk.encode())
    return time.perf_counter() - started, lines, size


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--reload", action="store_true", help="import the kept calls CSV again (timed)")
    parser.add_argument("--import-only", action="store_true", help="stop after the import and its yardstick")
    parser.add_argument("--load-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_only:
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        if args.reload and UsageRecord.objects.filter(record_id__startswith="bench-").exists():
            reload_calls(args.calls)
        else:
            load(args.calls, args.customers)
        print(f"load: {time.perf_counter() - started:.1f} s")
        return
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    IMPORT_FIGURE.unlink(missing_ok=True)
    # The data is loaded by a child process, so the peak memory below is the rating's own.
    subprocess.run([sys.executable, __file__, "--load-only", "--calls", str(args.calls),
                    "--customers", str(args.customers), *(["--reload"] if args.reload else [])], check=True)
    postgres = connection.vendor == "postgresql"
    if postgres and IMPORT_FIGURE.exists():
        seconds = plain_copy(args.calls)
        copy_rate = args.calls / seconds
        import_rate = float(IMPORT_FIGURE.read_text())
        print(f"yardstick, plain COPY of the same CSV into a table with the usage indexes: {seconds:.1f} s "
              f"({copy_rate:,.0f} rows/s)")
        print(f"RATIO import / plain COPY throughput: {import_rate / copy_rate:.2f} (target at least 0.70)")
    if args.import_only:
        return
    timings = []
    for attempt in ("rate", "re-rate"):
        started = time.perf_counter()
        run = rate_month(month=MONTH)
        seconds = time.perf_counter() - started
        timings.append(seconds)
        print(f"{attempt}: {run.processed_records:,} calls in {seconds:.1f} s ({run.processed_records / seconds:,.0f} "
              f"calls/s, {run.total_chunks} chunks)")
    print(f"rated calls: {RatedCall.objects.billed_in(MONTH).count():,}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS of the rating process): {peak:.0f} MB")
    if postgres:
        seconds, rows = plain_sql_pass()
        print(f"yardstick, plain SQL pass (rate join + running minutes window, {rows:,} rows into a new table): "
              f"{seconds:.1f} s")
        for attempt, timing in zip(("rate", "re-rate"), timings):
            print(f"RATIO {attempt} / plain SQL pass: {timing / seconds:.2f} (target at most 2.0)")
    seconds, lines, size = stream_reconciliation(Partner.objects.get(mpn_id="9900001"))
    print(f"reconciliation CSV of the month: {lines:,} lines, {size / 1e6:.1f} MB in {seconds:.1f} s")


if __name__ == "__main__":
    main()
