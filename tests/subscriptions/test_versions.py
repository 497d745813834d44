"""Optimistic concurrency on every subscription change (issue 11, defect 2): the subscription
has a version, every change makes a new one, and a change made from a stale version is
refused with what changed, while the same change asked twice (a double click) makes one.

The race with real threads is in ``test_change_concurrency`` (PostgreSQL); these tests run
the same logic one step at a time, on any database."""

import re
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from portal.models import Role
from subscriptions.models import SeatChange, SeatChangeKind, Subscription, SubscriptionStatus
from subscriptions.services import changes, lifecycle, renewal
from subscriptions.services.lifecycle import SubscriptionChanged
from tests.factories import PriceListEntryFactory, SeatChangeFactory, SkuFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

PURCHASE = datetime(2026, 3, 1, 10, 0, tzinfo=dt_timezone.utc)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def clock():
    with time_machine.travel(PURCHASE + timedelta(hours=2), tick=False) as traveller:
        yield traveller


@pytest.fixture
def fresh(clock, partner_a, customer_of):
    """A fresh 10-seat subscription inside its 168-hour window (the issue's case)."""
    subscription = SubscriptionFactory(
        partner=partner_a,
        customer=customer_of(partner_a),
        sku=SkuFactory(min_quantity=1, max_quantity=50),
        quantity=10,
        unit_price=Decimal("10.00"),
        start_date=date(2026, 3, 1),
        commitment_end_date=date(2027, 2, 28),
        purchased_at=PURCHASE,
        term_started_at=PURCHASE,
    )
    SeatChangeFactory(subscription=subscription, kind=SeatChangeKind.PURCHASE, delta=10, quantity_after=10,
                      occurred_at=PURCHASE, refundable_until=PURCHASE + timedelta(hours=168))
    return subscription


@pytest.fixture
def sales(make_member, partner_a):
    return make_member(partner_a, Role.SALES_AGENT)


def version_of(subscription):
    return Subscription.objects.values_list("version", flat=True).get(pk=subscription.pk)


def seat_deltas(subscription):
    return list(
        SeatChange.objects.filter(subscription=subscription)
        .exclude(kind=SeatChangeKind.PURCHASE)
        .order_by("occurred_at", "id")
        .values_list("kind", "delta")
    )


def url(name, subscription):
    return reverse(f"subscriptions:subscription_{name}", args=[subscription.pk])


# --- the version ---------------------------------------------------------------------------


def test_a_new_subscription_is_version_one(fresh):
    assert version_of(fresh) == 1


@pytest.mark.parametrize(
    "change",
    [
        lambda s: lifecycle.subscription_set_quantity(subscription=s, quantity=12, acting_user=None),
        lambda s: lifecycle.subscription_set_auto_renew(subscription=s, enabled=False, acting_user=None),
        lambda s: lifecycle.subscription_set_friendly_name(subscription=s, friendly_name="HQ", acting_user=None),
        lambda s: lifecycle.subscription_set_status(subscription=s, status="suspended", acting_user=None),
        lambda s: lifecycle.subscription_schedule_next_term(subscription=s, quantity=3, acting_user=None),
        lambda s: lifecycle.subscription_cancel(subscription=s, acting_user=None),
    ],
    ids=["quantity", "auto-renew", "friendly name", "status", "next term", "cancel"],
)
def test_every_change_makes_a_new_version_and_a_repeated_one_does_not(fresh, change):
    updated = change(fresh)
    assert updated.version == version_of(fresh) == 2
    change(Subscription.objects.get(pk=fresh.pk))
    assert version_of(fresh) == 2


def test_two_saves_from_the_same_stale_copy_make_two_versions(fresh):
    """The version is counted by the database, not from the copy in memory."""
    first, second = Subscription.objects.get(pk=fresh.pk), Subscription.objects.get(pk=fresh.pk)
    first.save()
    second.save(update_fields=["friendly_name"])
    assert version_of(fresh) == 3
    assert second.version == 3


def test_a_renewal_makes_a_new_version(fresh):
    with time_machine.travel(datetime(2027, 3, 1, 1, 0, tzinfo=dt_timezone.utc), tick=False):
        renewal.renew_subscriptions(on_date=date(2027, 3, 1))
    assert version_of(fresh) == 2


def test_the_audit_trail_records_each_version(fresh):
    lifecycle.subscription_set_quantity(subscription=fresh, quantity=12, acting_user=None)
    event = fresh.__class__.objects.get(pk=fresh.pk)
    from portal.models import AuditEvent

    recorded = AuditEvent.objects.get(object_id=str(event.pk), action="subscription.quantity")
    assert (recorded.before["version"], recorded.after["version"]) == (1, 2)


