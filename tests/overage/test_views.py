"""The Manage overage flyout, the badge, the Azure plan page and the transfer page: the role
table of SPEC §2, scoping (another partner's customer is 404, HTMX included), errors shown
inside the flyout with nothing changed, the auto-recharge warning and the intervals."""

import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.models import AZURE_PLAN_PRODUCT_ID, ConsumptionType
from overage import rules, services
from overage.models import (
    AzurePlan,
    AzureSubscription,
    AzureSubscriptionStatus,
    OverageAssignment,
    OverageSetting,
    OverageTransfer,
)
from overage.selectors import MANAGED_BY_ANOTHER_PARTNER
from portal.models import AuditEvent, Role
from tests.factories import (
    AzurePlanFactory,
    AzureSubscriptionFactory,
    CreditAccountFactory,
    ProductFactory,
    SkuFactory,
    SubscriptionFactory,
    ensure_relationship,
)

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def telco_sku(db):
    return SkuFactory(title="Teams Phone with Calling Plan", consumption_type=ConsumptionType.OVERAGE)


@pytest.fixture
def azure_sku(db):
    return SkuFactory(product=ProductFactory(id=AZURE_PLAN_PRODUCT_ID, title="Azure plan"), title="Azure plan")


@pytest.fixture
def alpine(partner_a, customer_of, telco_sku):
    """Partner A's customer with an overage-capable subscription, an Azure plan holding
    ``Subscription 1``, and A owning its (switched off) overage setting."""
    customer = customer_of(partner_a, name="Alpine Ski House")
    SubscriptionFactory(partner=partner_a, customer=customer, sku=telco_sku)
    plan = AzurePlanFactory(customer=customer, partner=partner_a)
    AzureSubscriptionFactory(plan=plan, number=1, friendly_name="Subscription 1")
    OverageSetting.objects.create(customer=customer, owner=partner_a, enabled=False)
    return customer


def sub1(customer):
    return AzureSubscription.objects.get(plan__customer=customer, number=1)


def manage_url(customer):
    return reverse("overage:manage", args=[customer.tenant_id])


def setting_of(customer):
    return OverageSetting.objects.get(customer=customer)


# --- who sees what (SPEC §2) ----------------------------------------------------------------

@pytest.mark.parametrize("role", [Role.GLOBAL_ADMIN, Role.ADMIN_AGENT])
def test_admins_see_an_enabled_manage_overage_button(make_member, partner_a, alpine, role):
    client = make_member(partner_a, role)
    html = client.get(reverse("portal:customer_detail", args=[alpine.tenant_id])).content.decode()
    assert 'data-testid="manage-overage"' in html
    assert f'hx-get="{manage_url(alpine)}"' in html


@pytest.mark.parametrize(
    ("role", "reason"),
    [
        (Role.SALES_AGENT, "Only admin agents and global admins can manage overage."),
        (Role.BILLING_ADMIN, "Only admin agents and global admins can manage overage."),
        (Role.HELPDESK_AGENT, "Only admin agents and global admins can manage overage."),
    ],
)
def test_other_roles_see_the_button_disabled_with_the_reason_and_cannot_post(make_member, partner_a, alpine, role, reason):
    client = make_member(partner_a, role)
    html = client.get(reverse("portal:customer_detail", args=[alpine.tenant_id])).content.decode()
    assert "disabled" in html.split('data-testid="manage-overage"')[0].rsplit("<button", 1)[1]
    assert reason in html
    response = client.post(manage_url(alpine), {"target": str(sub1(alpine).pk), "seen": ""})
    assert response.status_code == 403
    assert reason in response.content.decode()
    assert not setting_of(alpine).enabled


def test_sales_agent_cannot_manage_overage_in_the_flyout(make_member, partner_a, alpine):
    client = make_member(partner_a, Role.SALES_AGENT)
    html = client.get(manage_url(alpine), **HX).content.decode()
    assert 'data-testid="overage-denial"' in html
    assert "<form" not in html


