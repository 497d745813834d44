"""Finalizing a month's reconciliation file (SPEC §9): every partner's lines frozen as
``ReconciliationLine`` rows, so a finalized month's file never changes."""

from datetime import timedelta
from decimal import Decimal

from django.db import transaction

from billing.models import RatedCall, ReconciliationLine
from billing.reconciliation_format import CHUNK_SIZE, month_last_day, _start_of
from billing.reconciliation_licenses import _may_bill_instalments
from billing.reconciliation_selectors import live_lines
from portal.models import Partner
from subscriptions.models import ChargeEvent


# --- Finalization --------------------------------------------------------------------------


def _partners_with_activity(month):
    first, after = _start_of(month), _start_of(month_last_day(month) + timedelta(days=1))
    ids = set(
        ChargeEvent.objects.filter(occurred_at__gte=first, occurred_at__lt=after).values_list(
            "subscription__partner_id", flat=True
        )
    )
    ids |= set(_may_bill_instalments(month).values_list("partner_id", flat=True))
    ids |= set(
        RatedCall.objects.billed_in(month).filter(postpaid_minutes__gt=0, partner__isnull=False)
        .values_list("partner_id", flat=True)
    )
    return Partner.objects.filter(pk__in=ids).order_by("pk")


@transaction.atomic
def reconciliation_snapshot(*, billing_month):
    """Freeze ``billing_month``'s reconciliation lines of every partner that has any, so the
    finalized month's file is the same bytes forever. Called by rating's finalization, in its
    transaction, before or after the status changes (lines are computed live here).

    Idempotent and never rewrites: a month that already has a snapshot keeps it. Returns the
    number of lines written."""
    if ReconciliationLine.objects.filter(billing_month=billing_month).exists():
        return 0
    written = 0
    for partner in _partners_with_activity(billing_month.month):
        batch = []
        for sequence, row in enumerate(live_lines(partner=partner, month=billing_month.month), start=1):
            batch.append(
                ReconciliationLine(
                    billing_month=billing_month,
                    partner=partner,
                    sequence=sequence,
                    charge_type=row["ChargeType"],
                    customer_name=row["CustomerName"][:200],
                    product_id=row["ProductId"],
                    currency=row["Currency"],
                    subtotal=Decimal(row["Subtotal"]),
                    values=row,
                )
            )
            if len(batch) >= CHUNK_SIZE:
                ReconciliationLine.objects.bulk_create(batch)
                written += len(batch)
                batch = []
        if batch:
            ReconciliationLine.objects.bulk_create(batch)
            written += len(batch)
    return written
