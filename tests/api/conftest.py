"""Fixtures for ``/v1/`` tests: ``api_client(partner, *roles)`` → a Django test client whose
requests carry a fresh bearer token of a new member of ``partner`` (no session)."""

import pytest
from django.test import Client

from portal.models import Role
from portal.tokens import api_token_create
from tests.factories import MembershipFactory


@pytest.fixture
def api_client(db):
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
