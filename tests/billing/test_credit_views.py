"""A customer's communication credits page: balance, auto-recharge warning, ledger, scoping."""

from datetime import datetime
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import CreditAccountFactory, CreditLedgerEntryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(partner_a, customer_of):
    account = CreditAccountFactory(customer=customer_of(partner_a, country="IT"), currency="EUR", auto_recharge=True,
                                   threshold=Decimal("20"), recharge_amount=Decimal("100"))
    CreditLedgerEntryFactory(account=account, kind="purchase", amount=Decimal("120"),
                             occurred_at=datetime(2026, 9, 1, tzinfo=dt_timezone.utc))
    CreditLedgerEntryFactory(account=account, kind="usage_draw", amount=Decimal("-7.25"),
                             occurred_at=datetime(2026, 9, 3, tzinfo=dt_timezone.utc))
    return account


def url(account):
    return reverse("billing:credits", args=[account.customer.tenant_id])


def test_billing_admin_sees_the_balance_ledger_chart_and_auto_recharge_warning(make_member, partner_a, account):
    page = make_member(partner_a, "billing_admin").get(url(account))
    assert page.status_code == 200
    body = page.content.decode()
    assert "€112.75" in body
    assert 'data-testid="auto-recharge-warning"' in body and "post-paid overage will never start" in body
    assert body.count("<tr>") >= 3 and "<svg" in body


def test_ledger_partial_for_htmx(make_member, partner_a, account):
    page = make_member(partner_a, "billing_admin").get(url(account), headers={"HX-Request": "true"})
    assert b"<html" not in page.content and b'data-testid="credit-ledger"' in page.content


def test_helpdesk_may_not_see_billing(make_member, partner_a, account):
    assert make_member(partner_a, "helpdesk_agent").get(url(account)).status_code == 403


def test_the_page_only_reads_a_post_is_405(make_member, partner_a, account):
    assert make_member(partner_a, "billing_admin").post(url(account)).status_code == 405


def test_another_partners_customer_is_not_found(make_member, partner_b, account):
    assert make_member(partner_b, "billing_admin").get(url(account)).status_code == 404


def test_a_customer_without_credits_says_so(make_member, partner_a, customer_of):
    customer = customer_of(partner_a)
    page = make_member(partner_a, "billing_admin").get(reverse("billing:credits", args=[customer.tenant_id]))
    assert page.status_code == 200 and b'data-testid="no-credits"' in page.content


def test_ledger_query_count_does_not_grow_with_entries(make_member, partner_a, account, django_assert_num_queries):
    # The ledger table, balance and chart are each one query, whatever the number of entries.
    client = make_member(partner_a, "billing_admin")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(url(account))
    for day in range(4, 28):
        CreditLedgerEntryFactory(account=account, kind="usage_draw", amount=Decimal("-0.10"),
                                 occurred_at=datetime(2026, 9, day, tzinfo=dt_timezone.utc))
    with django_assert_num_queries(len(few.captured_queries)):
        client.get(url(account))
