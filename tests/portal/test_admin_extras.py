import pytest
from django.urls import reverse

from portal.models import ApiToken
from portal.tokens import api_token_create
from tests.factories import MembershipFactory


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("ops@portal.example", "ops@portal.example", "x"))
    return client


@pytest.mark.django_db
def test_price_list_changelist_links_to_the_csv_import_and_export(staff_client):
    page = staff_client.get(reverse("admin:catalog_pricelistentry_changelist"))
    assert page.status_code == 200
    assert reverse("catalog:pricelist_import").encode() in page.content
    assert reverse("catalog:pricelist_export").encode() in page.content


@pytest.mark.django_db
def test_staff_revoke_api_tokens_from_admin(staff_client):
    user = MembershipFactory().user
    token = api_token_create(user=user, name="integration")[0]
    response = staff_client.post(
        reverse("admin:portal_apitoken_changelist"), {"action": "revoke", "_selected_action": [token.pk]}, follow=True
    )
    assert response.status_code == 200
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


@pytest.mark.django_db
def test_unknown_api_address_answers_the_partner_center_error_body(client, settings):
    settings.DEBUG = True
    response = client.get("/v1/no-such-resource")
    assert response.status_code == 404
    assert response.json()["code"] == 404
