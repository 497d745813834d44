"""The price-list row in force for a SKU, term and billing plan in a market on a date.

A read shared by the services that charge (checkout, renewal, the upgrade) and the selectors
that show what they would charge (the cart estimate, the upgrade quote): one definition of
"the latest ``effective_start`` wins".
"""

from django.db.models import Q

from catalog.models import PriceListEntry


def prices_in_force(*, keys, market, segment_by_sku=None, on_date):
    """{(sku_id, term, billing plan): PriceListEntry} for the market's rows in force on
    ``on_date`` (the latest ``effective_start`` wins). ``keys`` are (sku_id, term, billing
    plan) tuples; one query whatever their number. Segment: the availability's, else any."""
    keys = set(keys)
    if not keys:
        return {}
    sku_ids = {k[0] for k in keys}
    rows = (
        PriceListEntry.objects.filter(sku_id__in=sku_ids, market=market, effective_start__lte=on_date)
        .filter(Q(effective_end__isnull=True) | Q(effective_end__gt=on_date))
        .order_by("-effective_start", "pk")
    )
    found = {}
    for row in rows:
        key = (row.sku_id, row.term_duration, row.billing_plan)
        if key not in keys or key in found:
            continue
        wanted_segment = (segment_by_sku or {}).get(row.sku_id)
        if wanted_segment and row.segment != wanted_segment:
            continue
        found[key] = row
    return found
