"""The Subscriptions page filtered to one customer carries that customer's Manage overage."""

import pytest
from django.urls import reverse

from catalog.models import ConsumptionType
from tests.factories import SkuFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def telco_customer(partner_a, customer_of):
    customer = customer_of(partner_a)
    SubscriptionFactory(partner=partner_a, customer=customer, sku=SkuFactory(consumption_type=ConsumptionType.OVERAGE))
    return customer


def test_admin_agent_gets_manage_overage_on_the_filtered_list(make_member, partner_a, telco_customer):
    client = make_member(partner_a, "admin_agent")
    url = reverse("subscriptions:subscription_list") + f"?customer={telco_customer.tenant_id}"
    for headers in ({}, {"HX-Request": "true"}):
        page = client.get(url, headers=headers)
        assert page.status_code == 200
        assert reverse("overage:manage", args=[telco_customer.tenant_id]).encode() in page.content


def test_sales_agent_sees_it_disabled_with_the_reason(make_member, partner_a, telco_customer):
    page = make_member(partner_a, "sales_agent").get(
        reverse("subscriptions:subscription_list") + f"?customer={telco_customer.tenant_id}"
    )
    assert b'data-testid="overage-denial"' in page.content
    assert b"Only admin agents and global admins can manage overage." in page.content


def test_the_unfiltered_list_has_no_customer_overage_button(make_member, partner_a, telco_customer):
    page = make_member(partner_a, "admin_agent").get(reverse("subscriptions:subscription_list"))
    assert b'data-testid="customer-overage"' not in page.content
