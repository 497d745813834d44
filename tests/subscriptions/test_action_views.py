"""Row actions (SPEC §5): who may act, the 168-hour windows on a frozen clock, bad input, and
the HTMX and plain-page answers. A refused action changes nothing."""

import datetime
import re
from datetime import timezone as dt_timezone

import pytest
import time_machine
from django.urls import reverse

from portal.models import Role
from subscriptions.models import SeatChangeKind, SubscriptionStatus
from subscriptions.services.lifecycle import (
    CANNOT_DECREASE,
    QUANTITY_ABOVE_MAX,
    QUANTITY_BELOW_MIN,
    QUANTITY_NOT_INTEGER,
    SCHEDULE_NEEDS_AUTO_RENEW,
)
from tests.factories import SeatChangeFactory, SkuFactory, SubscriptionFactory

PURCHASE = datetime.datetime(2026, 3, 1, 10, 0, tzinfo=dt_timezone.utc)
HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name, sub):
    return reverse(f"subscriptions:subscription_{name}", args=[sub.pk])


def at(hours, minutes=0):
    return time_machine.travel(PURCHASE + datetime.timedelta(hours=hours, minutes=minutes), tick=False)


@pytest.fixture
def bought(partner_a, customer_of):
    """Five seats (SKU range 2–50) bought at PURCHASE."""
    with time_machine.travel(PURCHASE, tick=False):
        sub = SubscriptionFactory(
            partner=partner_a,
            customer=customer_of(partner_a),
            sku=SkuFactory(min_quantity=2, max_quantity=50),
            quantity=5,
            start_date=datetime.date(2026, 3, 1),
            commitment_end_date=datetime.date(2027, 2, 28),
            purchased_at=PURCHASE,
            term_started_at=PURCHASE,
        )
        SeatChangeFactory(subscription=sub, kind=SeatChangeKind.PURCHASE, delta=5, quantity_after=5, occurred_at=PURCHASE)
    return sub


@pytest.fixture
def sales(make_member, partner_a):
    return make_member(partner_a, Role.SALES_AGENT)


def reload(sub):
    sub.refresh_from_db()
    return sub


# --- the flyout -------------------------------------------------------------------------


def test_actions_fragment_inside_the_window(sales, bought):
    with at(1):
        response = sales.get(url("actions", bought), **HTMX)
    body = response.content.decode().replace("\u202f", " ")
    assert response.status_code == 200
    assert "<html" not in body
    assert body.lstrip().startswith("<div") and "data-flyout-title=" in body.split(">")[0]
    assert 'data-testid="reduce-allowed"' in body
    assert "3 seats can be removed now" in body  # 5 seats, SKU minimum 2
    assert "Allowed until Mar 8, 2026, 10:00 AM (UTC)" in body
    assert "hx-confirm=" in body


def test_actions_fragment_outside_the_window_disables_reduce_and_cancel(sales, bought):
    with at(168, 1):
        body = sales.get(url("actions", bought), **HTMX).content.decode().replace("\u202f", " ")
    assert 'data-testid="reduce-disabled"' in body
    assert "closed on" in body and "Mar 8, 2026, 10:00 AM (UTC)" in body
    assert "Cancellation window closed on Mar 8, 2026, 10:00 AM (UTC)" in body
    assert 'min="5"' in body  # the browser refuses a reduction too


def test_actions_page_without_htmx_is_a_full_page(sales, bought):
    response = sales.get(url("actions", bought))
    assert response.status_code == 200
    assert "<html" in response.content.decode()


def test_actions_page_without_htmx_posts_plain_forms(sales, bought):
    """Issue 13 defect 1: opened as a page, the forms aimed htmx at a table row that is not
    there (htmx:targetError #sub-row-…) and Save seats did nothing. As a page they post as
    plain forms and are answered with the subscription page (303)."""
    with at(1):
        body = sales.get(url("actions", bought)).content.decode()
        assert f"#sub-row-{bought.pk}" not in body
        assert "hx-post=" not in body
        assert 'data-confirm="Cancel' in body and "hx-confirm=" not in body
        assert f'action="{url("quantity", bought)}"' in body
        response = sales.post(url("quantity", bought), {"quantity": "4", "origin": "list"})
    assert response.status_code == 303
    assert response["Location"] == url("detail", bought)
    assert reload(bought).quantity == 4
    page = sales.get(response["Location"]).content.decode()
    assert "Seats of" in page and "set to 4." in page


def test_seat_flyout_and_subscription_page_say_the_same_number(sales, bought):
    """Issue 13 defect 5: the page counted every seat inside its window (5), the flyout what
    the SKU minimum leaves removable (3); both now read ``removable_seats``."""
    with at(1):
        flyout = sales.get(url("actions", bought), **HTMX).content.decode()
        page = sales.get(url("detail", bought)).content.decode()
    assert "3 seats can be removed now" in flyout
    assert "3 seats can still be removed with a refund." in page


