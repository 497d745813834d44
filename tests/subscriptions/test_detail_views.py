"""The subscription page: scoped in/out, its facts, seat windows, charges, next-term changes,
audit trail and the add-on misalignment warning."""

import datetime
from datetime import timezone as dt_timezone

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from catalog.models import ConsumptionType
from portal.models import Role
from portal.services import audit_record
from subscriptions.models import SeatChangeKind
from tests.factories import ChargeEventFactory, SeatChangeFactory, SkuFactory, SubscriptionFactory

PURCHASE = datetime.datetime(2026, 3, 1, 10, 0, tzinfo=dt_timezone.utc)


def detail(sub):
    return reverse("subscriptions:subscription_detail", args=[sub.pk])


@pytest.fixture
def bought(partner_a, customer_of):
    with time_machine.travel(PURCHASE, tick=False):
        sub = SubscriptionFactory(
            partner=partner_a,
            customer=customer_of(partner_a, name="Alpine Ski House"),
            quantity=5,
            start_date=datetime.date(2026, 3, 1),
            commitment_end_date=datetime.date(2027, 2, 28),
            purchased_at=PURCHASE,
            term_started_at=PURCHASE,
        )
        SeatChangeFactory(subscription=sub, kind=SeatChangeKind.PURCHASE, delta=5, quantity_after=5, occurred_at=PURCHASE)
        ChargeEventFactory(subscription=sub, quantity=5, occurred_at=PURCHASE, charge_start=datetime.date(2026, 3, 1),
                           charge_end=datetime.date(2026, 3, 31))
    return sub


def test_partner_sees_its_subscription_page(make_member, partner_a, bought):
    with time_machine.travel(PURCHASE + datetime.timedelta(hours=1), tick=False):
        response = make_member(partner_a).get(detail(bought))
    assert response.status_code == 200
    body = response.content.decode().replace("\u202f", " ")
    assert "Alpine Ski House" in body
    assert 'data-testid="seat-history"' in body
    assert 'data-testid="charge-events"' in body
    assert "Mar 8, 2026, 10:00 AM (UTC)" in body  # the refundable seats' and cancellation deadline
    assert "4 seats can still be removed" in body  # 5 in their window, the SKU minimum of 1 stays (defect 5)


def test_other_partner_gets_404(make_member, partner_b, bought):
    assert make_member(partner_b).get(detail(bought)).status_code == 404
    assert make_member(partner_b).get(detail(bought), HTTP_HX_REQUEST="true").status_code == 404


def test_page_outside_the_window_says_it_closed(make_member, partner_a, bought):
    with time_machine.travel(PURCHASE + datetime.timedelta(days=10), tick=False):
        body = make_member(partner_a).get(detail(bought)).content.decode().replace("\u202f", " ")
    assert "Cancellation window closed on Mar 8, 2026, 10:00 AM (UTC)" in body
    assert "No seat can be removed now." in body


def test_page_shows_next_term_changes_and_audit_trail(make_member, partner_a, bought):
    bought.next_term_quantity = 8
    bought.save()
    audit_record(actor=None, partner=partner_a, action="subscription.quantity", obj=bought, before={"quantity": 4},
                 after={"quantity": 5})
    body = make_member(partner_a).get(detail(bought)).content.decode()
    assert "5 → 8" in body
    assert "Seats changed" in body and "subscription.quantity" not in body


def test_audit_trail_of_another_partner_is_not_shown(make_member, partner_a, partner_b, bought):
    audit_record(actor=None, partner=partner_b, action="secret.action", obj=bought)
    body = make_member(partner_a).get(detail(bought)).content.decode()
    assert "secret.action" not in body


def test_reseller_of_record_sees_the_page_read_only(make_member, provider, reseller, customer_of):
    sub = SubscriptionFactory(partner=provider, reseller=reseller, customer=customer_of(provider, reseller=reseller))
    response = make_member(reseller, Role.GLOBAL_ADMIN).get(detail(sub))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="read-only-reason"' in body
    assert provider.name in body


def test_misaligned_addon_warns_with_dates_and_align_link(make_member, partner_a, customer_of):
    customer = customer_of(partner_a)
    today = timezone.localdate()
    base_sku = SkuFactory()
    addon_sku = SkuFactory(is_addon=True, prerequisites=[base_sku])
    base_end = today + datetime.timedelta(days=40)
    addon_end = today + datetime.timedelta(days=200)
    SubscriptionFactory(partner=partner_a, customer=customer, sku=base_sku, commitment_end_date=base_end)
    addon = SubscriptionFactory(partner=partner_a, customer=customer, sku=addon_sku, commitment_end_date=addon_end)
    body = make_member(partner_a).get(detail(addon)).content.decode()
    assert 'data-testid="misalignment-warning"' in body
    assert f"{base_end:%b} {base_end.day}, {base_end.year}" in body and f"{addon_end:%b} {addon_end.day}, {addon_end.year}" in body
    assert f'href="/subscriptions/{addon.pk}/align/"' in body


def test_aligned_addon_has_no_warning(make_member, partner_a, customer_of):
    customer = customer_of(partner_a)
    end = timezone.localdate() + datetime.timedelta(days=200)
    base_sku = SkuFactory()
    addon_sku = SkuFactory(is_addon=True, prerequisites=[base_sku])
    SubscriptionFactory(partner=partner_a, customer=customer, sku=base_sku, commitment_end_date=end)
    addon = SubscriptionFactory(partner=partner_a, customer=customer, sku=addon_sku, commitment_end_date=end)
    body = make_member(partner_a).get(detail(addon)).content.decode()
    assert 'data-testid="misalignment-warning"' not in body


def test_customer_filter_link_on_the_page(make_member, partner_a, bought):
    body = make_member(partner_a).get(detail(bought)).content.decode()
    assert f"/subscriptions/?customer={bought.customer.tenant_id}" in body


def test_consumption_type_is_shown_in_words_of_the_page_language(make_member, partner_a, customer_of):
    """Not the raw Partner Center value "overage" on an Italian page (walk-through defect)."""
    sku = SkuFactory(consumption_type=ConsumptionType.OVERAGE)
    sub = SubscriptionFactory(partner=partner_a, customer=customer_of(partner_a), sku=sku,
                              consumption_type=ConsumptionType.OVERAGE)
    client = make_member(partner_a)
    english = client.get(detail(sub)).content.decode()
    italian = client.get(detail(sub), HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert '<dd data-testid="consumption-type">Overage</dd>' in english
    assert '<dd data-testid="consumption-type">Eccedenza</dd>' in italian
