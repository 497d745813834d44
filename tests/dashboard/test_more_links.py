"""The dashboard's "there are more of" line: each kind with more items than are shown links to
a page that lists them all, filtered to that kind (SPEC §11), scoped as the page's own list;
the page shows the very rows the dashboard's selector counts as that kind."""

import datetime as dt
import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing import selectors as billing_selectors
from catalog.models import AZURE_PLAN_PRODUCT_ID
from dashboard.items import PER_KIND
from overage import selectors as overage_selectors
from portal.models import Role
from subscriptions import selectors_attention
from subscriptions.models import SeatChangeKind
from subscriptions.periods import add_months
from tests.dashboard import scenario
from tests.factories.catalog import ProductFactory, SkuFactory
from tests.factories.subscriptions import SeatChangeFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db

ALL = 100  # a limit above every row of the tests: the selectors' whole lists


def more_links(response):
    """The footer's links as ``[(kind, url)]``."""
    page = response.content.decode()
    more = re.search(r'data-testid="todo-more">(.*?)</div>', page, re.S).group(1)
    return [(kind, html.unescape(url)) for url, kind in re.findall(r'<a href="([^"]+)" data-kind="([a-z_]+)">', more)]


def subscription_ids(client, url):
    page = client.get(url).content.decode()
    return set(re.findall(r'data-testid="subscription-row" data-subscription-id="([^"]+)"', page))


def customer_tenant_ids(client, url):
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    table = page[page.index('data-testid="customer-table"'):page.index("</table>")]
    return set(re.findall(r'href="/customers/([0-9a-f-]{36})/"', table))


def blocked_names(client, url):
    page = client.get(url).content.decode()
    table = page[page.index('data-testid="blocked-table"'):]
    table = table[:table.index("</table>")]
    return set(html.unescape(name) for name in re.findall(r'<td><a href="[^"]+">([^<]+)</a></td>', table))


@pytest.fixture
def busy(partner_a, partner_b):
    """More than ``PER_KIND`` rows of every kind for partner A (and blocked calls last month
    too), rows of every kind for partner B, and rows of A that a list filtering less well would
    show: seats of a closing window already removed, an Azure plan ending soon with auto-renew
    off (no licence: not expiring)."""
    scenario.build(partner_a, PER_KIND + 1)
    scenario.build(partner_b, 2)
    today = timezone.localdate()
    last_month = add_months(today.replace(day=1), -1)
    for customer in [scenario.capable_customer(partner_a) for _ in range(2)]:
        scenario.blocked_calls(customer, month=last_month)
    # Seats whose window closes soon, all removed already: no closing window.
    emptied = scenario.closing_window(partner_a, now=timezone.now(), quantity=3)
    SeatChangeFactory(subscription=emptied, kind=SeatChangeKind.REDUCE, delta=-3, quantity_after=0,
                      occurred_at=timezone.now() - dt.timedelta(hours=1), refundable_until=None)
    plan = SkuFactory(product=ProductFactory(id=AZURE_PLAN_PRODUCT_ID))
    SubscriptionFactory(partner=partner_a, sku=plan, auto_renew_enabled=False,
                        commitment_end_date=today + dt.timedelta(days=5))
    return partner_a


