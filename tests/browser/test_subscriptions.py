"""Issue 4 in the browser: the Subscriptions list's filters and row actions (SPEC §5, §11).

The demo subscriptions were bought 40 days ago, so their 168-hour windows are closed; a
subscription inside its window is bought here through the cart and checkout services (the
live server shares the test database) before the page opens.
"""

import datetime
import re

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone, translation
from playwright.sync_api import expect

from catalog.models import Availability
from portal.formatting import format_datetime
from portal.models import Customer
from subscriptions.models import SeatChangeKind, Subscription
from subscriptions.services.cart import LineInput, cart_create
from subscriptions.services.checkout import cart_checkout

ALPINE = "11111111-1111-4111-8111-111111111111"
COHO = "33333333-3333-4333-8333-333333333333"
EXTRA_STORAGE = ("CFQ7TTC0LH0Z", "0001")  # add-on of the Office plans; Coho has Office 365 E3 (EA)
WINDOW = datetime.timedelta(hours=168)
BUY_DENIED = "Only global admins, admin agents and sales agents can buy and change subscriptions."


@pytest.fixture
def fresh_subscription(demo_data):
    """Office 365 Extra File Storage ×10 for Coho Winery, bought now by Contoso, so its
    seats and its cancellation are inside their 168-hour windows."""
    alan = get_user_model().objects.get(email="alan@contoso.example")
    partner = alan.membership.partner
    customer = Customer.objects.get(tenant_id=COHO)
    availability = (
        Availability.objects.filter(sku__product_id=EXTRA_STORAGE[0], sku__sku_id=EXTRA_STORAGE[1], is_purchasable=True)
        .order_by("availability_id")
        .first()
    )
    line = LineInput(
        catalog_item_id=availability.catalog_item_id, quantity=10, term_duration="P1Y", billing_cycle="monthly",
        friendly_name="Coho storage",
    )
    cart = cart_create(partner=partner, customer=customer, acting_user=alan, lines=[line])
    assert not cart.lines.filter(error_code__isnull=False).exists()
    result = cart_checkout(cart=cart, acting_user=alan)
    assert result.order is not None, result
    return result.order.subscriptions.get()


def wait_for_flyout(page):
    """The shared flyout, once Bootstrap's slide-in has finished."""
    flyout = page.locator("#flyout")
    expect(flyout).to_have_class(re.compile(r"\bshow\b"))
    expect(flyout).not_to_have_class(re.compile(r"\bshowing\b"))
    return flyout


def subscription_row(page, subscription_id):
    return page.locator(f'[data-testid="subscription-row"][data-subscription-id="{subscription_id}"]')


def open_actions(page, subscription_id):
    subscription_row(page, subscription_id).get_by_role("link", name="Actions").click()
    wait_for_flyout(page)
    actions = page.get_by_test_id("subscription-actions")
    expect(actions).to_have_attribute("data-subscription-id", str(subscription_id))
    return actions


def seats_cell(row):
    return row.locator("td").nth(2)


def utc(moment):
    """A deadline as the pages show it to a partner without a country (English, UTC, named)."""
    with translation.override("en"), timezone.override(datetime.UTC):
        return format_datetime(moment, with_zone=True)


def test_filters_narrow_the_rows_and_push_the_url(demo_data, page, login, screenshot):
    login("alan@contoso.example")
    page.goto("/subscriptions/")
    rows = page.get_by_test_id("subscription-row")
    table = page.get_by_test_id("subscription-table")
    expect(table).to_contain_text("Blue Yonder Airlines")
    all_count = rows.count()
    assert all_count >= 4
    screenshot("subscriptions-all")

    page.get_by_label("Customer").select_option(ALPINE)
    expect(page).to_have_url(re.compile(f"customer={ALPINE}"))
    expect(table).not_to_contain_text("Blue Yonder Airlines")
    expect(table).to_contain_text("Microsoft 365 E5")
    expect(table).to_contain_text("Teams Domestic Calling Plan")
    expect(page.get_by_test_id("list-subtitle")).to_contain_text("Subscriptions of Alpine Ski House")
    alpine_count = rows.count()
    assert 0 < alpine_count < all_count
    for index in range(alpine_count):
        expect(rows.nth(index).locator("td").first).to_have_text("Alpine Ski House")
    screenshot("subscriptions-alpine")

    page.get_by_label("Add-ons only").check()
    expect(page).to_have_url(re.compile(r"addons=on"))
    expect(page).to_have_url(re.compile(f"customer={ALPINE}"))
    expect(table).not_to_contain_text("Microsoft 365 E5")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Teams Domestic Calling Plan")
    expect(rows.first.locator('[data-flag="addon"]')).to_be_visible()
    screenshot("subscriptions-alpine-addons")

    # The pushed address is the page: reloading it gives the same rows and filters.
    page.reload()
    expect(page.get_by_label("Add-ons only")).to_be_checked()
    expect(page.get_by_label("Customer")).to_have_value(ALPINE)
    expect(rows).to_have_count(1)

    # Add-ons only, every customer: each row is an add-on.
    page.get_by_label("Customer").select_option("")
    expect(page).not_to_have_url(re.compile("customer=1"))
    expect(table).to_contain_text("Teams Domestic Calling Plan")
    for index in range(rows.count()):
        expect(rows.nth(index).locator('[data-flag="addon"]')).to_be_visible()


