"""Every usage line is traceable to its calls (issue 10): a page and a CSV per line, and in
the API each usage line item's ``links.calls.uri``. The calls' post-paid amounts, truncated by
the usage formula, are the line's Subtotal to the cent, for every usage line of the demo
month; another partner gets 404."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from billing.services import rating
from billing.services.rating_finalize import billing_month_finalize
from billing.reconciliation_selectors import reconciliation_lines
from billing.usage_lines import line_subtotal, usage_line_calls, usage_line_key
from portal.models import Partner, Role
from tests.billing.test_demo_golden import DEMO_MONTH, demo  # noqa: F401 - the demo fixture
from tests.factories import (
    AzurePlanFactory,
    AzureSubscriptionFactory,
    MembershipFactory,
    OverageAssignmentFactory,
    RateFactory,
    UsageRecordFactory,
)

UTC = dt.UTC


def usage_lines(partner, month):
    return [(row, usage_line_key(month, row)) for row in reconciliation_lines(partner=partner, month=month)
            if row["ChargeType"] == "usage"]


@pytest.mark.django_db
def test_every_usage_line_of_the_demo_month_adds_up_to_its_calls_to_the_cent(demo):  # noqa: F811
    checked = 0
    for partner in Partner.objects.order_by("pk"):
        for row, key in usage_lines(partner, DEMO_MONTH):
            calls = usage_line_calls(partner=partner, key=key)
            assert calls.exists(), row
            assert line_subtotal(calls) == Decimal(row["Subtotal"]), row
            assert sum(call.postpaid_minutes for call in calls) == int(row["BillableQuantity"])
            checked += 1
    assert checked > 0


def _login(client, partner, role=Role.BILLING_ADMIN):
    client.force_login(MembershipFactory(partner=partner, roles=[role]).user)
    return client


@pytest.mark.django_db
def test_the_calls_page_and_csv_of_a_demo_usage_line(demo, client, django_assert_num_queries):  # noqa: F811
    partner = next(p for p in Partner.objects.order_by("pk") if usage_lines(p, DEMO_MONTH))
    row, key = max(usage_lines(partner, DEMO_MONTH), key=lambda item: int(item[0]["BillableQuantity"]))
    _login(client, partner)
    page = client.get(reverse("billing:reconciliation", args=[f"{DEMO_MONTH:%Y-%m}"]), {"charge_type": "usage"})
    url = reverse("billing:usage_line_calls", args=[f"{DEMO_MONTH:%Y-%m}", str(key)])
    assert url.encode() in page.content  # the line links to its calls
    client.get(url)  # warm the session
    # session, user, membership + partner, exists, count, page of calls (customer, subscription and
    # assignment interval joined in), the line's amounts: fixed for any number of calls.
    with django_assert_num_queries(7):
        response = client.get(url)
    assert response.status_code == 200
    assert f'data-testid="line-subtotal">{row["Subtotal"]}<'.encode() in response.content
    csv_response = client.get(reverse("billing:usage_line_calls_csv", args=[f"{DEMO_MONTH:%Y-%m}", str(key)]))
    rows = list(csv.DictReader(io.StringIO(b"".join(csv_response.streaming_content).decode())))
    assert sum(int(r["postpaid_minutes"]) for r in rows) == int(row["BillableQuantity"])
    assert all(r["overage_from"] for r in rows)  # each call fell in an assignment interval


@pytest.mark.django_db
def test_another_partner_gets_404_for_the_page_the_csv_and_the_api(demo, client, api_client):  # noqa: F811
    owner = next(p for p in Partner.objects.order_by("pk") if usage_lines(p, DEMO_MONTH))
    _row, key = usage_lines(owner, DEMO_MONTH)[0]
    other = Partner.objects.exclude(pk=owner.pk).exclude(kind="indirect_reseller").first()
    _login(client, other)
    month = f"{DEMO_MONTH:%Y-%m}"
    assert client.get(reverse("billing:usage_line_calls", args=[month, str(key)])).status_code == 404
    assert client.get(reverse("billing:usage_line_calls_csv", args=[month, str(key)])).status_code == 404
    response = api_client(other, Role.BILLING_ADMIN).get(f"/v1/reconciliation/{month}/usagelines/{key}/calls")
    assert response.status_code == 404
    for bad in ("nonsense", f"{key}x", str(key).replace(month, "2999-01")):
        assert client.get(reverse("billing:usage_line_calls", args=[month, bad])).status_code == 404


@pytest.mark.django_db
def test_api_usage_line_items_link_to_their_calls_in_collection_shape(demo, api_client):  # noqa: F811
    partner = next(p for p in Partner.objects.order_by("pk") if usage_lines(p, DEMO_MONTH))
    client = api_client(partner, Role.BILLING_ADMIN)
    items = client.get(f"/v1/reconciliation/{DEMO_MONTH:%Y-%m}/lineitems").json()["items"]
    usage = [item for item in items if item["chargeType"] == "usage"]
    assert usage and all(item["links"]["calls"]["uri"].startswith("/v1/reconciliation/") for item in usage)
    assert all(item.get("links") is None for item in items if item["chargeType"] != "usage")
    item = usage[0]
    body = client.get(item["links"]["calls"]["uri"], {"size": 2}).json()
    assert body["attributes"] == {"objectType": "Collection"}
    assert body["items"][0]["attributes"] == {"objectType": "RatedCall"}
    minutes, uri, seen = 0, item["links"]["calls"]["uri"] + "?size=2", 0
    while uri:  # every page, through links.next
        body = client.get(uri).json()
        minutes += sum(call["postpaidMinutes"] for call in body["items"])
        seen += len(body["items"])
        uri = body["links"].get("next", {}).get("uri") if body["links"].get("next") else None
    assert seen == body["totalCount"] and minutes == int(item["billableQuantity"])


@pytest.mark.django_db
def test_a_late_calls_adjustment_line_lists_the_late_calls(partner_a, customer_of, client):
    customer = customer_of(partner_a, country="US")
    RateFactory(destination_country="US", number_type="landline", currency="USD", unit_price=Decimal("0.02"),
                effective_from=dt.date(2025, 1, 1))
    plan = AzurePlanFactory(customer=customer, partner=partner_a)
    OverageAssignmentFactory(customer=customer, partner=partner_a, azure_subscription=AzureSubscriptionFactory(plan=plan),
                             started_at=dt.datetime(2026, 8, 1, tzinfo=UTC))
    UsageRecordFactory(customer=customer, started_at=dt.datetime(2026, 8, 5, tzinfo=UTC), duration_seconds=120)
    with time_machine.travel(dt.datetime(2026, 10, 2, tzinfo=UTC), tick=False):
        rating.rate_month(month=dt.date(2026, 8, 1))
        billing_month_finalize(month=dt.date(2026, 8, 1))
        late = UsageRecordFactory(record_id="late-one", customer=customer,
                                  started_at=dt.datetime(2026, 8, 20, tzinfo=UTC), duration_seconds=300)
        UsageRecordFactory(customer=customer, started_at=dt.datetime(2026, 9, 3, tzinfo=UTC), duration_seconds=60)
        rating.rate_month(month=dt.date(2026, 9, 1))
    lines = usage_lines(partner_a, dt.date(2026, 9, 1))
    adjustment = [key for row, key in lines if key.is_adjustment]
    assert len(lines) == 2 and len(adjustment) == 1
    _login(client, partner_a)
    response = client.get(reverse("billing:usage_line_calls", args=["2026-09", str(adjustment[0])]))
    assert response.status_code == 200 and late.record_id.encode() in response.content
    assert b"late calls of August 2026" in response.content
