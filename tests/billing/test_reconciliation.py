"""The reconciliation file (SPEC §9): columns, license and cycleCharge lines, usage lines,
truncation formulas, scoping, the frozen file of a finalized month, and the golden file."""

import csv
import datetime as dt
import io
import os
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone

from billing.models import BillingMonthStatus, RatedCallStatus, ReconciliationLine
from billing.reconciliation_format import (
    COLUMNS,
    event_effective_unit_price,
    license_subtotal,
    money,
    price,
    usage_subtotal,
)
from billing.reconciliation_licenses import cycle_periods
from billing.reconciliation_selectors import live_lines, reconciliation_csv, reconciliation_lines
from billing.services.reconciliation import reconciliation_snapshot
from subscriptions.models import ChargeType, SeatChangeKind, SubscriptionStatus
from tests.factories import (
    AzureSubscriptionFactory,
    BillingMonthFactory,
    ChargeEventFactory,
    CustomerFactory,
    OrderFactory,
    PartnerFactory,
    ProductFactory,
    RatedCallFactory,
    SeatChangeFactory,
    SkuFactory,
    SubscriptionFactory,
    UsageRecordFactory,
)

GOLDEN = Path(__file__).parent / "golden" / "reconciliation_2026-10.csv"
OCTOBER = dt.date(2026, 10, 1)


def at(*args):
    return dt.datetime(*args, tzinfo=dt.UTC)


def rated_call(*, customer, partner, azure_subscription, started_at, month, postpaid_minutes, unit_price,
               credit_minutes=0, blocked_minutes=0, is_adjustment=False, country="US", number_type="landline",
               reseller=None, record_id=None):
    """A rated call as the rating engine writes it: billable = credits + post-paid + blocked."""
    billable = credit_minutes + postpaid_minutes + blocked_minutes
    record = UsageRecordFactory(
        customer=customer, started_at=started_at, duration_seconds=billable * 60,
        destination_country=country, number_type=number_type,
        **({"record_id": record_id} if record_id else {}),
    )
    unit_price = Decimal(unit_price)
    credit_amount = (unit_price * credit_minutes).quantize(Decimal("0.000001"))
    postpaid_amount = (unit_price * postpaid_minutes).quantize(Decimal("0.000001"))
    if blocked_minutes and not (credit_minutes or postpaid_minutes):
        status = RatedCallStatus.BLOCKED
    elif postpaid_minutes and credit_minutes:
        status = RatedCallStatus.MIXED
    elif postpaid_minutes:
        status = RatedCallStatus.POSTPAID
    else:
        status = RatedCallStatus.CREDITS
    return RatedCallFactory(
        usage_record=record,
        billing_month=BillingMonthFactory(month=month),
        is_adjustment=is_adjustment,
        minutes=billable,
        pool_minutes=0,
        billable_minutes=billable,
        credit_minutes=credit_minutes,
        postpaid_minutes=postpaid_minutes,
        blocked_minutes=blocked_minutes,
        unit_price=unit_price,
        amount=credit_amount + postpaid_amount,
        credit_amount=credit_amount,
        postpaid_amount=postpaid_amount,
        currency="USD",
        azure_subscription=azure_subscription if postpaid_minutes else None,
        partner=partner if postpaid_minutes else None,
        reseller=reseller if postpaid_minutes else None,
        status=status,
    )


def parse(text):
    return list(csv.DictReader(io.StringIO(text)))


def export(partner, month):
    return "".join(reconciliation_csv(partner=partner, month=month))


def bought(*, partner, customer, sku=None, quantity=3, unit_price="12.50", purchased=at(2026, 10, 5, 9), reseller=None,
           billing_cycle="monthly", **fields):
    """A subscription bought at ``purchased`` with its purchase seat change and ``new`` charge."""
    subscription = SubscriptionFactory(
        partner=partner, customer=customer, reseller=reseller, sku=sku or SkuFactory(), quantity=quantity,
        unit_price=Decimal(unit_price), start_date=purchased.date(), purchased_at=purchased,
        term_started_at=purchased, billing_cycle=billing_cycle,
        commitment_end_date=purchased.date().replace(year=purchased.year + 1) - dt.timedelta(days=1), **fields,
    )
    SeatChangeFactory(subscription=subscription, kind=SeatChangeKind.PURCHASE, delta=quantity,
                      quantity_after=quantity, occurred_at=purchased)
    return subscription


def new_charge(subscription, *, amount=None, quantity=None, start=None, end=None, occurred_at=None, charge_type=ChargeType.NEW, order=None):
    quantity = subscription.quantity if quantity is None else quantity
    amount = Decimal(amount) if amount is not None else subscription.unit_price * quantity
    start = start or subscription.start_date
    return ChargeEventFactory(
        subscription=subscription, order=order, charge_type=charge_type, quantity=quantity,
        unit_price=subscription.unit_price, effective_unit_price=subscription.unit_price, amount=amount,
        currency=subscription.currency, charge_start=start,
        charge_end=end or (start + dt.timedelta(days=30)), occurred_at=occurred_at or subscription.purchased_at,
    )


