"""API throttling (issue 11, item 6; SPEC §10 "Throttled clients get 429 with Retry-After"):
per token, per client address, and per address that sends bad tokens."""

import secrets

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from portal.tokens import TOKEN_PREFIX
from tests.api.test_auth import assert_pc_error

pytestmark = pytest.mark.django_db

URL = "/v1/customers"


@pytest.fixture
def rates(settings):
    def set_rates(**rates):
        settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, **rates}

    return set_rates


def _random_token_client(address="203.0.113.7"):
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return Client(headers={"Authorization": f"Bearer {token}"}, REMOTE_ADDR=address)


def test_random_tokens_from_one_address_are_throttled_with_retry_after(settings):
    limit = int(settings.API_THROTTLE_RATES["auth_failure"].split("/")[0])
    statuses = [_random_token_client().get(URL).status_code for _ in range(60)]
    assert statuses[:limit] == [401] * limit
    assert set(statuses[limit:]) == {429}
    response = _random_token_client().get(URL)
    body = assert_pc_error(response, 429, "TooManyRequests")
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    assert str(retry_after) in body["description"]


def test_after_bad_tokens_even_a_good_token_from_that_address_waits(api_client, partner_a, rates):
    rates(auth_failure="3/min")
    good = api_client(partner_a)
    for _ in range(3):
        assert _random_token_client(address="127.0.0.1").get(URL).status_code == 401
    assert good.get(URL).status_code == 429
    # Another address is not concerned.
    assert good.get(URL, REMOTE_ADDR="198.51.100.4").status_code == 200


def test_bad_tokens_are_forgiven_once_the_window_has_passed(rates):
    rates(auth_failure="3/min")
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(3):
            _random_token_client().get(URL)
        assert _random_token_client().get(URL).status_code == 429
        clock.move_to(start + timezone.timedelta(seconds=61))
        assert _random_token_client().get(URL).status_code == 401


def test_one_token_is_throttled_past_its_rate(api_client, partner_a, rates):
    rates(token="5/min")
    client = api_client(partner_a)
    statuses = [client.get(URL).status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    response = client.get(URL)
    assert_pc_error(response, 429, "TooManyRequests")
    assert 1 <= int(response["Retry-After"]) <= 60
    # Another token of the same partner has its own count.
    assert api_client(partner_a).get(URL).status_code == 200


def test_one_address_is_throttled_whatever_the_tokens(api_client, partner_a, rates):
    rates(address="4/min")
    clients = [api_client(partner_a) for _ in range(5)]
    statuses = [c.get(URL).status_code for c in clients]
    assert statuses == [200] * 4 + [429]
    assert "Retry-After" in clients[-1].get(URL)
    assert clients[0].get(URL, REMOTE_ADDR="198.51.100.4").status_code == 200


def test_forwarded_for_is_not_trusted_without_a_proxy_count(rates, settings):
    rates(auth_failure="3/min")
    settings.TRUSTED_PROXY_COUNT = 0
    for n in range(3):
        _random_token_client().get(URL, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert _random_token_client().get(URL, HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 429


def test_health_check_and_schema_are_not_throttled(rates, settings):
    rates(address="2/min", auth_failure="1/min")
    for _ in range(5):
        assert Client().get("/healthz").status_code == 200
        assert Client().get("/v1/openapi.json").status_code == 200
