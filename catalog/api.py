"""Catalog endpoints, in Partner Center's shapes (PARTNER-CENTER.md §3): products, their SKUs
(with the add-on's prerequisites and the overage consumption type) and availabilities.

The catalog is the same for every partner; any member may read it (``permissions.VIEW``).
``country`` is required, as in Partner Center; it chooses the currency of availabilities.
Every collection costs a fixed number of queries, whatever its size.
"""

from typing import Literal

from django.utils.translation import gettext_lazy as _
from ninja import Query, Router, Schema
from pydantic import Field

from catalog.models import Availability, BillingCycle, Product, ProductType, Segment, Sku, TermDuration
from portal import permissions
from portal.api import (
    ApiError,
    ApiNotFound,
    AttributesOut,
    LinkOut,
    any_case,
    attributes,
    collection,
    collection_schema,
    documented,
    link,
    require,
    responses,
)
from portal.errors import ErrorCode
from portal.models import currency_for_country

router = Router(tags=["catalog"])

PRODUCT_NOT_FOUND_MESSAGE = _("Product %(product_id)s was not found.")
SKU_NOT_FOUND_MESSAGE = _("SKU %(sku_id)s of product %(product_id)s was not found.")
AVAILABILITY_NOT_FOUND_MESSAGE = _("Availability %(availability_id)s of %(product_id)s:%(sku_id)s was not found.")
TARGET_VIEW_MESSAGE = _("targetView %(value)s is not supported. Use one of: %(allowed)s.")
SEGMENT_MESSAGE = _("targetSegment %(value)s is not supported. Use one of: %(allowed)s.")

# Partner Center's targetView → the product type it lists here.
TARGET_VIEWS = {
    "OnlineServices": ProductType.ONLINE_SERVICES_NCE,
    "MicrosoftAzure": ProductType.AZURE,
}

CURRENCY_SYMBOLS = {"USD": "$", "CAD": "$", "GBP": "£", "EUR": "€"}

TERM_DESCRIPTIONS = {
    TermDuration.P1M: _("1 Month"),
    TermDuration.P1Y: _("1 Year"),
    TermDuration.P3Y: _("3 Years"),
}


class CountryQuery(Schema):
    country: str = Field(..., pattern=r"^[A-Za-z]{2}$", description="Two-letter ISO country code, e.g. US.")
    targetSegment: documented(
        pattern=any_case(*Segment.values, optional=True),
        description="commercial, education, government or nonprofit (any letter case); empty: every segment.",
    ) | None = None


class ProductsQuery(CountryQuery):
    targetView: documented(enum=list(TARGET_VIEWS), description="OnlineServices (the default) or MicrosoftAzure.") = (
        "OnlineServices"
    )


# --- Response shapes ----------------------------------------------------------------------


class ProductTypeOut(Schema):
    id: str
    displayName: str


class ProductLinksOut(Schema):
    skus: LinkOut
    self: LinkOut


class ProductOut(Schema):
    id: str
    title: str
    description: str
    productType: ProductTypeOut
    isMicrosoftProduct: bool
    publisherName: str
    links: ProductLinksOut
    attributes: AttributesOut


class SkuDynamicAttributesOut(Schema):
    isAddon: bool
    prerequisiteSkus: list[str]
    upgradeTargetOffers: list[str]
    isMicrosoftProduct: bool


class SkuLinksOut(Schema):
    availabilities: LinkOut
    self: LinkOut


class SkuOut(Schema):
    id: str
    productId: str
    title: str
    description: str
    minimumQuantity: int
    maximumQuantity: int
    isTrial: bool
    supportedBillingCycles: list[str]
    consumptionType: Literal["overage"] | None
    dynamicAttributes: SkuDynamicAttributesOut
    links: SkuLinksOut
    attributes: AttributesOut


class CurrencyOut(Schema):
    code: str
    symbol: str


class TermOut(Schema):
    duration: str
    description: str
    billingCycle: str


class AvailabilityLinksOut(Schema):
    self: LinkOut


class AvailabilityOut(Schema):
    id: str
    productId: str
    skuId: str
    catalogItemId: str
    defaultCurrency: CurrencyOut
    segment: str
    country: str
    isPurchasable: bool
    isRenewable: bool
    terms: list[TermOut]
    links: AvailabilityLinksOut
    attributes: AttributesOut


