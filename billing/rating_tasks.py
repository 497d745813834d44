"""Rating runs in the background (Django's tasks framework)."""

from django.tasks import task

from billing.models import RatingRun
from billing.services.rating import RatingError, rate_month


@task
def rate_month_task(run_id: int) -> dict:
    """Rate the month of a queued ``RatingRun``; the run row carries its progress."""
    run = RatingRun.objects.select_related("billing_month").get(pk=run_id)
    try:
        run = rate_month(month=run.billing_month.month, acting_user=run.started_by, run=run)
    except RatingError as error:
        RatingRun.objects.filter(pk=run_id).update(status="failed", message=error.description[:500])
        return {"status": "failed", "message": error.description}
    return {"status": run.status, "processed": run.processed_records}