def test_reseller_user_is_told_to_ask_its_provider_by_name(make_member, provider, reseller, customer_of, telco_sku):
    customer = customer_of(provider, reseller=reseller)
    SubscriptionFactory(partner=provider, reseller=reseller, customer=customer, sku=telco_sku)
    client = make_member(reseller, Role.GLOBAL_ADMIN)
    html = client.get(reverse("portal:customer_detail", args=[customer.tenant_id])).content.decode()
    assert "Ask your indirect provider (Fabrikam Test Provider)" in html
    response = client.post(manage_url(customer), {"target": "new"}, **HX)
    assert response.status_code == 403
    assert "Fabrikam Test Provider" in response.content.decode()
    assert not OverageSetting.objects.filter(customer=customer, enabled=True).exists()


def test_button_is_hidden_without_overage_capable_subscriptions(make_member, partner_a, customer_of):
    customer = customer_of(partner_a)
    html = make_member(partner_a).get(reverse("portal:customer_detail", args=[customer.tenant_id])).content.decode()
    assert 'data-testid="manage-overage"' not in html
    assert "No overage-capable subscription." in html


def test_another_partners_setting_is_only_said_to_be_managed_elsewhere(make_member, partner_a, partner_b, alpine, telco_sku):
    services.overage_update(customer=alpine, partner=partner_a, acting_user=None, enabled=True, azure_subscription=sub1(alpine))
    SubscriptionFactory(partner=partner_b, customer=alpine, sku=telco_sku)
    client = make_member(partner_b)
    html = client.get(reverse("portal:customer_detail", args=[alpine.tenant_id])).content.decode()
    assert str(MANAGED_BY_ANOTHER_PARTNER) in html
    assert 'data-testid="manage-overage"' not in html
    card = html.split('id="overage-card"')[1].split('class="card mb-3"')[0]
    assert "Subscription 1" not in card  # where A sends overage is A's business
    response = client.post(manage_url(alpine), {"target": "none", "seen": ""}, **HX)
    assert str(services.OWNED_BY_ANOTHER_PARTNER) in response.content.decode()
    assert setting_of(alpine).enabled and setting_of(alpine).owner == partner_a


@pytest.mark.parametrize("page", ["portal:customer_detail", "subscriptions:subscription_list"])
def test_managed_by_another_partner_is_said_once(make_member, partner_a, partner_b, alpine, telco_sku, page):
    """Issue 13 defect 4: the badge and the button both said it, side by side."""
    services.overage_update(customer=alpine, partner=partner_a, acting_user=None, enabled=True, azure_subscription=sub1(alpine))
    SubscriptionFactory(partner=partner_b, customer=alpine, sku=telco_sku)
    url = reverse(page, args=[alpine.tenant_id]) if page == "portal:customer_detail" else reverse(page)
    query = {} if page == "portal:customer_detail" else {"customer": str(alpine.tenant_id)}
    html = make_member(partner_b).get(url, query).content.decode()
    assert html.count(str(MANAGED_BY_ANOTHER_PARTNER)) == 1
    assert reverse("overage:transfer", args=[alpine.tenant_id]) in html


# --- scoping: another partner's customer is 404 ---------------------------------------------

@pytest.mark.parametrize("headers", [{}, HX])
def test_another_partners_customer_is_not_found(make_member, partner_b, alpine, headers):
    client = make_member(partner_b)
    assert client.get(manage_url(alpine), **headers).status_code == 404
    assert client.post(manage_url(alpine), {"target": "new"}, **headers).status_code == 404
    assert client.get(reverse("overage:badge", args=[alpine.tenant_id]), **headers).status_code == 404
    assert client.get(reverse("overage:azure_plan", args=[alpine.tenant_id])).status_code == 404
    assert client.post(reverse("overage:azure_plan_create", args=[alpine.tenant_id])).status_code == 404
    assert client.get(reverse("overage:transfer", args=[alpine.tenant_id])).status_code == 404
    assert not setting_of(alpine).enabled


def test_the_flyout_lists_only_the_customers_active_azure_subscriptions(make_member, partner_a, alpine, customer_of):
    cancelled = AzureSubscriptionFactory(plan=alpine.azure_plan, number=2, status=AzureSubscriptionStatus.DELETED)
    other = AzureSubscriptionFactory(plan=AzurePlanFactory(customer=customer_of(partner_a), partner=partner_a), number=1)
    html = make_member(partner_a).get(manage_url(alpine), **HX).content.decode()
    assert html.lstrip().startswith('<div data-flyout-title="Manage overage"')
    assert str(sub1(alpine).pk) in html
    assert str(cancelled.pk) not in html and str(other.pk) not in html
    assert 'value="new"' in html and 'value="none"' in html
    assert 'hx-confirm="' in html and 'hx-disabled-elt="find button[type=submit]"' in html


