"""Pages for end-date alignment, upgrades and the removal of redundant add-ons (SPEC §5):
what each page offers, what a POST changes, refusals (400, nothing changed), roles (403)
and scoping (404). The clock is frozen: deadlines are tested on their edges."""

from datetime import date, datetime
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from portal.models import Role
from subscriptions.models import AddonRemovalRequest, ChargeType
from subscriptions.services import changes
from tests.factories import PriceListEntryFactory, SkuFactory, SubscriptionFactory

NOW = datetime(2026, 3, 16, 9, 0, tzinfo=dt_timezone.utc)
HTMX = {"HX-Request": "true"}


def url(name, sub):
    return reverse(f"subscriptions:subscription_{name}", args=[sub.pk])


def later(client, when):
    """Travel to ``when``, logged in again: a session does not last the weeks travelled."""
    traveller = time_machine.travel(when, tick=False)
    traveller.start()
    client.force_login(client.user)
    return traveller


def reload(sub):
    sub.refresh_from_db()
    return sub


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def world(frozen, partner_a, customer_of):
    """An E3 base (10 seats at 23.00) with a Teams Phone add-on; E5 (38.00 in the US) is the
    E3's upgrade target and includes Teams Phone."""
    customer = customer_of(partner_a, country="US")
    e5 = SkuFactory(title="Office 365 E5", included_services=["TeamsPhone", "AudioConferencing"])
    e3 = SkuFactory(title="Office 365 E3", included_services=[])
    e3.upgrade_targets.add(e5)
    PriceListEntryFactory(sku=e5, market="US", currency="USD", term_duration="P1Y", billing_plan="monthly",
                          unit_price=Decimal("38.00"), effective_start=date(2026, 1, 1))
    teams_phone = SkuFactory(title="Teams Phone Standard", is_addon=True, included_services=["TeamsPhone"])
    teams_phone.prerequisites.add(e3)
    base = SubscriptionFactory(partner=partner_a, customer=customer, sku=e3, quantity=10, unit_price=Decimal("23.00"),
                               start_date=date(2026, 3, 1), commitment_end_date=date(2027, 2, 28))
    addon = SubscriptionFactory(partner=partner_a, customer=customer, sku=teams_phone, quantity=10,
                                start_date=date(2026, 3, 1), commitment_end_date=date(2027, 2, 28))
    return {"base": base, "addon": addon, "e3": e3, "e5": e5, "customer": customer}


@pytest.fixture
def sales(make_member, partner_a):
    return make_member(partner_a, Role.SALES_AGENT)


@pytest.fixture
def upgraded(world):
    changes.subscription_upgrade(subscription=world["base"], target_sku=world["e5"], acting_user=None)
    reload(world["addon"])
    return world


# --- Align ----------------------------------------------------------------------------------


def test_align_page_lists_month_ends_and_other_subscriptions_end_dates(world, sales, partner_a):
    other = SubscriptionFactory(partner=partner_a, customer=world["customer"], friendly_name="Project Plan",
                                start_date=date(2026, 1, 1), commitment_end_date=date(2027, 12, 31))
    SubscriptionFactory(partner=partner_a, customer=world["customer"], friendly_name="Monthly Visio",
                        term_duration="P1M", start_date=date(2026, 3, 10), commitment_end_date=date(2027, 10, 9))
    response = sales.get(url("align", world["addon"]))
    assert response.status_code == 200
    body = response.content.decode()
    assert '<option value="" selected>' in body  # "No alignment"
    assert "No alignment" in body
    assert '<option value="2027-03-31"' in body and "End of month (Mar 31, 2027)" in body
    assert '<option value="2027-12-31"' in body and "Same end date as Project Plan (Dec 31, 2027)" in body
    assert other.pk
    # An annual term never aligns with a monthly subscription.
    assert "2027-10-09" not in body and "Monthly Visio" not in body
    # The current term's end is not a choice: the alignment applies from the next term.
    assert '<option value="2027-02-28"' not in body


def test_align_post_sets_the_next_term_end_date(world, sales):
    response = sales.post(url("align", world["addon"]), {"end_date": "2027-03-31"})
    assert response.status_code == 303
    assert response["Location"] == url("detail", world["addon"])
    assert reload(world["addon"]).next_term_end_date == date(2027, 3, 31)
    page = sales.get(response["Location"]).content.decode()
    assert "Mar 31, 2027" in page  # the success message


def test_align_post_empty_removes_the_alignment(world, sales):
    world["addon"].next_term_end_date = date(2027, 3, 31)
    world["addon"].save()
    response = sales.post(url("align", world["addon"]), {"end_date": ""})
    assert response.status_code == 303
    assert reload(world["addon"]).next_term_end_date is None