ProductCollectionOut = collection_schema(ProductOut)
SkuCollectionOut = collection_schema(SkuOut)
AvailabilityCollectionOut = collection_schema(AvailabilityOut)


# --- Serialisers --------------------------------------------------------------------------


def _is_microsoft(publisher_name):
    return publisher_name.startswith("Microsoft")


def product_json(product, country):
    return {
        "id": product.id,
        "title": product.title,
        "description": product.description,
        "productType": {"id": product.product_type, "displayName": product.product_type},
        "isMicrosoftProduct": _is_microsoft(product.publisher_name),
        "publisherName": product.publisher_name,
        "links": {
            "skus": link(f"/products/{product.id}/skus?country={country}"),
            "self": link(f"/products/{product.id}?country={country}"),
        },
        "attributes": attributes("Product"),
    }


def sku_json(sku, country):
    """Needs ``product``, ``prerequisites`` and ``upgrade_targets`` loaded (see ``_skus``)."""
    base = f"/products/{sku.product_id}/skus/{sku.sku_id}"
    return {
        "id": sku.sku_id,
        "productId": sku.product_id,
        "title": sku.title,
        "description": sku.description,
        "minimumQuantity": sku.min_quantity,
        "maximumQuantity": sku.max_quantity,
        "isTrial": sku.is_trial,
        "supportedBillingCycles": list(sku.supported_billing_cycles),
        "consumptionType": sku.consumption_type or None,
        "dynamicAttributes": {
            "isAddon": sku.is_addon,
            "prerequisiteSkus": sorted(p.code for p in sku.prerequisites.all()),
            "upgradeTargetOffers": sorted(t.code for t in sku.upgrade_targets.all()),
            "isMicrosoftProduct": _is_microsoft(sku.product.publisher_name),
        },
        "links": {
            "availabilities": link(f"{base}/availabilities?country={country}"),
            "self": link(f"{base}?country={country}"),
        },
        "attributes": attributes("Sku"),
    }


def _billing_cycle_label(value):
    # Partner Center writes a term's billing cycle capitalised: "Monthly", "Annual".
    try:
        return str(BillingCycle(value).label)
    except ValueError:
        return str(value)


def term_json(term):
    duration = term.get("termDuration", "")
    return {
        "duration": duration,
        "description": str(TERM_DESCRIPTIONS.get(duration, duration)),
        "billingCycle": _billing_cycle_label(term.get("billingCycle", "")),
    }


def availability_json(availability, sku, country):
    currency = currency_for_country(country)
    return {
        "id": availability.availability_id,
        "productId": sku.product_id,
        "skuId": sku.sku_id,
        "catalogItemId": f"{sku.product_id}:{sku.sku_id}:{availability.availability_id}",
        "defaultCurrency": {"code": currency, "symbol": CURRENCY_SYMBOLS.get(currency, currency)},
        "segment": availability.segment,
        "country": country,
        "isPurchasable": availability.is_purchasable,
        "isRenewable": availability.is_renewable,
        "terms": [term_json(t) for t in availability.terms],
        "links": {
            "self": link(
                f"/products/{sku.product_id}/skus/{sku.sku_id}/availabilities/{availability.availability_id}"
                f"?country={country}"
            )
        },
        "attributes": attributes("Availability"),
    }


# --- Lookups ------------------------------------------------------------------------------


def _segment(value):
    """The segment asked for, or None for every segment (no value, or an empty one)."""
    value = (value or "").strip()
    if not value:
        return None
    if value.lower() not in Segment.values:
        raise ApiError(
            ErrorCode.SEGMENT_NOT_ALLOWED, SEGMENT_MESSAGE % {"value": value, "allowed": ", ".join(Segment.values)}
        )
    return value.lower()


def _product_or_404(product_id):
    product = Product.objects.filter(pk=product_id.upper()).first()
    if product is None:
        raise ApiNotFound(ErrorCode.PRODUCT_NOT_FOUND, PRODUCT_NOT_FOUND_MESSAGE, params={"product_id": product_id})
    return product


def _skus():
    return Sku.objects.select_related("product").prefetch_related("prerequisites", "upgrade_targets")


