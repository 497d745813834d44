"""A person signs in, opens the customers list and a customer page."""

import re

from playwright.sync_api import expect

ALPINE = "11111111-1111-4111-8111-111111111111"
FOURTH_COFFEE = "55555555-5555-4555-8555-555555555555"


def test_admin_agent_browses_customers_and_a_customer_page(demo_data, page, login, screenshot):
    login("alan@contoso.example")
    expect(page.get_by_test_id("current-user")).to_contain_text("alan@contoso.example")

    page.get_by_role("link", name="Customers", exact=True).click()
    table = page.get_by_test_id("customer-table")
    expect(table).to_contain_text("Alpine Ski House")
    expect(table).to_contain_text("Coho Winery")
    # Fabrikam's customer is not Contoso's business.
    expect(table).not_to_contain_text("Fourth Coffee")
    screenshot("customers-list")

    page.get_by_role("link", name="Alpine Ski House").click()
    expect(page).to_have_url(re.compile(f"/customers/{ALPINE}/$"))
    expect(page.get_by_test_id("tenant-id")).to_have_text(ALPINE)
    expect(page.get_by_test_id("customer-subscriptions")).to_contain_text("Microsoft 365 E5")
    expect(page.get_by_test_id("azure-plan")).to_contain_text("Subscription 1")
    screenshot("customer-alpine")


def test_search_narrows_the_list_with_htmx_and_pushes_the_url(demo_data, page, login):
    login("alan@contoso.example")
    page.goto("/customers/")
    page.fill("#customer-search", "coho")
    expect(page).to_have_url(re.compile(r"q=coho"))
    table = page.get_by_test_id("customer-table")
    expect(table).to_contain_text("Coho Winery")
    expect(table).not_to_contain_text("Alpine Ski House")


def test_another_partners_customer_page_is_not_found(demo_data, page, login):
    login("alan@contoso.example")
    response = page.goto(f"/customers/{FOURTH_COFFEE}/")
    assert response.status == 404