# --- Formulas and formatting ----------------------------------------------------------------


def test_columns_are_spec_columns_in_order():
    assert COLUMNS == (
        "PartnerId, CustomerId, CustomerName, CustomerDomainName, CustomerCountry, InvoiceNumber, MpnId, "
        "ResellerMpnId, OrderId, OrderDate, ProductId, SkuId, AvailabilityId, SkuName, ProductName, ChargeType, "
        "UnitPrice, Quantity, Subtotal, TaxTotal, Total, Currency, PriceAdjustmentDescription, SubscriptionId, "
        "ChargeStartDate, ChargeEndDate, TermAndBillingCycle, EffectiveUnitPrice, UnitType, BillableQuantity, "
        "BillingFrequency, PricingCurrency, PCToBCExchangeRate, MeterDescription, SubscriptionStartDate, "
        "SubscriptionEndDate, ProductQualifiers, PartnerEarnedCreditPercentage"
    ).split(", ")


def test_usage_formula_truncates_twice():
    assert usage_subtotal(Decimal("0.0137"), 1234) == Decimal("16.90")  # 16.9058
    assert usage_subtotal(Decimal("0.045"), Decimal("0.005001"), Decimal("0.846202666")) == Decimal("0.00")


def test_license_formula_truncates_the_unit_price_then_multiplies():
    assert license_subtotal(Decimal("3.337"), 3) == Decimal("9.99")
    assert license_subtotal(Decimal("-3.337"), 3) == Decimal("-9.99")  # toward zero for credits


def test_prorated_event_price_is_amount_over_quantity_truncated():
    assert event_effective_unit_price(Decimal("10.00"), 3) == Decimal("3.333333")
    assert event_effective_unit_price(Decimal("-7.50"), 3) == Decimal("-2.500000")


def test_amounts_are_plain_decimals():
    assert money(Decimal("1E+1")) == "10.00"
    assert money(Decimal("-0.5")) == "-0.50"
    assert price(Decimal("0.013700")) == "0.0137"
    assert price(Decimal("10")) == "10.00"
    assert price(Decimal("1E-6")) == "0.000001"


# --- License lines --------------------------------------------------------------------------


@pytest.mark.django_db
def test_new_line_uses_license_formula_to_the_cent(partner_a):
    customer = CustomerFactory(partner=partner_a, name="Alpine Ski House", domain="alpine.onmicrosoft.com", country="US")
    order = OrderFactory(cart__partner=partner_a, cart__customer=customer)
    subscription = bought(partner=partner_a, customer=customer, quantity=3, unit_price="12.50", order=order)
    # Bought on the 5th: 27 of 31 days of the first period, prorated to 32.66 by checkout.
    new_charge(subscription, amount="32.66", order=order)

    [line] = parse(export(partner_a, OCTOBER))

    assert line["ChargeType"] == "new"
    assert line["EffectiveUnitPrice"] == "10.886666"  # 32.66 / 3, truncated to 6 places
    assert line["Subtotal"] == "32.64" == line["Total"]  # trunc2(10.886666) × 3
    assert line["UnitPrice"] == "12.50"
    assert line["Quantity"] == line["BillableQuantity"] == "3"
    assert line["TaxTotal"] == "0.00"
    assert line["PartnerId"] == line["MpnId"] == partner_a.mpn_id
    assert line["InvoiceNumber"] == f"G202610{partner_a.mpn_id}"
    assert line["ResellerMpnId"] == ""
    assert line["OrderId"] == str(order.pk)
    assert line["CustomerName"] == "Alpine Ski House"
    assert line["CustomerDomainName"] == "alpine.onmicrosoft.com"
    assert line["TermAndBillingCycle"] == "1 Year - Monthly"
    assert line["BillingFrequency"] == "Monthly"
    assert line["UnitType"] == "Licenses"
    assert line["ProductQualifiers"] == "[]"
    assert line["PCToBCExchangeRate"] == "1"
    assert line["SubscriptionId"] == str(subscription.pk)


@pytest.mark.django_db
def test_whole_period_new_line_reproduces_the_amount(partner_a):
    subscription = bought(partner=partner_a, customer=CustomerFactory(partner=partner_a), quantity=4, unit_price="7.20")
    new_charge(subscription)  # 28.80

    [line] = parse(export(partner_a, OCTOBER))

    assert line["Subtotal"] == "28.80"


@pytest.mark.django_db
def test_credit_lines_are_negative(partner_a):
    subscription = bought(partner=partner_a, customer=CustomerFactory(partner=partner_a), quantity=3)
    new_charge(subscription)
    new_charge(subscription, charge_type=ChargeType.CANCEL_IMMEDIATE, quantity=3, amount="-30.24",
               occurred_at=at(2026, 10, 7, 9))

    lines = parse(export(partner_a, OCTOBER))

    cancel = next(line for line in lines if line["ChargeType"] == "cancelImmediate")
    assert cancel["Subtotal"] == "-30.24"
    assert cancel["EffectiveUnitPrice"] == "-10.08"


