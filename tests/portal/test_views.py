"""The portal's own pages: sign-in, no-access, dashboard, customers list and customer page."""

import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from catalog.models import LicenseChannel
from portal.models import Role
from portal.views import NO_MEMBERSHIP_MESSAGE
from tests.factories import (
    PASSWORD,
    AzureSubscriptionFactory,
    CreditAccountFactory,
    CreditLedgerEntryFactory,
    CustomerFactory,
    MembershipFactory,
    OverageSettingFactory,
    ResellerFactory,
    SkuFactory,
    SubscriptionFactory,
    TenantLicenseFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

LOGIN_URL = "/accounts/login/"
CUSTOMERS_URL = "/customers/"
HTMX = {"HX-Request": "true"}


def customer_url(customer_or_tenant_id):
    tenant_id = getattr(customer_or_tenant_id, "tenant_id", customer_or_tenant_id)
    return reverse("portal:customer_detail", kwargs={"tenant_id": tenant_id})


# Sign-in


def test_login_page_has_username_and_password_fields(client):
    response = client.get(LOGIN_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html
    assert 'name="password"' in html


def test_member_signs_in_with_email_and_password(client, partner_a):
    membership = MembershipFactory(partner=partner_a, user__email="ada@contoso.example")
    response = client.post(LOGIN_URL, {"username": "ada@contoso.example", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("dashboard:home")
    assert client.get(reverse("dashboard:home")).context["user"] == membership.user


def test_wrong_password_and_unknown_user_get_the_same_error(client, partner_a):
    MembershipFactory(partner=partner_a, user__email="ada@contoso.example")
    wrong_password = client.post(LOGIN_URL, {"username": "ada@contoso.example", "password": "not-the-password"})
    unknown_user = client.post(LOGIN_URL, {"username": "nobody@contoso.example", "password": "not-the-password"})

    assert wrong_password.status_code == unknown_user.status_code == 200
    wrong_errors = wrong_password.context["form"].non_field_errors()
    unknown_errors = unknown_user.context["form"].non_field_errors()
    assert wrong_errors and wrong_errors == unknown_errors
    # The message is on the page and gives away nothing about the account.
    message = wrong_errors[0]
    assert message in wrong_password.content.decode()
    assert "exist" not in message.lower()
    assert not wrong_password.wsgi_request.user.is_authenticated


@pytest.mark.parametrize("url", ["/", CUSTOMERS_URL])
def test_anonymous_visitor_is_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(LOGIN_URL)


# A user without a partner


@pytest.mark.parametrize("url", ["/", CUSTOMERS_URL])
def test_user_without_membership_gets_the_no_access_page(client, url):
    client.force_login(UserFactory())
    response = client.get(url, follow=True)
    assert response.status_code == 403
    assert escape(str(NO_MEMBERSHIP_MESSAGE)) in response.content.decode()


def test_user_without_membership_cannot_open_a_customer(client, customer_of, partner_a):
    client.force_login(UserFactory())
    response = client.get(customer_url(customer_of(partner_a)), follow=True)
    assert response.status_code == 403


def test_member_visiting_no_access_page_goes_to_dashboard(make_member, partner_a):
    response = make_member(partner_a).get(reverse("portal:no_membership"))
    assert response.status_code == 302
    assert response.url == reverse("dashboard:home")


# Dashboard


@pytest.mark.parametrize("kind", ["direct", "reseller"])
def test_dashboard_renders_for_every_kind_of_partner(kind, make_member, partner_a, reseller):
    partner = partner_a if kind == "direct" else reseller
    response = make_member(partner, Role.HELPDESK_AGENT).get("/")
    assert response.status_code == 200


# Customers list


def test_customers_list_shows_only_the_partners_customers(make_member, partner_a, partner_b, customer_of):
    customer_of(partner_a, name="Alpine Ski House")
    customer_of(partner_b, name="Blue Yonder Airlines")
    response = make_member(partner_a).get(CUSTOMERS_URL)
    assert response.status_code == 200
    assert [c.name for c in response.context["customers"]] == ["Alpine Ski House"]
    assert "Blue Yonder Airlines" not in response.content.decode()


def test_reseller_and_provider_both_list_the_resellers_customer(make_member, provider, reseller, customer_of):
    customer_of(provider, reseller=reseller, name="Fourth Coffee")
    customer_of(provider, name="Providers Own Customer")
    assert [c.name for c in make_member(reseller).get(CUSTOMERS_URL).context["customers"]] == ["Fourth Coffee"]
    assert [c.name for c in make_member(provider).get(CUSTOMERS_URL).context["customers"]] == [
        "Fourth Coffee",
        "Providers Own Customer",
    ]


def test_customers_search_by_name(make_member, partner_a, partner_b, customer_of):
    customer_of(partner_a, name="Alpine Ski House")
    customer_of(partner_a, name="Coho Winery")
    customer_of(partner_b, name="Alpine Outsider")
    response = make_member(partner_a).get(CUSTOMERS_URL, {"q": "alpine"})
    assert [c.name for c in response.context["customers"]] == ["Alpine Ski House"]


def test_customers_search_with_no_match_says_so(make_member, partner_a, customer_of):
    customer_of(partner_a, name="Alpine Ski House")
    response = make_member(partner_a).get(CUSTOMERS_URL, {"q": "zzz"})
    assert list(response.context["customers"]) == []
    assert "zzz" in response.content.decode()


def test_customers_list_is_paginated(make_member, partner_a, customer_of):
    for n in range(30):
        customer_of(partner_a, name=f"Customer {n:02d}")
    client = make_member(partner_a)

    first = client.get(CUSTOMERS_URL)
    second = client.get(CUSTOMERS_URL, {"page": 2})
    assert first.context["paginator"].num_pages == 2
    assert len(first.context["customers"]) + len(second.context["customers"]) == 30
    assert "Customer 29" in second.content.decode()
    assert "Customer 29" not in first.content.decode()
    assert client.get(CUSTOMERS_URL, {"page": 3}).status_code == 404


def test_htmx_request_gets_only_the_results_partial(make_member, partner_a, customer_of):
    customer_of(partner_a, name="Alpine Ski House")
    response = make_member(partner_a).get(CUSTOMERS_URL, {"q": "alpine"}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert "Alpine Ski House" in html


def test_boosted_htmx_request_gets_the_whole_page(make_member, partner_a):
    response = make_member(partner_a).get(CUSTOMERS_URL, headers={**HTMX, "HX-Boosted": "true"})
    assert "<html" in response.content.decode()


def test_customers_list_query_count_does_not_grow_with_customers(
    make_member, partner_a, customer_of, django_assert_num_queries
):
    # Each row shows a subscription count: if it were fetched per row (N+1), 25 customers
    # would cost 20 more queries than 5. The count must stay the same.
    client = make_member(partner_a)

    def add_customers(count):
        for _ in range(count):
            customer = customer_of(partner_a)
            SubscriptionFactory(partner=partner_a, customer=customer)

    add_customers(5)
    with CaptureQueriesContext(connection) as with_five:
        assert client.get(CUSTOMERS_URL).status_code == 200
    add_customers(20)
    with django_assert_num_queries(len(with_five.captured_queries)):
        response = client.get(CUSTOMERS_URL)
    assert len(response.context["customers"]) == 25


# Customer page


def test_customer_page_for_its_partner(make_member, partner_a, customer_of):
    customer = customer_of(partner_a, name="Alpine Ski House")
    response = make_member(partner_a).get(customer_url(customer))
    assert response.status_code == 200
    assert "Alpine Ski House" in response.content.decode()


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_another_partners_customer_is_not_found(make_member, partner_a, partner_b, customer_of, headers):
    customer = customer_of(partner_a, name="Alpine Ski House")
    response = make_member(partner_b, *Role.values).get(customer_url(customer), headers=headers)
    assert response.status_code == 404
    assert "Alpine Ski House" not in response.content.decode()


def test_unknown_tenant_is_not_found(make_member, partner_a):
    assert make_member(partner_a).get(customer_url(uuid.uuid4())).status_code == 404


def test_malformed_tenant_id_is_not_found(make_member, partner_a):
    assert make_member(partner_a).get(f"{CUSTOMERS_URL}not-a-guid/").status_code == 404


def test_reseller_and_provider_open_the_resellers_customer(make_member, provider, reseller, customer_of):
    customer = customer_of(provider, reseller=reseller, name="Fourth Coffee")
    sibling = make_member(ResellerFactory(providers=[provider]))
    assert make_member(reseller).get(customer_url(customer)).status_code == 200
    response = make_member(provider).get(customer_url(customer))
    assert response.status_code == 200
    assert reseller.name in response.content.decode()  # reseller of record
    assert sibling.get(customer_url(customer)).status_code == 404


def test_customer_page_shows_licenses_subscriptions_plan_overage_and_credits(
    make_member, partner_a, partner_b, customer_of
):
    customer = customer_of(partner_a, name="Blue Yonder Airlines", country="IT")
    teams = SkuFactory(title="Teams Phone with Calling Plan", overage=True)
    SubscriptionFactory(partner=partner_a, customer=customer, sku=teams, quantity=10)
    TenantLicenseFactory(customer=customer, sku=teams, source_partner=partner_a)
    # Another partner's license in the same tenant, and a volume-licensing one.
    TenantLicenseFactory(customer=customer, sku=SkuFactory(title="Microsoft 365 E5 with Calling Minutes"),
                         source_partner=partner_b)
    TenantLicenseFactory(customer=customer, sku=SkuFactory(title="Office 365 E3"),
                         channel=LicenseChannel.VOLUME_LICENSING, source_partner=None)
    azure_subscription = AzureSubscriptionFactory(plan__customer=customer, plan__partner=partner_a,
                                                  friendly_name="Subscription 1")
    OverageSettingFactory(customer=customer, owner=partner_a, azure_subscription=azure_subscription, enabled=True)
    account = CreditAccountFactory(customer=customer)
    CreditLedgerEntryFactory(account=account, amount=Decimal("120.00"))

    response = make_member(partner_a).get(customer_url(customer))
    html = response.content.decode()

    assert response.status_code == 200
    for text in [
        "Teams Phone with Calling Plan",  # subscription and CSP license
        "Microsoft 365 E5 with Calling Minutes",  # another partner's license
        "Office 365 E3",  # volume licensing
        str(LicenseChannel.CSP_NCE.label),
        str(LicenseChannel.VOLUME_LICENSING.label),
        "Subscription 1",  # Azure plan and where overage goes
        "€120.00",  # credit balance in the customer's currency
    ]:
        assert text in html, text
    assert [s.sku for s in response.context["subscriptions"]] == [teams]
    # The overage card (overage_tags) and the credit card (billing_tags) come from their apps.
    assert 'data-testid="overage-badge" data-enabled="true"' in html
    assert response.context["credit_balance"] == Decimal("120.00")
    # Another partner's license is shown, but not who that partner is.
    assert partner_b.name not in html


def test_customer_page_lists_only_the_partners_own_subscriptions(make_member, partner_a, partner_b, customer_of):
    customer = customer_of(partner_a)
    mine = SubscriptionFactory(partner=partner_a, customer=customer, sku__title="Mine E3")
    SubscriptionFactory(partner=partner_b, customer=customer, sku__title="Theirs E5")
    response = make_member(partner_a).get(customer_url(customer))
    assert response.context["subscriptions"] == [mine]
    assert "Theirs E5" not in response.content.decode()


def test_customer_page_of_an_empty_customer(make_member, partner_a, customer_of):
    response = make_member(partner_a).get(customer_url(customer_of(partner_a)))
    assert response.status_code == 200
    assert response.context["azure_plan"] is None
    assert response.context["credit_account"] is None


def test_customer_without_relationship_is_not_found_even_with_a_license_from_the_partner(make_member, partner_a):
    # A license someone provisioned does not make the customer the partner's: the relationship does.
    customer = CustomerFactory()
    TenantLicenseFactory(customer=customer, source_partner=partner_a)
    assert make_member(partner_a).get(customer_url(customer)).status_code == 404