def test_actions_of_another_partner_are_404(make_member, partner_b, bought):
    client = make_member(partner_b)
    assert client.get(url("actions", bought)).status_code == 404
    assert client.get(url("actions", bought), **HTMX).status_code == 404


def test_next_term_is_disabled_without_auto_renew(sales, bought):
    bought.auto_renew_enabled = False
    bought.save()
    body = sales.get(url("actions", bought), **HTMX).content.decode()
    assert str(SCHEDULE_NEEDS_AUTO_RENEW) in body


def test_billing_admin_sees_the_fragment_read_only(make_member, partner_a, bought):
    body = make_member(partner_a, Role.BILLING_ADMIN).get(url("actions", bought), **HTMX).content.decode()
    assert 'data-testid="read-only-reason"' in body
    assert "Only global admins, admin agents and sales agents" in body
    for tag in body.split("<button")[1:]:
        assert "disabled" in tag.split(">")[0]


# --- seats ----------------------------------------------------------------------------


def test_sales_agent_reduces_seats_inside_the_window(sales, bought):
    with at(167, 59):
        response = sales.post(url("quantity", bought), {"quantity": "3"})
    assert response.status_code == 303
    assert response["Location"] == url("detail", bought)
    assert reload(bought).quantity == 3


def test_reduce_with_htmx_returns_the_row_and_closes_the_flyout(sales, bought):
    with at(2):
        response = sales.post(url("quantity", bought), {"quantity": "4"}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert f'id="sub-row-{bought.pk}"' in body
    assert 'hx-swap-oob="true"' in body and 'id="messages"' in body
    assert "Seats of" in body
    assert "subscription-updated" in response["HX-Trigger"] and "close-flyout" in response["HX-Trigger"]
    assert reload(bought).quantity == 4


def test_reduce_outside_the_window_is_refused(sales, bought):
    with at(168, 1):
        response = sales.post(url("quantity", bought), {"quantity": "3"}, **HTMX)
    assert response.status_code == 422
    assert str(CANNOT_DECREASE) in response.content.decode()
    assert response["HX-Retarget"] == "#flyout-body"
    assert reload(bought).quantity == 5


def test_reduce_outside_the_window_without_htmx_shows_the_actions_page(sales, bought):
    with at(200):
        response = sales.post(url("quantity", bought), {"quantity": "4"})
    assert response.status_code == 422
    body = response.content.decode()
    assert "<html" in body and str(CANNOT_DECREASE) in body
    assert reload(bought).quantity == 5


def test_seats_can_be_added_outside_the_window(sales, bought):
    with at(500):
        response = sales.post(url("quantity", bought), {"quantity": "7"})
    assert response.status_code == 303
    assert reload(bought).quantity == 7


@pytest.mark.parametrize(
    "raw, message",
    [
        ("1", QUANTITY_BELOW_MIN % {"min": 2}),
        ("0", QUANTITY_BELOW_MIN % {"min": 2}),
        ("51", QUANTITY_ABOVE_MAX % {"max": 50}),
        ("abc", QUANTITY_NOT_INTEGER),
        ("2.5", QUANTITY_NOT_INTEGER),
        ("", QUANTITY_NOT_INTEGER),
    ],
)
def test_bad_quantity_is_refused_with_a_clear_message(sales, bought, raw, message):
    with at(1):
        response = sales.post(url("quantity", bought), {"quantity": raw}, **HTMX)
    assert response.status_code == 422
    assert str(message) in response.content.decode()
    assert reload(bought).quantity == 5


# --- permissions ------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.BILLING_ADMIN, Role.HELPDESK_AGENT])
def test_roles_without_buy_get_403_and_nothing_changes(make_member, partner_a, bought, role):
    client = make_member(partner_a, role)
    with at(1):
        response = client.post(url("quantity", bought), {"quantity": "3"})
        cancel = client.post(url("cancel", bought), **HTMX)
    assert response.status_code == 403
    assert "Only global admins, admin agents and sales agents" in response.content.decode()
    assert cancel.status_code == 403
    bought = reload(bought)
    assert bought.quantity == 5 and bought.status == SubscriptionStatus.ACTIVE


def test_reseller_user_gets_403_naming_the_provider(make_member, provider, reseller, customer_of):
    sub = SubscriptionFactory(
        partner=provider, reseller=reseller, customer=customer_of(provider, reseller=reseller), auto_renew_enabled=True
    )
    response = make_member(reseller, Role.GLOBAL_ADMIN).post(url("auto_renew", sub), {"enabled": "false"})
    assert response.status_code == 403
    assert provider.name in response.content.decode()
    assert reload(sub).auto_renew_enabled is True


def test_other_partners_user_gets_404_on_post(make_member, partner_b, bought):
    client = make_member(partner_b, Role.GLOBAL_ADMIN)
    with at(1):
        for name, data in [("quantity", {"quantity": "3"}), ("cancel", {}), ("status", {"status": "suspended"})]:
            assert client.post(url(name, bought), data).status_code == 404
            assert client.post(url(name, bought), data, **HTMX).status_code == 404
    bought = reload(bought)
    assert bought.quantity == 5 and bought.status == SubscriptionStatus.ACTIVE


def test_actions_need_post(sales, bought):
    assert sales.get(url("quantity", bought)).status_code == 405


# --- cancel -----------------------------------------------------------------------------


def test_cancel_inside_the_window(sales, bought):
    with at(167, 59):
        response = sales.post(url("cancel", bought), **HTMX)
    assert response.status_code == 200
    assert reload(bought).status == SubscriptionStatus.DELETED


def test_cancel_outside_the_window_is_refused(sales, bought):
    with at(168, 1):
        response = sales.post(url("cancel", bought), **HTMX)
    assert response.status_code == 422
    assert "the window closed on 2026-03-08 10:00 UTC" in response.content.decode()
    assert reload(bought).status == SubscriptionStatus.ACTIVE


# --- auto-renew, next term, status --------------------------------------------------------


def test_auto_renew_off_and_on(sales, bought):
    assert sales.post(url("auto_renew", bought), {"enabled": "false"}).status_code == 303
    assert reload(bought).auto_renew_enabled is False
    assert sales.post(url("auto_renew", bought), {"enabled": "true"}, **HTMX).status_code == 200
    assert reload(bought).auto_renew_enabled is True


def test_schedule_next_term_changes(sales, bought):
    assert (bought.term_duration, bought.billing_cycle) == ("P1Y", "monthly")
    response = sales.post(url("next_term", bought), {"quantity": "8", "term": "P1M:monthly"})
    assert response.status_code == 303
    bought = reload(bought)
    # Only what differs is scheduled: the billing cycle stays monthly.
    assert (bought.next_term_quantity, bought.next_term_duration, bought.next_term_billing_cycle) == (8, "P1M", None)


def test_next_term_offers_only_the_term_and_cycle_pairs_the_offer_sells(sales, bought):
    bought.availability.terms = [
        {"termDuration": "P1M", "billingCycle": "monthly"},
        {"termDuration": "P1Y", "billingCycle": "monthly"},
        {"termDuration": "P1Y", "billingCycle": "annual"},
        {"termDuration": "P3Y", "billingCycle": "annual"},
    ]
    bought.availability.save()
    body = sales.get(url("actions", bought)).content.decode()
    offered = set(re.findall(r'<option value="(P\w+:\w+)"', body))
    assert offered == {"P1M:monthly", "P1Y:monthly", "P1Y:annual", "P3Y:annual"}  # never P3Y billed monthly
    assert sales.post(url("next_term", bought), {"term": "P3Y:monthly"}).status_code == 422
    assert sales.post(url("next_term", bought), {"term": "P3Y:annual"}).status_code == 303
    bought = reload(bought)
    assert (bought.next_term_duration, bought.next_term_billing_cycle) == ("P3Y", "annual")
    again = sales.get(url("actions", bought)).content.decode()
    assert '<option value="P3Y:annual" selected>' in again


def test_next_term_needs_auto_renew(sales, bought):
    bought.auto_renew_enabled = False
    bought.save()
    response = sales.post(url("next_term", bought), {"quantity": "8"}, **HTMX)
    assert response.status_code == 422
    assert str(SCHEDULE_NEEDS_AUTO_RENEW) in response.content.decode()
    assert reload(bought).next_term_quantity is None


def test_next_term_unknown_term_is_refused(sales, bought):
    response = sales.post(url("next_term", bought), {"term": "P9Y:monthly"})
    assert response.status_code == 422
    assert reload(bought).next_term_duration is None


def test_suspend_and_reactivate(sales, bought):
    assert sales.post(url("status", bought), {"status": "suspended"}).status_code == 303
    assert reload(bought).status == SubscriptionStatus.SUSPENDED
    assert sales.post(url("status", bought), {"status": "active"}, **HTMX).status_code == 200
    assert reload(bought).status == SubscriptionStatus.ACTIVE


@pytest.mark.parametrize("status", ["pending", "expired-ish", ""])
def test_forbidden_status_change_is_refused(sales, bought, status):
    response = sales.post(url("status", bought), {"status": status}, **HTMX)
    assert response.status_code == 422
    assert reload(bought).status == SubscriptionStatus.ACTIVE


def test_reactivating_a_cancelled_subscription_is_refused(sales, bought):
    bought.status = SubscriptionStatus.DELETED
    bought.save()
    response = sales.post(url("status", bought), {"status": "active"})
    assert response.status_code == 422
    assert "cannot go from cancelled to active" in response.content.decode()
    assert reload(bought).status == SubscriptionStatus.DELETED


def test_action_from_the_subscription_page_reloads_it(sales, bought):
    body = sales.get(url("actions", bought) + "?from=detail", **HTMX).content.decode()
    assert 'hx-swap="none"' in body
    assert f'hx-target="#sub-row-{bought.pk}"' not in body
