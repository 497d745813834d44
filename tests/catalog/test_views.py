"""The catalog page, the add-on prerequisites flyout and the price-list export."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import LicenseChannel, ProductType
from catalog.selectors import ADDON_NOT_PURCHASABLE
from portal.models import Role
from tests.factories import (
    AvailabilityFactory,
    PriceListEntryFactory,
    ProductFactory,
    SkuFactory,
    TenantLicenseFactory,
)

pytestmark = pytest.mark.django_db

CATALOG = "/catalog/"


def rows(response):
    """The SKU codes listed, in order."""
    html = response.content.decode()
    return [chunk.split('"', 1)[0] for chunk in html.split('data-testid="catalog-row" data-sku="')[1:]]


@pytest.fixture
def client_a(partner_a, make_member):
    return make_member(partner_a, Role.ADMIN_AGENT)


@pytest.fixture
def base_and_addon():
    """A base SKU and an add-on that needs it, each with a US price in force."""
    base = SkuFactory(product=ProductFactory(title="Microsoft 365 E3"), title="M365 E3")
    addon = SkuFactory(
        product=ProductFactory(title="Teams Phone Standard"), title="Teams Phone", is_addon=True, prerequisites=[base]
    )
    for sku in (base, addon):
        AvailabilityFactory(sku=sku)
        PriceListEntryFactory(sku=sku, market="US", currency="USD", unit_price=Decimal("10.00"))
    return base, addon


# The page and its filters


def test_catalog_lists_one_row_per_sku_with_its_price(client_a, base_and_addon):
    base, addon = base_and_addon
    response = client_a.get(CATALOG)
    assert response.status_code == 200
    assert set(rows(response)) == {base.code, addon.code}
    html = response.content.decode()
    assert "$10.00" in html
    assert "Microsoft 365 E3" in html and "M365 E3" in html


def test_price_column_names_the_billing_plan_in_the_page_language(client_a, base_and_addon):
    """The header reads "Price (P1Y · Monthly · US)", and in Italian "Mensile", not the
    filter's raw value "monthly" (walk-through defect)."""
    assert "Price (P1Y · Monthly · US)" in client_a.get(CATALOG).content.decode()
    italian = client_a.get(CATALOG, HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "P1Y · Mensile · US" in italian
    assert "monthly" not in italian.lower().replace('value="monthly"', "")


def test_catalog_needs_a_login(client):
    response = client.get(CATALOG)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_addons_filter_shows_only_addons(client_a, base_and_addon):
    base, addon = base_and_addon
    response = client_a.get(CATALOG, {"product_type": "addons"})
    assert rows(response) == [addon.code]
    assert "New-commerce add-ons" in client_a.get(CATALOG).content.decode()


def test_product_type_filter(client_a, base_and_addon):
    azure = SkuFactory(product=ProductFactory(product_type=ProductType.AZURE, title="Azure plan"))
    response = client_a.get(CATALOG, {"product_type": ProductType.AZURE})
    assert rows(response) == [azure.code]


def test_term_filter_keeps_skus_that_support_it(client_a):
    monthly_only = SkuFactory(supported_terms=["P1M"])
    three_years = SkuFactory(supported_terms=["P1Y", "P3Y"])
    assert rows(client_a.get(CATALOG, {"term": "P3Y"})) == [three_years.code]
    assert rows(client_a.get(CATALOG, {"term": "P1M"})) == [monthly_only.code]


def test_billing_plan_filter(client_a):
    annual = SkuFactory(supported_billing_cycles=["annual"])
    SkuFactory(supported_billing_cycles=["monthly"])
    assert rows(client_a.get(CATALOG, {"billing_plan": "annual"})) == [annual.code]


def test_market_chooses_the_price_shown_and_defaults_to_us(client_a):
    sku = SkuFactory()
    PriceListEntryFactory(sku=sku, market="US", currency="USD", unit_price=Decimal("10.00"))
    PriceListEntryFactory(sku=sku, market="IT", currency="EUR", unit_price=Decimal("9.40"))
    assert "$10.00" in client_a.get(CATALOG).content.decode()
    italy = client_a.get(CATALOG, {"market": "IT"}).content.decode()
    assert "€9.40" in italy and "$10.00" not in italy
    assert '<option value="IT"' in italy  # markets come from the price list


def test_price_is_a_dash_without_a_row_in_force_today(client_a):
    today = datetime.date.today()
    sku = SkuFactory()
    PriceListEntryFactory(sku=sku, effective_start=today - datetime.timedelta(days=60), effective_end=today)
    PriceListEntryFactory(sku=sku, effective_start=today + datetime.timedelta(days=1), unit_price=Decimal("99"))
    html = client_a.get(CATALOG).content.decode()
    assert 'data-testid="price"><span class="text-body-secondary">—</span>' in html


def test_price_follows_term_and_billing_plan(client_a):
    sku = SkuFactory(supported_terms=["P1M", "P1Y"], supported_billing_cycles=["monthly", "annual"])
    PriceListEntryFactory(sku=sku, term_duration="P1Y", billing_plan="annual", unit_price=Decimal("120.00"))
    PriceListEntryFactory(sku=sku, term_duration="P1M", billing_plan="monthly", unit_price=Decimal("12.00"))
    assert "$120.00" in client_a.get(CATALOG, {"term": "P1Y", "billing_plan": "annual"}).content.decode()
    assert "$12.00" in client_a.get(CATALOG, {"term": "P1M", "billing_plan": "monthly"}).content.decode()


def test_text_search_matches_title_product_id_and_sku_code(client_a):
    teams = SkuFactory(product=ProductFactory(title="Teams Premium"), title="Teams Premium")
    other = SkuFactory(product=ProductFactory(title="Visio Plan 2"), title="Visio Plan 2")
    assert rows(client_a.get(CATALOG, {"q": "premium"})) == [teams.code]
    assert rows(client_a.get(CATALOG, {"q": other.product_id})) == [other.code]
    assert rows(client_a.get(CATALOG, {"q": teams.code})) == [teams.code]


def test_badges_for_addon_and_overage(client_a, base_and_addon):
    SkuFactory(overage=True)
    html = client_a.get(CATALOG).content.decode()
    assert ">Add-on</span>" in html
    assert ">Overage</span>" in html


def test_pagination_links_keep_the_filters(client_a):
    for _ in range(30):
        SkuFactory(supported_terms=["P1Y"])
    response = client_a.get(CATALOG, {"term": "P1Y"})
    assert len(rows(response)) == 25
    html = response.content.decode()
    assert 'href="?term=P1Y&amp;market=US&amp;page=2"' in html or 'href="?term=P1Y&amp;page=2"' in html
    assert 'hx-get="?term=P1Y' in html
    assert len(rows(client_a.get(CATALOG, {"term": "P1Y", "page": 2}))) == 5


# Customer choice: scoped


def test_customer_choices_list_only_the_partners_customers(client_a, partner_a, partner_b, customer_of):
    mine = customer_of(partner_a, name="Alpine Ski House")
    theirs = customer_of(partner_b, name="Woodgrove Bank")
    html = client_a.get(CATALOG).content.decode()
    assert str(mine.tenant_id) in html and "Alpine Ski House" in html
    assert str(theirs.tenant_id) not in html and "Woodgrove Bank" not in html


def test_another_partners_customer_in_the_query_is_rejected_not_a_500(
    client_a, partner_b, customer_of, base_and_addon
):
    theirs = customer_of(partner_b, name="Woodgrove Bank")
    response = client_a.get(CATALOG, {"customer": str(theirs.tenant_id)})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="filter-errors"' in html
    assert "Woodgrove Bank" not in html
    assert 'data-testid="add-to-cart"' not in html
    assert len(rows(response)) == 2  # the other filters still apply


def test_buyer_with_a_customer_gets_add_to_cart_links(client_a, partner_a, customer_of, base_and_addon):
    customer = customer_of(partner_a)
    base, _addon = base_and_addon
    availability = base.availabilities.get()
    html = client_a.get(CATALOG, {"customer": str(customer.tenant_id)}).content.decode()
    expected = f"/carts/new/?customer={customer.tenant_id}&amp;catalog_item={base.product_id}%3A{base.sku_id}%3A{availability.availability_id}"
    assert expected in html
    assert html.count('data-testid="add-to-cart"') == 2


def test_no_add_to_cart_without_a_customer(client_a, base_and_addon):
    assert 'data-testid="add-to-cart"' not in client_a.get(CATALOG).content.decode()


def test_without_a_customer_the_buy_action_is_shown_disabled_with_the_hint(client_a, base_and_addon):
    """Issue 13 defect 9: with no customer chosen the catalog had no buy action and no hint to
    choose a customer first; the price-list button looked disabled (grey outline)."""
    from catalog.views import CHOOSE_CUSTOMER_FIRST

    html = client_a.get(CATALOG).content.decode()

    assert 'data-testid="choose-customer-hint"' in html and str(CHOOSE_CUSTOMER_FIRST) in html
    assert html.count('data-testid="add-to-cart-disabled"') == 2
    assert 'disabled aria-describedby="choose-customer-hint"' in html
    assert f'class="btn btn-outline-primary" href="{reverse("catalog:pricelist_export")}' in html


@pytest.mark.parametrize("role", [Role.BILLING_ADMIN, Role.HELPDESK_AGENT])
def test_roles_that_cannot_buy_get_no_choose_a_customer_hint(role, partner_a, make_member, base_and_addon):
    html = make_member(partner_a, role).get(CATALOG).content.decode()
    assert 'data-testid="choose-customer-hint"' not in html and "add-to-cart-disabled" not in html


@pytest.mark.parametrize("role", [Role.BILLING_ADMIN, Role.HELPDESK_AGENT])
def test_roles_that_cannot_buy_get_no_add_to_cart(role, partner_a, make_member, customer_of, base_and_addon):
    client = make_member(partner_a, role)
    customer = customer_of(partner_a)
    html = client.get(CATALOG, {"customer": str(customer.tenant_id)}).content.decode()
    assert 'data-testid="add-to-cart"' not in html


def test_reseller_cannot_buy_from_the_catalog(reseller, provider, make_member, customer_of, base_and_addon):
    client = make_member(reseller, Role.GLOBAL_ADMIN)
    customer = customer_of(provider, reseller=reseller)
    html = client.get(CATALOG, {"customer": str(customer.tenant_id)}).content.decode()
    assert str(customer.tenant_id) in html  # visible to the reseller …
    assert 'data-testid="add-to-cart"' not in html  # … but not buyable by it


def test_addon_row_says_when_the_tenant_lacks_the_prerequisite(client_a, partner_a, customer_of, base_and_addon):
    customer = customer_of(partner_a)
    html = client_a.get(CATALOG, {"customer": str(customer.tenant_id)}).content.decode()
    assert 'data-testid="prerequisite-missing"' in html
    TenantLicenseFactory(customer=customer, sku=base_and_addon[0], channel=LicenseChannel.WEB_DIRECT)
    html = client_a.get(CATALOG, {"customer": str(customer.tenant_id)}).content.decode()
    assert 'data-testid="prerequisite-missing"' not in html


# HTMX


def test_htmx_request_returns_the_results_partial_only(client_a, base_and_addon):
    response = client_a.get(CATALOG, {"product_type": "addons"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and "catalog-filters" not in html
    assert 'data-testid="catalog-table"' in html
    assert rows(response) == [base_and_addon[1].code]


def test_boosted_htmx_request_gets_the_full_page(client_a):
    html = client_a.get(CATALOG, headers={"HX-Request": "true", "HX-Boosted": "true"}).content.decode()
    assert "<html" in html


def test_results_partial_query_count_does_not_grow_with_rows(client_a, partner_a, customer_of, django_assert_num_queries):
    """Prices are subqueries and availabilities one prefetch: 5 SKUs and 30 SKUs (a full page
    of 25) must cost the same queries, with a customer chosen so that the buy links and the
    prerequisite check run too."""
    customer = customer_of(partner_a)
    base = SkuFactory()

    def add_skus(n):
        for _ in range(n):
            sku = SkuFactory(is_addon=True, prerequisites=[base])
            AvailabilityFactory(sku=sku)
            PriceListEntryFactory(sku=sku)

    params = {"customer": str(customer.tenant_id), "market": "US"}
    headers = {"HX-Request": "true"}
    add_skus(4)
    client_a.get(CATALOG, params, headers=headers)  # warm up (session, content types…)
    with CaptureQueriesContext(connection) as small:
        assert len(rows(client_a.get(CATALOG, params, headers=headers))) == 5
    add_skus(25)
    with django_assert_num_queries(len(small)):
        assert len(rows(client_a.get(CATALOG, params, headers=headers))) == 25


# The prerequisites flyout


def flyout_url(sku, customer=None):
    url = reverse("catalog:addon_prerequisites", args=[sku.product_id, sku.sku_id])
    return f"{url}?customer={customer.tenant_id}" if customer else url


def test_addon_row_has_an_info_link_to_the_flyout(client_a, partner_a, customer_of, base_and_addon):
    customer = customer_of(partner_a)
    addon = base_and_addon[1]
    html = client_a.get(CATALOG, {"customer": str(customer.tenant_id)}).content.decode()
    url = flyout_url(addon, customer)
    assert f'href="{url}"' in html
    assert f'hx-get="{url}" hx-target="#flyout-body"' in html


def test_flyout_prerequisite_through_volume_licensing_is_purchasable(
    client_a, partner_a, customer_of, base_and_addon
):
    # Coho Winery: its base product came through an enterprise agreement, not through a partner.
    base, addon = base_and_addon
    coho = customer_of(partner_a, name="Coho Winery")
    TenantLicenseFactory(customer=coho, sku=base, channel=LicenseChannel.VOLUME_LICENSING, quantity=250)
    response = client_a.get(flyout_url(addon, coho), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-purchasable="true"' in html
    assert str(ADDON_NOT_PURCHASABLE) not in html
    assert "Volume licensing (EA): 250 licenses" in html
    assert "View compatible base product subscriptions" in html
    assert "<html" not in html and 'data-flyout-title="Prerequisites of Teams Phone"' in html


def test_flyout_tenant_without_licenses_is_not_purchasable(client_a, partner_a, customer_of, base_and_addon):
    customer = customer_of(partner_a)
    html = client_a.get(flyout_url(base_and_addon[1], customer), headers={"HX-Request": "true"}).content.decode()
    assert 'data-purchasable="false"' in html
    assert str(ADDON_NOT_PURCHASABLE) in html
    assert base_and_addon[0].code in html


def test_flyout_prerequisite_bought_through_another_partner_counts(
    client_a, partner_a, partner_b, customer_of, base_and_addon
):
    base, addon = base_and_addon
    customer = customer_of(partner_a)
    TenantLicenseFactory(customer=customer, sku=base, channel=LicenseChannel.CSP_NCE, source_partner=partner_b)
    html = client_a.get(flyout_url(addon, customer)).content.decode()
    assert 'data-purchasable="true"' in html
    assert "through another partner" in html
    assert partner_b.name not in html  # another partner's name is not ours to show


def test_flyout_inactive_license_does_not_count(client_a, partner_a, customer_of, base_and_addon):
    base, addon = base_and_addon
    customer = customer_of(partner_a)
    TenantLicenseFactory(customer=customer, sku=base, channel=LicenseChannel.WEB_DIRECT, is_active=False)
    html = client_a.get(flyout_url(addon, customer)).content.decode()
    assert 'data-purchasable="false"' in html
    assert str(ADDON_NOT_PURCHASABLE) in html


@pytest.mark.parametrize("htmx", [False, True])
def test_flyout_for_another_partners_customer_is_404(htmx, client_a, partner_b, customer_of, base_and_addon):
    theirs = customer_of(partner_b)
    headers = {"HX-Request": "true"} if htmx else {}
    assert client_a.get(flyout_url(base_and_addon[1], theirs), headers=headers).status_code == 404


def test_flyout_for_the_partners_own_customer_is_200(make_member, partner_b, customer_of, base_and_addon):
    theirs = customer_of(partner_b)
    assert make_member(partner_b).get(flyout_url(base_and_addon[1], theirs)).status_code == 200


@pytest.mark.parametrize("customer", ["not-a-uuid", "00000000-0000-4000-8000-000000000000"])
def test_flyout_unknown_customer_is_404(customer, client_a, base_and_addon):
    addon = base_and_addon[1]
    assert client_a.get(flyout_url(addon) + f"?customer={customer}").status_code == 404


def test_flyout_unknown_sku_is_404(client_a):
    assert client_a.get(reverse("catalog:addon_prerequisites", args=["CFQ7TTC0ZZZZ", "0001"])).status_code == 404


def test_flyout_without_htmx_is_a_full_page_without_a_verdict(client_a, base_and_addon):
    html = client_a.get(flyout_url(base_and_addon[1])).content.decode()
    assert "<html" in html
    assert "View compatible base product subscriptions" in html
    assert 'data-testid="addon-verdict"' not in html  # no customer, nothing to judge


# Price-list export


def export(client, **params):
    response = client.get(reverse("catalog:pricelist_export"), params)
    assert response.status_code == 200
    assert response.streaming
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_export_has_the_exact_header_and_tags_and_prerequisites(client_a, base_and_addon):
    base, addon = base_and_addon
    overage = SkuFactory(overage=True, title="Teams Phone with Calling Plan", is_addon=True, prerequisites=[base])
    PriceListEntryFactory(sku=overage, unit_price=Decimal("15.5"), effective_end=datetime.date(2030, 1, 1))
    lines = export(client_a, market="US")
    assert lines[0] == [
        "ProductTitle", "ProductId", "SkuId", "SkuTitle", "Publisher", "SkuDescription", "UnitOfMeasure",
        "TermDuration", "BillingPlan", "Market", "Currency", "UnitPrice", "PricingTierRangeMin",
        "PricingTierRangeMax", "EffectiveStartDate", "EffectiveEndDate", "Tags", "ERP Price", "Segment",
        "ProductSkuPreRequisites", "ProductSkuPreRequisiteIds",
    ]
    by_sku = {f"{line[1]}:{line[2]}": dict(zip(lines[0], line)) for line in lines[1:]}
    assert by_sku[base.code]["Tags"] == ""
    assert by_sku[base.code]["ProductSkuPreRequisites"] == ""
    assert by_sku[addon.code]["Tags"] == "AddOn"
    assert by_sku[addon.code]["ProductSkuPreRequisites"] == "M365 E3"
    assert by_sku[addon.code]["ProductSkuPreRequisiteIds"] == base.code
    row = by_sku[overage.code]
    assert row["Tags"] == "IncludesOverage;AddOn"
    assert row["UnitPrice"] == "15.500000"
    assert row["EffectiveStartDate"] == "2025-01-01" and row["EffectiveEndDate"] == "2030-01-01"


def test_export_lists_several_prerequisites_joined(client_a):
    first = SkuFactory(title="Office 365 E1")
    second = SkuFactory(title="Office 365 E3")
    addon = SkuFactory(is_addon=True, prerequisites=[first, second])
    PriceListEntryFactory(sku=addon)
    line = dict(zip(*export(client_a)))
    assert set(line["ProductSkuPreRequisites"].split(";")) == {"Office 365 E1", "Office 365 E3"}
    assert set(line["ProductSkuPreRequisiteIds"].split(";")) == {first.code, second.code}


def test_export_filters_by_market(client_a):
    sku = SkuFactory()
    PriceListEntryFactory(sku=sku, market="US", currency="USD")
    PriceListEntryFactory(sku=sku, market="GB", currency="GBP")
    assert [line[9] for line in export(client_a, market="GB")[1:]] == ["GB"]
    assert sorted(line[9] for line in export(client_a)[1:]) == ["GB", "US"]


def test_export_needs_a_login(client):
    assert client.get(reverse("catalog:pricelist_export")).status_code == 302


def test_export_rejects_a_malformed_market(client_a):
    assert client_a.get(reverse("catalog:pricelist_export"), {"market": "USA"}).status_code == 400


@pytest.mark.django_db
def test_choosing_a_customer_prices_in_its_market_unless_another_is_asked(make_member, partner_a, customer_of):
    from tests.factories import PriceListEntryFactory, SkuFactory

    sku = SkuFactory(title="Market test SKU")
    PriceListEntryFactory(sku=sku, market="US", currency="USD", term_duration="P1Y", billing_plan="monthly")
    PriceListEntryFactory(sku=sku, market="GB", currency="GBP", term_duration="P1Y", billing_plan="monthly")
    british = customer_of(partner_a, country="GB")
    client = make_member(partner_a, "admin_agent")
    page = client.get("/catalog/", {"customer": str(british.tenant_id)})
    assert page.context["filter"].form.cleaned_data["market"] == "GB"
    page = client.get("/catalog/", {"customer": str(british.tenant_id), "market": "US"})
    assert page.context["filter"].form.cleaned_data["market"] == "US"


def test_export_neutralises_formulas_and_keeps_prices(client_a):
    sku = SkuFactory(product=ProductFactory(title="+cmd|' /C calc'!A0"), title="-Tools", description="=1+1")
    PriceListEntryFactory(sku=sku, unit_price=Decimal("15.5"))
    line = dict(zip(*export(client_a)))
    assert line["ProductTitle"] == "'+cmd|' /C calc'!A0"
    assert line["SkuTitle"] == "'-Tools"
    assert line["SkuDescription"] == "'=1+1"
    assert line["UnitPrice"] == "15.500000"
