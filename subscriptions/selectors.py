"""Reads of the subscriptions app that compute: term dates and the allowed custom term end
dates of coterminosity (SPEC §5, PARTNER-CENTER.md §6.5)."""

import datetime
from collections import defaultdict

from catalog.models import TermDuration
from subscriptions.models import Subscription, SubscriptionStatus
from subscriptions.periods import TERM_MONTHS, add_months, month_end, term_end

__all__ = [
    "TERM_MONTHS", "add_months", "allowed_custom_term_end_dates", "allowed_end_date_set", "coterm_candidates",
    "natural_end_date",
]

CALENDAR_MONTH_ALIGNED = "calendarMonthAligned"
SUBSCRIPTION_ALIGNED = "subscriptionAligned"


def natural_end_date(*, start_date, term_duration):
    """The last day of a term that starts on ``start_date``: start + term - 1 day."""
    return term_end(start_date, term_duration)


def coterm_candidates(*, customer, partner):
    """The customer's active subscriptions sold by ``partner``: the only ones a new line may
    align its end date with (same customer, same partner, target active). The Azure plan is
    pay as you go, with no term to end with: never a target. One query."""
    return list(
        Subscription.objects.owned_by(partner).licenses()
        .filter(customer=customer, status=SubscriptionStatus.ACTIVE)
        .values("id", "term_duration", "commitment_end_date", "friendly_name", "sku__title")
    )


def allowed_custom_term_end_dates(*, customer, partner, term_duration, start_date, candidates=None):
    """The custom term end dates a new line of ``term_duration`` starting on ``start_date``
    may use, sorted by date:

    * ``calendarMonthAligned``: every month end after the start and not after the natural
      end date (start + term - 1 day);
    * ``subscriptionAligned``: the end date of an active subscription of the same customer
      sold by the same partner, after the start and not after the natural end; an annual or
      triennial line may not align with a monthly (P1M) subscription.

    ``candidates`` (from ``coterm_candidates``) lets a caller validating many lines fetch
    the subscriptions once.
    """
    if term_duration not in TERM_MONTHS:
        return []
    natural_end = natural_end_date(start_date=start_date, term_duration=term_duration)
    items = []
    day = month_end(start_date)
    while day <= natural_end:
        if day > start_date:
            items.append(
                {"allowedCustomTermEndDateType": CALENDAR_MONTH_ALIGNED, "allowedCustomTermEndDate": day,
                 "cotermSubscriptionIds": []}
            )
        day = month_end(day + datetime.timedelta(days=1))

    if candidates is None:
        candidates = coterm_candidates(customer=customer, partner=partner)
    by_date = defaultdict(list)
    for sub in candidates:
        if term_duration != TermDuration.P1M and sub["term_duration"] == TermDuration.P1M:
            continue
        end = sub["commitment_end_date"]
        if start_date < end <= natural_end:
            by_date[end].append(str(sub["id"]))
    for end, ids in by_date.items():
        items.append(
            {"allowedCustomTermEndDateType": SUBSCRIPTION_ALIGNED, "allowedCustomTermEndDate": end,
             "cotermSubscriptionIds": sorted(ids)}
        )
    items.sort(key=lambda item: (item["allowedCustomTermEndDate"], item["allowedCustomTermEndDateType"]))
    return items


def allowed_end_date_set(**kwargs):
    return {item["allowedCustomTermEndDate"] for item in allowed_custom_term_end_dates(**kwargs)}