@pytest.mark.django_db
def test_add_on_lines_carry_the_addon_qualifier(partner_a):
    addon = SkuFactory(is_addon=True)
    subscription = bought(partner=partner_a, customer=CustomerFactory(partner=partner_a), sku=addon)
    new_charge(subscription)

    [line] = parse(export(partner_a, OCTOBER))

    assert line["ProductQualifiers"] == '["AddOn"]'


@pytest.mark.django_db
def test_indirect_sale_names_the_reseller(provider, reseller):
    customer = CustomerFactory(partner=provider, reseller=reseller)
    subscription = bought(partner=provider, customer=customer, reseller=reseller)
    new_charge(subscription)

    [line] = parse(export(provider, OCTOBER))

    assert line["MpnId"] == provider.mpn_id
    assert line["ResellerMpnId"] == reseller.mpn_id


@pytest.mark.django_db
def test_events_outside_the_month_are_not_in_it(partner_a):
    subscription = bought(partner=partner_a, customer=CustomerFactory(partner=partner_a))
    new_charge(subscription, occurred_at=at(2026, 9, 30, 23, 59))
    new_charge(subscription, occurred_at=at(2026, 11, 1, 0, 0), charge_type=ChargeType.ADD_QUANTITY, quantity=1)

    assert parse(export(partner_a, OCTOBER)) == []


# --- cycleCharge ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_monthly_subscription_gets_a_cycle_charge_with_seats_from_history(partner_a):
    subscription = bought(
        partner=partner_a, customer=CustomerFactory(partner=partner_a), quantity=5, unit_price="6.00",
        purchased=at(2026, 8, 15, 10),
    )
    new_charge(subscription)  # August: not in September's file
    SeatChangeFactory(subscription=subscription, kind=SeatChangeKind.ADD, delta=2, quantity_after=7,
                      occurred_at=at(2026, 9, 1, 8))
    # After the period started: September's instalment still counts 7 seats.
    SeatChangeFactory(subscription=subscription, kind=SeatChangeKind.ADD, delta=3, quantity_after=10,
                      occurred_at=at(2026, 9, 15, 12))
    subscription.quantity = 10
    subscription.save()

    [line] = parse(export(partner_a, dt.date(2026, 9, 1)))

    assert line["ChargeType"] == "cycleCharge"
    assert (line["ChargeStartDate"], line["ChargeEndDate"]) == ("2026-09-15", "2026-10-14")
    assert line["Quantity"] == line["BillableQuantity"] == "7"
    assert line["UnitPrice"] == line["EffectiveUnitPrice"] == "6.00"
    assert line["Subtotal"] == "42.00"


@pytest.mark.django_db
def test_first_period_of_a_term_is_not_a_cycle_charge(partner_a):
    subscription = bought(partner=partner_a, customer=CustomerFactory(partner=partner_a), purchased=at(2026, 8, 15, 10))

    periods = {month: list(cycle_periods(_with_history(subscription), month)) for month in
               (dt.date(2026, 8, 1), dt.date(2026, 9, 1), dt.date(2027, 7, 1), dt.date(2027, 8, 1))}

    assert periods[dt.date(2026, 8, 1)] == []
    assert periods[dt.date(2026, 9, 1)] == [(dt.date(2026, 9, 15), dt.date(2026, 10, 14))]
    assert periods[dt.date(2027, 7, 1)] == [(dt.date(2027, 7, 15), dt.date(2027, 8, 14))]
    assert periods[dt.date(2027, 8, 1)] == []  # the term ended on 2027-08-14


def _with_history(subscription):
    subscription.term_events = []
    subscription.seat_history = list(subscription.seat_changes.order_by("occurred_at"))
    return subscription


@pytest.mark.django_db
def test_annual_billing_and_cancelled_subscriptions_get_no_cycle_charge(partner_a):
    customer = CustomerFactory(partner=partner_a)
    bought(partner=partner_a, customer=customer, purchased=at(2026, 8, 15, 10), billing_cycle="annual")
    cancelled = bought(partner=partner_a, customer=customer, purchased=at(2026, 8, 20, 10),
                       status=SubscriptionStatus.DELETED)
    SeatChangeFactory(subscription=cancelled, kind=SeatChangeKind.CANCEL, delta=-1, quantity_after=0,
                      occurred_at=at(2026, 8, 22, 10))

    assert parse(export(partner_a, dt.date(2026, 9, 1))) == []


