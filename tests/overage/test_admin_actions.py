"""The operator moves legacy-Azure (MS-AZR-0145P) customers to Azure plan from the Customer
admin: the flag is cleared, each move is audited, and the partner can then create the plan."""

import pytest
from django.contrib import admin
from django.urls import reverse

from overage.admin_actions import move_customers_to_azure_plan
from overage.models import AzurePlan
from portal.models import AuditEvent, Customer
from tests.factories import CustomerFactory


@pytest.fixture
def staff_client(client, django_user_model):
    staff = django_user_model.objects.create_superuser(username="staff", email="staff@portal.example", password="pw")
    client.force_login(staff)
    client.user = staff
    return client


def test_the_customer_admin_offers_the_action():
    assert move_customers_to_azure_plan in admin.site._registry[Customer].actions


def test_move_to_azure_plan_clears_the_legacy_flag_and_audits_each_customer(staff_client, partner_a):
    legacy = [CustomerFactory(partner=partner_a, on_legacy_azure=True) for _ in range(2)]
    modern = CustomerFactory(partner=partner_a)
    response = staff_client.post(
        reverse("admin:portal_customer_changelist"),
        {"action": "move_customers_to_azure_plan", "_selected_action": [c.pk for c in [*legacy, modern]]},
        follow=True,
    )
    assert response.status_code == 200
    assert "2 customers moved to Azure plan." in response.content.decode()
    assert not Customer.objects.filter(on_legacy_azure=True).exists()
    events = AuditEvent.objects.filter(action="customer.move_to_azure_plan")
    assert sorted(e.customer_id for e in events) == sorted(c.pk for c in legacy)
    assert all(e.actor == staff_client.user and e.before == {"onLegacyAzure": True} for e in events)


def test_after_the_move_the_partner_can_create_the_azure_plan(staff_client, partner_a, make_member):
    customer = CustomerFactory(partner=partner_a, on_legacy_azure=True)
    member = make_member(partner_a)
    url = reverse("overage:azure_plan_create", args=[customer.tenant_id])
    assert member.post(url).status_code == 422
    staff_client.post(
        reverse("admin:portal_customer_changelist"),
        {"action": "move_customers_to_azure_plan", "_selected_action": [customer.pk]},
    )
    assert member.post(url).status_code == 303
    assert AzurePlan.objects.filter(customer=customer).exists()
