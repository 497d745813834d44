"""Rating a month of calls (SPEC §8): included minutes → communication credits → post-paid
overage, else blocked.

For each customer, calls are taken in time order:

1. each call is billed in whole started minutes;
2. minutes are drawn from the customer's pool for the call's zone (included minutes per
   license per month, pooled per customer); toll-free minutes never draw from a pool;
3. the rest is charged at the rate in force at the call (destination country × number type,
   list price in the customer's currency);
4. the charge is paid from communication credits in whole minutes while the balance covers
   them (auto-recharge refilling it whenever it falls below its threshold);
5. what credits do not pay accrues post-paid to the Azure subscription that held the
   customer's overage at the call's time; with neither, those minutes are blocked.

How a run works, so that it survives faults and spreads over workers:

- A run writes its rated calls beside the month's current ones (``RatedCall.run``) and its
  credit draws into a staging table; readers only see the month's *published* run. At its
  end one transaction publishes it (``BillingMonth.published_run``) and moves its draws into
  the ledger; the replaced rows are deleted afterwards. A run that dies at any moment has
  published nothing, so the month is exactly as it was.
- "Running" is a lock held by the coordinating process (``run_locks``): a run whose lock is
  free is dead, and a new run may start at once.
- The month is split into chunks of customers with about ``RATING_CHUNK_CALLS`` calls. Each
  chunk is rated by set-based SQL (``rating_sql``) in one transaction by whichever process
  claims it (``FOR UPDATE SKIP LOCKED``): the coordinator, and with the database task backend
  any number of ``db_worker`` processes running ``rate_chunks_task``. A worker that dies rolls
  its chunk back and another takes it.

A finalized month never changes; calls that arrive late for it are rated in the next rated
open month as adjustments (drawing on what was left of their own month's pools).
"""

import os
import socket
import threading
import time as clock
from collections import defaultdict

from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Count, F
from django.tasks import default_task_backend
from django.tasks.exceptions import TaskResultDoesNotExist
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from billing.models import (
    CALLS_RATED,
    RUN_DIED,
    RUN_SUPERSEDED,
    BillingMonth,
    BillingMonthStatus,
    RatedCall,
    RatingChunk,
    RatingChunkStatus,
    RatingRun,
    RatingRunStatus,
    UsageRecord,
)
from billing.services import rating_sql, rating_tables, run_locks
from billing.services.rating_context import _may_have_calls, month_bounds, RunContext
from billing.services.rating_credits import publish_credit_entries, stage_credit_entries
from portal.errors import PortalError
from subscriptions.periods import add_months


MONTH_NOT_ENDED = _("%(month)s has not ended yet: a month can be rated once it is over.")
MONTH_FINALIZED = _("%(month)s is finalized and never changes. Calls that arrive late are billed in the next open month.")
ALREADY_FINALIZED = _("%(month)s is already finalized.")
NOT_RATED = _("%(month)s has not been rated completely: rate it, then finalize it.")
RUN_IN_PROGRESS = _("%(month)s is being rated right now. Wait for that run to finish.")
NO_CALLS = _("%(month)s has no calls to rate: nothing was changed.")


ACTIVE = (RatingRunStatus.QUEUED, RatingRunStatus.RUNNING)
# Pending tasks are given this long to be picked up by a worker before their run is dead.
QUEUED_GRACE_SECONDS = 24 * 3600


def _in_english(text, params=None):
    """A run's message as stored: English, whatever language started the run."""
    with translation.override("en"):
        return str(text) % params if params else str(text)


class RatingError(PortalError):
    def __init__(self, description, **kwargs):
        super().__init__(description=description, **kwargs)


def _label(billing_month):
    return f"{billing_month.month:%Y-%m}"


# --- Runs: start, liveness, chunks, publication ------------------------------------------


def billing_month_for(month):
    billing_month, _ = BillingMonth.objects.get_or_create(month=month)
    return billing_month


def check_can_rate(billing_month, today=None):
    today = today or timezone.localdate()
    label = _label(billing_month)
    if billing_month.status == BillingMonthStatus.FINALIZED:
        raise RatingError(MONTH_FINALIZED, params={"month": label})
    if today < add_months(billing_month.month, 1):
        raise RatingError(MONTH_NOT_ENDED, params={"month": label})


def run_is_alive(run):
    """A running run is alive while its coordinator holds the run's lock; a queued one while
    its task waits for a worker (within ``QUEUED_GRACE_SECONDS``)."""
    if run.status == RatingRunStatus.RUNNING:
        return run_locks.is_held(run_locks.RATING_RUN, run.pk)
    if run.status == RatingRunStatus.QUEUED:
        return (timezone.now() - run.created_at).total_seconds() < QUEUED_GRACE_SECONDS and _task_waiting(run)
    return False


def _task_waiting(run):
    if not run.task_id:
        return True  # enqueued on commit of the request that made it: not known yet
    try:
        result = default_task_backend.get_result(run.task_id)
    except NotImplementedError:  # a backend that keeps no results cannot say: assume waiting
        return True
    except TaskResultDoesNotExist:  # its queue row is gone: nobody will run it
        return False
    return result.status in ("READY", "RUNNING") and (
        result.status == "READY" or run_locks.is_held(run_locks.RATING_RUN, run.pk)
    )


