"""API tokens: the user's page (create shows the secret once, revoke), the service rules and
``create_api_token``."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from portal.models import ApiToken, AuditEvent
from portal.tokens import (
    ALREADY_REVOKED_ERROR,
    NAME_TOO_LONG_ERROR,
    NO_MEMBERSHIP_ERROR,
    TOKEN_PREFIX,
    TokenError,
    api_token_authenticate,
    api_token_create,
    api_token_revoke,
    hash_secret,
)
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_secret_is_stored_only_as_its_hash():
    user = MembershipFactory().user
    token, secret = api_token_create(user=user, name="script")
    assert secret.startswith(TOKEN_PREFIX) and len(secret) > 40
    assert token.prefix == secret[:8]
    assert token.key_hash == hash_secret(secret)
    assert not ApiToken.objects.filter(key_hash=secret).exists()
    assert api_token_authenticate(secret) == token
    assert AuditEvent.objects.filter(action="api_token.create", object_id=str(token.pk)).exists()


def test_user_without_membership_gets_no_token():
    with pytest.raises(TokenError, match=str(NO_MEMBERSHIP_ERROR)):
        api_token_create(user=UserFactory(), name="x")


def test_revoked_token_no_longer_authenticates_and_cannot_be_revoked_twice():
    user = MembershipFactory().user
    token, secret = api_token_create(user=user, name="x")
    api_token_revoke(token=token, acting_user=user)
    assert api_token_authenticate(secret) is None
    with pytest.raises(TokenError, match=str(ALREADY_REVOKED_ERROR)):
        api_token_revoke(token=token, acting_user=user)


def test_owned_by_lists_the_tokens_of_that_partners_users(partner_a, partner_b):
    mine, _ = api_token_create(user=MembershipFactory(partner=partner_a).user, name="a")
    api_token_create(user=MembershipFactory(partner=partner_b).user, name="b")
    assert list(ApiToken.objects.owned_by(partner_a)) == [mine]


def test_page_lists_only_my_tokens(make_member, partner_a):
    client = make_member(partner_a)
    api_token_create(user=client.user, name="mine")
    api_token_create(user=MembershipFactory(partner=partner_a).user, name="a colleague's")
    response = client.get(reverse("portal:token_list"))
    assert response.status_code == 200
    assert [t.name for t in response.context["tokens"]] == ["mine"]
    assert "a colleague&#x27;s" not in response.content.decode()


def test_page_creates_a_token_and_shows_the_secret_once(make_member, partner_a):
    client = make_member(partner_a)
    response = client.post(reverse("portal:token_list"), {"name": "billing export"})
    assert response.status_code == 200
    secret = response.context["secret"]
    assert secret.startswith(TOKEN_PREFIX)
    assert secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]  # no browser or proxy cache keeps the secret
    token = ApiToken.objects.get(user=client.user)
    assert token.name == "billing export"
    # The secret works on the API, and the page never shows it again.
    api = Client(headers={"Authorization": f"Bearer {secret}"})
    assert api.get("/v1/customers").status_code == 200
    again = client.get(reverse("portal:token_list")).content.decode()
    assert secret not in again
    assert token.prefix in again


def test_page_rejects_a_token_without_name(make_member, partner_a):
    client = make_member(partner_a)
    response = client.post(reverse("portal:token_list"), {"name": ""})
    assert response.status_code == 422
    assert not ApiToken.objects.exists()


def test_page_revokes_my_token(make_member, partner_a):
    client = make_member(partner_a)
    token, secret = api_token_create(user=client.user, name="old")
    response = client.post(reverse("portal:token_revoke", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert Client(headers={"Authorization": f"Bearer {secret}"}).get("/v1/customers").status_code == 401
    assert "Revoked" in client.get(reverse("portal:token_list")).content.decode()


def test_revoking_another_users_token_is_404(make_member, partner_a, partner_b):
    colleague_token, _ = api_token_create(user=MembershipFactory(partner=partner_a).user, name="theirs")
    other_token, _ = api_token_create(user=MembershipFactory(partner=partner_b).user, name="other partner")
    client = make_member(partner_a)
    for token in [colleague_token, other_token]:
        assert client.post(reverse("portal:token_revoke", args=[token.pk])).status_code == 404
        token.refresh_from_db()
        assert token.revoked_at is None


def test_revoke_needs_post(make_member, partner_a):
    client = make_member(partner_a)
    token, _ = api_token_create(user=client.user, name="x")
    assert client.get(reverse("portal:token_revoke", args=[token.pk])).status_code == 405


def test_page_needs_login():
    response = Client().get(reverse("portal:token_list"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_create_api_token_command_prints_a_working_token(partner_a):
    membership = MembershipFactory(partner=partner_a, user__email="ada@contoso.example")
    out = StringIO()
    call_command("create_api_token", "ADA@contoso.example", "--name", "ci", stdout=out)
    secret = out.getvalue().strip()
    assert "\n" not in secret and secret.startswith(TOKEN_PREFIX)
    assert ApiToken.objects.get(user=membership.user).name == "ci"
    assert Client(headers={"Authorization": f"Bearer {secret}"}).get("/v1/customers").status_code == 200


def test_create_api_token_command_fails_for_an_unknown_email():
    with pytest.raises(CommandError) as excinfo:
        call_command("create_api_token", "nobody@example.com", stdout=StringIO())
    assert "nobody@example.com" in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


def test_create_api_token_command_fails_for_a_user_without_membership():
    UserFactory(email="loner@example.com")
    with pytest.raises(CommandError, match="not a member"):
        call_command("create_api_token", "loner@example.com", stdout=StringIO())
    assert not ApiToken.objects.exists()


def test_create_api_token_command_refuses_a_name_too_long_in_one_line(partner_a):
    MembershipFactory(partner=partner_a, user=UserFactory(email="alan@contoso.example"))
    with pytest.raises(CommandError) as refused:
        call_command("create_api_token", "alan@contoso.example", "--name", "n" * 500, stdout=StringIO())
    assert str(refused.value) == str(NAME_TOO_LONG_ERROR % {"max": 100})
    assert not ApiToken.objects.exists()


def test_a_token_name_too_long_is_refused_by_the_service():
    with pytest.raises(TokenError, match="at most 100 characters"):
        api_token_create(user=MembershipFactory().user, name="n" * 101)
    assert not ApiToken.objects.exists()
