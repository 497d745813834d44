"""Builds the demo call rates and the previous month's call usage (SPEC §8, §13).

The usage is generated, not hand-written: a seeded ``random.Random`` per customer and
month makes it the same on every run, and record ids name the customer and month, so a
second run finds every record already there and creates nothing.
"""

import datetime as dt
import math
import random
from decimal import Decimal

from django.utils.text import slugify

from billing.models import CallType, NumberType, Rate, UsageRecord

from .catalog_data import MARKETS
from .rows import sync_rows
from .sales import PURCHASES

# Destination → USD list price per minute: (landline, mobile, toll-free inbound or None).
RATES_USD = {
    "US": ("0.019", "0.019", "0.024"),
    "CA": ("0.019", "0.019", "0.024"),
    "GB": ("0.024", "0.082", "0.036"),
    "IT": ("0.028", "0.120", "0.046"),
    "DE": ("0.024", "0.140", "0.052"),
    "FR": ("0.024", "0.120", "0.048"),
    "ES": ("0.024", "0.100", None),
    "NL": ("0.030", "0.180", None),
    "CH": ("0.030", "0.310", None),
    "IN": ("0.090", "0.090", None),
    "AU": ("0.040", "0.090", "0.050"),
    "JP": ("0.080", "0.170", None),
    "BR": ("0.060", "0.150", None),
    "MX": ("0.040", "0.060", None),
}
RATE_PRECISION = Decimal("0.0001")

# Per customer: calls beyond the domestic pool, and how many calls of each other kind.
USAGE_PLANS = {
    "alpine": {"overshoot": Decimal("1.15"), "international": 150, "tollfree": 80, "conference": 40},
    "blueyonder": {"overshoot": Decimal("1.12"), "international": 100, "tollfree": 60, "conference": 30},
    "fourthcoffee": {"overshoot": Decimal("1.10"), "international": 120, "tollfree": 50, "conference": 0},
}
MIN_SECONDS, MAX_SECONDS, TYPICAL_SECONDS = 30, 3600, 900
BATCH_SIZE = 1000


def build_rates(clock):
    """Rates per destination × number type in every demo currency; returns the number of rows."""
    rows = []
    for country, prices in RATES_USD.items():
        for number_type, usd in zip([NumberType.LANDLINE, NumberType.MOBILE, NumberType.TOLLFREE], prices):
            if usd is None:
                continue
            for currency, factor in MARKETS.values():
                price = (Decimal(usd) * factor).quantize(RATE_PRECISION)
                # Overage is charged at list price, so the partner price is the ERP price.
                rows.append({
                    "destination_country": country,
                    "number_type": number_type.value,
                    "currency": currency,
                    "effective_from": clock.rate_effective_from,
                    "unit_price": price,
                    "erp_price": price,
                    "effective_to": None,
                })
    sync_rows(Rate, ["destination_country", "number_type", "currency", "effective_from"], rows)
    return len(rows)


def domestic_pool(customer_key, skus):
    """Domestic minutes the customer's demo licenses include in a month."""
    return sum(
        skus[sku_key].included_minutes_domestic * quantity
        for key, _, _, lines, _ in PURCHASES
        if key == customer_key
        for sku_key, quantity in lines
    )


def licensed_users(customer_key):
    """How many calling users the customer has: its largest demo license count."""
    return max(
        (quantity for key, _, _, lines, _ in PURCHASES if key == customer_key for _, quantity in lines), default=1
    )


def build_usage(clock, *, customers, skus):
    """Generate and store the previous month's calls; returns the number of records created."""
    created = 0
    for customer_key, plan in USAGE_PLANS.items():
        customer = customers[customer_key]
        calls = generate_calls(clock, customer=customer, customer_key=customer_key, plan=plan, skus=skus)
        ids = [c["record_id"] for c in calls]
        existing = set(UsageRecord.objects.filter(record_id__in=ids).values_list("record_id", flat=True))
        missing = [UsageRecord(customer=customer, **c) for c in calls if c["record_id"] not in existing]
        UsageRecord.objects.bulk_create(missing, batch_size=BATCH_SIZE)
        created += len(missing)
    return created


def generate_calls(clock, *, customer, customer_key, plan, skus):
    """The customer's calls for the previous month, as UsageRecord field dicts in time order.

    Domestic calls go past the included pool (SPEC §13) and start after the first calling
    license was bought, so none of them predates the licenses that would cover it.
    """
    month = clock.usage_month
    rng = random.Random(f"seed-demo/{customer_key}/{month:%Y-%m}")
    start, end = clock.usage_window()
    start = max(start, clock.purchased_at() + dt.timedelta(hours=1))
    home = customer.country
    abroad = [country for country in RATES_USD if country != home]
    tollfree_countries = [c for c, prices in RATES_USD.items() if prices[2] is not None]

    def call(call_type, country, number_type):
        seconds = round(rng.triangular(MIN_SECONDS, MAX_SECONDS, TYPICAL_SECONDS))
        return {
            "started_at": _business_hours_moment(rng, start, end),
            "duration_seconds": seconds,
            "call_type": call_type,
            "destination_country": country,
            "number_type": number_type,
            "user": f"user{rng.randint(1, licensed_users(customer_key))}@{customer.domain}",
        }

    calls, minutes = [], 0
    target = math.ceil(domestic_pool(customer_key, skus) * plan["overshoot"]) + 500
    while minutes < target:
        calls.append(call(CallType.DOMESTIC, home, rng.choices([NumberType.LANDLINE, NumberType.MOBILE], [7, 3])[0]))
        minutes += math.ceil(calls[-1]["duration_seconds"] / 60)
    for _ in range(plan["international"]):
        number_type = rng.choice([NumberType.LANDLINE, NumberType.MOBILE])
        calls.append(call(CallType.INTERNATIONAL, rng.choice(abroad), number_type))
    if home in tollfree_countries:
        for _ in range(plan["tollfree"]):
            calls.append(call(CallType.TOLLFREE_INBOUND, home, NumberType.TOLLFREE))
    for _ in range(plan["conference"]):
        calls.append(call(CallType.CONFERENCE_DIALOUT, rng.choice([home, home, *abroad[:4]]), NumberType.LANDLINE))

    calls.sort(key=lambda c: (c["started_at"], c["user"]))
    prefix = f"demo-{slugify(customer.name)}-{month:%Y%m}"
    for number, c in enumerate(calls, start=1):
        c["record_id"] = f"{prefix}-{number:05d}"
    return calls


def _business_hours_moment(rng, start, end):
    """A whole-second moment in [start, end), mostly in working hours (UTC)."""
    days = max(1, math.ceil((end - start).total_seconds() / 86400))
    for _ in range(20):
        day = (start + dt.timedelta(days=rng.randrange(days))).replace(hour=0, minute=0, second=0, microsecond=0)
        seconds = int(min(max(rng.gauss(14 * 3600, 3 * 3600), 6 * 3600), 22 * 3600))
        moment = day + dt.timedelta(seconds=seconds)
        if start <= moment < end:
            return moment
    return start + dt.timedelta(seconds=rng.randrange(int((end - start).total_seconds())))