def reap_dead_runs(runs=None):
    """Mark failed every queued or running run whose process is gone (SPEC §8, faults).
    Called wherever runs are read, so that no run stays "running" for ever."""
    runs = RatingRun.objects.filter(status__in=ACTIVE) if runs is None else runs.filter(status__in=ACTIVE)
    reaped = 0
    for run in runs:
        if not run_is_alive(run):
            reaped += RatingRun.objects.filter(pk=run.pk, status=run.status).update(
                status=RatingRunStatus.FAILED, finished_at=timezone.now(), message=_in_english(RUN_DIED)
            )
    return reaped


def _start_run(billing_month, acting_user):
    with transaction.atomic():
        BillingMonth.objects.select_for_update().get(pk=billing_month.pk)
        reap_dead_runs(RatingRun.objects.filter(billing_month=billing_month))
        if RatingRun.objects.filter(billing_month=billing_month, status__in=ACTIVE).exists():
            raise RatingError(RUN_IN_PROGRESS, params={"month": _label(billing_month)})
        return RatingRun.objects.create(billing_month=billing_month, status=RatingRunStatus.RUNNING, started_by=acting_user)


def _calls_per_customer(context):
    """[(customer id, calls to rate)] in customer order: the month's calls and the late calls
    of finalized months not yet billed anywhere."""
    per_customer = defaultdict(int)
    own = (
        UsageRecord.objects.filter(started_at__gte=context.month_start, started_at__lt=context.month_end)
        .values_list("customer_id")
        .annotate(calls=Count("pk"))
        .order_by()
    )
    for customer_id, calls in own:
        per_customer[customer_id] += calls
    for month in context.late_months.values():
        start, end = month_bounds(month)
        billed = RatedCall.objects.published().exclude(billing_month=context.billing_month)
        late = (
            UsageRecord.objects.filter(started_at__gte=start, started_at__lt=end)
            .exclude(pk__in=billed.values("usage_record_id"))
            .values_list("customer_id")
            .annotate(calls=Count("pk"))
            .order_by()
        )
        for customer_id, calls in late:
            per_customer[customer_id] += calls
    return sorted(per_customer.items())


def _plan_chunks(run, context):
    """Split the customers with calls into chunks of about ``RATING_CHUNK_CALLS`` calls."""
    size = getattr(settings, "RATING_CHUNK_CALLS", 100_000)
    chunks, current, first = [], 0, None
    rating_tables.refresh_statistics()
    counts = _calls_per_customer(context)
    for index, (customer_id, calls) in enumerate(counts):
        first = customer_id if first is None else first
        current += calls
        if current >= size or index == len(counts) - 1:
            chunks.append(
                RatingChunk(run=run, number=len(chunks) + 1, first_customer_id=first, last_customer_id=customer_id,
                            calls=current)
            )
            current, first = 0, None
    RatingChunk.objects.bulk_create(chunks)
    rating_tables.prepare_run_table(run)
    total = sum(chunk.calls for chunk in chunks)
    RatingRun.objects.filter(pk=run.pk).update(total_records=total, total_chunks=len(chunks))
    return total


def _concurrency():
    """Connections that rate chunks side by side in the coordinating process. SQLite has a
    single writer; inside a transaction (tests) other connections would not see the run."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 1
    return max(1, getattr(settings, "RATING_CONCURRENCY", 2))


class _ChunkThreads:
    """Extra connections of the coordinator, each taking chunks until none is free. A
    failure is kept and raised by ``join`` in the coordinator's thread."""

    def __init__(self, run, count):
        self.failure = None
        self.threads = [threading.Thread(target=self._work, args=(run.pk,), daemon=True) for _ in range(count)]
        for thread in self.threads:
            thread.start()

    def _work(self, run_id):
        try:
            run = RatingRun.objects.select_related("billing_month").get(pk=run_id)
            context = RunContext(run)
            while rate_next_chunk(context) is not None:
                pass
        except Exception as error:  # noqa: BLE001 - handed to the coordinator
            self.failure = error
        finally:
            connections.close_all()  # this thread's connections only

    def join(self):
        for thread in self.threads:
            thread.join()
        if self.failure is not None:
            raise self.failure


def rate_next_chunk(context):
    """Claim one pending chunk of the run, rate it and commit it; ``None`` when no chunk is
    free (all done, or the rest held by other workers)."""
    run = context.run
    with transaction.atomic():
        chunk = (
            RatingChunk.objects.select_for_update(skip_locked=True)
            .filter(run=run, status=RatingChunkStatus.PENDING)
            .order_by("number")
            .first()
        )
        if chunk is None:
            return None
        count, states = rating_sql.rate_chunk(
            run=run, chunk=chunk, months=context.months, pools=context.pools(chunk), rates=context.rates,
            month_start=context.month_start, month_end=context.month_end,
        )
        stage_credit_entries(run, states)
        RatingChunk.objects.filter(pk=chunk.pk).update(
            status=RatingChunkStatus.DONE, done_at=timezone.now(), done_by=f"{socket.gethostname()}:{os.getpid()}"[:100]
        )
        RatingRun.objects.filter(pk=run.pk).update(
            processed_records=F("processed_records") + count, done_chunks=F("done_chunks") + 1
        )
    return count