@pytest.mark.django_db
def test_renewed_subscription_charges_cycles_of_the_old_term(partner_a):
    # Bought 2025-10-15 for a year, renewed 2026-10-15: start_date moved to the new term.
    subscription = bought(partner=partner_a, customer=CustomerFactory(partner=partner_a), purchased=at(2025, 10, 15, 9),
                          quantity=2, unit_price="5.00")
    new_charge(subscription, start=dt.date(2025, 10, 15), occurred_at=at(2025, 10, 15, 9))
    subscription.start_date = dt.date(2026, 10, 15)
    subscription.commitment_end_date = dt.date(2027, 10, 14)
    subscription.save()
    new_charge(subscription, charge_type=ChargeType.RENEW, start=dt.date(2026, 10, 15), occurred_at=at(2026, 10, 15, 0))

    september = parse(export(partner_a, dt.date(2026, 9, 1)))
    october = parse(export(partner_a, OCTOBER))
    november = parse(export(partner_a, dt.date(2026, 11, 1)))

    assert [(l["ChargeType"], l["ChargeStartDate"]) for l in september] == [("cycleCharge", "2026-09-15")]
    assert [(l["ChargeType"], l["ChargeStartDate"]) for l in october] == [("renew", "2026-10-15")]
    assert [(l["ChargeType"], l["ChargeStartDate"]) for l in november] == [("cycleCharge", "2026-11-15")]


# --- Usage lines ----------------------------------------------------------------------------


@pytest.fixture
def overage_customer(partner_a):
    customer = CustomerFactory(partner=partner_a, name="Contoso Pharma", domain="pharma.onmicrosoft.com")
    azure = AzureSubscriptionFactory(plan__customer=customer, plan__partner=partner_a)
    return customer, azure


@pytest.mark.django_db
def test_usage_lines_group_per_customer_subscription_and_meter(partner_a, overage_customer):
    customer, azure = overage_customer
    other_azure = AzureSubscriptionFactory(plan=azure.plan)
    for minutes in (1000, 234):
        rated_call(customer=customer, partner=partner_a, azure_subscription=azure, started_at=at(2026, 10, 3, 9),
                   month=OCTOBER, postpaid_minutes=minutes, unit_price="0.0137")
    rated_call(customer=customer, partner=partner_a, azure_subscription=azure, started_at=at(2026, 10, 4, 9),
               month=OCTOBER, postpaid_minutes=10, unit_price="0.0137", number_type="mobile")
    rated_call(customer=customer, partner=partner_a, azure_subscription=other_azure, started_at=at(2026, 10, 4, 9),
               month=OCTOBER, postpaid_minutes=10, unit_price="0.0137")
    # Paid from credits or blocked: not overage, not in the file.
    rated_call(customer=customer, partner=partner_a, azure_subscription=azure, started_at=at(2026, 10, 5, 9),
               month=OCTOBER, postpaid_minutes=0, credit_minutes=50, unit_price="0.0137")
    rated_call(customer=customer, partner=partner_a, azure_subscription=None, started_at=at(2026, 10, 5, 9),
               month=OCTOBER, postpaid_minutes=0, blocked_minutes=50, unit_price="0.0137")

    lines = parse(export(partner_a, OCTOBER))

    assert len(lines) == 3
    landline = next(l for l in lines if l["SubscriptionId"] == str(azure.pk) and "Landline" in l["MeterDescription"])
    assert landline["ChargeType"] == "usage"
    assert landline["BillableQuantity"] == landline["Quantity"] == "1234"
    assert landline["UnitPrice"] == landline["EffectiveUnitPrice"] == "0.0137"
    assert landline["Subtotal"] == landline["Total"] == "16.90"
    assert landline["MeterDescription"] == "Teams calling – US Landline (per minute)"
    assert landline["ProductId"] == "DZH318Z0BPS6"
    assert landline["UnitType"] == "Minute"
    assert landline["PartnerEarnedCreditPercentage"] == "0"
    assert landline["PriceAdjustmentDescription"] == ""
    assert landline["PCToBCExchangeRate"] == "1"
    assert (landline["ChargeStartDate"], landline["ChargeEndDate"]) == ("2026-10-01", "2026-10-31")
    assert landline["CustomerName"] == "Contoso Pharma"


@pytest.mark.django_db
def test_late_calls_are_separate_adjustment_lines_dated_in_their_month(partner_a, overage_customer):
    customer, azure = overage_customer
    rated_call(customer=customer, partner=partner_a, azure_subscription=azure, started_at=at(2026, 10, 3, 9),
               month=OCTOBER, postpaid_minutes=10, unit_price="0.02")
    rated_call(customer=customer, partner=partner_a, azure_subscription=azure, started_at=at(2026, 9, 29, 9),
               month=OCTOBER, postpaid_minutes=5, unit_price="0.02", is_adjustment=True)

    lines = parse(export(partner_a, OCTOBER))

    assert [(l["ChargeStartDate"], l["ChargeEndDate"], l["Quantity"]) for l in lines] == [
        ("2026-09-01", "2026-09-30", "5"),
        ("2026-10-01", "2026-10-31", "10"),
    ]


