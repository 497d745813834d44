"""Calendar arithmetic for terms and billing periods, and Partner Center's money rules.

Kept free of models so that pricing, proration and renewals share one definition of
"a year minus a day" and of truncation.
"""

import calendar
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

TERM_MONTHS = {"P1M": 1, "P1Y": 12, "P3Y": 36}
CYCLE_MONTHS = {"monthly": 1, "annual": 12, "triennial": 36}
CENT = Decimal("0.01")


def trunc2(value):
    """Partner Center truncates (never rounds) money to two decimals."""
    return Decimal(value).quantize(CENT, rounding=ROUND_DOWN)


def add_months(day, months):
    """``day`` moved by whole months, clamped to the end of a shorter month."""
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def month_end(day):
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def term_end(start, term_duration):
    """The natural end of a term that starts on ``start``: the day before the same date
    ``term`` later (a P1Y starting 2026-03-15 ends 2027-03-14)."""
    return add_months(start, TERM_MONTHS[term_duration]) - timedelta(days=1)


def billing_period(start, billing_cycle, on_day, end):
    """The billing period [first, last] of a subscription that starts on ``start`` and ends
    on ``end`` containing ``on_day``. The last period is cut at ``end``."""
    months = CYCLE_MONTHS.get(billing_cycle, 1)
    first = start
    step = 0
    while True:
        nxt = add_months(start, months * (step + 1))
        if on_day < nxt or nxt > end:
            return first, min(nxt - timedelta(days=1), end)
        step += 1
        first = nxt


def days_inclusive(first, last):
    return (last - first).days + 1


def prorate(amount, used_days, period_days):
    """``amount`` × used/period, truncated to cents: Partner Center's daily proration."""
    if period_days <= 0:
        return Decimal("0.00")
    return trunc2(Decimal(amount) * Decimal(used_days) / Decimal(period_days))
