"""The one way money, dates and times are shown (issue 12, items 3 and 4): Babel's CLDR
formats in the active language, times in the active zone, and no template left formatting
money or dates by hand."""

import datetime
import re
import zoneinfo
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template
from django.utils import timezone, translation

from portal.formatting import format_date, format_datetime, format_money, format_month

NBSP = "\xa0"
MOMENT = datetime.datetime(2027, 10, 21, 13, 4, tzinfo=datetime.UTC)


def _plain(text):
    return text.replace(NBSP, " ").replace("\u202f", " ")


@pytest.mark.parametrize(
    ("language", "amount", "currency", "expected"),
    [
        ("en", Decimal("1950"), "USD", "$1,950.00"),
        ("en", Decimal("-2330.99"), "EUR", "-€2,330.99"),
        ("it", Decimal("1950"), "USD", "1.950,00 USD"),
        ("it", Decimal("1950"), "EUR", "1.950,00 €"),
        ("it", Decimal("1234567.5"), "GBP", "1.234.567,50 £"),
        # A per-minute rate keeps its digits: rounding it to cents would misstate it.
        ("en", Decimal("0.0137"), "USD", "$0.0137"),
        ("it", Decimal("0.000123"), "EUR", "0,000123 €"),
        ("en", "12.5", "usd", "$12.50"),
    ],
)
def test_format_money_follows_cldr_for_the_active_language(language, amount, currency, expected):
    with translation.override(language):
        assert _plain(format_money(amount, currency)) == expected


def test_format_money_without_an_amount_or_a_number_never_breaks():
    assert format_money(None, "USD") == ""
    assert format_money("", "USD") == ""
    assert format_money("n/a", "USD") == "n/a"
    with translation.override("it"):
        assert format_money(Decimal("3"), "") == "3,00"


def test_an_unknown_language_formats_as_english():
    with translation.override("xx"):
        assert format_money(Decimal("1950"), "USD") == "$1,950.00"
        assert format_date(datetime.date(2027, 10, 21)) == "Oct 21, 2027"


@pytest.mark.parametrize(
    ("language", "date", "moment", "month"),
    [
        ("en", "Oct 21, 2027", "Oct 21, 2027, 3:04 PM", "October 2027"),
        ("it", "21 ott 2027", "21 ott 2027, 15:04", "ottobre 2027"),
    ],
)
def test_one_format_per_kind_and_language_in_the_active_time_zone(language, date, moment, month):
    with translation.override(language), timezone.override(zoneinfo.ZoneInfo("Europe/Rome")):
        assert format_date(datetime.date(2027, 10, 21)) == date
        assert _plain(format_datetime(MOMENT)) == moment  # 13:04 UTC is 15:04 in Rome (summer time)
        assert format_month(datetime.date(2027, 10, 1)) == month
        assert _plain(format_datetime(MOMENT, with_zone=True)) == f"{moment} (Europe/Rome)"


def test_the_local_date_of_a_moment_is_the_zone_s():
    late = datetime.datetime(2027, 10, 21, 23, 30, tzinfo=datetime.UTC)
    with translation.override("en"), timezone.override(zoneinfo.ZoneInfo("Europe/Rome")):
        assert format_date(late) == "Oct 22, 2027"


def test_template_filters_render_money_and_dates():
    template = Template(
        "{% load portal_format %}{{ amount|money:currency }}|{{ day|date_short }}|{{ moment|datetime }}"
        "|{{ moment|datetime_zone }}|{{ day|month }}"
    )
    context = Context({"amount": Decimal("1950.00"), "currency": "EUR", "day": datetime.date(2027, 10, 21), "moment": MOMENT})
    with translation.override("it"), timezone.override(zoneinfo.ZoneInfo("UTC")):
        text = _plain(template.render(context))
    assert text == "1.950,00 €|21 ott 2027|21 ott 2027, 13:04|21 ott 2027, 13:04 (UTC)|ottobre 2027"


# --- every template goes through the filters ------------------------------------------------

TEMPLATE_DIRS = [Path(settings.BASE_DIR) / "templates"]
# The only |date formats left: machine values inside URLs and form values (?month=2027-10).
MACHINE_DATE = re.compile(r"\|date:'(Y-m|Y-m-d)'")


def _templates():
    for directory in TEMPLATE_DIRS:
        yield from sorted(directory.rglob("*.html"))


@pytest.mark.parametrize("path", list(_templates()), ids=lambda p: str(p.relative_to(settings.BASE_DIR)))
def test_templates_show_money_and_dates_only_through_portal_format(path):
    text = path.read_text()
    assert "floatformat" not in text, "an amount goes through |money:currency"
    assert "stringformat:\"" not in text.replace('stringformat:"s"', ""), "an amount goes through |money:currency"
    for match in re.finditer(r"\|date:[^ }%]+", text):
        assert MACHINE_DATE.match(match.group(0)), f"{match.group(0)}: use |date_short, |datetime or |month"
    assert "|time" not in text and "isoformat" not in text
    assert not re.search(r"\}\} (UTC|USD|EUR)\b", text), "a zone or a currency after a value: name it in the filter"