@pytest.mark.django_db
def test_usage_of_an_indirect_sale_names_the_reseller(provider, reseller):
    customer = CustomerFactory(partner=provider, reseller=reseller)
    azure = AzureSubscriptionFactory(plan__customer=customer, plan__partner=provider)
    rated_call(customer=customer, partner=provider, reseller=reseller, azure_subscription=azure,
               started_at=at(2026, 10, 3, 9), month=OCTOBER, postpaid_minutes=10, unit_price="0.02")

    [line] = parse(export(provider, OCTOBER))

    assert line["ResellerMpnId"] == reseller.mpn_id


@pytest.mark.django_db
def test_partner_file_holds_only_its_own_lines(partner_a, partner_b, overage_customer):
    customer, azure = overage_customer
    new_charge(bought(partner=partner_a, customer=customer))
    rated_call(customer=customer, partner=partner_a, azure_subscription=azure, started_at=at(2026, 10, 3, 9),
               month=OCTOBER, postpaid_minutes=10, unit_price="0.02")
    # partner B sells to the same customer: its own line only.
    b_sub = bought(partner=partner_b, customer=customer)
    new_charge(b_sub)

    a_lines = parse(export(partner_a, OCTOBER))
    b_lines = parse(export(partner_b, OCTOBER))

    assert {l["PartnerId"] for l in a_lines} == {partner_a.mpn_id}
    assert len(a_lines) == 2
    assert [l["SubscriptionId"] for l in b_lines] == [str(b_sub.pk)]


# --- Order and the finalized file -----------------------------------------------------------


@pytest.mark.django_db
def test_lines_are_sorted_by_customer_subscription_type_and_date(partner_a):
    zeta = CustomerFactory(partner=partner_a, name="Zeta")
    alpha = CustomerFactory(partner=partner_a, name="Alpha")
    z = bought(partner=partner_a, customer=zeta)
    a = bought(partner=partner_a, customer=alpha)
    new_charge(z)
    new_charge(a, charge_type=ChargeType.ADD_QUANTITY, quantity=1, occurred_at=at(2026, 10, 9, 9))
    new_charge(a)

    lines = parse(export(partner_a, OCTOBER))

    assert [(l["CustomerName"], l["ChargeType"]) for l in lines] == [
        ("Alpha", "addQuantity"), ("Alpha", "new"), ("Zeta", "new"),
    ]


@pytest.mark.django_db
def test_finalized_month_file_is_byte_identical_after_data_changes(partner_a, overage_customer):
    customer, azure = overage_customer
    subscription = bought(partner=partner_a, customer=customer)
    new_charge(subscription)
    rated_call(customer=customer, partner=partner_a, azure_subscription=azure, started_at=at(2026, 10, 3, 9),
               month=OCTOBER, postpaid_minutes=10, unit_price="0.02")
    billing_month = BillingMonthFactory(month=OCTOBER)
    with time_machine.travel(at(2026, 11, 2, 12), tick=False):
        reconciliation_snapshot(billing_month=billing_month)
        billing_month.status = BillingMonthStatus.FINALIZED
        billing_month.finalized_at = timezone.now()
        billing_month.save()
    first = export(partner_a, OCTOBER)

    subscription.quantity = 40
    subscription.unit_price = Decimal("99.00")
    subscription.save()
    customer.name = "Renamed Ltd"
    customer.save()
    new_charge(subscription, charge_type=ChargeType.ADD_QUANTITY, quantity=37, occurred_at=at(2026, 10, 20, 9))

    assert export(partner_a, OCTOBER) == first
    assert reconciliation_snapshot(billing_month=billing_month) == 0  # never rewritten
    assert export(partner_a, OCTOBER) == first
    assert ReconciliationLine.objects.filter(partner=partner_a).count() == 2
    assert "Renamed Ltd" not in first


@pytest.mark.django_db
def test_open_month_follows_the_data(partner_a):
    subscription = bought(partner=partner_a, customer=CustomerFactory(partner=partner_a))
    new_charge(subscription)
    before = export(partner_a, OCTOBER)

    new_charge(subscription, charge_type=ChargeType.ADD_QUANTITY, quantity=1, occurred_at=at(2026, 10, 20, 9))

    assert export(partner_a, OCTOBER) != before


@pytest.mark.django_db
def test_snapshot_lines_equal_live_lines(partner_a, partner_b, overage_customer):
    customer, azure = overage_customer
    new_charge(bought(partner=partner_a, customer=customer))
    new_charge(bought(partner=partner_b, customer=CustomerFactory(partner=partner_b)))
    rated_call(customer=customer, partner=partner_a, azure_subscription=azure, started_at=at(2026, 10, 3, 9),
               month=OCTOBER, postpaid_minutes=10, unit_price="0.02")
    live_a = list(live_lines(partner=partner_a, month=OCTOBER))
    live_b = list(live_lines(partner=partner_b, month=OCTOBER))

    billing_month = BillingMonthFactory(month=OCTOBER, status=BillingMonthStatus.FINALIZED)
    assert reconciliation_snapshot(billing_month=billing_month) == 3

    assert list(reconciliation_lines(partner=partner_a, month=OCTOBER)) == live_a
    assert list(reconciliation_lines(partner=partner_b, month=OCTOBER)) == live_b