def test_each_kind_with_more_links_to_a_page_with_all_its_rows(make_member, busy):
    partner = busy
    client = make_member(partner, Role.GLOBAL_ADMIN)
    links = more_links(client.get("/"))
    # Every kind is linked; blocked calls once per month of the dashboard.
    assert sorted({kind for kind, _url in links}) == sorted(["window_closing", "blocked_calls", "removal_request",
                                                            "ending_no_renew", "overage_off", "auto_recharge",
                                                            "addon_outlives_base"])
    urls = dict(links)
    today = timezone.localdate()

    expected = {
        "window_closing": {str(row.subscription.pk)
                           for row in selectors_attention.seat_windows_closing(partner=partner, limit=ALL)},
        "removal_request": {str(request.subscription_id)
                            for request in selectors_attention.open_removal_requests(partner=partner, limit=ALL)},
        "ending_no_renew": {str(subscription.pk) for subscription in
                            selectors_attention.ending_without_auto_renew(partner=partner, today=today, limit=ALL)},
        "addon_outlives_base": {str(addon.pk) for addon in
                                selectors_attention.addons_outliving_base(partner=partner, today=today, limit=ALL)},
    }
    for kind, rows in expected.items():
        assert len(rows) == PER_KIND + 1, kind
        assert subscription_ids(client, urls[kind]) == rows, kind

    off = overage_selectors.customers_with_overage_off(partner=partner, limit=ALL)
    assert len(off) == PER_KIND + 3
    assert customer_tenant_ids(client, urls["overage_off"]) == {str(customer.tenant_id) for customer in off}
    recharging = billing_selectors.auto_recharge_blocking_postpaid(partner=partner, limit=ALL)
    assert len(recharging) == PER_KIND + 1
    assert customer_tenant_ids(client, urls["auto_recharge"]) == {str(a.customer.tenant_id) for a in recharging}

    this_month = today.replace(day=1)
    month_urls = [url for kind, url in links if kind == "blocked_calls"]
    for month, url in zip([this_month, add_months(this_month, -1)], month_urls, strict=True):
        assert url.endswith(f"?month={month:%Y-%m}")
        rows = billing_selectors.blocked_calls_in_months(partner=partner, months=[month], limit=ALL)
        assert len(rows) == (PER_KIND + 1 if month == this_month else 2)
        assert blocked_names(client, url) == {row["customer_name"] for row in rows}


def test_the_links_keep_the_lists_scoping(make_member, busy, partner_b):
    links = dict(more_links(make_member(busy, Role.GLOBAL_ADMIN).get("/")))
    other = make_member(partner_b, Role.GLOBAL_ADMIN)
    for kind in ["window_closing", "removal_request", "ending_no_renew", "addon_outlives_base"]:
        assert len(subscription_ids(other, links[kind])) == 2, kind
    for kind in ["overage_off", "auto_recharge"]:
        assert len(customer_tenant_ids(other, links[kind])) == 2, kind


def test_a_member_who_may_not_see_billing_gets_no_billing_links(make_member, busy):
    client = make_member(busy, Role.HELPDESK_AGENT)
    links = dict(more_links(client.get("/")))
    assert "auto_recharge" not in links and "blocked_calls" not in links
    assert "overage_off" in links
    page = client.get("/").content.decode()
    assert "Auto-recharge" in re.sub(r"<[^>]+>", "", page[page.index('data-testid="todo-more"'):])
    assert client.get("/billing/credits/auto-recharge/").status_code == 403


@pytest.mark.parametrize("url", ["/overage/customers/overage-off/", "/billing/credits/auto-recharge/"])
def test_the_filtered_customer_lists_read_as_few_queries_as_the_whole_list(make_member, busy, url):
    client = make_member(busy, Role.GLOBAL_ADMIN)
    client.get("/customers/")
    with CaptureQueriesContext(connection) as whole:
        client.get("/customers/")
    with CaptureQueriesContext(connection) as filtered:
        page = client.get(url).content.decode()
    assert len(filtered.captured_queries) == len(whole.captured_queries)
    assert 'data-testid="customer-list-filter"' in page
    assert f'action="{url}"' in page  # a search keeps the filter


def test_the_subscription_filters_show_when_set(make_member, busy):
    client = make_member(busy, Role.GLOBAL_ADMIN)
    plain = client.get("/subscriptions/").content.decode()
    assert not re.search(r'name="(window_closing|expiring|outlives_base|removal_requested)"', plain)
    for name in ["window_closing", "expiring", "outlives_base", "removal_requested"]:
        page = client.get(f"/subscriptions/?{name}=true").content.decode()
        assert re.search(rf'<input type="checkbox" name="{name}"[^>]* checked', page), name
