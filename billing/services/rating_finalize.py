"""Finalizing a rated month (SPEC §8, §9): its lines, credit draws and reconciliation file
never change again; and the summary of a rated month."""

from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from billing.models import BillingMonth, BillingMonthStatus, RatedCall, RatingRun
from billing.services.rating import (
    ACTIVE,
    ALREADY_FINALIZED,
    MONTH_NOT_ENDED,
    NOT_RATED,
    RUN_IN_PROGRESS,
    RatingError,
    reap_dead_runs,
)
from billing.services.rating_context import month_has_calls
from portal.services import audit_record
from subscriptions.periods import add_months


@transaction.atomic
def billing_month_finalize(*, month, acting_user=None, request_id=""):
    """Close a rated month for good: its lines, credit draws and reconciliation file never
    change again. Refused for a month not over yet, already finalized, being rated, or whose
    calls have no published run."""
    billing_month = BillingMonth.objects.select_for_update().filter(month=month).first()
    label = f"{month:%Y-%m}"
    if billing_month is not None and billing_month.status == BillingMonthStatus.FINALIZED:
        raise RatingError(ALREADY_FINALIZED, params={"month": label})
    if timezone.localdate() < add_months(month, 1):
        raise RatingError(MONTH_NOT_ENDED, params={"month": label})
    if billing_month is None:
        billing_month = BillingMonth.objects.create(month=month)
    runs = RatingRun.objects.filter(billing_month=billing_month)
    reap_dead_runs(runs)
    if runs.filter(status__in=ACTIVE).exists():
        raise RatingError(RUN_IN_PROGRESS, params={"month": label})
    if billing_month.published_run_id is None and month_has_calls(billing_month):
        # Unrated: finalizing would freeze missing lines and bill the month's calls next
        # month as adjustments.
        raise RatingError(NOT_RATED, params={"month": label})
    billing_month.status = BillingMonthStatus.FINALIZED
    billing_month.finalized_at = timezone.now()
    billing_month.finalized_by = acting_user if acting_user is not None and acting_user.pk else None
    billing_month.save()
    from billing.services.reconciliation import reconciliation_snapshot

    reconciliation_snapshot(billing_month=billing_month)
    audit_record(actor=acting_user, action="billing_month.finalize", obj=billing_month, request_id=request_id,
                 after={"status": billing_month.status})
    return billing_month


def month_summary(billing_month):
    """Counts and amounts of a rated month, by status: for the run page and the command."""
    return (
        RatedCall.objects.published()
        .filter(billing_month=billing_month)
        .values("status")
        .annotate(calls=Count("pk"), minutes=Sum("minutes"), amount=Sum("amount"))
        .order_by("status")
    )