def test_the_flyout_is_a_full_page_without_htmx(make_member, partner_a, alpine):
    html = make_member(partner_a).get(manage_url(alpine)).content.decode()
    assert "<html" in html and 'data-flyout-title="Manage overage"' in html


# --- changing it ------------------------------------------------------------------------------

def test_admin_agent_enables_overage_with_htmx_and_the_page_is_told(make_member, partner_a, alpine):
    client = make_member(partner_a)
    response = client.post(manage_url(alpine), {"target": str(sub1(alpine).pk), "seen": ""}, **HX)
    assert response.status_code == 200
    trigger = json.loads(response["HX-Trigger"])
    assert "close-flyout" in trigger
    # Only the out-of-band parts swap: swapping into the flyout would reopen it.
    assert (response["HX-Retarget"], response["HX-Reswap"]) == ("#messages", "none")
    assert trigger["overage-updated"] == {
        "tenantId": str(alpine.tenant_id), "overageEnabled": True, "azureEntitlementId": str(sub1(alpine).pk),
    }
    html = response.content.decode()
    assert '<div id="messages" aria-live="polite" hx-swap-oob="true">' in html
    assert "now goes to Subscription 1" in html
    setting = setting_of(alpine)
    assert setting.enabled and setting.azure_subscription == sub1(alpine)
    interval = OverageAssignment.objects.get(customer=alpine)
    assert interval.started_by == client.user and interval.ended_at is None

    badge = client.get(reverse("overage:badge", args=[alpine.tenant_id]), **HX).content.decode()
    assert 'data-enabled="true"' in badge and "Subscription 1" in badge and client.user.email in badge
    assert 'hx-trigger="overage-updated from:body"' in badge


def test_setting_none_closes_the_interval(make_member, partner_a, alpine):
    client = make_member(partner_a, Role.GLOBAL_ADMIN)
    client.post(manage_url(alpine), {"target": str(sub1(alpine).pk), "seen": ""}, **HX)
    response = client.post(manage_url(alpine), {"target": "none", "seen": str(sub1(alpine).pk)}, **HX)
    assert json.loads(response["HX-Trigger"])["overage-updated"]["overageEnabled"] is False
    assert not setting_of(alpine).enabled
    interval = OverageAssignment.objects.get(customer=alpine)
    assert interval.ended_at is not None and interval.ended_by == client.user
    assert AuditEvent.objects.filter(action="overage.update").count() == 2


def test_create_new_adds_subscription_2_dedicated_to_overage(make_member, partner_a, alpine):
    make_member(partner_a).post(manage_url(alpine), {"target": "new", "seen": ""}, **HX)
    setting = setting_of(alpine)
    assert setting.azure_subscription.friendly_name == "Subscription 2"
    assert setting.azure_subscription.dedicated_to_overage


def test_first_activation_without_an_azure_plan_creates_it_and_subscription_1(make_member, partner_a, customer_of, telco_sku, azure_sku):
    customer = customer_of(partner_a)
    SubscriptionFactory(partner=partner_a, customer=customer, sku=telco_sku)
    make_member(partner_a).post(manage_url(customer), {"target": "new", "seen": ""}, **HX)
    plan = AzurePlan.objects.get(customer=customer)
    assert plan.subscription.sku == azure_sku
    assert setting_of(customer).azure_subscription.friendly_name == "Subscription 1"


def test_without_htmx_success_redirects_to_the_customer_page(make_member, partner_a, alpine):
    response = make_member(partner_a).post(manage_url(alpine), {"target": str(sub1(alpine).pk), "seen": ""})
    assert response.status_code == 303
    assert response["Location"] == reverse("portal:customer_detail", args=[alpine.tenant_id])


