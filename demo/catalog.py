"""Builds the demo catalog: products, SKUs, availabilities and the price list."""

import hashlib
from decimal import Decimal

from catalog.models import (
    Availability,
    ConsumptionType,
    PriceListEntry,
    PriceTag,
    Product,
    ProductType,
    Segment,
    Sku,
)

from .catalog_data import AZURE_PLAN, MARKETS, PRODUCTS
from .rows import sync_rows

CENT = Decimal("0.01")
PRICE_KEY = ["sku", "term_duration", "billing_plan", "market", "currency", "segment", "effective_start"]
ERP_MARKUP = Decimal("1.2")
# A month-to-month term costs 20% more than the same month on an annual term.
MONTHLY_TERM_PREMIUM = Decimal("1.2")
# Partner Center availability ids look like CFQ7TTC0K971: a product-id prefix and 4 more.
_ID_ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXZ"


def availability_id_for(product_id, sku_id):
    """A stable 12-character availability id for a SKU."""
    digest = int(hashlib.sha1(f"{product_id}:{sku_id}".encode()).hexdigest(), 16)
    suffix = ""
    for _ in range(4):
        digest, index = divmod(digest, len(_ID_ALPHABET))
        suffix += _ID_ALPHABET[index]
    return product_id[:8] + suffix


def unit_price_for(entry, term, cycle, factor):
    """The unit price of one price-list row, per billing period of its billing plan."""
    monthly = (entry["price"] * factor).quantize(CENT)
    if term == "P1M":
        return (monthly * MONTHLY_TERM_PREMIUM).quantize(CENT)
    if cycle == "annual":
        return monthly * 12
    if cycle == "triennial":
        return monthly * 36
    return monthly


def _upsert_sku(entry, product, *, is_addon, consumption_type, terms, minutes):
    sku, _ = Sku.objects.update_or_create(
        product=product,
        sku_id=entry["sku_id"],
        defaults={
            "title": entry["title"],
            "description": entry["description"],
            "min_quantity": entry.get("min_quantity", 1),
            "max_quantity": entry.get("max_quantity", 1),
            "max_per_customer": entry.get("max_per_customer"),
            "supported_terms": sorted({term for term, _ in terms}),
            "supported_billing_cycles": sorted({cycle for _, cycle in terms}),
            "consumption_type": consumption_type,
            "is_addon": is_addon,
            "included_services": entry.get("services", []),
            "included_minutes_domestic": minutes[0],
            "included_minutes_international": minutes[1],
            "included_minutes_conferencing": minutes[2],
        },
    )
    Availability.objects.update_or_create(
        sku=sku,
        availability_id=availability_id_for(entry["product_id"], entry["sku_id"]),
        defaults={
            "terms": [{"termDuration": term, "billingCycle": cycle} for term, cycle in terms],
            "segment": Segment.COMMERCIAL,
            "is_purchasable": True,
            "is_renewable": True,
        },
    )
    return sku


def build_catalog(clock):
    """Create or refresh every demo product; returns ``{key: Sku}``."""
    skus = {}
    for entry in PRODUCTS:
        product, _ = Product.objects.update_or_create(
            id=entry["product_id"],
            defaults={
                "title": entry["title"],
                "description": entry["description"],
                "product_type": entry["product_type"],
                "segments": [Segment.COMMERCIAL],
            },
        )
        skus[entry["key"]] = _upsert_sku(
            entry,
            product,
            is_addon=bool(entry["prerequisites"]),
            consumption_type=ConsumptionType.OVERAGE if entry["overage"] else None,
            terms=entry["terms"],
            minutes=entry["minutes"],
        )

    azure_product, _ = Product.objects.update_or_create(
        id=AZURE_PLAN["product_id"],
        defaults={
            "title": AZURE_PLAN["title"],
            "description": AZURE_PLAN["description"],
            "product_type": ProductType.AZURE,
            "segments": [Segment.COMMERCIAL],
        },
    )
    # The Azure plan has no commitment term and no license price: it is billed by consumption.
    skus[AZURE_PLAN["key"]] = _upsert_sku(
        {**AZURE_PLAN, "max_quantity": 1, "max_per_customer": 1},
        azure_product,
        is_addon=False,
        consumption_type=None,
        terms=[],
        minutes=(0, 0, 0),
    )

    for entry in PRODUCTS:
        sku = skus[entry["key"]]
        sku.prerequisites.set([skus[key] for key in entry["prerequisites"]])
        sku.upgrade_targets.set([skus[key] for key in entry["upgrades"]])

    _build_price_list(clock, skus)
    return skus


def _build_price_list(clock, skus):
    rows = []
    for entry in PRODUCTS:
        tags = []
        if entry["overage"]:
            tags.append(PriceTag.INCLUDES_OVERAGE.value)
        if entry["prerequisites"]:
            tags.append(PriceTag.ADD_ON.value)
        for market, (currency, factor) in MARKETS.items():
            for term, cycle in entry["terms"]:
                unit_price = unit_price_for(entry, term, cycle, factor)
                rows.append({
                    "sku": skus[entry["key"]],
                    "term_duration": term,
                    "billing_plan": cycle,
                    "market": market,
                    "currency": currency,
                    "segment": Segment.COMMERCIAL.value,
                    "effective_start": clock.price_effective_start,
                    "unit_price": unit_price,
                    "erp_price": (unit_price * ERP_MARKUP).quantize(CENT),
                    "effective_end": None,
                    "tags": tags,
                })
    sync_rows(PriceListEntry, PRICE_KEY, rows)


def price_for(sku, *, market, term, cycle, clock):
    """The demo price-list row a purchase in ``market`` pays."""
    return PriceListEntry.objects.get(
        sku=sku,
        market=market,
        term_duration=term,
        billing_plan=cycle,
        segment=Segment.COMMERCIAL,
        effective_start=clock.price_effective_start,
    )
