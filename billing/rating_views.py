"""Rating months, for the operator's staff: start a run (a task), follow its progress bar,
finalize a month. Partners see the results on their billing pages."""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from billing.models import BillingMonth, RatingRun, RatingRunStatus, UsageRecord
from billing.rating_tasks import rate_month_task
from billing.services.rating import (
    RUN_IN_PROGRESS,
    RatingError,
    reap_dead_runs,
    billing_month_for,
    check_can_rate,
)
from billing.services.rating_finalize import billing_month_finalize
from billing.reconciliation_format import parse_month
from portal.formatting import format_month
from portal.views import htmx_template
from subscriptions.periods import add_months

BAD_MONTH = _("Choose a month as YYYY-MM.")


def _months():
    """The last twelve ended months, newest first, with their state and latest run."""
    this_month = timezone.localdate().replace(day=1)
    months = [add_months(this_month, -i) for i in range(1, 13)]
    known = {m.month: m for m in BillingMonth.objects.filter(month__in=months)}
    reap_dead_runs(RatingRun.objects.filter(billing_month__month__in=months))
    latest_runs = {}
    for run in RatingRun.objects.filter(billing_month__month__in=months).order_by("created_at"):
        latest_runs[run.billing_month_id] = run
    rows = []
    for month in months:
        billing_month = known.get(month)
        rows.append(
            {
                "month": month,
                "billing_month": billing_month,
                "run": latest_runs.get(billing_month.pk) if billing_month else None,
            }
        )
    return rows


@staff_member_required
def rating_home(request):
    usage_months = UsageRecord.objects.dates("started_at", "month", order="DESC")[:12]
    return render(
        request,
        "billing/rating_home.html",
        {"months": _months(), "usage_months": list(usage_months)},
    )


def _month_from_post(request):
    try:
        return parse_month(request.POST.get("month", ""))
    except ValueError:
        return None


@staff_member_required
@require_POST
def rating_start(request):
    month = _month_from_post(request)
    if month is None:
        messages.error(request, BAD_MONTH)
        return redirect("billing:rating")
    billing_month = billing_month_for(month)
    try:
        check_can_rate(billing_month)
        reap_dead_runs(RatingRun.objects.filter(billing_month=billing_month))
        with transaction.atomic():
            run = RatingRun.objects.create(billing_month=billing_month, status=RatingRunStatus.QUEUED, started_by=request.user)
            transaction.on_commit(lambda: _enqueue(run))
    except RatingError as error:
        messages.error(request, error.description)
        return redirect("billing:rating")
    except IntegrityError:  # the partial unique index: a run of this month is already active
        messages.error(request, RUN_IN_PROGRESS % {"month": format_month(month)})
        return redirect("billing:rating")
    return redirect("billing:rating_run", run_id=run.pk)


def _enqueue(run):
    result = rate_month_task.enqueue(run.pk)
    # The task id tells later readers whether a queued run still waits for a worker.
    RatingRun.objects.filter(pk=run.pk, status=RatingRunStatus.QUEUED).update(task_id=str(result.id)[:64])


@staff_member_required
def rating_run(request, run_id):
    reap_dead_runs(RatingRun.objects.filter(pk=run_id))
    run = get_object_or_404(RatingRun.objects.select_related("billing_month", "started_by"), pk=run_id)
    percent = 100 if run.status == RatingRunStatus.DONE else (
        int(run.processed_records * 100 / run.total_records) if run.total_records else 0
    )
    context = {"run": run, "percent": percent, "finished": run.status in (RatingRunStatus.DONE, RatingRunStatus.FAILED)}
    return render(request, htmx_template(request, "billing/rating_run.html", "progress"), context)


@staff_member_required
@require_POST
def rating_finalize(request):
    month = _month_from_post(request)
    if month is None:
        messages.error(request, BAD_MONTH)
        return redirect("billing:rating")
    try:
        billing_month_finalize(month=month, acting_user=request.user, request_id=request.request_id)
    except RatingError as error:
        messages.error(request, error.description)
    else:
        messages.success(request, _("%(month)s is finalized.") % {"month": format_month(month)})
    return redirect("billing:rating")
