"""The dashboard page at ``/``: the to-do list in order of urgency, each item naming its
customer and linking where it is fixed; what each role may act on (SPEC §2); scoping; the
empty state; a query count that does not grow with the rows."""

import datetime as dt
import io
import re
import uuid

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from dashboard.items import PER_KIND
from portal.models import Membership, Role
from subscriptions.periods import add_months
from tests.dashboard import scenario
from tests.factories.portal import CustomerFactory
from tests.factories.subscriptions import SubscriptionFactory

pytestmark = pytest.mark.django_db

ALPINE = uuid.UUID("11111111-1111-4111-8111-111111111111")
FOURTH_COFFEE = uuid.UUID("55555555-5555-4555-8555-555555555555")


def items(response):
    """The to-do items as (kind, customer) in page order."""
    html = response.content.decode()
    return re.findall(r'data-testid="todo-item" data-kind="([a-z_]+)" data-customer="([^"]*)"', html)


def item_html(response, kind, customer):
    html = response.content.decode()
    start = html.index(f'data-kind="{kind}" data-customer="{customer}"')
    return html[start:html.index("</li>", start)]


def test_dashboard_needs_a_login(client):
    response = client.get(reverse("dashboard:home"))
    assert response.status_code == 302
    assert reverse("login") in response.url


def test_dashboard_is_the_root_address():
    assert reverse("dashboard:home") == "/"


def test_dashboard_only_reads_a_post_is_405(make_member, partner_a):
    assert make_member(partner_a).post(reverse("dashboard:home")).status_code == 405


def test_empty_dashboard_says_nothing_needs_attention(make_member, partner_a):
    response = make_member(partner_a).get("/")
    assert response.status_code == 200
    assert items(response) == []
    assert 'data-testid="todo-empty"' in response.content.decode()


def test_items_come_most_urgent_first_and_link_where_they_are_fixed(make_member, partner_a):
    now = timezone.now()
    window = scenario.closing_window(partner_a, now=now, customer=CustomerFactory(partner=partner_a, name="Window Co"))
    addon = scenario.outliving_addon(partner_a, CustomerFactory(partner=partner_a, name="Addon Co"))
    capable = scenario.capable_customer(partner_a, name="Overage Co")
    scenario.blocked_calls(capable, month=timezone.localdate().replace(day=1))
    response = make_member(partner_a, Role.ADMIN_AGENT).get("/")
    assert items(response) == [
        ("window_closing", "Window Co"),
        ("blocked_calls", "Overage Co"),
        ("overage_off", "Overage Co"),
        ("addon_outlives_base", "Addon Co"),
    ]
    assert reverse("subscriptions:subscription_detail", args=[window.pk]) in item_html(response, "window_closing", "Window Co")
    assert reverse("subscriptions:subscription_detail", args=[addon.pk]) in item_html(response, "addon_outlives_base", "Addon Co")
    overage = item_html(response, "overage_off", "Overage Co")
    assert f'hx-get="{reverse("overage:manage", args=[capable.tenant_id])}"' in overage
    assert reverse("portal:customer_detail", args=[capable.tenant_id]) in overage


def test_another_partners_items_never_show(make_member, partner_a, partner_b):
    scenario.build(partner_b, 2)
    response = make_member(partner_a).get("/")
    assert items(response) == []


def test_sales_agent_sees_overage_items_read_only_with_the_reason(make_member, partner_a):
    customer = scenario.capable_customer(partner_a, name="Overage Co")
    html = item_html(make_member(partner_a, Role.SALES_AGENT).get("/"), "overage_off", "Overage Co")
    assert "hx-get" not in html
    assert reverse("overage:manage", args=[customer.tenant_id]) not in html
    assert "disabled" in html
    assert "Only admin agents and global admins can manage overage." in html


def test_admin_agent_may_open_manage_overage(make_member, partner_a):
    customer = scenario.capable_customer(partner_a, name="Overage Co")
    html = item_html(make_member(partner_a, Role.ADMIN_AGENT).get("/"), "overage_off", "Overage Co")
    assert f'hx-get="{reverse("overage:manage", args=[customer.tenant_id])}"' in html
    assert "disabled" not in html


def test_billing_admin_sees_charges_and_subscription_items_read_only(make_member, partner_a):
    scenario.build(partner_a, 1)
    response = make_member(partner_a, Role.BILLING_ADMIN).get("/")
    html = response.content.decode()
    assert 'data-testid="charges"' in html
    kinds = {kind for kind, _customer in items(response)}
    assert {"blocked_calls", "window_closing", "ending_no_renew"} <= kinds
    for kind in ("window_closing", "ending_no_renew", "removal_request", "addon_outlives_base"):
        [customer] = [c for k, c in items(response) if k == kind][:1]
        assert "Only global admins, admin agents and sales agents can buy and change subscriptions." in item_html(
            response, kind, customer
        )


def test_helpdesk_agent_sees_no_billing_figures(make_member, partner_a):
    scenario.build(partner_a, 1)
    response = make_member(partner_a, Role.HELPDESK_AGENT).get("/")
    kinds = {kind for kind, _customer in items(response)}
    assert "blocked_calls" not in kinds
    assert 'data-testid="charges"' not in response.content.decode()
    assert "window_closing" in kinds  # every role sees subscriptions (read-only here)


