"""Reads of the catalog that compute: add-on prerequisite checks against the tenant.

A prerequisite counts when the customer's tenant has it provisioned and active, from any
channel (another partner, web direct, volume licensing, legacy CSP): SPEC §3. These
functions take whole batches so that validating a 100-line cart costs a fixed number of
queries whatever the number of lines or licenses.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import OuterRef, Q, Subquery
from django.utils.translation import gettext_lazy as _

from catalog.models import PriceListEntry, Sku, TenantLicense


def tenant_active_sku_ids(customer):
    """The ids of the SKUs provisioned and active in the customer's tenant (one query)."""
    # order_by(): the model's default ordering would join customer and product and put their
    # columns into the DISTINCT, one row per license instead of per SKU.
    return set(
        TenantLicense.objects.filter(customer=customer, is_active=True)
        .order_by()
        .values_list("sku_id", flat=True)
        .distinct()
    )


def prerequisites_by_addon(sku_ids):
    """{addon sku id: {prerequisite sku id, ...}} for the add-ons among ``sku_ids`` (one query)."""
    through = Sku.prerequisites.through
    result = defaultdict(set)
    for addon_id, prerequisite_id in through.objects.filter(from_sku_id__in=list(sku_ids)).values_list(
        "from_sku_id", "to_sku_id"
    ):
        result[addon_id].add(prerequisite_id)
    return result


def addons_missing_prerequisite(*, skus, customer):
    """The ids of the add-ons among ``skus`` whose customer's tenant has none of their
    prerequisites. Non-add-ons are never missing anything. Two queries."""
    addon_ids = {sku.pk for sku in skus if sku.is_addon}
    if not addon_ids:
        return set()
    prerequisites = prerequisites_by_addon(addon_ids)
    in_tenant = tenant_active_sku_ids(customer)
    return {addon_id for addon_id in addon_ids if not prerequisites.get(addon_id, set()) & in_tenant}


@dataclass
class PrerequisiteRow:
    sku: Sku
    licenses: list = field(default_factory=list)  # the tenant's active licenses of this SKU

    @property
    def in_tenant(self):
        return bool(self.licenses)


def addon_prerequisite_rows(*, sku, customer=None):
    """For the info flyout: each prerequisite SKU of ``sku`` and, when a customer is given,
    the tenant's active licenses of it (with their channel)."""
    prerequisites = list(sku.prerequisites.select_related("product").order_by("product__title", "title"))
    rows = {p.pk: PrerequisiteRow(sku=p) for p in prerequisites}
    if customer is not None and rows:
        licenses = TenantLicense.objects.filter(customer=customer, is_active=True, sku_id__in=rows.keys())
        for lic in licenses.select_related("source_partner"):
            rows[lic.sku_id].licenses.append(lic)
    return list(rows.values())


# What the UI shows when an add-on's customer has no prerequisite in its tenant (SPEC §3);
# the API's error 400041 carries the same words.
ADDON_NOT_PURCHASABLE = _("The addon is not purchasable without a compatible base product.")

DEFAULT_MARKET = "US"


def price_in_force(*, on):
    """Price-list rows valid on ``on``: started, and not yet ended (the end is exclusive)."""
    return PriceListEntry.objects.filter(effective_start__lte=on).filter(
        Q(effective_end__isnull=True) | Q(effective_end__gt=on)
    )


def with_current_price(queryset, *, market, term_duration, billing_plan, segment, on):
    """Annotate each SKU of ``queryset`` with ``price_unit``, ``price_erp`` and
    ``price_currency`` of the price-list row in force on ``on`` for that market, term,
    billing plan and segment (None when there is none). Subqueries, so a page of SKUs costs
    no query per row; the latest start wins when rows overlap."""
    rows = (
        price_in_force(on=on)
        .filter(
            sku=OuterRef("pk"), market=market, term_duration=term_duration, billing_plan=billing_plan, segment=segment
        )
        .order_by("-effective_start", "currency")
    )
    return queryset.annotate(
        price_unit=Subquery(rows.values("unit_price")[:1]),
        price_erp=Subquery(rows.values("erp_price")[:1]),
        price_currency=Subquery(rows.values("currency")[:1]),
    )


def price_list_markets():
    """The markets (countries) the price list has rows for, plus the default market.

    Read on every catalog request: a DISTINCT reads every price-list row (15 ms for 100,000
    on PostgreSQL), so this walks the market index instead, one lookup per market ("the
    smallest market after the previous one"), in SQL that SQLite and PostgreSQL both run."""
    table = connection.ops.quote_name(PriceListEntry._meta.db_table)
    column = connection.ops.quote_name(PriceListEntry._meta.get_field("market").column)
    sql = (
        f"WITH RECURSIVE markets(market) AS ("
        f" SELECT MIN({column}) FROM {table}"
        f" UNION ALL"
        f" SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > markets.market)"
        f" FROM markets WHERE markets.market IS NOT NULL"
        f") SELECT market FROM markets WHERE market IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        markets = {row[0] for row in cursor.fetchall()}
    markets.add(DEFAULT_MARKET)
    return sorted(markets)
