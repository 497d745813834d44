"""GET /healthz, and the portal's own 500 page (the production envelope, issue 11)."""

from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client

from tests.factories import PartnerFactory

pytestmark = pytest.mark.django_db


def test_healthz_answers_ok_without_login():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_is_503_when_the_database_does_not_answer():
    with mock.patch("portal.views.connection.cursor", side_effect=OperationalError("connection refused")):
        response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unavailable"}


def test_healthz_is_not_redirected_to_https_nor_throttled(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.API_THROTTLE_RATES = {"token": "1/min", "address": "1/min", "auth_failure": "1/min"}
    client = Client()
    assert [client.get("/healthz").status_code for _ in range(5)] == [200] * 5
    # Every other page is redirected.
    assert client.get("/accounts/login/").status_code == 301


@pytest.fixture
def failing_urls(settings):
    settings.ROOT_URLCONF = "tests.portal.urls_failing"


def test_a_failing_page_shows_the_portals_500_page_with_the_request_id(failing_urls, make_member):
    client = make_member(PartnerFactory())
    client.raise_request_exception = False
    response = client.get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "portal-navbar" in html and "Something went wrong" in html
    assert response["MS-RequestId"] in html
    assert "Traceback" not in html and "RuntimeError" not in html


def test_the_500_page_is_drawn_plainly_when_the_layout_cannot_be(failing_urls):
    client = Client(raise_request_exception=False)
    with mock.patch("portal.views.render_to_string", side_effect=OperationalError("database down")):
        response = client.get("/boom/")
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
    assert response["MS-RequestId"] in response.content.decode()