def test_indirect_provider_acts_for_its_resellers_customer_and_names_the_reseller(make_member, provider, reseller, customer_of, telco_sku):
    customer = customer_of(provider, reseller=reseller)
    SubscriptionFactory(partner=provider, reseller=reseller, customer=customer, sku=telco_sku)
    make_member(provider).post(manage_url(customer), {"target": "new", "seen": ""}, **HX)
    setting = setting_of(customer)
    assert (setting.owner, setting.reseller, setting.enabled) == (provider, reseller, True)
    assert OverageAssignment.objects.get(customer=customer).reseller == reseller


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (lambda c, other: "not-a-guid", "is not a valid GUID"),
        (lambda c, other: "0b5b8c0e-0000-4000-8000-000000000000", "was not found"),
        (lambda c, other: str(AzureSubscriptionFactory(plan=c.azure_plan, number=7, status=AzureSubscriptionStatus.DELETED).pk), "is not active"),
        (lambda c, other: str(other.pk), "does not belong to this customer"),
        (lambda c, other: "", "Choose an Azure subscription, Create new, or None."),
    ],
    ids=["malformed", "unknown", "cancelled", "other-customer", "missing"],
)
def test_bad_azure_subscription_is_shown_in_the_flyout_and_nothing_changes(make_member, partner_a, alpine, customer_of, target, expected):
    other = AzureSubscriptionFactory(plan=AzurePlanFactory(customer=customer_of(partner_a), partner=partner_a), number=1)
    client = make_member(partner_a)
    value = target(alpine, other)
    response = client.post(manage_url(alpine), {"target": value, "seen": ""}, **HX)
    # The one refusal convention (portal.htmx): 422, the flyout with the error inside it.
    assert response.status_code == 422
    assert (response["HX-Retarget"], response["HX-Reswap"]) == ("#flyout-body", "innerHTML")
    assert "HX-Trigger" not in response
    html = response.content.decode()
    assert 'data-testid="overage-error"' in html and expected in html
    assert html.lstrip().startswith('<div data-flyout-title="Manage overage"')
    assert not setting_of(alpine).enabled
    assert not OverageAssignment.objects.filter(customer=alpine).exists()
    # Without HTMX, the same refusal is the page with the real status.
    assert client.post(manage_url(alpine), {"target": value, "seen": ""}).status_code == 422


@pytest.mark.parametrize("why", ["legacy", "sandbox"])
def test_create_new_is_disabled_with_its_reason_before_saving(make_member, partner_a, alpine, why):
    """Issue 13 defect 2 (SPEC §2): Datum (MS-AZR-0145P) and the sandbox partner were offered
    *Create new* and told why only after Save."""
    if why == "legacy":
        alpine.on_legacy_azure = True
        alpine.save()
        reason = rules.LEGACY_AZURE
    else:
        partner_a.is_sandbox = True
        partner_a.save()
        reason = rules.SANDBOX_NO_AZURE
    for extra in (HX, {}):  # the flyout and the plain page
        html = make_member(partner_a).get(manage_url(alpine), **extra).content.decode()
        create_new = re.search(r'<input[^>]*value="new"[^>]*>', html).group(0)
        assert " disabled" in create_new
        assert 'data-testid="create-new-refusal">' + str(reason) in html.replace("&#x27;", "'")
        # The other choices stay open: Subscription 1 and None.
        assert re.search(rf'<input[^>]*value="{sub1(alpine).pk}"[^>]*>', html).group(0).count("disabled") == 0


def test_create_new_is_offered_without_a_reason_otherwise(make_member, partner_a, alpine):
    html = make_member(partner_a).get(manage_url(alpine), **HX).content.decode()
    assert "disabled" not in re.search(r'<input[^>]*value="new"[^>]*>', html).group(0)
    assert 'data-testid="create-new-refusal"' not in html


def test_legacy_and_sandbox_refusals_appear_in_the_flyout(make_member, partner_a, alpine):
    alpine.on_legacy_azure = True
    alpine.save()
    html = make_member(partner_a).post(manage_url(alpine), {"target": "new", "seen": ""}, **HX).content.decode()
    assert "MS-AZR-0145P" in html
    alpine.on_legacy_azure = False
    alpine.save()
    partner_a.is_sandbox = True
    partner_a.save()
    html = make_member(partner_a).post(manage_url(alpine), {"target": "new", "seen": ""}, **HX).content.decode()
    assert "Sandbox" in html
    assert not setting_of(alpine).enabled


