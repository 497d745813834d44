"""Manage overage in the browser: an admin agent switches Alpine Ski House's overage to
Subscription 1 and back to None through the flyout; a sales agent sees the button disabled."""

from playwright.sync_api import expect

ALPINE = "11111111-1111-4111-8111-111111111111"
DATUM = "44444444-4444-4444-8444-444444444444"


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


def test_a_refusal_is_read_inside_the_flyout(demo_data, page, login, screenshot):
    """The refusal convention (portal/htmx.py): the server answers 422 with the flyout and
    its reason, and htmx (responseHandling in base.html, no patch in portal.js) swaps it in."""
    from overage.models import AzureSubscription, AzureSubscriptionStatus

    login("alan@contoso.example")
    page.goto(f"/customers/{ALPINE}/")
    flyout = open_flyout(page)
    flyout.get_by_label("Subscription 1").check()
    # Meanwhile Subscription 1 is cancelled in Azure.
    AzureSubscription.objects.filter(plan__customer__tenant_id=ALPINE, number=1).update(
        status=AzureSubscriptionStatus.DELETED
    )
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        flyout.get_by_role("button", name="Save").click()
    assert answer.value.status == 422
    expect(flyout.get_by_test_id("overage-error")).to_contain_text("is not active")
    expect(flyout).to_be_visible()
    expect(page.get_by_test_id("overage-badge")).to_have_attribute("data-enabled", "false")
    screenshot("overage-flyout-refusal")


def test_datum_sees_create_new_disabled_with_the_reason_before_saving(demo_data, page, login, screenshot):
    """Issue 13 defect 2: Datum is on the legacy MS-AZR-0145P offer."""
    login("alan@contoso.example")
    page.goto(f"/overage/customers/{DATUM}/manage/")
    flyout = page.get_by_test_id("manage-overage-flyout")
    expect(flyout.get_by_label("Create new")).to_be_disabled()
    expect(flyout.get_by_test_id("create-new-refusal")).to_contain_text("MS-AZR-0145P")
    screenshot("overage-create-new-disabled-legacy")
