"""The Content-Security-Policy (issue 11, item 7): every main page is served with it, keeps
working under it (htmx, Bootstrap and the portal's script run; flyouts open), and Chromium
reports no violation. The ``page`` fixture fails any browser test on a violation; this one walks
the pages a person and the operator's staff open."""

from playwright.sync_api import expect

ALPINE = "11111111-1111-4111-8111-111111111111"

PARTNER_PAGES = [
    "/",
    "/customers/",
    f"/customers/{ALPINE}/",
    "/catalog/",
    "/subscriptions/",
    f"/subscriptions/?customer={ALPINE}",
    "/carts/",
    "/billing/",
    "/billing/rates/",
    "/billing/usage/import/",
    "/billing/usage/imports/",
    "/tokens/",
    "/no-such-page/",
]
STAFF_PAGES = ["/billing/rating/", "/admin/", "/admin/axes/accessattempt/", "/admin/portal/auditevent/", "/v1/docs"]


def _open(page, path):
    response = page.goto(path)
    assert response.status == (404 if "no-such" in path else 200), f"{path} → {response.status}"
    policy = response.headers.get("content-security-policy", "")
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy, f"{path}: {policy!r}"
    page.wait_for_load_state("networkidle")


def test_partner_pages_work_under_the_csp(demo_data, page, login):
    _open(page, "/accounts/login/")
    login("alan@contoso.example")
    for path in PARTNER_PAGES:
        _open(page, path)
        # The scripts the CSP must let through did run.
        assert page.evaluate("typeof htmx === 'object' && typeof bootstrap === 'object'"), path
    assert page.csp_violations == []


def test_flyouts_and_progress_bars_work_under_the_csp(demo_data, page, login):
    login("alan@contoso.example")
    page.goto(f"/subscriptions/?customer={ALPINE}")
    page.get_by_test_id("manage-overage").click()
    expect(page.locator("#flyout")).to_be_visible()
    page.goto("/catalog/?product_type=addons")
    page.get_by_test_id("prerequisites-info").first.click()
    expect(page.locator("#flyout")).to_be_visible()
    assert page.csp_violations == []


def test_staff_pages_work_under_the_csp(demo_data, page, login):
    login("staff@portal.example")
    for path in STAFF_PAGES:
        _open(page, path)
    page.goto("/billing/rating/")
    page.get_by_role("button", name="Rate").first.click()
    bar = page.locator("[data-progress]")
    expect(bar).to_be_visible()
    # The width comes from data-progress through portal.js, not a style attribute.
    expect(bar).to_have_attribute("style", f"width: {bar.get_attribute('data-progress')}%;")
    assert page.csp_violations == []
