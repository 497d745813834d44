"""The price list in, last step: write an import's valid rows (staff only)."""

from django.db import transaction

from catalog.models import PriceListEntry
from portal.services import audit_record


def pricelist_apply(*, rows, acting_user):
    """Write the valid rows of an import in one transaction, creating or updating each by the
    natural key (SKU, term, billing plan, market, currency, segment, start). Staff only: the
    caller checks. Returns ``(created, updated)``."""
    created = updated = 0
    with transaction.atomic():
        last = None
        for row in rows:
            last, was_created = PriceListEntry.objects.update_or_create(
                sku_id=row.sku_pk,
                term_duration=row.term_duration,
                billing_plan=row.billing_plan,
                market=row.market,
                currency=row.currency,
                segment=row.segment,
                effective_start=row.effective_start,
                defaults={
                    "unit_price": row.unit_price,
                    "erp_price": row.erp_price,
                    "effective_end": row.effective_end,
                    **({"tags": row.tags} if row.tags is not None else {}),
                },
            )
            if was_created:
                created += 1
            else:
                updated += 1
        if last is not None:
            audit_record(
                actor=acting_user,
                action="catalog.pricelist_import",
                obj=last,
                after={"created": created, "updated": updated},
            )
    return created, updated
