"""Issue 13 defect 14: a redundant add-on's removal request (SPEC §5) is decided by the
operator's staff in admin: removed with its credit, or rejected with a note; each decision is
recorded and audited, and the partner reads it on the subscription's pages."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from portal.models import AuditEvent
from subscriptions.models import AddonRemovalRequest, ChargeEvent, ChargeType, RemovalRequestStatus, SubscriptionStatus
from subscriptions.services import changes
from subscriptions.services.lifecycle import SubscriptionError
from tests.factories import ChargeEventFactory
from tests.subscriptions.test_change_views import frozen, reload, sales, upgraded, url, world  # noqa: F401

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:subscriptions_addonremovalrequest_changelist")


@pytest.fixture
def raised(upgraded):
    """The add-on charged 80.00 for March and for April; made redundant on 16 March; its
    removal requested that day."""
    addon = upgraded["addon"]
    for start, end in ((date(2026, 3, 1), date(2026, 3, 31)), (date(2026, 4, 1), date(2026, 4, 30))):
        ChargeEventFactory(subscription=addon, charge_type=ChargeType.NEW, quantity=10, amount=Decimal("80.00"),
                           charge_start=start, charge_end=end)
    return changes.addon_removal_request_raise(subscription=addon, acting_user=None)


@pytest.fixture
def staff_client(client, django_user_model):
    staff = django_user_model.objects.create_superuser(username="staff", email="s@portal.example", password="pw-1234567")
    client.force_login(staff)
    client.user = staff
    return client


def test_staff_remove_the_add_on_with_its_credit(raised, staff_client, sales):
    AddonRemovalRequest.objects.filter(pk=raised.pk).update(note="Refunded from the upgrade day.")

    response = staff_client.post(CHANGELIST, {"action": "complete_requests", "_selected_action": [raised.pk]})

    assert response.status_code == 302
    raised.refresh_from_db()
    addon = reload(raised.subscription)
    # 16 of March's 31 days (16 March included) and all of April: 41.29 + 80.00.
    assert raised.status == RemovalRequestStatus.COMPLETED and raised.credit == Decimal("121.29")
    assert raised.resolved_by == staff_client.user and raised.resolved_at is not None
    assert addon.status == SubscriptionStatus.DELETED and not addon.auto_renew_enabled
    refund = ChargeEvent.objects.get(subscription=addon, charge_type=ChargeType.CANCEL_IMMEDIATE)
    assert (refund.amount, refund.charge_start, refund.charge_end) == (Decimal("-121.29"), date(2026, 3, 16), date(2026, 4, 30))
    event = AuditEvent.objects.get(action="subscription.removal_completed")
    assert event.actor == staff_client.user and event.partner == addon.partner
    # The partner sees the outcome on the add-on's page.
    body = sales.get(url("detail", addon)).content.decode()
    assert "Support removed the add-on on Mar 16, 2026 and credited $121.29. Refunded from the upgrade day." in body


def test_staff_reject_the_request_and_the_partner_reads_why(raised, staff_client, sales):
    AddonRemovalRequest.objects.filter(pk=raised.pk).update(note="The add-on is still in use.")

    staff_client.post(CHANGELIST, {"action": "reject_requests", "_selected_action": [raised.pk]})

    raised.refresh_from_db()
    assert raised.status == RemovalRequestStatus.REJECTED and raised.credit is None
    assert reload(raised.subscription).status == SubscriptionStatus.ACTIVE
    assert not ChargeEvent.objects.filter(charge_type=ChargeType.CANCEL_IMMEDIATE).exists()
    assert AuditEvent.objects.filter(action="subscription.removal_rejected", actor=staff_client.user).exists()
    body = sales.get(url("removal_request", raised.subscription)).content.decode()
    assert "Support rejected the request on Mar 16, 2026. The add-on is still in use." in body


def test_a_decided_request_is_not_decided_again(raised, staff_client):
    changes.addon_removal_request_reject(removal_request=raised, acting_user=staff_client.user)

    with pytest.raises(SubscriptionError):
        changes.addon_removal_request_complete(removal_request=raised, acting_user=staff_client.user)
    staff_client.post(CHANGELIST, {"action": "complete_requests", "_selected_action": [raised.pk]})

    raised.refresh_from_db()
    assert raised.status == RemovalRequestStatus.REJECTED
    assert reload(raised.subscription).status == SubscriptionStatus.ACTIVE
    assert not AuditEvent.objects.filter(action="subscription.removal_completed").exists()
