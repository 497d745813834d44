"""Manage overage in the browser: an admin agent switches Alpine Ski House's overage to
Subscription 1 and back to None through the flyout; a sales agent sees the button disabled."""

from playwright.sync_api import expect

ALPINE = "11111111-1111-4111-8111-111111111111"


def open_flyout(page):
    page.get_by_role("button", name="Manage overage").click()
    flyout = page.locator("#flyout")
    expect(flyout).to_be_visible()
    expect(page.locator("#flyout-title")).to_have_text("Manage overage")
    return flyout


def test_admin_agent_enables_overage_on_subscription_1_and_sets_it_back_to_none(demo_data, page, login, screenshot):
    login("alan@contoso.example")
    page.goto(f"/customers/{ALPINE}/")
    badge = page.get_by_test_id("overage-badge")
    expect(badge).to_have_attribute("data-enabled", "false")

    flyout = open_flyout(page)
    expect(flyout.get_by_test_id("overage-current")).to_contain_text("None (overage off)")
    flyout.get_by_label("Subscription 1").check()
    screenshot("overage-flyout")
    page.once("dialog", lambda dialog: dialog.accept())
    flyout.get_by_role("button", name="Save").click()

    expect(badge).to_have_attribute("data-enabled", "true")
    expect(badge).to_contain_text("Subscription 1")
    expect(badge).to_contain_text("alan@contoso.example")
    expect(page.locator("#messages")).to_contain_text("now goes to Subscription 1")
    expect(flyout).to_be_hidden()
    screenshot("overage-enabled")

    flyout = open_flyout(page)
    expect(flyout.get_by_test_id("overage-target")).to_contain_text("Subscription 1")
    flyout.get_by_label("None", exact=True).check()
    page.once("dialog", lambda dialog: dialog.accept())
    flyout.get_by_role("button", name="Save").click()

    expect(badge).to_have_attribute("data-enabled", "false")
    expect(badge).to_contain_text("Not enabled")
    expect(page.locator("#messages")).to_contain_text("switched off")
    expect(flyout).to_be_hidden()
    screenshot("overage-none")


def test_sales_agent_sees_manage_overage_disabled_with_the_reason(demo_data, page, login, screenshot):
    login("sam@contoso.example")
    page.goto(f"/customers/{ALPINE}/")
    expect(page.get_by_role("button", name="Manage overage")).to_be_disabled()
    expect(page.get_by_test_id("overage-denial")).to_contain_text("Only admin agents and global admins can manage overage.")
    screenshot("overage-sales-agent")
