"""Benchmark of call-usage ingestion (issue 6): N records across M customers, imported from
a temporary CSV with ``billing.services.usage_import.usage_import_file`` on the configured database.

Run it on PostgreSQL (the target: 50,000 records/second or more), on a database of its own:

    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE portal_bench'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench .venv/bin/python bench/usage_import.py

The script migrates that database itself (it refuses one whose name does not contain "bench"),
creates the customers it needs (once; reused on later runs), empties the usage records so
every run imports into the same empty table (``--keep-records`` imports on top of the previous
runs' records instead) and gives its records ids unique to the run. Flags: ``--records``
(default 1,000,000), ``--customers`` (default 10,000), ``--reimport`` (also time re-sending the
same file, every record a duplicate), ``--writers`` (PostgreSQL writer threads). Prints
records/second and peak memory.
"""

import argparse
import csv
import datetime as dt
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from billing.services.usage_import import usage_import_file  # noqa: E402
from billing.services.usage_parse import COLUMNS, file_chunks  # noqa: E402
from billing.usage_selectors import usage_import_error_rows  # noqa: E402
from billing.models import RatedCall, UsageRecord  # noqa: E402
from portal.models import Customer  # noqa: E402

CALLS = [("domestic", "landline"), ("domestic", "mobile"), ("international", "mobile"),
         ("tollfree_inbound", "tollfree"), ("conference_dialout", "landline")]
COUNTRIES = ["US", "GB", "IT", "DE", "FR"]


def ensure_customers(count):
    existing = list(Customer.objects.filter(domain__endswith=".bench.example").values_list("tenant_id", flat=True)[:count])
    missing = count - len(existing)
    if missing > 0:
        start = len(existing)
        Customer.objects.bulk_create(
            [Customer(name=f"Bench customer {i}", domain=f"c{i}.bench.example", country="US") for i in range(start, count)],
            batch_size=2000,
        )
        existing = list(Customer.objects.filter(domain__endswith=".bench.example").values_list("tenant_id", flat=True)[:count])
    return [str(t) for t in existing]


def empty_usage_tables():
    tables = [connection.ops.quote_name(model._meta.db_table) for model in (RatedCall, UsageRecord)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")


def write_csv(path, records, tenants, run_id):
    rng = random.Random(42)
    start = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for i in range(records):
            call_type, number_type = CALLS[i % len(CALLS)]
            tenant = tenants[i % len(tenants)]
            when = start + dt.timedelta(seconds=i * 2)
            writer.writerow([f"{run_id}-{i:08d}", tenant, f"user{i % 50}@bench.example",
                             when.strftime("%Y-%m-%dT%H:%M:%SZ"), rng.randint(0, 3600),
                             call_type, COUNTRIES[i % len(COUNTRIES)], number_type])


def timed_import(path):
    started = time.perf_counter()
    with open(path, "rb") as fileobj:
        result = usage_import_file(fileobj_chunks=file_chunks(fileobj), file_name=os.path.basename(path))
    return result, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--reimport", action="store_true")
    parser.add_argument("--keep-records", action="store_true", help="import on top of earlier runs' records")
    parser.add_argument("--writers", type=int, default=None,
                        help="PostgreSQL writer threads (settings.USAGE_IMPORT_WRITERS; 0 = write in line)")
    args = parser.parse_args()
    if args.writers is not None:
        settings.USAGE_IMPORT_WRITERS = args.writers

    name = str(connection.settings_dict["NAME"])
    if "bench" not in name:
        sys.exit(f"refusing to use {name!r}: the bench empties its usage records; give it a database of its own "
                 "(its name containing 'bench')")
    call_command("migrate", verbosity=0)
    if not args.keep_records:
        empty_usage_tables()
    existing = UsageRecord.objects.count()
    tenants = ensure_customers(args.customers)
    run_id = uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "usage.csv")
        write_csv(path, args.records, tenants, run_id)
        size_mb = os.path.getsize(path) / 1e6
        result, seconds = timed_import(path)
        print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
        print(f"file: {args.records:,} records, {len(tenants):,} customers, {size_mb:.0f} MB; "
              f"{existing:,} records in the table before")
        print(f"import: {result.status}, imported {result.imported_rows:,}, duplicates {result.duplicate_rows:,}, "
              f"errors {usage_import_error_rows(result):,}")
        print(f"writers: {getattr(settings, 'USAGE_IMPORT_WRITERS', 2) if connection.vendor == 'postgresql' else 0}")
        print(f"time: {seconds:.2f} s → {args.records / seconds:,.0f} records/second")
        if args.reimport:
            again, seconds = timed_import(path)
            print(f"re-import: imported {again.imported_rows:,}, duplicates {again.duplicate_rows:,} in "
                  f"{seconds:.2f} s → {args.records / seconds:,.0f} records/second")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"peak memory (max RSS of the process): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