# --- the services: stale versions -----------------------------------------------------------


def test_a_change_from_a_stale_version_is_refused_and_changes_nothing(fresh):
    lifecycle.subscription_set_quantity(subscription=fresh, quantity=4, acting_user=None)
    with pytest.raises(SubscriptionChanged) as refused:
        lifecycle.subscription_set_quantity(subscription=fresh, quantity=6, acting_user=None, version=1)
    assert refused.value.status == 409
    assert refused.value.current.quantity == 4 and refused.value.current.version == 2
    assert seat_deltas(fresh) == [(SeatChangeKind.REDUCE, -6)]


def test_the_same_target_from_a_stale_version_is_one_change(fresh):
    """A double click: the second request carries the version the first one changed."""
    for _click in range(2):
        lifecycle.subscription_set_quantity(subscription=fresh, quantity=6, acting_user=None, version=1)
    assert seat_deltas(fresh) == [(SeatChangeKind.REDUCE, -4)]
    assert version_of(fresh) == 2


@pytest.mark.parametrize(
    "change",
    [
        lambda s, v: lifecycle.subscription_set_auto_renew(subscription=s, enabled=False, acting_user=None, version=v),
        lambda s, v: lifecycle.subscription_set_status(subscription=s, status="suspended", acting_user=None, version=v),
        lambda s, v: lifecycle.subscription_schedule_next_term(subscription=s, quantity=3, acting_user=None, version=v),
        lambda s, v: lifecycle.subscription_cancel(subscription=s, acting_user=None, version=v),
        lambda s, v: lifecycle.subscription_set_friendly_name(subscription=s, friendly_name="X", acting_user=None,
                                                              version=v),
    ],
    ids=["auto-renew", "status", "next term", "cancel", "friendly name"],
)
def test_every_change_refuses_a_stale_version(fresh, change):
    lifecycle.subscription_set_quantity(subscription=fresh, quantity=12, acting_user=None)
    with pytest.raises(SubscriptionChanged):
        change(fresh, 1)
    reloaded = Subscription.objects.get(pk=fresh.pk)
    assert (reloaded.version, reloaded.status, reloaded.auto_renew_enabled) == (2, SubscriptionStatus.ACTIVE, True)


def test_alignment_and_upgrade_refuse_a_stale_version(fresh):
    target = SkuFactory()
    fresh.sku.upgrade_targets.add(target)
    PriceListEntryFactory(sku=target, market=fresh.customer.country, term_duration=fresh.term_duration,
                          billing_plan=fresh.billing_cycle, effective_start=date(2026, 1, 1))
    lifecycle.subscription_set_quantity(subscription=fresh, quantity=12, acting_user=None)
    with pytest.raises(SubscriptionChanged):
        changes.subscription_upgrade(subscription=fresh, target_sku=target, acting_user=None, version=1)
    with pytest.raises(SubscriptionChanged):
        changes.subscription_align_end_date(subscription=fresh, end_date=date(2028, 1, 31), acting_user=None, version=1)
    assert Subscription.objects.get(pk=fresh.pk).sku_id == fresh.sku_id


# --- the pages ------------------------------------------------------------------------------


def hidden_versions(html):
    return re.findall(r'<input type="hidden" name="version" value="(\d+)"', html)


def test_every_change_form_of_the_flyout_carries_the_version(sales, fresh):
    lifecycle.subscription_set_friendly_name(subscription=fresh, friendly_name="HQ", acting_user=None)
    html = sales.get(url("actions", fresh), **HTMX).content.decode()
    # Seats, cancel, auto-renew, next term, status.
    assert hidden_versions(html) == ["2"] * 5


@pytest.mark.parametrize("page", ["align", "upgrade"])
def test_the_end_date_and_upgrade_pages_carry_the_version(sales, fresh, page):
    target = SkuFactory()
    fresh.sku.upgrade_targets.add(target)
    PriceListEntryFactory(sku=target, market=fresh.customer.country, term_duration=fresh.term_duration,
                          billing_plan=fresh.billing_cycle, effective_start=date(2026, 1, 1))
    assert hidden_versions(sales.get(url(page, fresh)).content.decode()) == ["1"]