def test_reseller_sees_its_customers_items_read_only(make_member, provider, reseller):
    customer = scenario.capable_customer(provider, reseller=reseller, name="Resold Co")
    response = make_member(reseller, Role.ADMIN_AGENT).get("/")
    html = item_html(response, "overage_off", "Resold Co")
    assert reverse("overage:manage", args=[customer.tenant_id]) not in html
    assert provider.name in html  # "ask your indirect provider (…)"


@pytest.mark.parametrize("n", [1, 3])
def test_dashboard_query_count_does_not_grow_with_rows(make_member, partner_a, n, django_assert_num_queries):
    scenario.build(partner_a, n)
    client = make_member(partner_a, Role.GLOBAL_ADMIN)
    client.get("/")  # warm the session and the membership lookups' caches alike for both runs
    # Session, user, membership; 2 for closing windows, 1 each for blocked calls, removal
    # requests, expiring, overage off, auto-recharge and add-ons (as transacting partner: the
    # partner's kind says so); 4 for the charges of both months (3 + 2 + 6 + 4).
    with django_assert_num_queries(15):
        response = client.get("/")
    assert len(items(response)) == 7 * n


def test_each_kind_lists_its_most_urgent_items_and_the_page_says_which_kinds_have_more(make_member, partner_a):
    scenario.build(partner_a, PER_KIND + 1)
    response = make_member(partner_a, Role.GLOBAL_ADMIN).get("/")
    listed = items(response)
    kinds = ["window_closing", "blocked_calls", "removal_request", "ending_no_renew", "overage_off", "auto_recharge",
             "addon_outlives_base"]
    assert {kind: sum(1 for k, _customer in listed if k == kind) for kind in kinds} == dict.fromkeys(kinds, PER_KIND)
    more = re.search(r'data-testid="todo-more">(.*?)</div>', response.content.decode()).group(1)
    words = re.sub(r"<[^>]+>", "", more)  # each kind links to its list (tests/dashboard/test_more_links.py)
    assert f"Only the {PER_KIND} most urgent items of each kind are listed" in words
    assert re.search(r"there are more of: 168-hour window, Blocked calls \([^)]+\), Removal request, Expiring, "
                     r"Overage off, Auto-recharge, Add-on outlives base\.", words)


def test_a_list_within_the_limit_says_nothing_of_more(make_member, partner_a):
    scenario.build(partner_a, PER_KIND)
    response = make_member(partner_a, Role.GLOBAL_ADMIN).get("/")
    assert len(items(response)) == 7 * PER_KIND
    assert 'data-testid="todo-more"' not in response.content.decode()


def test_item_words_are_escaped_like_any_value(make_member, partner_a):
    customer = CustomerFactory(partner=partner_a, name="Tom & <b>Jerry</b>")
    SubscriptionFactory(partner=partner_a, customer=customer, friendly_name="<script>x</script> Suite",
                        auto_renew_enabled=False, commitment_end_date=timezone.localdate() + dt.timedelta(days=10))
    response = make_member(partner_a, Role.GLOBAL_ADMIN).get("/")
    html = item_html(response, "ending_no_renew", "Tom &amp; &lt;b&gt;Jerry&lt;/b&gt;")
    assert "&lt;script&gt;x&lt;/script&gt; Suite ×" in html
    assert "<script>x" not in response.content.decode()


def test_demo_dashboards_show_alpines_blocked_calls_and_fourth_coffees_auto_recharge(client):
    call_command("seed_demo", stdout=io.StringIO())
    client.force_login(Membership.objects.get(user__email="ada@contoso.example").user)
    response = client.get("/")
    listed = items(response)
    assert ("blocked_calls", "Alpine Ski House") in listed
    assert ("overage_off", "Alpine Ski House") in listed
    assert "705 calls blocked last month" in item_html(response, "blocked_calls", "Alpine Ski House")

    client.force_login(Membership.objects.get(user__email="admin@fabrikam.example").user)
    response = client.get("/")
    assert ("auto_recharge", "Fourth Coffee") in items(response)
    assert reverse("billing:credits", args=[FOURTH_COFFEE]) in item_html(response, "auto_recharge", "Fourth Coffee")


def test_the_auto_recharge_item_shows_the_threshold_as_money_in_the_readers_language(make_member, partner_a):
    from decimal import Decimal

    from tests.factories import CreditAccountFactory

    customer = scenario.capable_customer(partner_a, name="Recharge Co")
    CreditAccountFactory(customer=customer, currency="EUR", auto_recharge=True, threshold=Decimal("1950.00"),
                         recharge_amount=Decimal("100.00"))
    member = make_member(partner_a)
    assert "€1,950.00" in item_html(member.get("/", HTTP_ACCEPT_LANGUAGE="en"), "auto_recharge", "Recharge Co")
    italian = item_html(member.get("/", HTTP_ACCEPT_LANGUAGE="it"), "auto_recharge", "Recharge Co")
    assert "1.950,00\xa0€" in italian and "1950.00" not in italian
