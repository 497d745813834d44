"""A user's language and time zone (issue 12).

Language: the saved preference wins, else the browser's (``LocaleMiddleware``), else English.
Time zone: the saved preference wins, else the partner's country (Europe/Rome for an Italian
partner, ``COUNTRY_TIME_ZONES``), else UTC. A code that is not one of ``LANGUAGES``, or a zone
that is not in the IANA database, is never an error: it falls back (English, the country's
zone or UTC). ``UserPreferenceMiddleware`` activates both for every page; the API (``/v1/``)
stays in English and UTC whatever the preference.
"""

import zoneinfo
from functools import lru_cache

from django.conf import settings
from django.db import transaction

from portal.models import UserPreference

DEFAULT_LANGUAGE = "en"
DEFAULT_TIME_ZONE = "UTC"

# The zone most of a country's partners work in (the capital's, for countries with several).
COUNTRY_TIME_ZONES = {
    "IT": "Europe/Rome",
    "SM": "Europe/Rome",
    "VA": "Europe/Rome",
    "CH": "Europe/Zurich",
    "DE": "Europe/Berlin",
    "AT": "Europe/Vienna",
    "FR": "Europe/Paris",
    "BE": "Europe/Brussels",
    "NL": "Europe/Amsterdam",
    "LU": "Europe/Luxembourg",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "IE": "Europe/Dublin",
    "GB": "Europe/London",
    "PL": "Europe/Warsaw",
    "SE": "Europe/Stockholm",
    "DK": "Europe/Copenhagen",
    "NO": "Europe/Oslo",
    "FI": "Europe/Helsinki",
    "GR": "Europe/Athens",
    "US": "America/New_York",
    "CA": "America/Toronto",
    "MX": "America/Mexico_City",
    "BR": "America/Sao_Paulo",
    "IN": "Asia/Kolkata",
    "JP": "Asia/Tokyo",
    "AU": "Australia/Sydney",
    "NZ": "Pacific/Auckland",
}


@lru_cache(maxsize=1)
def time_zone_names():
    """Every IANA zone name this machine knows, sorted (the choices of the preferences form)."""
    return sorted(zoneinfo.available_timezones())


def valid_language(code):
    """``code`` when it is one of ``LANGUAGES``, else ``""``."""
    return code if code in dict(settings.LANGUAGES) else ""


def valid_time_zone(name):
    """``name`` when it is a known IANA zone, else ``""``."""
    return name if name and name in time_zone_names() else ""


def preference_of(user):
    """The user's saved preference, or None (anonymous users and users who never saved one)."""
    if not user.is_authenticated:
        return None
    return UserPreference.objects.filter(user=user).first()


def preferred_language(preference):
    """The saved language, or ``""`` to follow the browser. An unknown saved code is English."""
    if preference is None or not preference.language:
        return ""
    return valid_language(preference.language) or DEFAULT_LANGUAGE


def default_time_zone(partner):
    """The zone of the partner's country, else UTC."""
    country = getattr(partner, "country", "") or ""
    return COUNTRY_TIME_ZONES.get(country.upper(), DEFAULT_TIME_ZONE)


def preferred_time_zone(preference, partner):
    """The saved zone if it is a known one, else the partner country's, else UTC."""
    saved = valid_time_zone(preference.time_zone) if preference is not None else ""
    return saved or default_time_zone(partner)


def user_preference_save(*, user, language=None, time_zone=None):
    """Saves the user's language and/or time zone (``None`` leaves one as it is). An unknown
    language is saved as English and an unknown zone as "the partner's default" (empty): a bad
    value never fails. Any signed-in user may call it, for themselves only."""
    with transaction.atomic():
        preference, _created = UserPreference.objects.select_for_update().get_or_create(user=user)
        if language is not None:
            preference.language = (valid_language(language) or DEFAULT_LANGUAGE) if language else ""
        if time_zone is not None:
            preference.time_zone = valid_time_zone(time_zone)
        preference.save()
    return preference
