"""Faults, for real (issue 10, SPEC §8): rating runs and usage imports in their own processes,
killed with SIGKILL at several points (and a coordinator whose database connection is cut),
leave the month exactly as it was; a new run starts at once, with nobody touching the
database, and its files are byte for byte those of a clean run. A chunk whose worker dies is
taken again by another. PostgreSQL only: the processes share one real database."""

import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from billing.models import BillingMonth, RatedCall, RatingRun, UsageImport, UsageImportStatus, UsageRecord
from billing.services import run_locks
from billing.services.rating import reap_dead_runs
from billing.reconciliation_selectors import reconciliation_csv
from billing.services.usage_import import reap_dead_imports
from billing.services.usage_parse import COLUMNS
from catalog.models import LicenseChannel
from portal.models import Partner
from tests.factories import (
    AzurePlanFactory,
    AzureSubscriptionFactory,
    CreditAccountFactory,
    CreditLedgerEntryFactory,
    OverageAssignmentFactory,
    RateFactory,
    SkuFactory,
    TenantLicenseFactory,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="processes sharing one database need PostgreSQL"),
]

SEPTEMBER = date(2026, 9, 1)
ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS, CALLS_EACH = 40, 60


def environment(**extra):
    settings = connection.settings_dict
    url = f"postgres://{settings['USER'] or 'postgres'}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "test-only", "DEBUG": "0",
            "RATING_CHUNK_CALLS": "150", "RATING_CONCURRENCY": "1", **extra}