def test_a_double_submit_makes_one_change_and_the_second_is_told(make_member, partner_a, alpine):
    client = make_member(partner_a)
    data = {"target": str(sub1(alpine).pk), "seen": ""}
    client.post(manage_url(alpine), data, **HX)
    second = client.post(manage_url(alpine), data, **HX)
    assert str(services.CHANGED_MEANWHILE) in second.content.decode()
    assert OverageAssignment.objects.filter(customer=alpine).count() == 1
    assert AuditEvent.objects.filter(action="overage.update").count() == 1


def test_method_guard(make_member, partner_a, alpine):
    assert make_member(partner_a).put(manage_url(alpine)).status_code == 405


# --- credits ------------------------------------------------------------------------------

def test_auto_recharge_warning_is_shown_where_overage_is_managed(make_member, partner_a, alpine):
    CreditAccountFactory(customer=alpine, currency="USD", auto_recharge=True, threshold=Decimal("20.00"),
                         recharge_amount=Decimal("100.00"))
    client = make_member(partner_a)
    expected = "below $20.00, so post-paid overage will never start"
    assert expected in client.get(reverse("portal:customer_detail", args=[alpine.tenant_id])).content.decode()
    assert expected in client.get(manage_url(alpine), **HX).content.decode()


def test_no_warning_when_auto_recharge_is_off(make_member, partner_a, alpine):
    CreditAccountFactory(customer=alpine, auto_recharge=False)
    html = make_member(partner_a).get(manage_url(alpine), **HX).content.decode()
    assert 'data-testid="credit-warning"' not in html


# --- Azure plan page ------------------------------------------------------------------------

def test_azure_plan_page_lists_subscriptions_overage_holder_and_history(make_member, partner_a, alpine):
    client = make_member(partner_a)
    client.post(manage_url(alpine), {"target": str(sub1(alpine).pk), "seen": ""})
    html = client.get(reverse("overage:azure_plan", args=[alpine.tenant_id])).content.decode()
    assert "Subscription 1" in html and 'data-testid="holds-overage"' in html
    assert client.user.email in html.split('data-testid="overage-history"')[1]


def test_create_azure_plan_and_add_subscriptions(make_member, partner_a, customer_of, azure_sku):
    customer = customer_of(partner_a)
    client = make_member(partner_a)
    page = client.get(reverse("overage:azure_plan", args=[customer.tenant_id])).content.decode()
    assert 'data-testid="create-azure-plan"' in page
    response = client.post(reverse("overage:azure_plan_create", args=[customer.tenant_id]))
    assert response.status_code == 303
    plan = AzurePlan.objects.get(customer=customer)
    assert plan.subscription.sku == azure_sku
    client.post(reverse("overage:azure_subscription_create", args=[customer.tenant_id]))
    client.post(reverse("overage:azure_subscription_create", args=[customer.tenant_id]))
    assert list(plan.azure_subscriptions.values_list("friendly_name", flat=True)) == ["Subscription 1", "Subscription 2"]



def test_a_second_partner_adds_its_azure_subscription_to_the_customers_single_plan(
    make_member, partner_a, partner_b, customer_of, azure_sku
):
    """One Azure plan per customer: a later partner's "Add Azure subscription" goes into the
    plan the first one created (the race version is in ``test_concurrency``)."""
    customer = customer_of(partner_a)
    ensure_relationship(customer, partner_b)
    url = reverse("overage:azure_subscription_create", args=[customer.tenant_id])
    assert make_member(partner_a).post(url).status_code == 303
    response = make_member(partner_b).post(url)
    assert response.status_code == 303
    plan = AzurePlan.objects.get(customer=customer)
    assert plan.partner == partner_a
    assert list(plan.azure_subscriptions.values_list("partner", "friendly_name")) == [
        (partner_a.pk, "Subscription 1"),
        (partner_b.pk, "Subscription 2"),
    ]