def test_align_to_a_date_not_in_the_list_is_refused_with_10017(world, sales):
    response = sales.post(url("align", world["addon"]), {"end_date": "2027-03-14"})
    assert response.status_code == 422
    body = response.content.decode()
    assert str(changes.END_DATE_NOT_ALLOWED % {"date": date(2027, 3, 14)}) in body
    assert "10017" in body
    assert reload(world["addon"]).next_term_end_date is None


def test_align_with_an_unreadable_date_is_refused(world, sales):
    response = sales.post(url("align", world["addon"]), {"end_date": "next year"})
    assert response.status_code == 422
    assert reload(world["addon"]).next_term_end_date is None


def test_align_needs_auto_renew(world, sales):
    addon = world["addon"]
    addon.auto_renew_enabled = False
    addon.save()
    page = sales.get(url("align", addon)).content.decode()
    assert str(changes.ALIGN_NEEDS_AUTO_RENEW) in page
    response = sales.post(url("align", addon), {"end_date": "2027-03-31"})
    assert response.status_code == 422
    assert str(changes.ALIGN_NEEDS_AUTO_RENEW) in response.content.decode()
    assert reload(addon).next_term_end_date is None


def test_align_htmx_get_is_the_panel_and_a_refusal_is_retargeted_into_the_flyout(world, sales):
    response = sales.get(url("align", world["addon"]), headers=HTMX)
    assert response.status_code == 200
    assert b"<html" not in response.content and b'data-testid="subscription-align"' in response.content
    refused = sales.post(url("align", world["addon"]), {"end_date": "2027-03-14"}, headers=HTMX)
    assert refused.status_code == 422
    assert refused["HX-Retarget"] == "#flyout-body"


def test_misalignment_warning_links_to_the_align_page(world, sales):
    world["base"].commitment_end_date = date(2026, 9, 30)
    world["base"].save()
    page = sales.get(url("detail", world["addon"])).content.decode()
    assert f'href="{url("align", world["addon"])}"' in page
    align = sales.get(url("align", world["addon"])).content.decode()
    assert 'data-testid="misalignment-warning"' in align and "Sep 30, 2026" in align


def test_misalignment_warning_offers_to_align_the_base_with_the_add_on(world, sales):
    # The add-on's own alignment only moves its next term (after 2027-02-28): the base, ending
    # on 2026-09-30, is the one to align, its next term ending with the add-on.
    world["base"].commitment_end_date = date(2026, 9, 30)
    world["base"].save()
    page = sales.get(url("detail", world["addon"])).content.decode()
    link = f'{url("align", world["base"])}?end_date=2027-02-28'
    assert 'data-testid="align-base-link"' in page and f'href="{link}"' in page
    assert f'href="{link}"' in sales.get(url("align", world["addon"])).content.decode()

    align = sales.get(link).content.decode()
    assert '<option value="2027-02-28" selected>' in align
    assert sales.post(url("align", world["base"]), {"end_date": "2027-02-28"}).status_code == 303
    assert reload(world["base"]).next_term_end_date == date(2027, 2, 28)
    detail = sales.get(url("detail", world["base"])).content.decode()
    assert 'data-testid="next-term-end"' in detail and "None scheduled" not in detail

    # Issue 13 defect 3: with the base's next term ending with it, the add-on no longer
    # outlives its base, on its page and in the list.
    addon_page = sales.get(url("detail", world["addon"])).content.decode()
    assert 'data-testid="misalignment-warning"' not in addon_page
    listed = sales.get(reverse("subscriptions:subscription_list"), {"customer": str(world["customer"].tenant_id)})
    assert 'data-flag="outlives-base"' not in listed.content.decode()


def test_a_scheduled_alignment_without_auto_renew_does_not_hide_the_warning(world, sales):
    world["base"].commitment_end_date = date(2026, 9, 30)
    world["base"].next_term_end_date = date(2027, 2, 28)
    world["base"].auto_renew_enabled = False  # the base will not renew: its alignment never happens
    world["base"].save()
    assert 'data-testid="misalignment-warning"' in sales.get(url("detail", world["addon"])).content.decode()


def test_align_page_ignores_a_proposed_date_that_is_not_offered(world, sales):
    align = sales.get(f'{url("align", world["addon"])}?end_date=2027-03-14').content.decode()
    assert '<option value="" selected>' in align and '<option value="2027-03-14"' not in align


# --- Upgrade --------------------------------------------------------------------------------


