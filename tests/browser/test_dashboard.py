"""The dashboard in the browser on the demo data: Contoso's admin agent sees Alpine Ski House's
blocked calls and overage off, and fixes the latter from the item's flyout; Fabrikam's sees
Fourth Coffee's auto-recharge. The screenshot in the README is taken here."""

from pathlib import Path

from playwright.sync_api import expect

SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "docs" / "screenshots"


def todo_item(page, kind, customer):
    return page.locator(f'[data-testid="todo-item"][data-kind="{kind}"][data-customer="{customer}"]')


def test_contoso_dashboard_lists_alpines_blocked_calls_and_overage_off(demo_data, page, login):
    login("alan@contoso.example")
    page.goto("/")
    blocked = todo_item(page, "blocked_calls", "Alpine Ski House")
    expect(blocked).to_contain_text("705 calls blocked last month")
    overage_off = todo_item(page, "overage_off", "Alpine Ski House")
    expect(overage_off).to_be_visible()
    expect(page.get_by_test_id("charges")).to_contain_text("USD")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
    # No sideways scrolling, on a desktop or on a phone.
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    page.set_viewport_size({"width": 1400, "height": 900})

    overage_off.get_by_role("button", name="Manage overage").click()
    expect(page.locator("#flyout")).to_be_visible()
    expect(page.locator("#flyout-title")).to_have_text("Manage overage")
    expect(page.locator("#flyout-body")).to_contain_text("Subscription 1")


def test_sales_agent_sees_manage_overage_disabled_with_the_reason(demo_data, page, login):
    login("sam@contoso.example")
    page.goto("/")
    overage_off = todo_item(page, "overage_off", "Alpine Ski House")
    expect(overage_off.get_by_role("button", name="Manage overage")).to_be_disabled()
    expect(overage_off).to_contain_text("Only admin agents and global admins can manage overage.")


def test_fabrikam_dashboard_warns_about_fourth_coffees_auto_recharge(demo_data, page, login):
    login("admin@fabrikam.example")
    page.goto("/")
    item = todo_item(page, "auto_recharge", "Fourth Coffee")
    expect(item).to_contain_text("post-paid overage will never start")
    item.get_by_role("link", name="See credits").click()

    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/billing/credits/55555555-5555-4555-8555-555555555555/")


def test_todo_badges_are_not_clipped_in_italian(demo_data, page, login):
    """The walk-through found "Eccedenza disattivata" cut at its last letter on a desktop: the
    badge shrank in its flex row to its minimum width, narrower than its Italian label."""
    page.set_extra_http_headers({"Accept-Language": "it-IT,it;q=0.9"})
    login("alan@contoso.example")
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto("/")
        badges = page.locator(".todo-badge")
        expect(badges.first).to_be_visible()
        clipped = badges.evaluate_all("all => all.filter(b => b.scrollWidth > b.clientWidth).map(b => b.textContent)")
        assert not clipped, (width, clipped)


def test_the_italian_menu_does_not_push_a_desktop_page_sideways(demo_data, page, login):
    """Fabrikam's admin agent sees every menu entry; in Italian, at 1366 px, the user menu's
    button ended 2 px past the window's edge."""
    page.set_extra_http_headers({"Accept-Language": "it-IT,it;q=0.9"})
    page.set_viewport_size({"width": 1366, "height": 900})
    login("admin@fabrikam.example")
    page.goto("/")
    expect(page.get_by_test_id("current-user")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    right = page.get_by_test_id("current-user").evaluate("b => b.getBoundingClientRect().right")
    assert right <= 1366
