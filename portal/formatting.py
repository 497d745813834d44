"""The one way the portal shows money, dates and times to a person (issue 12): in the active
language, with Babel's CLDR data, and times in the active time zone.

- Money: ``format_money(amount, currency)``: ``$1,950.00`` in English, ``1.950,00 USD`` /
  ``1.950,00 €`` in Italian. Digits beyond the currency's two are kept, never rounded away
  (a per-call rate of ``0.000123`` shows as such). The ``money`` template filter and the CSV
  files meant for people call it; the reconciliation files keep their machine format
  (SPEC §9).
- Dates: one format per kind and language: ``format_date`` (``Oct 21, 2027`` /
  ``21 ott 2027``), ``format_datetime`` (``Oct 21, 2027, 3:04 PM`` / ``21 ott 2027, 15:04``,
  in the active time zone, optionally naming it) and ``format_month`` (``October 2027`` /
  ``ottobre 2027``).

Every function takes the locale from the active language (``get_language``), so a page and
the CSV it links show the same text. An unknown language falls back to English.
"""

import datetime
from decimal import Decimal, InvalidOperation

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from django.conf import settings
from django.utils import timezone, translation

FALLBACK_LOCALE = "en"


def current_locale(locale=None):
    """A Babel ``Locale`` for ``locale`` (a Django language code or a Babel locale name), or
    for the active language; English when it is unknown."""
    code = locale or translation.get_language() or settings.LANGUAGE_CODE
    try:
        return Locale.parse(translation.to_locale(code))
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse(FALLBACK_LOCALE)


def format_money(amount, currency, locale=None):
    """``amount`` in ``currency`` as the active language writes it; ``""`` for no amount.
    A value that is not a number is shown as it is rather than breaking the page."""
    if amount is None or amount == "":
        return ""
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return str(amount)
    babel_locale = current_locale(locale)
    if not currency:
        return babel_numbers.format_decimal(value, "#,##0.00", locale=babel_locale, decimal_quantization=False)
    return babel_numbers.format_currency(value, currency.upper(), locale=babel_locale, decimal_quantization=False)


def _local(value):
    """An aware datetime moved to the active time zone; naive values and dates unchanged."""
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        return timezone.localtime(value)
    return value


def format_date(value, locale=None):
    """A date (or the local date of a datetime), e.g. ``Oct 21, 2027`` / ``21 ott 2027``."""
    if value in (None, ""):
        return ""
    value = _local(value)
    if isinstance(value, datetime.datetime):
        value = value.date()
    return babel_dates.format_date(value, "medium", locale=current_locale(locale))


def format_datetime(value, locale=None, with_zone=False):
    """A moment in the active time zone, e.g. ``Oct 21, 2027, 3:04 PM``; with ``with_zone``
    the zone is named after it (``… 15:04 (Europe/Rome)``), where the reader must not guess."""
    if value in (None, ""):
        return ""
    value = _local(value)
    babel_locale = current_locale(locale)
    text = babel_locale.datetime_formats["medium"].format(
        babel_dates.format_time(value, "short", locale=babel_locale),
        babel_dates.format_date(value.date(), "medium", locale=babel_locale),
    )
    if with_zone:
        text = f"{text} ({timezone.get_current_timezone_name()})"
    return text


def format_month(value, locale=None):
    """A month (any date in it), e.g. ``October 2027`` / ``ottobre 2027``."""
    if value in (None, ""):
        return ""
    value = _local(value)
    if isinstance(value, datetime.datetime):
        value = value.date()
    return babel_dates.format_skeleton("yMMMM", value, locale=current_locale(locale))
