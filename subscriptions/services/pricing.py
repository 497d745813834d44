"""Prices of cart lines and the first charge of a new subscription.

A price-list row's ``unit_price`` is the price of one license for one billing period of its
billing plan (a month for monthly billing, a year for annual, three years for triennial),
as Partner Center's price list quotes it. Money is ``Decimal``; amounts are truncated to
cents (ROUND_DOWN), never rounded up against the customer.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from subscriptions.periods import CYCLE_MONTHS, TERM_MONTHS, add_months, days_inclusive, trunc2
from subscriptions.prices import prices_in_force
from subscriptions.selectors import natural_end_date


@dataclass(frozen=True)
class Charge:
    charge_start: datetime.date
    charge_end: datetime.date
    amount: Decimal
    effective_unit_price: Decimal


def first_charge(*, unit_price, quantity, billing_cycle, term_duration, start_date, end_date):
    """The ``new`` charge of a purchase: one billing period of ``quantity`` licenses from
    ``start_date``. When the term ends (custom end date, coterminosity) before that billing
    period would, the period is cut at ``end_date`` and the price prorated by day."""
    period_months = min(CYCLE_MONTHS.get(billing_cycle, 1), TERM_MONTHS[term_duration])
    period_end = add_months(start_date, period_months) - datetime.timedelta(days=1)
    unit_price = Decimal(unit_price)
    if end_date >= period_end:
        effective = unit_price
        charge_end = period_end
    else:
        charge_end = end_date
        effective = unit_price * days_inclusive(start_date, charge_end) / days_inclusive(start_date, period_end)
    amount = trunc2(effective * quantity)
    return Charge(
        charge_start=start_date,
        charge_end=charge_end,
        amount=amount,
        effective_unit_price=effective.quantize(Decimal("0.000001")),
    )


@dataclass(frozen=True)
class LineEstimate:
    line: object
    price: object  # PriceListEntry or None
    charge: Charge | None


def estimate_cart(*, cart, lines, today):
    """What checking the cart out today would charge first, per line and in total per
    currency (a read for the confirmation page; checkout recomputes under its lock).
    Lines with an error or without a price have no charge. One query."""


    prices = prices_in_force(
        keys={(ln.availability.sku_id, ln.term_duration, ln.billing_cycle) for ln in lines},
        market=cart.customer.country,
        segment_by_sku={ln.availability.sku_id: ln.availability.segment for ln in lines},
        on_date=today,
    )
    estimates, totals = [], {}
    for ln in lines:
        price = prices.get((ln.availability.sku_id, ln.term_duration, ln.billing_cycle))
        charge = None
        if price is not None and ln.term_duration in TERM_MONTHS:
            end = ln.custom_term_end_date or natural_end_date(start_date=today, term_duration=ln.term_duration)
            charge = first_charge(
                unit_price=price.unit_price, quantity=ln.quantity, billing_cycle=ln.billing_cycle,
                term_duration=ln.term_duration, start_date=today, end_date=end,
            )
            if ln.error_code is None:
                totals[price.currency] = totals.get(price.currency, Decimal("0")) + charge.amount
        estimates.append(LineEstimate(line=ln, price=price, charge=charge))
    return estimates, totals