# --- The golden file ------------------------------------------------------------------------


def build_golden_dataset():
    """A small fixed dataset for October 2026: fixed ids, names and dates, so the file is
    the same on every run (the demo data moves with today's date)."""
    partner = PartnerFactory(mpn_id="4100001", name="Golden Partner")
    provider_reseller = PartnerFactory(mpn_id="4100002", name="Golden Reseller", kind="indirect_reseller")
    product = ProductFactory(id="CFQ7TTC0GOLD", title="Microsoft 365 Business Basic")
    base = SkuFactory(product=product, sku_id="0001", title="Microsoft 365 Business Basic")
    phone = ProductFactory(id="CFQ7TTC0PHON", title="Teams Phone Standard")
    addon = SkuFactory(product=phone, sku_id="0001", title="Teams Phone Standard", is_addon=True)
    alpine = CustomerFactory(partner=partner, name="Alpine Ski House", domain="alpineskihouse.onmicrosoft.com",
                             country="US", tenant_id=uuid.UUID("00000000-0000-4000-8000-0000000000a1"))
    bellows = CustomerFactory(partner=partner, reseller=provider_reseller, name="Bellows College",
                              domain="bellows.onmicrosoft.com", country="US",
                              tenant_id=uuid.UUID("00000000-0000-4000-8000-0000000000b2"))

    def subscription(sub_id, customer, sku, quantity, unit_price, purchased, reseller=None):
        return bought(partner=partner, customer=customer, sku=sku, quantity=quantity, unit_price=unit_price,
                      purchased=purchased, reseller=reseller, id=uuid.UUID(sub_id),
                      availability__availability_id=f"CFQ7TTC0AV{sub_id[0]}0")

    basic = subscription("10000000-0000-4000-8000-000000000001", alpine, base, 10, "6.00", at(2026, 8, 15, 10))
    phone_sub = subscription("20000000-0000-4000-8000-000000000002", alpine, addon, 3, "8.00", at(2026, 10, 5, 9))
    college = subscription("30000000-0000-4000-8000-000000000003", bellows, base, 25, "6.00", at(2026, 10, 10, 9),
                           reseller=provider_reseller)
    new_charge(basic, start=dt.date(2026, 8, 15), occurred_at=at(2026, 8, 15, 10))  # August
    SeatChangeFactory(subscription=basic, kind=SeatChangeKind.ADD, delta=2, quantity_after=12,
                      occurred_at=at(2026, 10, 1, 8))
    new_charge(basic, charge_type=ChargeType.ADD_QUANTITY, quantity=2, amount="5.61",
               start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 14), occurred_at=at(2026, 10, 1, 8))
    new_charge(phone_sub, amount="20.90", start=dt.date(2026, 10, 5), end=dt.date(2026, 11, 4))
    new_charge(college, amount="150.00", start=dt.date(2026, 10, 10), end=dt.date(2026, 11, 9))
    new_charge(college, charge_type=ChargeType.REMOVE_QUANTITY, quantity=5, amount="-29.03",
               start=dt.date(2026, 10, 12), end=dt.date(2026, 11, 9), occurred_at=at(2026, 10, 12, 9))

    azure = AzureSubscriptionFactory(plan__customer=alpine, plan__partner=partner,
                                     id=uuid.UUID("a0000000-0000-4000-8000-0000000000a0"), number=1)
    azure_b = AzureSubscriptionFactory(plan__customer=bellows, plan__partner=partner,
                                       id=uuid.UUID("b0000000-0000-4000-8000-0000000000b0"), number=1)
    calls = [
        (alpine, azure, at(2026, 10, 2, 9), 1000, "0.0137", "US", "landline", False, None),
        (alpine, azure, at(2026, 10, 9, 9), 234, "0.0137", "US", "landline", False, None),
        (alpine, azure, at(2026, 10, 9, 10), 17, "0.2100", "GB", "mobile", False, None),
        (alpine, azure, at(2026, 9, 30, 22), 7, "0.0137", "US", "landline", True, None),
        (bellows, azure_b, at(2026, 10, 20, 15), 61, "0.0190", "CA", "landline", False, provider_reseller),
    ]
    for n, (customer, azure_sub, started, minutes, unit_price, country, number_type, adjustment, reseller) in enumerate(calls):
        rated_call(customer=customer, partner=partner, azure_subscription=azure_sub, started_at=started, month=OCTOBER,
                   postpaid_minutes=minutes, unit_price=unit_price, country=country, number_type=number_type,
                   is_adjustment=adjustment, reseller=reseller, record_id=f"golden-{n}")
    return partner


@pytest.mark.django_db
def test_golden_reconciliation_file():
    with time_machine.travel(at(2026, 10, 1, 7), tick=False):
        partner = build_golden_dataset()
    text = export(partner, OCTOBER)
    if os.environ.get("UPDATE_GOLDEN"):  # pragma: no cover - rewrite on purpose, review the diff, commit
        GOLDEN.write_text(text, encoding="utf-8", newline="")
    assert text == GOLDEN.read_text(encoding="utf-8")


