"""The operator's staff work in Django admin every day: every page opens, history stays
read-only, and membership roles are picked as checkboxes (SPEC §1, §2)."""

import datetime
from decimal import Decimal

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from billing.models import BillingMonth, CreditAccount, CreditLedgerEntry, Rate, UsageRecord
from catalog.models import Availability, PriceListEntry, Product, Sku, TenantLicense
from overage.models import AzurePlan, AzureSubscription, OverageSetting
from portal.admin import ROLES_REQUIRED_MESSAGE, MembershipAdminForm
from portal.models import AuditEvent, Customer, CustomerRelationship, Membership, Partner, Role
from subscriptions.models import ChargeEvent, SeatChange, Subscription

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser(
        username="staff", email="staff@portal.example", password="pw-staff-123"
    )


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def rows(staff):
    """One row of each core model, made directly with the ORM."""
    now = timezone.now()
    today = now.date()
    partner = Partner.objects.create(mpn_id="1000001", name="Contoso Cloud", kind="direct_bill")
    customer = Customer.objects.create(name="Alpine Ski House", domain="alpineskihouse.onmicrosoft.com", country="US")
    CustomerRelationship.objects.create(customer=customer, partner=partner)
    product = Product.objects.create(id="CFQ7TTC0LH18", title="Microsoft 365 Business Basic", product_type="OnlineServicesNCE")
    sku = Sku.objects.create(
        product=product, sku_id="0001", title="Microsoft 365 Business Basic", supported_terms=["P1M", "P1Y"]
    )
    availability = Availability.objects.create(
        sku=sku, availability_id="CFQ7TTC0LH18", terms=[{"termDuration": "P1Y", "billingCycle": "monthly"}]
    )
    PriceListEntry.objects.create(
        sku=sku,
        term_duration="P1Y",
        billing_plan="monthly",
        market="US",
        currency="USD",
        unit_price=Decimal("6.00"),
        erp_price=Decimal("7.20"),
        effective_start=today.replace(day=1),
    )
    license_ = TenantLicense.objects.create(
        customer=customer, sku=sku, channel="csp_nce", source_partner=partner, quantity=5
    )
    subscription = Subscription.objects.create(
        customer=customer,
        partner=partner,
        sku=sku,
        availability=availability,
        license=license_,
        quantity=5,
        term_duration="P1Y",
        billing_cycle="monthly",
        start_date=today,
        commitment_end_date=today + datetime.timedelta(days=364),
        unit_price=Decimal("6.00"),
        currency="USD",
        purchased_at=now,
        term_started_at=now,
    )
    SeatChange.objects.create(
        subscription=subscription,
        kind="purchase",
        delta=5,
        quantity_after=5,
        occurred_at=now,
        refundable_until=now + datetime.timedelta(hours=168),
        actor=staff,
    )
    ChargeEvent.objects.create(
        subscription=subscription,
        charge_type="new",
        sku=subscription.sku,
        availability=subscription.availability,
        term_duration=subscription.term_duration,
        billing_cycle=subscription.billing_cycle,
        quantity=5,
        unit_price=Decimal("6.00"),
        effective_unit_price=Decimal("6.00"),
        amount=Decimal("30.00"),
        currency="USD",
        charge_start=today,
        charge_end=today + datetime.timedelta(days=30),
        occurred_at=now,
    )
    plan = AzurePlan.objects.create(customer=customer, partner=partner)
    azure_subscription = AzureSubscription.objects.create(plan=plan, partner=plan.partner, number=1, friendly_name="Subscription 1")
    OverageSetting.objects.create(customer=customer, owner=partner, azure_subscription=azure_subscription, enabled=True)
    account = CreditAccount.objects.create(customer=customer, currency="USD")
    CreditLedgerEntry.objects.create(account=account, kind="purchase", amount=Decimal("50.00"), occurred_at=now, actor=staff)
    Rate.objects.create(
        destination_country="US",
        number_type="landline",
        currency="USD",
        unit_price=Decimal("0.020000"),
        erp_price=Decimal("0.024000"),
        effective_from=today.replace(day=1),
    )
    UsageRecord.objects.create(
        record_id="call-1",
        customer=customer,
        user="ada@alpineskihouse.example",
        started_at=now,
        duration_seconds=61,
        call_type="domestic",
        destination_country="US",
        number_type="landline",
    )
    BillingMonth.objects.create(month=today.replace(day=1))
    event = AuditEvent.objects.create(
        actor=staff,
        actor_label="staff@portal.example",
        partner=partner,
        customer=customer,
        action="subscription.create",
        object_type="subscriptions.Subscription",
        object_id=str(subscription.pk),
        object_repr=str(subscription),
        after={"quantity": 5},
    )
    return {"partner": partner, "customer": customer, "subscription": subscription, "audit_event": event}