def _enqueue_helpers(run, rate_chunks_task):
    """With workers (the database task backend), let them take chunks too."""
    if rate_chunks_task is None or "immediate" in settings.TASKS["default"]["BACKEND"].lower():
        return
    helpers = min(run.total_chunks - 1, getattr(settings, "RATING_HELPER_TASKS", 8))
    for _ in range(max(helpers, 0)):
        rate_chunks_task.enqueue(run.pk)


def _publish(run):
    """The one transaction that makes the run the month's, then the replaced rows go."""
    rating_tables.seal_run_table(run)
    with transaction.atomic():
        billing_month = BillingMonth.objects.select_for_update().get(pk=run.billing_month_id)
        current = RatingRun.objects.select_for_update().get(pk=run.pk)
        if current.status != RatingRunStatus.RUNNING:
            raise RatingError(RUN_SUPERSEDED)
        if billing_month.status == BillingMonthStatus.FINALIZED:
            raise RatingError(MONTH_FINALIZED, params={"month": _label(billing_month)})
        rating_tables.attach_run_table(run)
        publish_credit_entries(run, billing_month)
        billing_month.published_run = run
        billing_month.save(update_fields=["published_run"])
        processed = current.processed_records
        RatingRun.objects.filter(pk=run.pk).update(
            status=RatingRunStatus.DONE, finished_at=timezone.now(),
            message=_in_english(CALLS_RATED, {"count": processed}),
        )
    # Outside the publication: the month no longer reads these rows; a crash here leaves
    # only invisible rows, which the next publication of the month removes.
    rating_tables.drop_runs(RatingRun.objects.filter(billing_month=billing_month).exclude(pk=run.pk))


def rate_month(*, month, acting_user=None, run=None, progress=None, helper_task=None):
    """Rate (or re-rate) the month starting ``month``. Returns the finished ``RatingRun``.

    Refused with a one-line reason (``RatingError``), changing nothing, for a month not over
    yet, a finalized month, a month without calls, or one being rated by a live process.
    ``run`` is a queued run (the staff button's); ``progress(done, total)`` follows chunks;
    ``helper_task`` (``billing.rating_tasks.rate_chunks_task``, passed by its callers so that
    this module does not import the tasks that import it) is enqueued for workers to share
    the chunks."""
    billing_month = billing_month_for(month)
    check_can_rate(billing_month)
    if not _may_have_calls(billing_month):
        raise RatingError(NO_CALLS, params={"month": _label(billing_month)})
    if run is None:
        run = _start_run(billing_month, acting_user)
    elif not RatingRun.objects.filter(pk=run.pk, status=RatingRunStatus.QUEUED).update(status=RatingRunStatus.RUNNING):
        raise RatingError(RUN_SUPERSEDED)
    run.billing_month = billing_month
    if not run_locks.acquire(run_locks.RATING_RUN, run.pk):
        raise RatingError(RUN_IN_PROGRESS, params={"month": _label(billing_month)})
    try:
        context = RunContext(run)
        _plan_chunks(run, context)
        run.refresh_from_db()
        _enqueue_helpers(run, helper_task)
        threads = _ChunkThreads(run, min(_concurrency(), run.total_chunks) - 1)
        while True:
            if rate_next_chunk(context) is None:
                if not RatingChunk.objects.filter(run=run, status=RatingChunkStatus.PENDING).exists():
                    break
                clock.sleep(0.2)  # a worker holds the rest; if it dies, its chunk comes back
            if progress:
                progress(*RatingRun.objects.filter(pk=run.pk).values_list("processed_records", "total_records").get())
            if threads.failure is not None:
                break
        threads.join()
        _publish(run)
    except BaseException as error:
        try:
            RatingRun.objects.filter(pk=run.pk, status=RatingRunStatus.RUNNING).update(
                status=RatingRunStatus.FAILED, finished_at=timezone.now(), message=_in_english(error)[:500]
            )
        except DatabaseError:
            pass  # the connection itself is gone: the run's lock went with it, readers reap it
        raise
    finally:
        try:
            run_locks.release(run_locks.RATING_RUN, run.pk)
        except DatabaseError:
            pass  # a lost connection released it already
    run.refresh_from_db()
    return run


def rate_chunks(run_id):
    """A worker's share of a run: take chunks while its coordinator is alive."""
    run = RatingRun.objects.select_related("billing_month").get(pk=run_id)
    context = None
    rated = 0
    while run_locks.is_held(run_locks.RATING_RUN, run.pk):
        if not RatingRun.objects.filter(pk=run.pk, status=RatingRunStatus.RUNNING).exists():
            break
        context = context or RunContext(run)
        count = rate_next_chunk(context)
        if count is None:
            break
        rated += count
    return rated