def _sku_or_404(product_id, sku_id, skus=None):
    """The SKU, in one query; an unknown product is 400013, a known product's unknown SKU 400018."""
    skus = Sku.objects.select_related("product") if skus is None else skus
    sku = skus.filter(product_id=product_id.upper(), sku_id=sku_id.upper()).first()
    if sku is None:
        product = _product_or_404(product_id)
        raise ApiNotFound(ErrorCode.SKU_NOT_FOUND, SKU_NOT_FOUND_MESSAGE, params={"product_id": product.id, "sku_id": sku_id})
    return sku


# --- Endpoints ----------------------------------------------------------------------------


@router.get("", response=responses(ProductCollectionOut), summary="List products")
def list_products(request, query: Query[ProductsQuery]):
    """Products of a targetView: ``OnlineServices`` (new-commerce licenses) or
    ``MicrosoftAzure`` (Azure plan), optionally for one targetSegment."""
    require(request, permissions.VIEW)
    product_type = TARGET_VIEWS.get(query.targetView)
    if product_type is None:
        raise ApiError(
            ErrorCode.TARGET_VIEW_NOT_ALLOWED,
            TARGET_VIEW_MESSAGE % {"value": query.targetView, "allowed": ", ".join(TARGET_VIEWS)},
        )
    segment = _segment(query.targetSegment)
    country = query.country.upper()
    products = Product.objects.filter(product_type=product_type).order_by("title", "id")
    items = [product_json(p, country) for p in products if segment is None or segment in (p.segments or [])]
    return collection(items)


@router.get("/{product_id}", response=responses(ProductOut), summary="Get a product")
def get_product(request, product_id: str, query: Query[CountryQuery]):
    require(request, permissions.VIEW)
    return product_json(_product_or_404(product_id), query.country.upper())


@router.get("/{product_id}/skus", response=responses(SkuCollectionOut), summary="List the SKUs of a product")
def list_skus(request, product_id: str, query: Query[CountryQuery]):
    """SKUs with ``consumptionType`` (overage) and ``dynamicAttributes`` (``isAddon``,
    ``prerequisiteSkus`` and ``upgradeTargetOffers`` as ``productId:skuId``)."""
    require(request, permissions.VIEW)
    _segment(query.targetSegment)
    product = _product_or_404(product_id)
    country = query.country.upper()
    skus = _skus().filter(product=product).order_by("sku_id")
    return collection(sku_json(s, country) for s in skus)


@router.get("/{product_id}/skus/{sku_id}", response=responses(SkuOut), summary="Get a SKU")
def get_sku(request, product_id: str, sku_id: str, query: Query[CountryQuery]):
    require(request, permissions.VIEW)
    return sku_json(_sku_or_404(product_id, sku_id, _skus()), query.country.upper())


@router.get(
    "/{product_id}/skus/{sku_id}/availabilities",
    response=responses(AvailabilityCollectionOut),
    summary="List the availabilities of a SKU",
)
def list_availabilities(request, product_id: str, sku_id: str, query: Query[CountryQuery]):
    """What can be bought of a SKU: ``catalogItemId`` (goes into a cart line) and terms, in
    the currency of the country's market."""
    require(request, permissions.VIEW)
    segment = _segment(query.targetSegment)
    sku = _sku_or_404(product_id, sku_id)
    country = query.country.upper()
    availabilities = Availability.objects.filter(sku=sku).order_by("availability_id")
    if segment:
        availabilities = availabilities.filter(segment=segment)
    return collection(availability_json(a, sku, country) for a in availabilities)


@router.get(
    "/{product_id}/skus/{sku_id}/availabilities/{availability_id}",
    response=responses(AvailabilityOut),
    summary="Get an availability",
)
def get_availability(request, product_id: str, sku_id: str, availability_id: str, query: Query[CountryQuery]):
    require(request, permissions.VIEW)
    segment = _segment(query.targetSegment)  # checked as the list checks it: a bad one is a 400
    sku = _sku_or_404(product_id, sku_id)
    availability = Availability.objects.filter(sku=sku, availability_id=availability_id.upper()).first()
    if availability is not None and segment and availability.segment != segment:
        availability = None  # not sold to that segment
    if availability is None:
        raise ApiNotFound(
            description=AVAILABILITY_NOT_FOUND_MESSAGE
            % {"availability_id": availability_id, "product_id": sku.product_id, "sku_id": sku.sku_id}
        )
    return availability_json(availability, sku, query.country.upper())
