"""Brute-force protection of the sign-in pages (issue 11, item 6): django-axes locks a username
and an address out after LOGIN_FAILURE_LIMIT wrong passwords, on /accounts/login/ and on
/admin/login/; the right password is refused while locked; staff unlock in Django admin."""

from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from portal.security import LOCKED_OUT_MESSAGE, client_ip
from tests.factories import PASSWORD, MembershipFactory, PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN_URL = "/accounts/login/"
ADMIN_LOGIN_URL = "/admin/login/"
LIMIT = settings.AXES_FAILURE_LIMIT


@pytest.fixture
def member():
    return MembershipFactory(partner=PartnerFactory(), user__email="ada@contoso.example").user


def _sign_in(client, url, username, password, address="203.0.113.7"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_the_limit_is_a_handful_of_tries():
    assert 3 <= LIMIT <= 10


@pytest.mark.parametrize("url", [LOGIN_URL, ADMIN_LOGIN_URL])
def test_wrong_passwords_lock_the_user_out_and_then_the_right_one_is_refused(client, url, member):
    if url == ADMIN_LOGIN_URL:
        member.is_staff = True
        member.save(update_fields=["is_staff"])
    answers = [_sign_in(client, url, member.username, f"wrong-{n}").status_code for n in range(60)]
    # The first LIMIT - 1 are the form's ordinary "wrong password"; from the LIMIT-th on, locked.
    assert answers[: LIMIT - 1] == [200] * (LIMIT - 1)
    assert set(answers[LIMIT - 1 :]) == {429}

    response = _sign_in(client, url, member.username, PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    assert escape(str(LOCKED_OUT_MESSAGE % {"minutes": minutes})) in response.content.decode()
    assert int(response["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()


def test_lockout_page_is_in_the_portal_layout_and_italian_for_italian_browsers(client, member):
    for n in range(LIMIT):
        response = _sign_in(client, LOGIN_URL, member.username, f"wrong-{n}")
    assert response.status_code == 429
    html = response.content.decode()
    assert 'data-testid="locked-out"' in html and "portal-navbar" in html
    italian = Client(headers={"Accept-Language": "it"})
    html_it = _sign_in(italian, LOGIN_URL, member.username, "wrong").content.decode()
    assert 'lang="it"' in html_it


def test_one_address_trying_many_usernames_is_locked_out(client):
    users = UserFactory.create_batch(LIMIT + 1)
    answers = [_sign_in(client, LOGIN_URL, user.username, "wrong").status_code for user in users[:LIMIT]]
    assert answers[-1] == 429
    # A username never tried from here, with its right password: the address is locked.
    assert _sign_in(client, LOGIN_URL, users[LIMIT].username, PASSWORD).status_code == 429
    # The same user from another address signs in.
    other = Client()
    assert _sign_in(other, LOGIN_URL, users[LIMIT].username, PASSWORD, address="198.51.100.9").status_code == 302


def test_a_locked_username_is_locked_from_every_address(member):
    for n in range(LIMIT):
        _sign_in(Client(), LOGIN_URL, member.username, "wrong", address=f"198.51.100.{n + 1}")
    assert _sign_in(Client(), LOGIN_URL, member.username, PASSWORD, address="192.0.2.50").status_code == 429


def test_the_lock_ends_after_the_cool_off(client, member):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        for n in range(LIMIT):
            _sign_in(client, LOGIN_URL, member.username, "wrong")
        assert _sign_in(client, LOGIN_URL, member.username, PASSWORD).status_code == 429
        clock.move_to(start + settings.AXES_COOLOFF_TIME + timedelta(minutes=1))
        assert _sign_in(client, LOGIN_URL, member.username, PASSWORD).status_code == 302


def test_fewer_failures_than_the_limit_do_not_lock(client, member):
    for n in range(LIMIT - 1):
        assert _sign_in(client, LOGIN_URL, member.username, "wrong").status_code == 200
    assert _sign_in(client, LOGIN_URL, member.username, PASSWORD).status_code == 302


def test_staff_unlock_a_user_in_admin(member):
    for n in range(LIMIT):
        _sign_in(Client(), LOGIN_URL, member.username, "wrong")
    assert _sign_in(Client(), LOGIN_URL, member.username, PASSWORD).status_code == 429
    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))
    changelist = reverse("admin:axes_accessattempt_changelist")
    page = staff.get(changelist, {"q": member.username})
    assert page.status_code == 200 and member.username in page.content.decode()
    attempts = AccessAttempt.objects.filter(username=member.username)
    response = staff.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [a.pk for a in attempts], "post": "yes"},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username=member.username).exists()
    assert _sign_in(Client(), LOGIN_URL, member.username, PASSWORD, address="203.0.113.8").status_code == 302


def test_client_address_ignores_forwarded_for_unless_proxies_are_trusted(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.5")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.1"
    settings.TRUSTED_PROXY_COUNT = 1
    # The client may have forged 1.2.3.4; the one proxy we trust saw 203.0.113.5.
    assert client_ip(request) == "203.0.113.5"
    settings.TRUSTED_PROXY_COUNT = 5
    assert client_ip(request) == "1.2.3.4"
