"""The two scope filters the subscription app's querysets share (``transacted_by``)."""

from django.db.models import Q


def transacting_or_reseller(partner):
    """Rows the partner transacts, or is the reseller of record of."""
    return Q(partner=partner) | Q(reseller=partner)


def of_subscription_transacted_by(partner):
    """Rows of a subscription the partner transacts or is the reseller of record of, joined
    to it: the database reads the few rows another filter picks (a date range, an open
    status) and checks each one's subscription, where ``subscription__in`` a subquery of
    every subscription of a large partner reads them all (issue 13, ``bench/dashboard.py``)."""
    return Q(subscription__partner=partner) | Q(subscription__reseller=partner)
