"""Shared fixtures: two unrelated direct-bill partners (the in/out pair of every scoping
test), an indirect provider with its reseller, logged-in members and scoped customers.

Factories live in ``tests/factories/``; import them from ``tests.factories``.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.test import Client

from portal.models import Role
from portal.tokens import api_token_create
from tests.factories import CustomerFactory, MembershipFactory, PartnerFactory, ProviderFactory, ResellerFactory


def pytest_configure(config):
    """Compile each translation catalogue whose .mo is missing or older than its .po, as `make
    test` does, so that a plain `pytest` after editing a .po tests the new words. The .mo files
    are not tracked; tests/test_translations.py checks that compilemessages accepts the .po."""
    if not shutil.which("msgfmt"):
        return
    for po in Path(__file__).resolve().parent.parent.glob("locale/*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            partial = mo.with_suffix(f".mo.{os.getpid()}")
            subprocess.run(["msgfmt", "--check-format", "-o", str(partial), str(po)], check=True)
            os.replace(partial, mo)  # whole file at once: parallel workers never read half of one


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The API throttles count in the cache (locmem in tests): each test starts uncounted.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    # A request in Italian leaves Italian active in the thread: each test starts in the default.
    from django.utils import translation

    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Every member gets a hashed password; PBKDF2 would spend half a second on each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def partner_a(db):
    return PartnerFactory(name="Contoso Test Partner")


@pytest.fixture
def partner_b(db):
    return PartnerFactory(name="Adatum Test Partner")


@pytest.fixture
def provider(db):
    return ProviderFactory(name="Fabrikam Test Provider")


@pytest.fixture
def reseller(provider):
    return ResellerFactory(name="Northwind Test Reseller", providers=[provider])


@pytest.fixture
def make_member(db):
    """``make_member(partner, *roles)`` → a test ``Client`` logged in as a new member of
    ``partner`` (admin agent when no role is given). ``client.user`` and
    ``client.membership`` are set for assertions."""

    def make(partner, *roles):
        membership = MembershipFactory(partner=partner, roles=list(roles) or [Role.ADMIN_AGENT.value])
        client = Client()
        client.force_login(membership.user)
        client.user = membership.user
        client.membership = membership
        return client

    return make


@pytest.fixture
def customer_of(db):
    """``customer_of(partner, reseller=None, **fields)`` → a customer with a relationship to
    ``partner`` (for an indirect sale: the provider, naming ``reseller``)."""

    def make(partner, reseller=None, **fields):
        return CustomerFactory(partner=partner, reseller=reseller, **fields)

    return make


@pytest.fixture
def api_client(db):
    """``api_client(partner, *roles)`` → a test client whose requests carry a fresh bearer
    token of a new member of ``partner`` (admin agent when no role is given), no session."""

    def make(partner, *roles):
        membership = MembershipFactory(partner=partner, roles=list(roles) or [Role.ADMIN_AGENT.value])
        token, secret = api_token_create(user=membership.user, name="tests")
        client = Client(headers={"Authorization": f"Bearer {secret}"})
        client.user = membership.user
        client.membership = membership
        client.token = token
        client.secret = secret
        return client

    return make
