"""The template side of ``portal.formatting``: the one way a page shows money, dates and times
(``{% load portal_format %}``)::

    {{ amount|money:currency }}   {{ day|date_short }}   {{ moment|datetime }}
    {{ deadline|datetime_zone }}  {{ billing_month|month }}
"""

from django import template

from portal import formatting

register = template.Library()


@register.filter
def money(amount, currency):
    return formatting.format_money(amount, currency)


@register.filter
def date_short(value):
    return formatting.format_date(value)


@register.filter
def datetime(value):
    return formatting.format_datetime(value)


@register.filter
def datetime_zone(value):
    """For a moment whose zone matters (the 168-hour window's deadline): the zone is named."""
    return formatting.format_datetime(value, with_zone=True)


@register.filter
def month(value):
    return formatting.format_month(value)
