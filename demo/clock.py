"""Dates the demo is built around, all derived from one "today" so a run is reproducible."""

import calendar
import datetime as dt
from dataclasses import dataclass

# SPEC §13: demo subscriptions were bought 40 days ago, so their 168-hour windows are closed.
PURCHASE_DAYS_AGO = 40
PURCHASE_TIME = dt.time(9, 0)


def add_months(day, months):
    """``day`` moved by whole calendar months, clamped to the end of a shorter month."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class DemoClock:
    today: dt.date

    @property
    def purchase_date(self):
        return self.today - dt.timedelta(days=PURCHASE_DAYS_AGO)

    def purchased_at(self, *, hours_later=0):
        moment = dt.datetime.combine(self.purchase_date, PURCHASE_TIME, tzinfo=dt.UTC)
        return moment + dt.timedelta(hours=hours_later)

    @property
    def price_effective_start(self):
        return dt.date(self.today.year, 1, 1)

    @property
    def rate_effective_from(self):
        return dt.date(self.today.year - 1, 1, 1)

    @property
    def usage_month(self):
        """First day of the previous calendar month."""
        return add_months(self.today.replace(day=1), -1)

    def usage_window(self):
        """[start, end) of the previous month, in UTC."""
        first = self.usage_month
        start = dt.datetime.combine(first, dt.time(0), tzinfo=dt.UTC)
        end = dt.datetime.combine(add_months(first, 1), dt.time(0), tzinfo=dt.UTC)
        return start, end
