"""Rating runs in the background (Django's tasks framework).

``rate_month_task`` coordinates a queued run (the staff button's); ``rate_chunks_task`` is a
worker's share of a run: any number of ``db_worker`` processes take its chunks."""

from django.tasks import task
from django.utils import translation

from billing.models import RatingRun, RatingRunStatus
from billing.services.rating import RatingError, rate_chunks, rate_month


@task
def rate_month_task(run_id: int) -> dict:
    """Rate the month of a queued ``RatingRun``; the run row carries its progress."""
    run = RatingRun.objects.select_related("billing_month").get(pk=run_id)
    try:
        run = rate_month(
            month=run.billing_month.month, acting_user=run.started_by, run=run, helper_task=rate_chunks_task
        )
    except RatingError as error:
        with translation.override("en"):  # stored in English (RatingRun.message_text)
            message = error.description[:500]
        RatingRun.objects.filter(pk=run_id, status__in=[RatingRunStatus.QUEUED, RatingRunStatus.RUNNING]).update(
            status=RatingRunStatus.FAILED, message=message
        )
        return {"status": "failed", "message": error.description}
    return {"status": run.status, "processed": run.processed_records}


@task
def rate_chunks_task(run_id: int) -> dict:
    """Take chunks of a running run until none is left; harmless once the run is over."""
    return {"rated": rate_chunks(run_id)}
