"""The telco call rates a partner may look up (issue 13, defect 13; seed 000: "rates per
destination and number type, downloadable"): the rates in force in the partner's markets.

A market is the country of one of the partner's customers; its rates are those in the
market's currency (``currency_for_country``), one per destination and number type: the one
whose [effective_from, effective_to) holds the day, the latest ``effective_from`` winning,
as the rating engine picks them (``rating_sql.rate_spans``).
"""

from django.db.models import Q

from billing.models import Rate
from portal.models import Customer, currency_for_country


def partner_markets(*, partner):
    """The countries of the partner's customers, sorted."""
    return sorted(set(Customer.objects.transacted_by(partner).values_list("country", flat=True)))


def rates_in_force(*, market, on_date):
    """The rates of ``market``'s currency in force on ``on_date``, by destination and number
    type. One query."""
    rates = (
        Rate.objects.filter(currency=currency_for_country(market), effective_from__lte=on_date)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=on_date))
        .order_by("destination_country", "number_type", "-effective_from")
    )
    in_force = {}
    for rate in rates:
        in_force.setdefault((rate.destination_country, rate.number_type), rate)
    return list(in_force.values())
