"""Accessibility (issue 13 §3): axe-core, injected into each main page, finds no serious or
critical violation, in the light and the dark colour mode; the skip link is the first thing a
keyboard reaches; the sorted column's header carries ``aria-sort``.

axe-core is vendored for the tests only (tests/browser/vendor/axe-core, see its VERSION file) and
evaluated through the DevTools protocol, which the page's Content-Security-Policy does not govern:
the portal itself never serves it."""

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

AXE = (Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js").read_text()
ALPINE = "11111111-1111-4111-8111-111111111111"
FOURTH_COFFEE = "55555555-5555-4555-8555-555555555555"

PARTNER_PAGES = [
    "/",
    "/customers/",
    f"/customers/{ALPINE}/",
    "/catalog/",
    "/carts/",
    "/carts/new/",
    "/billing/",
    "/billing/usage/import/",
]


def axe_violations(page):
    """The serious and critical violations axe finds on the page as it is now."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE)
    results = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 4).map(n => n.target.join(' ') + ' :: ' + n.failureSummary)}))"
    )
    return results


def assert_accessible(page, what):
    page.wait_for_load_state("networkidle")
    violations = axe_violations(page)
    assert not violations, f"{what}:\n" + json.dumps(violations, indent=1, ensure_ascii=False)


@pytest.fixture(params=["light", "dark"])
def scheme(request, page):
    page.emulate_media(color_scheme=request.param)
    return request.param


def test_main_partner_pages_have_no_serious_violation(demo_data, page, login, scheme):
    login("ada@contoso.example")
    failures = []
    for path in PARTNER_PAGES:
        page.goto(path)
        try:
            assert_accessible(page, f"{path} ({scheme})")
        except AssertionError as error:
            failures.append(str(error))
    # A cart of its own, the subscriptions with a flyout open.
    page.goto("/carts/")
    cart = page.locator('a[href^="/carts/"][href$="/"]:not([href="/carts/new/"]):not([href="/carts/"])').first
    if cart.count():
        page.goto(cart.get_attribute("href"))
        try:
            assert_accessible(page, f"cart ({scheme})")
        except AssertionError as error:
            failures.append(str(error))
    page.goto(f"/subscriptions/?customer={ALPINE}")
    page.get_by_test_id("manage-overage").click()
    expect(page.locator("#flyout")).to_be_visible()
    expect(page.locator("#flyout-title")).to_have_text("Manage overage")
    try:
        assert_accessible(page, f"subscriptions with the flyout open ({scheme})")
    except AssertionError as error:
        failures.append(str(error))
    assert not failures, "\n".join(failures)


def test_credits_page_has_no_serious_violation(demo_data, page, login, scheme):
    login("admin@fabrikam.example")
    page.goto(f"/billing/credits/{FOURTH_COFFEE}/")
    assert_accessible(page, f"credits ({scheme})")


def test_rating_page_has_no_serious_violation(demo_data, page, login, scheme):
    login("staff@portal.example")
    page.goto("/billing/rating/")
    assert_accessible(page, f"rating ({scheme})")


def test_skip_link_is_the_first_stop_and_lands_on_main(demo_data, page, login):
    login("alan@contoso.example")
    page.goto("/subscriptions/")
    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    expect(skip).to_have_text("Skip to main content")
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    assert page.evaluate("document.activeElement.tagName") == "MAIN"


def test_sorted_column_header_has_aria_sort(demo_data, page, login):
    login("alan@contoso.example")
    page.goto("/subscriptions/")
    # The default order is by customer.
    expect(page.locator("th[aria-sort]")).to_have_count(1)
    expect(page.locator('th[aria-sort="ascending"]')).to_contain_text("Customer")
    page.locator("th", has_text="Seats").get_by_role("link").click()
    expect(page.locator('th[aria-sort="ascending"]')).to_contain_text("Seats")
    page.locator("th", has_text="Seats").get_by_role("link").click()
    expect(page.locator('th[aria-sort="descending"]')).to_contain_text("Seats")
    expect(page.locator("th[aria-sort]")).to_have_count(1)