def manage(*args, **extra):
    return subprocess.Popen([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=environment(**extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, timeout=60, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def latest_run():
    return RatingRun.objects.filter(billing_month__month=SEPTEMBER).order_by("-pk").first()


def files():
    return {p.pk: "".join(reconciliation_csv(partner=p, month=SEPTEMBER)) for p in Partner.objects.order_by("pk")}


def month_state():
    month = BillingMonth.objects.get(month=SEPTEMBER)
    published = RatedCall.objects.published().filter(billing_month=month)
    return month.published_run_id, published.count(), files()


@pytest.fixture
def september(partner_a, customer_of):
    RateFactory(destination_country="US", number_type="landline", currency="USD", unit_price=Decimal("0.021"),
                effective_from=date(2025, 1, 1))
    RateFactory(destination_country="GB", number_type="mobile", currency="USD", unit_price=Decimal("0.094"),
                effective_from=date(2025, 1, 1))
    sku = SkuFactory(included_minutes_domestic=30)
    rows = []
    for n in range(CUSTOMERS):
        customer = customer_of(partner_a, country="US")
        TenantLicenseFactory(customer=customer, sku=sku, quantity=1, channel=LicenseChannel.CSP_NCE,
                             source_partner=partner_a, provisioned_at=datetime(2026, 8, 1, tzinfo=dt_timezone.utc))
        if n % 2:
            plan = AzurePlanFactory(customer=customer, partner=partner_a)
            OverageAssignmentFactory(customer=customer, partner=partner_a, started_at=datetime(2026, 8, 1, tzinfo=dt_timezone.utc),
                                     azure_subscription=AzureSubscriptionFactory(plan=plan, number=1))
        if n % 3 == 0:
            account = CreditAccountFactory(customer=customer, currency="USD", auto_recharge=n % 2 == 0,
                                           threshold=Decimal("0.5"), recharge_amount=Decimal("2"))
            CreditLedgerEntryFactory(account=account, kind="purchase", amount=Decimal("1.00"),
                                     occurred_at=datetime(2026, 8, 2, tzinfo=dt_timezone.utc))
        for k in range(CALLS_EACH):
            rows.append(UsageRecord(
                record_id=f"f-{n}-{k}", customer=customer, user="u@x.example",
                started_at=datetime(2026, 9, 1, tzinfo=dt_timezone.utc) + timedelta(minutes=(k * 701 + n * 37) % 40000),
                duration_seconds=(k * 97) % 900 + 1, call_type="domestic" if k % 3 else "international",
                destination_country="US" if k % 3 else "GB", number_type="landline" if k % 3 else "mobile"))
    UsageRecord.objects.bulk_create(rows)
    return partner_a


def start_run(**extra):
    """A ``rate_usage`` process, once its run row is there: ``(process, run id)``."""
    known = getattr(latest_run(), "pk", 0)
    process = manage("rate_usage", "--month", "2026-09", **extra)
    wait_for(lambda: getattr(latest_run(), "pk", 0) > known or process.poll() is not None, what="a new run")
    assert process.poll() is None, process.communicate()
    return process, latest_run().pk


def clean_run():
    process = manage("rate_usage", "--month", "2026-09")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return month_state()


def test_a_rating_run_killed_at_any_point_leaves_the_month_as_it_was_and_a_new_run_starts_at_once(september):
    before = clean_run()
    assert before[1] == CUSTOMERS * CALLS_EACH
    kill_points = {
        "as soon as its run row appears": lambda run: True,
        "after its first chunk": lambda run: run.done_chunks >= 1,
        "half-way": lambda run: run.done_chunks * 2 >= run.total_chunks > 0,
    }
    for point, reached in kill_points.items():
        process, run_id = start_run()
        wait_for(lambda: reached(RatingRun.objects.get(pk=run_id)) or process.poll() is not None, what=point)
        assert process.poll() is None, f"the run ended before it could be killed {point}"
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert month_state() == before, f"killed {point}, the month changed"
        # The server drops the lock as soon as it sees the client gone (after a statement in flight).
        wait_for(lambda: reap_dead_runs() == 1, timeout=10, what="the dead run to be reaped")
        assert RatingRun.objects.get(pk=run_id).status == "failed"

    # Killed while it waits to publish, and then with its connection cut while it waits: the
    # test holds the month's row, so the run blocks in its publishing transaction.
    for fault in ("SIGKILL", "connection cut"):
        process, run_id = start_run()
        with connection.cursor() as cursor:
            # Its run row is committed, so it no longer holds the month's row: take it first.
            cursor.execute("BEGIN")
            cursor.execute("SELECT id FROM billing_billingmonth WHERE month = %s FOR UPDATE", [SEPTEMBER])
            wait_for(lambda: (run := RatingRun.objects.get(pk=run_id)).total_chunks > 0
                     and run.done_chunks == run.total_chunks, what="every chunk to be done")
            time.sleep(0.5)  # the run now waits for the month's row
            if fault == "SIGKILL":
                process.send_signal(signal.SIGKILL)
                process.wait()
            else:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                    "AND objid = %s AND objsubid = 2", [run_locks.RATING_RUN, run_id])
                assert cursor.fetchall() == [(True,)]
            cursor.execute("ROLLBACK")
        if fault != "SIGKILL":
            out, err = process.communicate(timeout=60)
            assert process.returncode == 1 and "database error" in err and "Traceback" not in err
        assert month_state() == before, f"{fault} while publishing, the month changed"

    after = clean_run()  # at once: nobody touched the database
    assert after[0] != before[0] and after[1:] == before[1:]
    assert RatedCall.objects.filter(billing_month__month=SEPTEMBER).count() == after[1]  # the dead runs' rows are gone


def test_a_chunk_whose_worker_died_is_taken_again(september):
    before = clean_run()
    worker = manage("db_worker", "--interval", "0.05", "--no-startup-delay", TASKS_BACKEND="database")
    time.sleep(3)  # the worker is polling the queue
    # One customer a chunk: 40 chunks, so that the worker's task takes some beside the coordinator.
    coordinator, run_id = start_run(TASKS_BACKEND="database", RATING_CHUNK_CALLS="1")
    try:
        wait_for(lambda: RatingRun.objects.get(pk=run_id).chunks.filter(done_by__endswith=f":{worker.pid}").exists(),
                 what="the worker to rate a chunk")
        worker.send_signal(signal.SIGKILL)  # most likely in the middle of its next chunk
        worker.wait()
        out, err = coordinator.communicate(timeout=120)
        assert coordinator.returncode == 0, err
    finally:
        for process in (worker, coordinator):
            if process.poll() is None:
                process.kill()
    after = month_state()
    assert after[0] != before[0] and after[1:] == before[1:]
    run = latest_run()
    assert run.status == "done" and run.done_chunks == run.total_chunks == CUSTOMERS
    assert run.chunks.filter(done_by__endswith=f":{worker.pid}").exists()
    assert run.chunks.filter(done_by__endswith=f":{coordinator.pid}").exists()


def test_a_usage_import_killed_half_way_shows_as_failed_with_what_it_had_committed(customer_of, partner_a, tmp_path):
    customer = customer_of(partner_a)
    path = tmp_path / "calls.csv"
    lines = [",".join(COLUMNS)]
    for n in range(60_000):
        lines.append(f"k-{n},{customer.tenant_id},u@x.example,2026-09-01T10:00:00Z,{n % 600 + 1},domestic,US,landline")
    path.write_text("\n".join(lines) + "\n")
    process = manage("import_usage", str(path))
    wait_for(lambda: UsageImport.objects.filter(imported_rows__gt=0).exists(), what="a committed batch")
    process.send_signal(signal.SIGKILL)
    process.wait()
    usage_import = UsageImport.objects.get()
    assert usage_import.status == UsageImportStatus.RUNNING  # what the row says: nobody could write more
    # PostgreSQL frees the dead session's lock once it notices the closed socket: soon, not at once.
    wait_for(lambda: reap_dead_imports() == 1, timeout=10, what="the dead import to be reaped")
    usage_import.refresh_from_db()
    assert usage_import.status == UsageImportStatus.FAILED
    assert usage_import.imported_rows == UsageRecord.objects.filter(usage_import=usage_import).count() > 0
    assert "its process ended" in usage_import.errors[-1]["reason"]
    with connection.cursor() as cursor:  # the reaper dropped the staged file the COPY lane left
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'usage_copy%%'")
        assert cursor.fetchone()[0] == 0