# --- export_reconciliation ------------------------------------------------------------------


@pytest.mark.django_db
def test_export_command_writes_the_file_to_stdout_and_to_a_file(partner_a, tmp_path, capsys):
    from django.core.management import call_command

    new_charge(bought(partner=partner_a, customer=CustomerFactory(partner=partner_a)))
    expected = export(partner_a, OCTOBER)

    call_command("export_reconciliation", "--partner", partner_a.mpn_id, "--month", "2026-10")
    printed = capsys.readouterr().out
    call_command("export_reconciliation", "--partner", partner_a.mpn_id, "--month", "2026-10",
                 "--output", str(tmp_path / "out.csv"))

    assert printed == expected
    assert (tmp_path / "out.csv").read_text(encoding="utf-8") == expected
    assert len(parse(expected)) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("partner", "month", "reason"),
    [
        ("9999999", "2026-10", "No partner with MPN id '9999999'."),
        ("{mpn}", "2026-13", "Bad --month '2026-13': use YYYY-MM, e.g. 2026-10."),
        ("{mpn}", "10/2026", "Bad --month '10/2026': use YYYY-MM, e.g. 2026-10."),
    ],
)
def test_export_command_refuses_with_one_line_reason(partner_a, partner, month, reason):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError) as failure:
        call_command("export_reconciliation", "--partner", partner.format(mpn=partner_a.mpn_id), "--month", month)

    assert str(failure.value) == reason


def test_export_command_exit_status_is_non_zero():
    import subprocess
    import sys

    from django.conf import settings

    # A bad month is refused before the database is read, so the real entry point can run.
    result = subprocess.run(
        [sys.executable, "manage.py", "export_reconciliation", "--partner", "1000001", "--month", "2026-13"],
        cwd=settings.BASE_DIR, capture_output=True, text=True, check=False,
    )

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["CommandError: Bad --month '2026-13': use YYYY-MM, e.g. 2026-10."]
    assert result.stdout == ""


# --- Lines keep what was sold then -----------------------------------------------------------


def monthly_bought_on_1_march_with_annual_offered(partner):
    """3 seats at 12.50 a month from 2026-03-01 (a P1Y term), whose offer also sells annual
    billing at 140.00 a year."""
    from catalog.models import PriceListEntry

    subscription = bought(partner=partner, customer=CustomerFactory(partner=partner, country="US"),
                          purchased=at(2026, 3, 1, 9), unit_price="12.50")
    new_charge(subscription)
    annual = {"termDuration": "P1Y", "billingCycle": "annual"}
    subscription.availability.terms = [*subscription.availability.terms, annual]
    subscription.availability.save()
    PriceListEntry.objects.create(sku=subscription.sku, market="US", currency="USD", term_duration="P1Y",
                                  billing_plan="annual", unit_price=Decimal("140.00"), erp_price=Decimal("150.00"),
                                  effective_start=dt.date(2026, 1, 1))
    return subscription


@pytest.mark.django_db
def test_a_cycle_changed_at_renewal_leaves_the_earlier_months_instalments_as_they_were(partner_a):
    from subscriptions.services import lifecycle, renewal

    subscription = monthly_bought_on_1_march_with_annual_offered(partner_a)
    february = dt.date(2027, 2, 1)
    before = [line for line in parse(export(partner_a, february)) if line["ChargeType"] == "cycleCharge"]
    lifecycle.subscription_schedule_next_term(subscription=subscription, billing_cycle="annual", acting_user=None)
    with time_machine.travel(at(2027, 3, 1, 0, 30), tick=False):
        assert renewal.renew_subscriptions(on_date=dt.date(2027, 3, 1)) == (1, 0)

    after = [line for line in parse(export(partner_a, february)) if line["ChargeType"] == "cycleCharge"]
    assert len(after) == len(before) == 1
    # Everything sold stays; only the subscription-level dates follow the subscription (a
    # draft month is regenerated; a finalized one is a frozen snapshot).
    changed = {k for k in after[0] if after[0][k] != before[0][k]}
    assert changed == {"SubscriptionStartDate", "SubscriptionEndDate"}
    assert (after[0]["ChargeStartDate"], after[0]["UnitPrice"], after[0]["BillingFrequency"]) == (
        "2027-02-01", "12.50", "Monthly")
    march = parse(export(partner_a, dt.date(2027, 3, 1)))
    assert [(line["ChargeType"], line["BillingFrequency"], line["UnitPrice"], line["Subtotal"]) for line in march] == [
        ("renew", "Annual", "140.00", "420.00")
    ]
    assert not [line for line in parse(export(partner_a, dt.date(2027, 4, 1))) if line["ChargeType"] == "cycleCharge"]


