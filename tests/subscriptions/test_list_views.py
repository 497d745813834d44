"""The Subscriptions list (SPEC §11): scoping, filters, sorting, pagination, HTMX, query
count, row flags and the CSV export."""

import csv
import datetime
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from catalog.models import AZURE_PLAN_PRODUCT_ID
from portal.models import Role
from subscriptions.list_columns import EXPORT_COLUMNS, PAGE_COLUMNS
from subscriptions.models import SubscriptionStatus
from tests.factories import ProductFactory, SkuFactory, SubscriptionFactory

LIST = reverse("subscriptions:subscription_list")
EXPORT = reverse("subscriptions:subscription_export")


def row_ids(response):
    return {str(s.pk) for s in response.context["subscriptions"]}


@pytest.fixture
def a_sub(partner_a, customer_of):
    return SubscriptionFactory(partner=partner_a, customer=customer_of(partner_a, name="Alpine Ski House"))


@pytest.fixture
def b_sub(partner_b, customer_of):
    return SubscriptionFactory(partner=partner_b, customer=customer_of(partner_b, name="Wide World Importers"))


def test_list_shows_own_subscriptions_only(make_member, partner_a, a_sub, b_sub):
    response = make_member(partner_a).get(LIST)
    assert response.status_code == 200
    assert row_ids(response) == {str(a_sub.pk)}
    assert "Wide World Importers" not in response.content.decode()


