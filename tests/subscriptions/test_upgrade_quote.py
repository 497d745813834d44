"""One upgrade quote (issue 14): the upgrade page shows ``upgrade_quote``'s prorated convert
charge and redundant add-ons, and the service charges the same, on a grid of dates and
billing cycles (month ends, a leap day, the first and last day of a term)."""

from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from portal.models import Role
from subscriptions.models import ChargeType
from subscriptions.periods import term_end
from subscriptions.selectors_quote import upgrade_quote
from tests.factories import PriceListEntryFactory, SkuFactory, SubscriptionFactory

CYCLES = [("P1Y", "monthly"), ("P1Y", "annual"), ("P3Y", "triennial"), ("P3Y", "annual")]
STARTS = [date(2026, 1, 31), date(2028, 2, 29)]


def _day(start, term, offset):
    """``offset`` days into the term; -1 is its last day."""
    return term_end(start, term) if offset == -1 else start + timedelta(days=offset)


@pytest.mark.parametrize("term,cycle", CYCLES)
@pytest.mark.parametrize("start", STARTS)
@pytest.mark.parametrize("offset", [0, 29, -1])
def test_the_page_shows_what_the_upgrade_charges(make_member, partner_a, customer_of, term, cycle, start, offset):
    on = _day(start, term, offset)
    with time_machine.travel(datetime.combine(on, time(9), tzinfo=dt_timezone.utc), tick=False):
        customer = customer_of(partner_a, country="US")
        e5 = SkuFactory(title="Office 365 E5", included_services=["TeamsPhone"])
        e3 = SkuFactory(title="Office 365 E3", included_services=[])
        e3.upgrade_targets.add(e5)
        PriceListEntryFactory(sku=e5, market="US", currency="USD", term_duration=term, billing_plan=cycle,
                              unit_price=Decimal("38.17"), effective_start=date(2026, 1, 1))
        end = term_end(start, term)
        base = SubscriptionFactory(partner=partner_a, customer=customer, sku=e3, quantity=7, unit_price=Decimal("23.00"),
                                   term_duration=term, billing_cycle=cycle, start_date=start, commitment_end_date=end)
        addon_sku = SkuFactory(title="Teams Phone Standard", is_addon=True, included_services=["TeamsPhone"])
        addon = SubscriptionFactory(partner=partner_a, customer=customer, sku=addon_sku, quantity=7,
                                    start_date=start, commitment_end_date=end)
        client = make_member(partner_a, Role.SALES_AGENT)
        url = reverse("subscriptions:subscription_upgrade", args=[base.pk])

        [shown] = client.get(url).context["offers"]
        assert shown == upgrade_quote(base, e5, at=on)
        assert shown.charge > 0 and shown.redundant == [addon]
        response = client.post(url, {"target": e5.pk, "version": base.version})

        assert response.status_code == 303, response.content
        charge = base.charge_events.get(charge_type=ChargeType.CONVERT)
        assert (charge.amount, charge.charge_start, charge.charge_end) == (shown.charge, shown.charge_start, shown.charge_end)
        addon.refresh_from_db()
        assert addon.made_redundant_by_id == base.pk