def test_seats_are_reduced_inside_the_168_hour_window(fresh_subscription, page, login, screenshot):
    login("alan@contoso.example")
    page.goto(f"/subscriptions/?customer={COHO}")
    row = subscription_row(page, fresh_subscription.pk)
    expect(row).to_contain_text("Coho storage")
    expect(seats_cell(row)).to_have_text("10")

    actions = open_actions(page, fresh_subscription.pk)
    expect(actions.get_by_test_id("read-only-reason")).to_have_count(0)
    # Down to the offer's minimum of one seat; removing all ten is what cancelling is for.
    expect(actions.get_by_test_id("reduce-allowed")).to_contain_text("9 seats can be removed now")
    expect(actions.get_by_test_id("reduce-allowed")).to_contain_text(
        f"10 seats reducible until {utc(fresh_subscription.purchased_at + WINDOW)}"
    )
    expect(actions.get_by_test_id("cancel-deadline")).to_contain_text(utc(fresh_subscription.term_started_at + WINDOW))
    expect(actions.get_by_role("button", name="Cancel subscription")).to_be_enabled()
    screenshot("subscription-actions-open-window")

    actions.get_by_label("Total seats").fill("7")
    actions.get_by_role("button", name="Save seats").click()

    expect(seats_cell(row)).to_have_text("7")
    expect(page.locator("#messages")).to_contain_text("Seats of Coho storage set to 7.")
    expect(page.locator("#flyout")).to_be_hidden()
    screenshot("subscription-seats-reduced")
    fresh_subscription.refresh_from_db()
    assert fresh_subscription.quantity == 7
    assert fresh_subscription.seat_changes.filter(kind=SeatChangeKind.REDUCE, delta=-3).exists()

    # The seats left are still inside their window.
    actions = open_actions(page, fresh_subscription.pk)
    expect(actions.get_by_test_id("reduce-allowed")).to_contain_text("6 seats can be removed now")


def test_closed_window_disables_reduce_and_cancel_with_the_deadline(demo_data, page, login, screenshot):
    subscription = Subscription.objects.get(customer__tenant_id=ALPINE, sku__title="Microsoft 365 E5")
    purchase = subscription.seat_changes.get(kind=SeatChangeKind.PURCHASE)
    now = timezone.now()
    assert purchase.refundable_until < now
    assert subscription.term_started_at + WINDOW < now

    login("alan@contoso.example")
    page.goto(f"/subscriptions/?customer={ALPINE}")
    row = subscription_row(page, subscription.pk)
    expect(row.get_by_role("link", name="Actions")).to_have_attribute("data-actions", "enabled")
    actions = open_actions(page, subscription.pk)

    reduce = actions.get_by_test_id("reduce-disabled")
    expect(reduce.get_by_role("button", name="Reduce seats")).to_be_disabled()
    expect(reduce).to_contain_text("Seats cannot be reduced now: the 168-hour reduction windows closed on")
    expect(reduce).to_contain_text(utc(purchase.refundable_until))
    expect(actions.get_by_test_id("reduce-allowed")).to_have_count(0)

    cancel = actions.get_by_test_id("action-cancel")
    expect(cancel.get_by_role("button", name="Cancel subscription")).to_be_disabled()
    expect(cancel.get_by_test_id("cancel-closed")).to_have_text(
        f"Cancellation window closed on {utc(subscription.term_started_at + WINDOW)}"
    )
    # Adding seats stays possible at any time of the term.
    expect(actions.get_by_role("button", name="Save seats")).to_be_enabled()
    screenshot("subscription-actions-closed-window")