def test_list_requires_login(client):
    response = client.get(LIST)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_reseller_sees_its_subscriptions_read_only(make_member, provider, reseller, customer_of):
    customer = customer_of(provider, reseller=reseller)
    sub = SubscriptionFactory(partner=provider, reseller=reseller, customer=customer)
    SubscriptionFactory(partner=provider, customer=customer_of(provider))  # the provider's own, not the reseller's
    client = make_member(reseller, Role.GLOBAL_ADMIN)
    response = client.get(LIST)
    assert row_ids(response) == {str(sub.pk)}
    body = response.content.decode()
    assert 'data-actions="read-only"' in body
    assert 'data-actions="enabled"' not in body
    fragment = client.get(reverse("subscriptions:subscription_actions", args=[sub.pk]), HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert provider.name in html  # told to ask the provider, by name
    for tag in html.split("<button")[1:]:
        assert "disabled" in tag.split(">")[0]


def test_sales_agent_rows_have_enabled_actions(make_member, partner_a, a_sub):
    body = make_member(partner_a, Role.SALES_AGENT).get(LIST).content.decode()
    assert 'data-actions="enabled"' in body


def test_filter_by_customer_tenant_id(make_member, partner_a, customer_of, a_sub):
    other = SubscriptionFactory(partner=partner_a, customer=customer_of(partner_a))
    response = make_member(partner_a).get(LIST, {"customer": str(a_sub.customer.tenant_id)})
    assert row_ids(response) == {str(a_sub.pk)}
    assert str(other.pk) not in row_ids(response)
    assert "Alpine Ski House" in response.content.decode()


def test_other_partners_tenant_id_does_not_leak(make_member, partner_a, a_sub, b_sub):
    response = make_member(partner_a).get(LIST, {"customer": str(b_sub.customer.tenant_id)})
    assert response.status_code == 200
    assert row_ids(response) == set()
    assert "Wide World Importers" not in response.content.decode()


def test_filter_by_product_and_status(make_member, partner_a, customer_of):
    customer = customer_of(partner_a)
    teams = SkuFactory(product=ProductFactory(title="Teams Phone"))
    office = SkuFactory(product=ProductFactory(title="Office 365"))
    phone = SubscriptionFactory(partner=partner_a, customer=customer, sku=teams)
    suspended = SubscriptionFactory(partner=partner_a, customer=customer, sku=office, status=SubscriptionStatus.SUSPENDED)
    client = make_member(partner_a)
    assert row_ids(client.get(LIST, {"product": teams.product_id})) == {str(phone.pk)}
    assert row_ids(client.get(LIST, {"status": "suspended"})) == {str(suspended.pk)}


def test_filter_by_term_end_range_and_auto_renew(make_member, partner_a, customer_of):
    customer = customer_of(partner_a)
    today = timezone.localdate()
    soon = SubscriptionFactory(
        partner=partner_a, customer=customer, commitment_end_date=today + datetime.timedelta(days=10),
        auto_renew_enabled=False,
    )
    late = SubscriptionFactory(partner=partner_a, customer=customer, commitment_end_date=today + datetime.timedelta(days=300))
    client = make_member(partner_a)
    window = {"end_from": today.isoformat(), "end_to": (today + datetime.timedelta(days=30)).isoformat()}
    assert row_ids(client.get(LIST, window)) == {str(soon.pk)}
    assert row_ids(client.get(LIST, {"end_from": (today + datetime.timedelta(days=100)).isoformat()})) == {str(late.pk)}
    assert row_ids(client.get(LIST, {"auto_renew": "false"})) == {str(soon.pk)}
    assert row_ids(client.get(LIST, {"auto_renew": "true"})) == {str(late.pk)}
    assert row_ids(client.get(LIST, {"auto_renew": ""})) == {str(soon.pk), str(late.pk)}


def test_filter_addons_overage_and_search(make_member, partner_a, customer_of):
    customer = customer_of(partner_a, name="Fourth Coffee")
    base_sku = SkuFactory(title="Office 365 E3")
    addon = SubscriptionFactory(
        partner=partner_a, customer=customer, sku=SkuFactory(title="Teams Phone Standard", is_addon=True, prerequisites=[base_sku])
    )
    telco = SubscriptionFactory(partner=partner_a, customer=customer, sku=SkuFactory(title="Calling Plan", overage=True))
    base = SubscriptionFactory(partner=partner_a, customer=customer, sku=base_sku, friendly_name="HQ licences")
    client = make_member(partner_a)
    assert row_ids(client.get(LIST, {"addons": "on"})) == {str(addon.pk)}
    assert row_ids(client.get(LIST, {"overage": "on"})) == {str(telco.pk)}
    assert row_ids(client.get(LIST, {"q": "teams phone"})) == {str(addon.pk)}
    assert row_ids(client.get(LIST, {"q": "HQ"})) == {str(base.pk)}
    assert len(row_ids(client.get(LIST, {"q": "fourth"}))) == 3


def test_sorting_by_quantity_both_ways(make_member, partner_a, customer_of):
    customer = customer_of(partner_a)
    subs = [SubscriptionFactory(partner=partner_a, customer=customer, quantity=q) for q in (5, 1, 9)]
    client = make_member(partner_a)
    asc = [s.quantity for s in client.get(LIST, {"o": "quantity"}).context["subscriptions"]]
    desc = [s.quantity for s in client.get(LIST, {"o": "-quantity"}).context["subscriptions"]]
    assert asc == [1, 5, 9]
    assert desc == [9, 5, 1]
    assert len(subs) == 3


def test_sort_link_toggles_direction_and_keeps_filters(make_member, partner_a, a_sub):
    response = make_member(partner_a).get(LIST, {"o": "quantity", "status": "active"})
    link = response.context["sort"]["quantity"]
    assert link["direction"] == "asc"
    assert "o=-quantity" in link["url"] and "status=active" in link["url"]


def test_pagination_keeps_filters(make_member, partner_a, customer_of):
    customer = customer_of(partner_a)
    for _ in range(27):
        SubscriptionFactory(partner=partner_a, customer=customer)
    client = make_member(partner_a)
    first = client.get(LIST, {"status": "active"})
    assert len(first.context["subscriptions"]) == 25
    assert first.context["is_paginated"]
    body = first.content.decode()
    assert 'href="?status=active&amp;page=2"' in body
    assert 'hx-get="?status=active&amp;page=2"' in body
    second = client.get(LIST, {"status": "active", "page": 2})
    assert len(second.context["subscriptions"]) == 2
    assert not row_ids(first) & row_ids(second)


def test_htmx_request_gets_the_results_partial(make_member, partner_a, a_sub):
    response = make_member(partner_a).get(LIST, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="subscription-table"' in body
    assert "<html" not in body
    assert 'id="subscription-filters"' not in body


def test_filter_form_pushes_url_and_targets_results(make_member, partner_a, a_sub):
    body = make_member(partner_a).get(LIST).content.decode()
    assert 'hx-push-url="true"' in body
    assert 'hx-target="#subscription-results"' in body
    assert f'hx-get="{reverse("subscriptions:subscription_actions", args=[a_sub.pk])}"' in body
    assert f'href="{reverse("subscriptions:subscription_actions", args=[a_sub.pk])}"' in body


def _make_subscriptions(partner, customer_of, count):
    base_sku = SkuFactory()
    addon_sku = SkuFactory(is_addon=True, prerequisites=[base_sku])
    for i in range(count):
        customer = customer_of(partner)
        SubscriptionFactory(partner=partner, customer=customer, sku=base_sku)
        SubscriptionFactory(partner=partner, customer=customer, sku=addon_sku, redundant_since=timezone.now() if i % 2 else None)


def _count_list_queries(client):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(LIST)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_list_query_count_is_constant(make_member, partner_a, customer_of, django_assert_num_queries):
    # Flags (add-on, overage, redundant, add-on outliving its base) are joined or annotated in
    # the page query, so rows cost no query: 5 and 30 subscriptions (2 per customer) cost the same.
    client = make_member(partner_a)
    _make_subscriptions(partner_a, customer_of, 3)
    small = _count_list_queries(client)
    _make_subscriptions(partner_a, customer_of, 12)
    with django_assert_num_queries(small):
        response = client.get(LIST)
    assert len(response.context["subscriptions"]) == 25


def test_addon_outliving_its_base_is_flagged(make_member, partner_a, customer_of):
    customer = customer_of(partner_a)
    today = timezone.localdate()
    base_sku = SkuFactory()
    addon_sku = SkuFactory(is_addon=True, prerequisites=[base_sku])
    SubscriptionFactory(partner=partner_a, customer=customer, sku=base_sku, commitment_end_date=today + datetime.timedelta(days=30))
    late = SubscriptionFactory(partner=partner_a, customer=customer, sku=addon_sku, commitment_end_date=today + datetime.timedelta(days=300))
    response = make_member(partner_a).get(LIST)
    rows = {str(s.pk): s for s in response.context["subscriptions"]}
    assert rows[str(late.pk)].outlives_base
    body = response.content.decode()
    assert 'data-flag="outlives-base"' in body
    base_end = today + datetime.timedelta(days=30)
    assert f"{base_end:%b} {base_end.day}, {base_end.year}" in body


def test_addon_not_flagged_when_aligned_or_base_from_elsewhere(make_member, partner_a, partner_b, customer_of):
    today = timezone.localdate()
    base_sku = SkuFactory()
    addon_sku = SkuFactory(is_addon=True, prerequisites=[base_sku])
    aligned_customer = customer_of(partner_a)
    SubscriptionFactory(partner=partner_a, customer=aligned_customer, sku=base_sku, commitment_end_date=today + datetime.timedelta(days=300))
    SubscriptionFactory(partner=partner_a, customer=aligned_customer, sku=addon_sku, commitment_end_date=today + datetime.timedelta(days=300))
    # The only base is sold by another partner: nothing of ours to compare with.
    elsewhere = customer_of(partner_a)
    customer_of(partner_b)  # noise
    SubscriptionFactory(partner=partner_b, customer=elsewhere, sku=base_sku, commitment_end_date=today + datetime.timedelta(days=5))
    SubscriptionFactory(partner=partner_a, customer=elsewhere, sku=addon_sku, commitment_end_date=today + datetime.timedelta(days=300))
    response = make_member(partner_a).get(LIST)
    assert not any(s.outlives_base for s in response.context["subscriptions"])
    assert 'data-flag="outlives-base"' not in response.content.decode()


def _csv(response):
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_csv_export_has_the_columns_and_is_scoped(make_member, partner_a, a_sub, b_sub):
    response = make_member(partner_a, Role.BILLING_ADMIN).get(EXPORT)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = _csv(response)
    assert [r["SubscriptionId"] for r in rows] == [str(a_sub.pk)]
    row = rows[0]
    assert row["CustomerName"] == "Alpine Ski House"
    assert row["CustomerTenantId"] == str(a_sub.customer.tenant_id)
    assert row["OfferId"] == a_sub.availability.catalog_item_id
    assert row["Quantity"] == "1"
    assert row["Status"] == "active"
    assert row["AutoRenewEnabled"] == "true"
    assert row["IsAddOn"] == "false"
    assert row["ResellerMpnId"] == ""
    assert list(row.keys())[-1] == "ResellerMpnId"


def test_csv_export_follows_the_filters(make_member, partner_a, customer_of, a_sub, b_sub):
    other = SubscriptionFactory(partner=partner_a, customer=customer_of(partner_a))
    client = make_member(partner_a)
    rows = _csv(client.get(EXPORT, {"customer": str(other.customer.tenant_id)}))
    assert [r["SubscriptionId"] for r in rows] == [str(other.pk)]
    assert _csv(client.get(EXPORT, {"customer": str(b_sub.customer.tenant_id)})) == []


def test_csv_export_names_the_reseller(make_member, provider, reseller, customer_of):
    sub = SubscriptionFactory(partner=provider, reseller=reseller, customer=customer_of(provider, reseller=reseller))
    rows = _csv(make_member(provider).get(EXPORT))
    assert rows[0]["SubscriptionId"] == str(sub.pk)
    assert rows[0]["ResellerMpnId"] == reseller.mpn_id


def test_csv_export_neutralises_formulas_and_keeps_numbers(make_member, partner_a, customer_of):
    customer = customer_of(partner_a, name="@SUM(1+1)")
    SubscriptionFactory(partner=partner_a, customer=customer, friendly_name='=HYPERLINK("http://evil","x")', quantity=12)
    row = _csv(make_member(partner_a).get(EXPORT))[0]
    assert row["FriendlyName"] == "'=HYPERLINK(\"http://evil\",\"x\")"
    assert row["CustomerName"] == "'@SUM(1+1)"
    assert row["Quantity"] == "12"


def test_csv_export_header_is_partner_centers_field_names_in_their_order(make_member, partner_a, a_sub):
    content = b"".join(make_member(partner_a).get(EXPORT).streaming_content)
    assert content.split(b"\r\n")[0] == (
        b"SubscriptionId,CustomerName,CustomerTenantId,OfferId,OfferName,FriendlyName,Quantity,Status,"
        b"TermDuration,BillingCycle,StartDate,CommitmentEndDate,AutoRenewEnabled,IsAddOn,ConsumptionType,ResellerMpnId"
    )
    assert len(_csv(make_member(partner_a).get(EXPORT))[0]) == len(EXPORT_COLUMNS)


def test_each_row_has_one_cell_per_column_of_the_header(make_member, partner_a, customer_of, a_sub):
    """The page's header comes from ``list_columns``; its cells are written in the row partial:
    they must stay in step, the Azure plan's row (no seats, term or renewal) included."""
    azure_plan = SkuFactory(product=ProductFactory(id=AZURE_PLAN_PRODUCT_ID, title="Azure plan"), title="Azure plan")
    SubscriptionFactory(partner=partner_a, customer=customer_of(partner_a), sku=azure_plan)
    html = make_member(partner_a).get(LIST).content.decode()
    header = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    rows = re.findall(r'<tr [^>]*data-testid="subscription-row"[^>]*>(.*?)</tr>', html, re.S)
    assert header.count("<th") == len(PAGE_COLUMNS)
    assert len(rows) == 2
    assert [row.count("<td") for row in rows] == [len(PAGE_COLUMNS)] * 2