CORE_MODELS = [
    Partner,
    Customer,
    Product,
    Sku,
    Availability,
    PriceListEntry,
    TenantLicense,
    Subscription,
    SeatChange,
    ChargeEvent,
    AzurePlan,
    AzureSubscription,
    OverageSetting,
    CreditAccount,
    CreditLedgerEntry,
    Rate,
    UsageRecord,
    BillingMonth,
    AuditEvent,
]


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_registered_model_changelist_and_add_page_open_for_staff(staff_client, staff, rows):
    request = RequestFactory().get("/admin/")
    request.user = staff
    for model, model_admin in admin.site._registry.items():
        response = staff_client.get(_url(model, "changelist"))
        assert response.status_code == 200, model
        if model in CORE_MODELS:
            assert response.context["cl"].result_count >= 1, model

        # Append-only records have no add page: admin refuses it rather than showing a form.
        expected = 200 if model_admin.has_add_permission(request) else 403
        response = staff_client.get(_url(model, "add"))
        assert response.status_code == expected, model


def test_every_core_model_change_page_opens(staff_client, rows):
    for model in CORE_MODELS:
        obj = model._default_manager.first()
        response = staff_client.get(_url(model, "change", obj.pk))
        assert response.status_code == 200, model


def test_subscription_change_page_shows_its_seat_history_and_charges(staff_client, rows):
    response = staff_client.get(_url(Subscription, "change", rows["subscription"].pk))

    assert response.status_code == 200
    content = response.content.decode()
    assert "seat history" in content.lower()
    assert "30.00" in content


def test_customer_change_page_shows_relationships_and_tenant_licenses(staff_client, rows):
    response = staff_client.get(_url(Customer, "change", rows["customer"].pk))

    assert response.status_code == 200
    inline_models = {formset.formset.model for formset in response.context["inline_admin_formsets"]}
    assert inline_models == {CustomerRelationship, TenantLicense}


def test_customer_search_finds_a_pasted_tenant_id(staff_client, rows):
    customer = rows["customer"]

    response = staff_client.get(_url(Customer, "changelist"), {"q": str(customer.tenant_id)})

    assert list(response.context["cl"].result_list) == [customer]


def test_audit_event_admin_refuses_change(staff_client, rows):
    event = rows["audit_event"]
    url = _url(AuditEvent, "change", event.pk)

    assert staff_client.get(url).status_code == 200  # viewable, read-only
    response = staff_client.post(url, {"action": "tampered", "object_repr": "tampered"})

    assert response.status_code == 403
    event.refresh_from_db()
    assert event.action == "subscription.create"
    assert staff_client.post(_url(AuditEvent, "delete", event.pk), {"post": "yes"}).status_code == 403