def test_sales_agent_may_act_and_cancels_inside_the_window(fresh_subscription, page, login, screenshot):
    login("sam@contoso.example")
    page.goto(f"/subscriptions/?customer={COHO}")
    row = subscription_row(page, fresh_subscription.pk)
    expect(row.get_by_role("link", name="Actions")).to_have_attribute("data-actions", "enabled")

    actions = open_actions(page, fresh_subscription.pk)
    expect(actions.get_by_test_id("read-only-reason")).to_have_count(0)
    expect(actions.get_by_role("button", name="Save seats")).to_be_enabled()
    cancel = actions.get_by_role("button", name="Cancel subscription")
    expect(cancel).to_be_enabled()
    screenshot("subscription-actions-sales-agent")

    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    cancel.click()
    expect(row).to_contain_text("Cancelled")
    expect(page.locator("#messages")).to_contain_text("Coho storage was cancelled")
    expect(page.locator("#flyout")).to_be_hidden()
    assert dialogs and dialogs[0].startswith("Cancel Coho storage?")
    screenshot("subscription-cancelled-sales-agent")


def test_billing_admin_sees_the_actions_read_only(fresh_subscription, page, login, screenshot):
    login("bea@contoso.example")
    page.goto(f"/subscriptions/?customer={COHO}")
    row = subscription_row(page, fresh_subscription.pk)
    link = row.get_by_role("link", name="Actions")
    expect(link).to_have_attribute("data-actions", "read-only")

    actions = open_actions(page, fresh_subscription.pk)
    expect(actions.get_by_test_id("read-only-reason")).to_contain_text(BUY_DENIED)
    expect(actions.get_by_label("Total seats")).to_be_disabled()
    expect(actions.get_by_role("button", name="Save seats")).to_be_disabled()
    expect(actions.get_by_role("button", name="Cancel subscription")).to_be_disabled()
    expect(actions.get_by_role("button", name="Turn auto-renew off")).to_be_disabled()
    expect(actions.get_by_role("button", name="Suspend")).to_be_disabled()
    screenshot("subscription-actions-billing-admin")


def test_save_seats_works_on_the_full_actions_page(fresh_subscription, page, login, screenshot):
    """Issue 13 defect 1: opened as a page (a new tab, no JavaScript), the actions' forms
    aimed htmx at a table row that is not there and Save seats did nothing."""
    errors = []
    page.on("console", lambda message: errors.append(message.text) if "targetError" in message.text else None)
    login("alan@contoso.example")
    page.goto(f"/subscriptions/{fresh_subscription.pk}/actions/")
    page.get_by_label("Total seats").fill("8")
    page.get_by_role("button", name="Save seats").click()

    expect(page).to_have_url(re.compile(rf"/subscriptions/{fresh_subscription.pk}/$"))
    expect(page.locator("#messages")).to_contain_text("Seats of Coho storage set to 8.")
    screenshot("subscription-actions-page-saved")
    fresh_subscription.refresh_from_db()
    assert fresh_subscription.quantity == 8
    assert not errors


def test_a_form_overtaken_by_another_change_is_refused_inside_the_flyout(fresh_subscription, page, login, screenshot):
    """The refusal convention in the browser: a 409 with the flyout and what changed, swapped
    in by htmx's responseHandling; the row keeps the current seats."""
    from subscriptions.services.lifecycle import subscription_set_quantity

    login("alan@contoso.example")
    page.goto(f"/subscriptions/?customer={COHO}")
    row = subscription_row(page, fresh_subscription.pk)
    actions = open_actions(page, fresh_subscription.pk)
    # Another member adds seats while this flyout is open.
    subscription_set_quantity(subscription=fresh_subscription, quantity=12, acting_user=None)
    actions.get_by_label("Total seats").fill("7")
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        actions.get_by_role("button", name="Save seats").click()
    assert answer.value.status == 409
    flyout = page.locator("#flyout")
    expect(flyout.get_by_test_id("action-error")).to_be_visible()
    expect(flyout).to_be_visible()
    expect(seats_cell(row)).to_have_text("10")
    screenshot("subscription-actions-conflict")
    fresh_subscription.refresh_from_db()
    assert fresh_subscription.quantity == 12
