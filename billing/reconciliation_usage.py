"""The overage usage lines of the reconciliation file (SPEC §9): one per customer × Azure
subscription × meter × unit price (× late adjustment) of the rated calls billed in the month
with post-paid minutes for the partner, summed by the database, in the file's order."""

from datetime import datetime

from django.db.models import Sum
from django.db.models.functions import TruncMonth

from billing.models import RatedCall
from billing.reconciliation_format import (
    AZURE_PLAN_NAME,
    AZURE_PLAN_SKU_ID,
    CHUNK_SIZE,
    EXCHANGE_RATE,
    NUMBER_TYPE_LABELS,
    USAGE_CHARGE_TYPE,
    _date,
    invoice_number,
    money,
    month_last_day,
    price,
    usage_subtotal,
)
from catalog.models import AZURE_PLAN_PRODUCT_ID


# --- Usage lines ---------------------------------------------------------------------------

USAGE_GROUP = [
    "usage_record__customer_id",
    "usage_record__customer__name",
    "usage_record__customer__tenant_id",
    "usage_record__customer__domain",
    "usage_record__customer__country",
    "azure_subscription_id",
    "usage_record__destination_country",
    "usage_record__number_type",
    "unit_price",
    "currency",
    "reseller__mpn_id",
]
USAGE_ORDER = [
    "usage_record__customer__name",
    "azure_subscription_id",
    "usage_record__destination_country",
    "usage_record__number_type",
    "unit_price",
    "currency",
    "reseller__mpn_id",
    "usage_record__customer_id",
]


def meter_description(country, number_type):
    return f"Teams calling – {country} {NUMBER_TYPE_LABELS.get(number_type, number_type)} (per minute)"


def _usage_row(partner, month, group, minutes, *, charge_start, charge_end):
    unit_price = group["unit_price"]
    subtotal = usage_subtotal(unit_price, minutes)
    currency = group["currency"]
    return {
        "PartnerId": partner.mpn_id,
        "CustomerId": str(group["usage_record__customer__tenant_id"]),
        "CustomerName": group["usage_record__customer__name"],
        "CustomerDomainName": group["usage_record__customer__domain"],
        "CustomerCountry": group["usage_record__customer__country"],
        "InvoiceNumber": invoice_number(partner, month),
        "MpnId": partner.mpn_id,
        "ResellerMpnId": group["reseller__mpn_id"] or "",
        "OrderId": "",
        "OrderDate": "",
        "ProductId": AZURE_PLAN_PRODUCT_ID,
        "SkuId": AZURE_PLAN_SKU_ID,
        "AvailabilityId": "",
        "SkuName": AZURE_PLAN_NAME,
        "ProductName": AZURE_PLAN_NAME,
        "ChargeType": USAGE_CHARGE_TYPE,
        "UnitPrice": price(unit_price),
        "Quantity": str(minutes),
        "Subtotal": money(subtotal),
        "TaxTotal": "0.00",
        "Total": money(subtotal),
        "Currency": currency,
        "PriceAdjustmentDescription": "",
        "SubscriptionId": str(group["azure_subscription_id"] or ""),
        "ChargeStartDate": _date(charge_start),
        "ChargeEndDate": _date(charge_end),
        "TermAndBillingCycle": "",
        "EffectiveUnitPrice": price(unit_price),
        "UnitType": "Minute",
        "BillableQuantity": str(minutes),
        "BillingFrequency": "Monthly",
        "PricingCurrency": currency,
        "PCToBCExchangeRate": str(EXCHANGE_RATE),
        "MeterDescription": meter_description(
            group["usage_record__destination_country"], group["usage_record__number_type"]
        ),
        "SubscriptionStartDate": "",
        "SubscriptionEndDate": "",
        "ProductQualifiers": "[]",
        "PartnerEarnedCreditPercentage": "0",
    }


def billed_usage(partner, month):
    """The rated calls of ``month`` that accrued post-paid overage to ``partner``."""
    return RatedCall.objects.owned_by(partner).billed_in(month).filter(postpaid_minutes__gt=0)


def _usage_key(row, group, adjustment):
    return (
        row["CustomerName"],
        row["SubscriptionId"],
        USAGE_CHARGE_TYPE,
        row["ChargeStartDate"],
        ("u", row["MeterDescription"], group["unit_price"], row["Currency"], row["ResellerMpnId"], adjustment,
         str(group["usage_record__customer_id"])),
    )


def _usage_lines(partner, month):
    """The month's own calls: one line per customer × Azure subscription × meter × price."""
    groups = (
        billed_usage(partner, month)
        .filter(is_adjustment=False)
        .values(*USAGE_GROUP)
        .annotate(minutes=Sum("postpaid_minutes"))
        .order_by(*USAGE_ORDER)
    )
    last = month_last_day(month)
    for group in groups.iterator(chunk_size=CHUNK_SIZE):
        row = _usage_row(partner, month, group, group["minutes"], charge_start=month, charge_end=last)
        yield _usage_key(row, group, False), row


def _adjustment_lines(partner, month):
    """Late calls of finalized months, billed now: kept apart, dated in the call's month."""
    groups = (
        billed_usage(partner, month)
        .filter(is_adjustment=True)
        .annotate(call_month=TruncMonth("usage_record__started_at"))
        .values(*USAGE_GROUP, "call_month")
        .annotate(minutes=Sum("postpaid_minutes"))
        .order_by("usage_record__customer__name", "azure_subscription_id", "call_month", *USAGE_ORDER[2:])
    )
    for group in groups.iterator(chunk_size=CHUNK_SIZE):
        call_month = group["call_month"]
        call_month = call_month.date() if isinstance(call_month, datetime) else call_month
        row = _usage_row(
            partner, month, group, group["minutes"], charge_start=call_month, charge_end=month_last_day(call_month)
        )
        yield _usage_key(row, group, True), row