def test_sales_agent_cannot_create_azure_plans(make_member, partner_a, customer_of):
    customer = customer_of(partner_a)
    response = make_member(partner_a, Role.SALES_AGENT).post(reverse("overage:azure_plan_create", args=[customer.tenant_id]))
    assert response.status_code == 403
    assert not AzurePlan.objects.filter(customer=customer).exists()


def test_legacy_azure_customer_gets_the_message_and_no_plan(make_member, partner_a, customer_of):
    customer = customer_of(partner_a, on_legacy_azure=True)
    client = make_member(partner_a)
    page = client.get(reverse("overage:azure_plan", args=[customer.tenant_id])).content.decode()
    assert "MS-AZR-0145P" in page and 'data-testid="create-azure-plan"' not in page
    response = client.post(reverse("overage:azure_plan_create", args=[customer.tenant_id]))
    assert response.status_code == 422 and "MS-AZR-0145P" in response.content.decode()
    assert not AzurePlan.objects.filter(customer=customer).exists()


def test_sandbox_without_access_gets_the_sandbox_message(make_member, customer_of):
    from tests.factories import PartnerFactory

    sandbox = PartnerFactory(is_sandbox=True, sandbox_azure_access=False)
    customer = customer_of(sandbox)
    client = make_member(sandbox)
    assert "Sandbox partners cannot create Azure plans" in client.get(
        reverse("overage:azure_plan", args=[customer.tenant_id])).content.decode()
    response = client.post(reverse("overage:azure_subscription_create", args=[customer.tenant_id]))
    assert response.status_code == 422
    assert not AzurePlan.objects.filter(customer=customer).exists()


# --- transfer of ownership --------------------------------------------------------------------

def test_transfer_flow_lets_the_agreed_partner_take_over_after_none(make_member, partner_a, partner_b, alpine, telco_sku):
    owner = make_member(partner_a)
    owner.post(manage_url(alpine), {"target": str(sub1(alpine).pk), "seen": ""})
    SubscriptionFactory(partner=partner_b, customer=alpine, sku=telco_sku)
    receiver = make_member(partner_b)
    url = reverse("overage:transfer", args=[alpine.tenant_id])

    assert 'data-testid="propose-transfer"' in receiver.get(url).content.decode()
    assert receiver.post(url, {"action": "propose"}).status_code == 303
    transfer = OverageTransfer.objects.get(customer=alpine)
    assert (transfer.from_partner, transfer.to_partner) == (partner_a, partner_b)

    # The customer's agreement needs the written-confirmation checkbox.
    assert receiver.post(url, {"action": "agree_customer"}).status_code == 422
    receiver.post(url, {"action": "agree_customer", "in_writing": "on"})
    # A partner agrees only for itself.
    assert receiver.post(url, {"action": "agree_from_partner"}).status_code == 403
    receiver.post(url, {"action": "agree_to_partner"})
    owner.post(url, {"action": "agree_from_partner"})
    transfer.refresh_from_db()
    assert transfer.fully_agreed
    assert "Set overage to None" in owner.get(url).content.decode()

    # Still enabled: B cannot take it yet.
    response = receiver.post(manage_url(alpine), {"target": "new", "seen": ""}, **HX)
    assert str(services.OWNED_BY_ANOTHER_PARTNER) in response.content.decode()
    owner.post(manage_url(alpine), {"target": "none", "seen": str(sub1(alpine).pk)}, **HX)
    assert 'data-testid="manage-overage"' in receiver.get(
        reverse("portal:customer_detail", args=[alpine.tenant_id])).content.decode()
    receiver.post(manage_url(alpine), {"target": "new", "seen": ""}, **HX)
    setting = setting_of(alpine)
    assert setting.owner == partner_b and setting.enabled
    transfer.refresh_from_db()
    assert transfer.completed_at is not None
    intervals = list(OverageAssignment.objects.filter(customer=alpine).order_by("started_at"))
    assert [i.partner for i in intervals] == [partner_a, partner_b]
    assert intervals[0].ended_at <= intervals[1].started_at


def test_owner_cannot_propose_a_transfer_to_itself(make_member, partner_a, alpine):
    response = make_member(partner_a).post(reverse("overage:transfer", args=[alpine.tenant_id]), {"action": "propose"})
    assert response.status_code == 422
    assert not OverageTransfer.objects.exists()