def test_upgrade_page_shows_targets_prices_charge_and_redundant_add_ons(world, sales):
    response = sales.get(url("upgrade", world["base"]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Office 365 E5" in body
    assert f'value="{world["e5"].pk}"' in body
    assert "$38.00 per seat" in body
    # (38 - 23) × 10 seats for 16 of March's 31 days, as the service will charge.
    assert "$77.41" in body and "16 of the 31 days" in body
    assert 'data-testid="upgrade-redundant"' in body and "Teams Phone Standard" in body


def test_upgrade_target_without_a_price_cannot_be_chosen(world, sales):
    world["e3"].upgrade_targets.add(SkuFactory(title="Microsoft 365 E5"))
    body = sales.get(url("upgrade", world["base"])).content.decode()
    assert 'data-testid="upgrade-no-price"' in body


def test_upgrade_post_converts_and_lists_the_redundant_add_on(world, sales):
    response = sales.post(url("upgrade", world["base"]), {"target": world["e5"].pk}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == url("detail", world["base"])
    base = reload(world["base"])
    assert base.sku == world["e5"]
    convert = base.charge_events.get(charge_type=ChargeType.CONVERT)
    assert convert.amount == Decimal("77.41")
    body = response.content.decode()
    assert "Teams Phone Standard" in body and "Apr 30, 2026" in body
    addon = reload(world["addon"])
    assert addon.made_redundant_by == base and addon.redundant_since is not None


def test_upgrade_to_a_sku_that_is_not_a_target_is_refused(world, sales):
    stranger = SkuFactory(title="Visio Plan 2")
    response = sales.post(url("upgrade", world["base"]), {"target": stranger.pk})
    assert response.status_code == 422
    body = response.content.decode()
    assert str(changes.NOT_AN_UPGRADE_TARGET % {"target": "Visio Plan 2", "source": "Office 365 E3"}) in body
    assert reload(world["base"]).sku == world["e3"]
    assert not world["base"].charge_events.filter(charge_type=ChargeType.CONVERT).exists()


@pytest.mark.parametrize("target", ["", "abc", "999999"])
def test_upgrade_without_a_valid_target_is_refused(world, sales, target):
    response = sales.post(url("upgrade", world["base"]), {"target": target})
    assert response.status_code == 422
    assert reload(world["base"]).sku == world["e3"]


def test_redundant_add_on_shows_the_deadline_on_its_page(upgraded, sales):
    body = sales.get(url("detail", upgraded["addon"])).content.decode()
    assert 'data-testid="redundant-addon"' in body
    assert "Made redundant by the upgrade to Office 365 E5 on Mar 16, 2026." in body  # issue 13 defect 8: "to", not "of"
    assert "Request its removal by Apr 30, 2026." in body
    assert f'href="{url("removal_request", upgraded["addon"])}"' in body


def test_redundant_add_on_page_says_when_the_deadline_passed(upgraded, sales):
    traveller = later(sales, datetime(2026, 5, 1, 8, tzinfo=dt_timezone.utc))
    try:
        body = sales.get(url("detail", upgraded["addon"])).content.decode()
    finally:
        traveller.stop()
    assert "The deadline passed on Apr 30, 2026." in body
    assert f'href="{url("removal_request", upgraded["addon"])}"' not in body


# --- Removal request ------------------------------------------------------------------------


def test_removal_page_shows_the_add_on_the_base_and_the_deadline(upgraded, sales):
    response = sales.get(url("removal_request", upgraded["addon"]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Teams Phone Standard" in body
    assert f'href="{url("detail", upgraded["base"])}"' in body
    assert "Apr 30, 2026" in body and 'data-testid="removal-form"' in body


def test_removal_request_on_the_last_day_is_accepted(upgraded, sales):
    addon = upgraded["addon"]
    traveller = later(sales, datetime(2026, 4, 30, 23, tzinfo=dt_timezone.utc))
    try:
        response = sales.post(url("removal_request", addon))
        body = sales.get(url("detail", addon)).content.decode()
    finally:
        traveller.stop()
    assert response.status_code == 303
    request = AddonRemovalRequest.objects.get(subscription=addon)
    assert request.deadline == date(2026, 4, 30) and request.raised_by == sales.user
    assert 'data-testid="removal-request-status"' in body and "Apr 30, 2026" in body


def test_removal_request_after_the_deadline_is_refused(upgraded, sales):
    traveller = later(sales, datetime(2026, 5, 1, 8, tzinfo=dt_timezone.utc))
    try:
        page = sales.get(url("removal_request", upgraded["addon"])).content.decode()
        response = sales.post(url("removal_request", upgraded["addon"]))
    finally:
        traveller.stop()
    assert "The deadline passed on Apr 30, 2026" in page
    assert response.status_code == 422
    assert str(changes.REMOVAL_DEADLINE_PASSED % {"deadline": date(2026, 4, 30)}) in response.content.decode()
    assert not AddonRemovalRequest.objects.exists()


def test_removal_request_twice_is_refused(upgraded, sales):
    assert sales.post(url("removal_request", upgraded["addon"])).status_code == 303
    response = sales.post(url("removal_request", upgraded["addon"]))
    assert response.status_code == 422
    assert str(changes.REMOVAL_ALREADY_RAISED) in response.content.decode()
    assert AddonRemovalRequest.objects.count() == 1


def test_removal_request_for_an_add_on_that_is_not_redundant_is_refused(world, sales):
    page = sales.get(url("removal_request", world["addon"]))
    assert page.status_code == 200 and b'data-testid="not-redundant"' in page.content
    response = sales.post(url("removal_request", world["addon"]))
    assert response.status_code == 422
    assert str(changes.NOT_REDUNDANT) in response.content.decode()


# --- Roles and scoping ----------------------------------------------------------------------


def test_billing_admin_sees_the_pages_read_only_and_cannot_post(upgraded, make_member, partner_a):
    billing = make_member(partner_a, Role.BILLING_ADMIN)
    addon, base = upgraded["addon"], upgraded["base"]
    for name, sub in (("align", addon), ("upgrade", base), ("removal_request", addon)):
        page = billing.get(url(name, sub))
        assert page.status_code == 200 and b'data-testid="read-only-reason"' in page.content
    assert billing.post(url("align", addon), {"end_date": "2027-03-31"}).status_code == 403
    assert billing.post(url("upgrade", base), {"target": upgraded["e5"].pk}).status_code == 403
    assert billing.post(url("removal_request", addon)).status_code == 403
    assert reload(addon).next_term_end_date is None
    assert not AddonRemovalRequest.objects.exists()


def test_reseller_of_record_cannot_change_the_providers_subscription(frozen, provider, reseller, make_member, customer_of):
    e5 = SkuFactory(included_services=["TeamsPhone"])
    e3 = SkuFactory()
    e3.upgrade_targets.add(e5)
    sub = SubscriptionFactory(partner=provider, reseller=reseller, customer=customer_of(provider, reseller=reseller), sku=e3)
    client = make_member(reseller, Role.GLOBAL_ADMIN)
    assert client.get(url("upgrade", sub)).status_code == 200
    assert client.post(url("upgrade", sub), {"target": e5.pk}).status_code == 403
    assert client.post(url("align", sub), {"end_date": ""}).status_code == 403
    assert reload(sub).sku == e3


@pytest.mark.parametrize("name", ["align", "upgrade", "removal_request"])
def test_another_partners_subscription_is_not_found(upgraded, make_member, partner_b, name):
    outsider = make_member(partner_b, Role.GLOBAL_ADMIN)
    sub = upgraded["base"] if name == "upgrade" else upgraded["addon"]
    for headers in ({}, HTMX):
        assert outsider.get(url(name, sub), headers=headers).status_code == 404
        assert outsider.post(url(name, sub), {"target": upgraded["e5"].pk, "end_date": ""}, headers=headers).status_code == 404
    assert reload(upgraded["addon"]).next_term_end_date is None
    assert not AddonRemovalRequest.objects.exists()


def test_audit_trail_speaks_peoples_words_and_links_subscriptions(upgraded, sales):
    """Issue 13 defect 8: the trail showed ``subscription.removal_request`` and
    ``upgradedSubscription: — → <uuid>``; it names actions and fields in words and the
    upgraded subscription by its name, linked."""
    base, addon = upgraded["base"], upgraded["addon"]
    sales.post(url("removal_request", addon))

    addon_page = sales.get(url("detail", addon)).content.decode()
    base_page = sales.get(url("detail", base)).content.decode()

    trail = addon_page.split('data-testid="audit-trail"')[1]
    assert "Removal of the redundant add-on requested" in trail and "subscription.removal_request" not in trail
    assert "upgrade to:" in trail and "upgradedSubscription" not in trail
    assert f'<a href="{url("detail", base)}">{base.friendly_name or "Office 365 E5"}</a>' in trail
    assert str(base.pk) not in trail.replace(url("detail", base), "")
    base_trail = base_page.split('data-testid="audit-trail"')[1]
    assert "Upgraded" in base_trail and "add-ons made redundant:" in base_trail
    assert f'<a href="{url("detail", addon)}">' in base_trail and "redundantAddons" not in base_trail
