"""A person switches the portal to Italian from the user menu: the choice is saved, and the
pages show money and dates the Italian way (issue 12); then back to English."""

import re

from playwright.sync_api import expect


def test_the_user_menu_switches_the_language_and_the_formats_follow(demo_data, page, login, screenshot):
    login("alan@contoso.example")
    page.goto("/catalog/")
    prices = page.get_by_test_id("price")
    expect(prices.first).to_have_text(re.compile(r"^\$[\d,]+\.\d{2}"))

    page.get_by_test_id("current-user").click()
    page.get_by_test_id("language-switch-it").get_by_role("button").click()
    expect(page.locator("html")).to_have_attribute("lang", "it")
    expect(page).to_have_url(re.compile(r"/catalog/$"))
    # CLDR's Italian: comma decimals, the code after the amount.
    expect(page.get_by_test_id("price").first).to_have_text(re.compile(r"^[\d.]+,\d{2}\sUSD$"))
    screenshot("catalog-italian")

    page.get_by_test_id("current-user").click()
    screenshot("user-menu-italian")
    page.get_by_test_id("preferences-link").click()
    expect(page.get_by_test_id("preferences-now")).to_contain_text("(UTC)")
    page.get_by_label(re.compile("Time zone|Fuso orario")).select_option("Europe/Rome")
    page.get_by_label(re.compile("Language|Lingua")).select_option("en")
    page.get_by_test_id("preferences-form").get_by_role("button").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("preferences-now")).to_contain_text("(Europe/Rome)")
    screenshot("preferences-english-rome")