def test_seat_history_and_charge_events_are_read_only(staff_client, rows):
    for model in (SeatChange, ChargeEvent):
        obj = model.objects.first()
        assert staff_client.post(_url(model, "change", obj.pk), {}).status_code == 403
        assert staff_client.post(_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403


def test_credit_ledger_entries_can_be_added_but_never_changed(staff_client, staff, rows):
    account = CreditAccount.objects.get()
    now = timezone.now()

    response = staff_client.post(
        _url(CreditLedgerEntry, "add"),
        {
            "account": account.pk,
            "kind": "adjustment",
            "amount": "-5.00",
            "occurred_at_0": now.strftime("%Y-%m-%d"),
            "occurred_at_1": now.strftime("%H:%M:%S"),
            "note": "Goodwill correction",
        },
    )

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    entry = CreditLedgerEntry.objects.get(kind="adjustment")
    assert entry.actor == staff
    assert account.balance() == Decimal("45.00")
    assert AuditEvent.objects.filter(action="credits.ledger_entry_added", object_id=str(entry.pk)).exists()
    assert staff_client.post(_url(CreditLedgerEntry, "change", entry.pk), {}).status_code == 403
    assert staff_client.post(_url(CreditLedgerEntry, "delete", entry.pk), {"post": "yes"}).status_code == 403


def test_subscription_status_change_follows_the_transition_table(staff_client, rows):
    from subscriptions.admin import SubscriptionAdminForm

    subscription = rows["subscription"]
    subscription.status = "deleted"
    subscription.save()

    form = SubscriptionAdminForm(instance=subscription)
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data["status"] = "active"
    form = SubscriptionAdminForm(data=data, instance=subscription)

    assert not form.is_valid()
    assert "status" in form.errors


def test_membership_form_rejects_no_roles_and_saves_two(staff, rows, django_user_model):
    user = django_user_model.objects.create_user(username="ada", email="ada@contoso.example", password="pw-ada-1234")
    partner = rows["partner"]

    empty = MembershipAdminForm(data={"user": user.pk, "partner": partner.pk, "roles": []})
    assert not empty.is_valid()
    assert empty.errors["roles"] == [str(ROLES_REQUIRED_MESSAGE)]

    form = MembershipAdminForm(
        data={"user": user.pk, "partner": partner.pk, "roles": [Role.SALES_AGENT, Role.ADMIN_AGENT]}
    )
    assert form.is_valid(), form.errors
    membership = form.save()

    membership.refresh_from_db()
    assert membership.roles == [Role.ADMIN_AGENT, Role.SALES_AGENT]


def test_membership_admin_add_page_saves_roles_and_audits(staff_client, rows, django_user_model):
    user = django_user_model.objects.create_user(username="sam", email="sam@contoso.example", password="pw-sam-1234")

    response = staff_client.post(
        _url(Membership, "add"),
        {"user": user.pk, "partner": rows["partner"].pk, "roles": [Role.BILLING_ADMIN, Role.GLOBAL_ADMIN]},
    )

    assert response.status_code == 302
    membership = Membership.objects.get(user=user)
    assert membership.roles == [Role.GLOBAL_ADMIN, Role.BILLING_ADMIN]
    assert AuditEvent.objects.filter(action="admin.add", object_id=str(membership.pk)).exists()


def test_user_admin_shows_the_membership_inline(staff_client, staff, rows):
    Membership.objects.create(user=staff, partner=rows["partner"], roles=[Role.GLOBAL_ADMIN])

    response = staff_client.get(_url(staff.__class__, "change", staff.pk))

    assert response.status_code == 200
    inline_models = {formset.formset.model for formset in response.context["inline_admin_formsets"]}
    assert inline_models == {Membership}
    assert 'value="global_admin"' in response.content.decode()


def test_subscription_changelist_query_count_does_not_grow_with_rows(staff_client, rows, django_assert_max_num_queries):
    subscription = rows["subscription"]
    for _ in range(5):
        subscription.pk = None
        subscription.license = None
        subscription.save()
    # Session, user, middleware membership, count, total, filter choices and one page of
    # rows with their customer, partner, reseller and SKU joined: a fixed number, not per row.
    with django_assert_max_num_queries(12):
        response = staff_client.get(_url(Subscription, "changelist"))
    assert response.context["cl"].result_count == 6


def test_every_changelist_search_works_with_words_and_pasted_guids(staff_client, rows):
    for model, model_admin in admin.site._registry.items():
        if not model_admin.search_fields:
            continue
        for term in ("Alpine", str(rows["customer"].tenant_id)):
            response = staff_client.get(_url(model, "changelist"), {"q": term})
            assert response.status_code == 200, (model, term)


def test_membership_changelist_filters_by_role(staff_client, rows, django_user_model):
    partner = rows["partner"]
    ada = django_user_model.objects.create_user(username="ada", password="pw-ada-1234")
    sam = django_user_model.objects.create_user(username="sam", password="pw-sam-1234")
    admin_membership = Membership.objects.create(user=ada, partner=partner, roles=[Role.GLOBAL_ADMIN, Role.ADMIN_AGENT])
    Membership.objects.create(user=sam, partner=partner, roles=[Role.SALES_AGENT])

    response = staff_client.get(_url(Membership, "changelist"), {"role": Role.ADMIN_AGENT})

    assert list(response.context["cl"].result_list) == [admin_membership]


def test_price_list_link_from_a_sku_narrows_to_that_sku(staff_client, rows):
    sku = Sku.objects.get()
    other = Sku.objects.create(product=sku.product, sku_id="0002", title="Other")
    PriceListEntry.objects.create(
        sku=other,
        term_duration="P1M",
        billing_plan="monthly",
        market="US",
        currency="USD",
        unit_price=Decimal("1"),
        erp_price=Decimal("1"),
        effective_start=datetime.date(2025, 1, 1),
    )

    page = staff_client.get(_url(Sku, "change", sku.pk)).content.decode()
    link = f"?sku__id__exact={sku.pk}"
    assert link in page
    response = staff_client.get(_url(PriceListEntry, "changelist") + link)

    assert response.status_code == 200
    assert {entry.sku_id for entry in response.context["cl"].result_list} == {sku.pk}
