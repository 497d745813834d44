"""Choosing the language and the time zone (issue 12, items 2 and 4): the browser's language by
default, a saved preference that wins over it, the switcher of the user menu, the Preferences
page, the partner country's zone, and the API staying in English."""

import datetime

import pytest
import time_machine
from django.urls import reverse

from portal.models import UserPreference
from portal.preferences import default_time_zone, user_preference_save
from tests.factories import PartnerFactory
from tests.factories.subscriptions import SubscriptionFactory

IT_BROWSER = {"HTTP_ACCEPT_LANGUAGE": "it-IT,it;q=0.9,en;q=0.5"}
EN_BROWSER = {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}


def _html(response):
    return response.content.decode().replace("\xa0", " ").replace("\u202f", " ")


@pytest.fixture
def italian_partner(db):
    return PartnerFactory(name="Contoso Italia", country="IT")


def test_the_browser_s_language_is_the_default(make_member, partner_a):
    client = make_member(partner_a)
    assert '<html lang="it">' in _html(client.get(reverse("portal:preferences"), **IT_BROWSER))
    assert '<html lang="en">' in _html(client.get(reverse("portal:preferences"), **EN_BROWSER))


def test_a_saved_language_wins_over_the_browser(make_member, partner_a):
    client = make_member(partner_a)
    user_preference_save(user=client.user, language="en")
    assert '<html lang="en">' in _html(client.get(reverse("portal:preferences"), **IT_BROWSER))
    user_preference_save(user=client.user, language="it")
    assert '<html lang="it">' in _html(client.get(reverse("portal:preferences"), **EN_BROWSER))


def test_an_unknown_saved_language_falls_back_to_english_without_error(make_member, partner_a):
    client = make_member(partner_a)
    UserPreference.objects.create(user=client.user, language="xx", time_zone="Mars/Olympus")
    response = client.get(reverse("portal:preferences"), **IT_BROWSER)
    assert response.status_code == 200
    assert '<html lang="en">' in _html(response)
    assert "(UTC)" in _html(response)  # the unknown zone falls back to the partner's default


def test_the_switcher_saves_the_language_and_goes_back(make_member, partner_a):
    client = make_member(partner_a)
    page = _html(client.get(reverse("portal:customer_list"), **EN_BROWSER))
    assert 'data-testid="language-switch-it"' in page and ">italiano<" in page
    response = client.post(reverse("portal:language_set"), {"language": "it", "next": "/customers/"}, **EN_BROWSER)
    assert response.status_code == 302 and response["Location"] == "/customers/"
    assert UserPreference.objects.get(user=client.user).language == "it"
    assert '<html lang="it">' in _html(client.get("/customers/", **EN_BROWSER))


def test_the_switcher_refuses_an_outside_next_and_an_unknown_language(make_member, partner_a):
    client = make_member(partner_a)
    response = client.post(reverse("portal:language_set"), {"language": "klingon", "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard:home")
    assert UserPreference.objects.get(user=client.user).language == "en"


@pytest.mark.parametrize("next_url", ["evil", "customers", "dashboard:home", "//evil.example/", "/\\evil.example", "javascript:alert(1)"])
def test_the_switcher_goes_home_for_a_next_that_is_no_address_of_this_site(make_member, partner_a, next_url):
    # A bare word once reached redirect(), which took it for a view name: a 500.
    client = make_member(partner_a)
    # English: a request that activates Italian leaves it active for the tests that follow.
    response = client.post(reverse("portal:language_set"), {"language": "en", "next": next_url})
    assert response.status_code == 302 and response["Location"] == reverse("dashboard:home")


def test_the_switcher_takes_only_post_and_signed_in_users(make_member, partner_a, client):
    assert make_member(partner_a).get(reverse("portal:language_set")).status_code == 405
    response = client.post(reverse("portal:language_set"), {"language": "it"})
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_the_preferences_page_saves_language_and_time_zone(make_member, partner_a):
    client = make_member(partner_a)
    response = client.post(reverse("portal:preferences"), {"language": "it", "time_zone": "America/Chicago"})
    assert response.status_code == 302
    preference = UserPreference.objects.get(user=client.user)
    assert (preference.language, preference.time_zone) == ("it", "America/Chicago")
    page = _html(client.get(reverse("portal:preferences"), **EN_BROWSER))
    assert "Preferenze salvate." in page or "Preferences saved." in page
    assert "(America/Chicago)" in page


def test_the_preferences_page_turns_bad_values_into_defaults(make_member, partner_a):
    client = make_member(partner_a)
    response = client.post(reverse("portal:preferences"), {"language": "zz", "time_zone": "Nowhere/City"})
    assert response.status_code == 302
    preference = UserPreference.objects.get(user=client.user)
    assert (preference.language, preference.time_zone) == ("en", "")


def test_an_empty_language_follows_the_browser_again(make_member, partner_a):
    client = make_member(partner_a)
    user_preference_save(user=client.user, language="en")
    client.post(reverse("portal:preferences"), {"language": "", "time_zone": ""})
    assert '<html lang="it">' in _html(client.get(reverse("portal:preferences"), **IT_BROWSER))


def test_the_time_zone_defaults_from_the_partner_s_country(make_member, italian_partner, partner_a):
    assert default_time_zone(italian_partner) == "Europe/Rome"
    assert default_time_zone(partner_a) == "UTC"
    assert default_time_zone(None) == "UTC"
    page = _html(make_member(italian_partner).get(reverse("portal:preferences"), **EN_BROWSER))
    assert "(Europe/Rome)" in page


def test_the_168_hour_deadline_is_shown_in_the_user_s_zone_and_names_it(make_member, italian_partner, customer_of):
    client = make_member(italian_partner)
    bought = datetime.datetime(2026, 3, 1, 10, 0, tzinfo=datetime.UTC)
    subscription = SubscriptionFactory(
        partner=italian_partner, customer=customer_of(italian_partner), purchased_at=bought, quantity=5
    )
    url = reverse("subscriptions:subscription_detail", kwargs={"subscription_id": subscription.pk})
    with time_machine.travel(bought + datetime.timedelta(hours=1), tick=False):
        english = _html(client.get(url, **EN_BROWSER))
        italian = _html(client.get(url, **IT_BROWSER))
    # 10:00 UTC on March 8 is 11:00 in Rome (winter time).
    assert "Mar 8, 2026, 11:00 AM (Europe/Rome)" in english
    assert "8 mar 2026, 11:00 (Europe/Rome)" in italian
    assert "$10.00" in english and "10,00 USD" in italian


def test_the_api_keeps_english_whatever_the_browser_or_the_preference(api_client, partner_a):
    client = api_client(partner_a)
    user_preference_save(user=client.user, language="it", time_zone="Europe/Rome")
    italian = client.get("/v1/no-such-endpoint", **IT_BROWSER)
    english = client.get("/v1/no-such-endpoint", **EN_BROWSER)
    assert italian["Content-Language"] == "en"
    assert italian.content == english.content