@pytest.mark.django_db
def test_an_upgrade_leaves_the_earlier_lines_on_the_sku_sold_then(partner_a):
    e3 = SkuFactory(title="Office 365 E3")
    subscription = bought(partner=partner_a, customer=CustomerFactory(partner=partner_a), sku=e3,
                          purchased=at(2026, 10, 5, 9))
    new_charge(subscription)
    subscription.sku = SkuFactory(title="Office 365 E5")  # as the upgrade sets it, a month later
    subscription.save()

    [line] = parse(export(partner_a, OCTOBER))
    assert (line["ChargeType"], line["SkuName"], line["SkuId"]) == ("new", "Office 365 E3", e3.sku_id)


def e3_bought_on_5_october(partner):
    """2 seats of E3 at 23.00 a month (periods start on the 5th), upgradable to E5 at 38.00."""
    from catalog.models import PriceListEntry

    e3, e5 = SkuFactory(title="Office 365 E3"), SkuFactory(title="Office 365 E5")
    e3.upgrade_targets.add(e5)
    PriceListEntry.objects.create(sku=e5, market="US", currency="USD", term_duration="P1Y", billing_plan="monthly",
                                  unit_price=Decimal("38.00"), erp_price=Decimal("40.00"),
                                  effective_start=dt.date(2026, 1, 1))
    subscription = bought(partner=partner, customer=CustomerFactory(partner=partner, country="US"), sku=e3,
                          purchased=at(2026, 10, 5, 9), unit_price="23.00", quantity=2)
    new_charge(subscription)
    return subscription


def upgrade_to_e5(subscription):
    from subscriptions.services import changes

    changes.subscription_upgrade(subscription=subscription, target_sku=subscription.sku.upgrade_targets.get(),
                                 acting_user=None)


@pytest.mark.django_db
def test_instalments_after_an_upgrade_are_billed_at_the_new_sku_and_price(partner_a):
    subscription = e3_bought_on_5_october(partner_a)
    with time_machine.travel(at(2026, 11, 20, 9), tick=False):
        upgrade_to_e5(subscription)

    def cycle_lines(month):
        return [(line["ChargeStartDate"], line["SkuName"], line["UnitPrice"], line["Subtotal"])
                for line in parse(export(partner_a, month)) if line["ChargeType"] == "cycleCharge"]

    # November's instalment started before the upgrade (the convert line bills the rest of it).
    assert cycle_lines(dt.date(2026, 11, 1)) == [("2026-11-05", "Office 365 E3", "23.00", "46.00")]
    assert cycle_lines(dt.date(2026, 12, 1)) == [("2026-12-05", "Office 365 E5", "38.00", "76.00")]
    assert [line["SkuName"] for line in parse(export(partner_a, OCTOBER))] == ["Office 365 E3"]


@pytest.mark.django_db
def test_a_finalized_month_keeps_the_instalment_of_a_subscription_billed_annually_since(partner_a):
    from subscriptions.services import lifecycle, renewal

    subscription = monthly_bought_on_1_march_with_annual_offered(partner_a)
    lifecycle.subscription_schedule_next_term(subscription=subscription, billing_cycle="annual", acting_user=None)
    with time_machine.travel(at(2027, 3, 2, 9), tick=False):
        renewal.renew_subscriptions(on_date=dt.date(2027, 3, 1))
        february = BillingMonthFactory(month=dt.date(2027, 2, 1), status=BillingMonthStatus.FINALIZED)
        reconciliation_snapshot(billing_month=february)
    frozen = ReconciliationLine.objects.filter(billing_month=february, partner=partner_a)
    assert [(line.charge_type, line.subtotal) for line in frozen] == [("cycleCharge", Decimal("37.50"))]
    assert [(line["ChargeType"], line["Subtotal"]) for line in parse(export(partner_a, dt.date(2027, 2, 1)))] == [
        ("cycleCharge", "37.50")]


@pytest.mark.django_db
def test_an_upgrade_on_a_periods_first_day_is_not_charged_twice(partner_a):
    subscription = e3_bought_on_5_october(partner_a)
    with time_machine.travel(at(2026, 12, 5, 9), tick=False):
        upgrade_to_e5(subscription)
    december_lines = parse(export(partner_a, dt.date(2026, 12, 1)))
    december = {(line["ChargeType"], line["SkuName"], line["Subtotal"]) for line in december_lines}
    # The December instalment at the old price plus the whole period's difference: 46 + 30 = 76.
    assert december == {("cycleCharge", "Office 365 E3", "46.00"), ("convert", "Office 365 E5", "30.00")}


@pytest.mark.django_db
def test_an_upgrade_leaves_the_earlier_lines_on_the_availability_sold_then(partner_a):
    from tests.factories import AvailabilityFactory

    subscription = bought(partner=partner_a, customer=CustomerFactory(partner=partner_a), purchased=at(2026, 10, 5, 9))
    sold_then = subscription.availability.availability_id
    new_charge(subscription)
    target = SkuFactory(title="Office 365 E5")
    subscription.sku, subscription.availability = target, AvailabilityFactory(sku=target)
    subscription.save()
    [line] = parse(export(partner_a, OCTOBER))
    assert line["AvailabilityId"] == sold_then