def test_the_issue_race_one_step_at_a_time_the_stale_form_says_what_changed(sales, api_client, partner_a, fresh):
    """UI form rendered at version 1 (10 seats) asks for 6; the API's PATCH to 4 lands first.
    The form is refused: it says what changed, shows the current state, changes nothing."""
    api = api_client(partner_a)
    response = api.patch(f"/v1/customers/{fresh.customer.tenant_id}/subscriptions/{fresh.pk}", {"quantity": 4},
                         content_type="application/json")
    assert response.status_code == 200

    response = sales.post(url("quantity", fresh), {"quantity": "6", "version": "1"}, **HTMX)

    assert response.status_code == 409
    html = response.content.decode()
    assert "changed after this form was shown" in html
    assert "seats 10 → 4" in html
    assert 'name="quantity" value="4"' in html  # the current state, not what was typed
    assert hidden_versions(html)[0] == "2"
    assert seat_deltas(fresh) == [(SeatChangeKind.REDUCE, -6)]


def test_a_stale_plain_form_post_is_a_409_page_with_the_current_state(sales, fresh):
    lifecycle.subscription_set_auto_renew(subscription=fresh, enabled=False, acting_user=None)
    response = sales.post(url("quantity", fresh), {"quantity": "6", "version": "1"})
    assert response.status_code == 409
    html = response.content.decode()
    assert "<html" in html and "auto-renew on → off" in html
    assert version_of(fresh) == 2 and seat_deltas(fresh) == []


def test_a_double_click_on_save_seats_makes_one_change(sales, fresh):
    for _click in range(2):
        response = sales.post(url("quantity", fresh), {"quantity": "6", "version": "1"}, **HTMX)
        assert response.status_code == 200
    assert seat_deltas(fresh) == [(SeatChangeKind.REDUCE, -4)]


@pytest.mark.parametrize(
    "name, data",
    [("cancel", {}), ("auto_renew", {"enabled": "false"}), ("status", {"status": "suspended"})],
)
def test_a_double_click_on_the_other_actions_makes_one_change(sales, fresh, name, data):
    for _click in range(2):
        response = sales.post(url(name, fresh), {**data, "version": "1"}, **HTMX)
        assert response.status_code == 200
    assert version_of(fresh) == 2


def test_a_form_without_a_version_is_checked_against_what_the_request_read(sales, fresh, monkeypatch):
    """A post that carries no version (an old page) is still never applied over a change
    that landed between the request's read and its write."""
    from subscriptions import subscription_views

    read = subscription_views.subscription_for_request

    def read_then_someone_else_changes_it(request, subscription_id):
        subscription = read(request, subscription_id)
        if request.method == "POST":
            lifecycle.subscription_set_quantity(subscription=fresh, quantity=4, acting_user=None)
        return subscription

    monkeypatch.setattr(subscription_views, "subscription_for_request", read_then_someone_else_changes_it)
    response = sales.post(url("quantity", fresh), {"quantity": "6"}, **HTMX)
    assert response.status_code == 409
    assert seat_deltas(fresh) == [(SeatChangeKind.REDUCE, -6)]


def test_a_stale_alignment_form_is_refused_with_the_current_state(sales, fresh):
    lifecycle.subscription_set_quantity(subscription=fresh, quantity=12, acting_user=None)
    response = sales.post(url("align", fresh), {"end_date": "2028-01-31", "version": "1"})
    assert response.status_code == 409
    assert "seats 10 → 12" in response.content.decode()
    assert Subscription.objects.get(pk=fresh.pk).next_term_end_date is None


def test_a_double_click_on_upgrade_makes_one_upgrade(sales, fresh):
    target = SkuFactory(title="Office 365 E5")
    fresh.sku.upgrade_targets.add(target)
    PriceListEntryFactory(sku=target, market=fresh.customer.country, term_duration=fresh.term_duration,
                          billing_plan=fresh.billing_cycle, effective_start=date(2026, 1, 1))
    for _click in range(2):
        response = sales.post(url("upgrade", fresh), {"target": str(target.pk), "version": "1"})
        assert response.status_code == 303
    assert fresh.charge_events.filter(charge_type="convert").count() == 1
    assert version_of(fresh) == 2


def test_every_form_that_posts_a_subscription_change_carries_the_version():
    """A new change form that forgets the hidden version would apply over a newer change."""
    from pathlib import Path

    templates = Path(__file__).resolve().parents[2] / "templates"
    forms = []
    for path in templates.rglob("*.html"):
        text = path.read_text()
        for match in re.finditer(r"<form\b[^>]*\{% url 'subscriptions:subscription_\w+' \w+\.pk %\}.*?</form>", text, re.S):
            forms.append((path.name, match.group()))
    assert len(forms) >= 8  # seats, cancel, auto-renew, next term, status, align, upgrade, removal
    missing = [name for name, form in forms if 'name="version"' not in form and "_form.version }}" not in form]
    assert missing == []
