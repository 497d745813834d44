"""Price-list CSV import: parsing with line-numbered errors, applying, and the staff view."""

import datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from catalog.models import PriceListEntry
from catalog.pricelist import (
    EXPORT_COLUMNS,
    MISSING_COLUMN,
    NOT_UTF8,
    export_lines,
    parse_price_list,
    pricelist_apply,
)
from catalog.views import PREVIEW_EXPIRED
from portal.models import AuditEvent
from tests.factories import PriceListEntryFactory, SkuFactory, UserFactory

pytestmark = pytest.mark.django_db

IMPORT = "/catalog/pricelist/import/"
HEADER = "ProductId,SkuId,TermDuration,BillingPlan,Market,Currency,UnitPrice,ERP Price,EffectiveStartDate,EffectiveEndDate,Segment"


def csv_text(sku, *lines, header=HEADER):
    return "\n".join([header, *(line.format(p=sku.product_id, s=sku.sku_id) for line in lines)]) + "\n"


@pytest.fixture
def sku():
    return SkuFactory()


# Parsing


def test_valid_rows_parse(sku):
    result = parse_price_list(csv_text(sku, "{p},{s},P1Y,Monthly,us,usd,10.50,12.60,2025-01-01,,Commercial"))
    assert result.errors == []
    [row] = result.rows
    assert (row.term_duration, row.billing_plan, row.market, row.currency, row.segment) == (
        "P1Y", "monthly", "US", "USD", "commercial")
    assert row.unit_price == Decimal("10.50")
    assert row.effective_start == datetime.date(2025, 1, 1) and row.effective_end is None
    assert result.to_create == 1 and result.to_update == 0


def test_errors_carry_their_line_number_and_reason(sku):
    result = parse_price_list(
        csv_text(
            sku,
            "{p},{s},P1Y,monthly,US,USD,10,12,2025-01-01,,",  # line 2: fine
            "{p},9999,P1Y,monthly,US,USD,10,12,2025-01-01,,",  # 3: unknown SKU
            "{p},{s},P2Y,monthly,US,USD,10,12,2025-01-01,,",  # 4: term
            "{p},{s},P1Y,weekly,US,USD,10,12,2025-01-01,,",  # 5: billing plan
            "{p},{s},P1Y,monthly,USA,USD,10,12,2025-01-01,,",  # 6: market
            "{p},{s},P1Y,monthly,US,US,10,12,2025-01-01,,",  # 7: currency
            "{p},{s},P1Y,monthly,US,USD,-1,12,2025-01-01,,",  # 8: negative
            "{p},{s},P1Y,monthly,US,USD,ten,12,2025-01-01,,",  # 9: not a number
            "{p},{s},P1Y,monthly,US,USD,10,12,01/02/2025,,",  # 10: date
            "{p},{s},P1Y,monthly,US,USD,10,12,2025-02-01,2025-01-01,",  # 11: end before start
            "{p},{s},P1Y,monthly,US,USD,11,13,2025-01-01,,",  # 12: same row as line 2
        )
    )
    assert len(result.rows) == 1
    errors = {e.line: e.message for e in result.errors}
    assert sorted(errors) == list(range(3, 13))
    assert f"{sku.product_id}:9999" in errors[3]
    assert "TermDuration" in errors[4]
    assert "BillingPlan" in errors[5]
    assert "Market" in errors[6]
    assert "Currency" in errors[7]
    assert "negative" in errors[8]
    assert "not a number" in errors[9]
    assert "ISO date" in errors[10]
    assert "after" in errors[11]
    assert "line 2" in errors[12]


def test_line_numbers_count_physical_lines_of_quoted_cells(sku):
    text = (
        "ProductId,SkuId,SkuDescription,TermDuration,BillingPlan,Market,Currency,UnitPrice,ERP Price,EffectiveStartDate\n"
        f'{sku.product_id},{sku.sku_id},"two\nlines",P1Y,monthly,US,USD,1,1,2025-01-01\n'
        f"{sku.product_id},{sku.sku_id},x,P1Y,monthly,US,USD,1,1,nope\n"
    )
    assert [e.line for e in parse_price_list(text).errors] == [4]


def test_missing_required_column_is_one_error_naming_it(sku):
    header = HEADER.replace("UnitPrice,", "")
    result = parse_price_list(csv_text(sku, "{p},{s},P1Y,monthly,US,USD,12,2025-01-01,,", header=header))
    assert [(e.line, e.message) for e in result.errors] == [(None, MISSING_COLUMN % {"column": "UnitPrice"})]
    assert result.rows == []


def test_columns_are_found_by_name_and_extra_ones_ignored(sku):
    header = "Whatever,effective_start_date,ERPPrice,unitprice,currency,market,billingplan,termduration,skuid,productid"
    text = csv_text(sku, "x,2025-01-01,2,1,USD,US,annual,P1Y,{s},{p}", header=header)
    result = parse_price_list(text)
    assert result.errors == []
    assert result.rows[0].billing_plan == "annual"


def test_partner_center_timestamps_are_accepted(sku):
    result = parse_price_list(csv_text(sku, "{p},{s},P1Y,monthly,US,USD,1,1,2025-01-01T00:00:00Z,,"))
    assert result.errors == [] and result.rows[0].effective_start == datetime.date(2025, 1, 1)


def test_empty_file_is_an_error():
    assert parse_price_list("").errors[0].line is None
    assert parse_price_list(HEADER + "\n").errors[0].line is None


def test_existing_rows_are_counted_as_updates(sku):
    PriceListEntryFactory(sku=sku, term_duration="P1Y", billing_plan="monthly", market="US", currency="USD",
                          effective_start=datetime.date(2025, 1, 1))
    result = parse_price_list(
        csv_text(sku, "{p},{s},P1Y,monthly,US,USD,1,1,2025-01-01,,", "{p},{s},P1M,monthly,US,USD,1,1,2025-01-01,,")
    )
    assert (result.to_create, result.to_update) == (1, 1)


# Applying


def test_apply_creates_and_updates_on_the_natural_key(sku):
    existing = PriceListEntryFactory(sku=sku, unit_price=Decimal("10"), effective_start=datetime.date(2025, 1, 1))
    result = parse_price_list(
        csv_text(sku, "{p},{s},P1Y,monthly,US,USD,11,13,2025-01-01,2026-01-01,",
                 "{p},{s},P1Y,monthly,IT,EUR,9,10,2025-01-01,,")
    )
    staff = UserFactory(is_staff=True)
    assert pricelist_apply(rows=result.rows, acting_user=staff) == (1, 1)
    existing.refresh_from_db()
    assert existing.unit_price == Decimal("11") and existing.effective_end == datetime.date(2026, 1, 1)
    assert PriceListEntry.objects.filter(sku=sku, market="IT", currency="EUR").exists()
    assert AuditEvent.objects.filter(action="catalog.pricelist_import", actor=staff).count() == 1


def test_export_then_import_round_trips(sku):
    PriceListEntryFactory(sku=sku, unit_price=Decimal("10.25"))
    text = "".join(export_lines())
    assert text.splitlines()[0] == ",".join(EXPORT_COLUMNS)
    result = parse_price_list(text)
    assert result.errors == []
    assert (result.to_create, result.to_update) == (0, 1)


# The staff view


@pytest.fixture
def staff_client():
    client = Client()
    client.force_login(UserFactory(is_staff=True))
    return client


def upload(client, content, name="prices.csv"):
    return client.post(IMPORT, {"file": SimpleUploadedFile(name, content, content_type="text/csv")})


def test_non_staff_partner_user_gets_403(partner_a, make_member):
    client = make_member(partner_a)
    assert client.get(IMPORT).status_code == 403
    assert upload(client, b"x").status_code == 403


def test_anonymous_user_is_sent_to_login(client):
    response = client.get(IMPORT)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_preview_then_confirm_applies_the_good_rows(staff_client, sku):
    PriceListEntryFactory(sku=sku, effective_start=datetime.date(2025, 1, 1), unit_price=Decimal("10"))
    content = csv_text(
        sku,
        "{p},{s},P1Y,monthly,US,USD,12,14,2025-01-01,,",  # update
        "{p},{s},P1M,monthly,US,USD,15,18,2025-01-01,,",  # create
        "{p},{s},P1M,monthly,US,USD,abc,18,2025-01-01,,",  # line 4: bad
    ).encode()
    preview = upload(staff_client, content)
    html = preview.content.decode()
    assert preview.status_code == 200
    assert 'data-testid="to-create">1<' in html and 'data-testid="to-update">1<' in html
    assert 'data-testid="error-count">1<' in html
    assert '<td class="mono">4</td>' in html
    assert PriceListEntry.objects.filter(sku=sku).count() == 1  # nothing written by the preview

    digest = preview.context["confirm_form"].initial["digest"]
    response = staff_client.post(IMPORT, {"digest": digest}, follow=True)
    assert response.status_code == 200
    assert "1 rows created, 1 updated, 1 skipped" in response.content.decode()
    prices = dict(PriceListEntry.objects.filter(sku=sku).values_list("term_duration", "unit_price"))
    assert prices == {"P1Y": Decimal("12"), "P1M": Decimal("15")}
    # The session no longer holds the file: a second confirm is refused.
    again = staff_client.post(IMPORT, {"digest": digest})
    assert again.status_code == 422 and str(PREVIEW_EXPIRED) in again.content.decode()


def test_confirm_of_a_replaced_preview_is_refused(staff_client, sku):
    first = upload(staff_client, csv_text(sku, "{p},{s},P1Y,monthly,US,USD,1,1,2025-01-01,,").encode())
    upload(staff_client, csv_text(sku, "{p},{s},P1M,monthly,US,USD,1,1,2025-01-01,,").encode())
    response = staff_client.post(IMPORT, {"digest": first.context["confirm_form"].initial["digest"]})
    assert response.status_code == 422
    assert not PriceListEntry.objects.exists()


def test_bad_encoding_is_a_clear_error_not_a_500(staff_client, sku):
    content = csv_text(sku, "{p},{s},P1Y,monthly,US,USD,1,1,2025-01-01,,Commercial").encode() + "é".encode("latin-1")
    response = upload(staff_client, content)
    assert response.status_code == 422
    assert str(NOT_UTF8) in response.content.decode()
    assert not PriceListEntry.objects.exists()


def test_missing_column_is_shown_without_a_confirm_button(staff_client, sku):
    response = upload(staff_client, b"ProductId,SkuId\nX,Y\n")
    html = response.content.decode()
    assert response.status_code == 200
    assert "The header has no" in html and "UnitPrice" in html
    assert 'data-testid="pricelist-confirm"' not in html


def test_utf8_with_byte_order_mark_is_accepted(staff_client, sku):
    content = "\ufeff".encode() + csv_text(sku, "{p},{s},P1Y,monthly,US,USD,1,1,2025-01-01,,").encode()
    response = upload(staff_client, content)
    assert 'data-testid="to-create">1<' in response.content.decode()


def test_a_cell_with_a_control_character_is_a_row_error_not_a_database_error(sku):
    header = HEADER + ",Tags"
    result = parse_price_list(
        csv_text(sku, "{p},{s},P1Y,monthly,US,USD,10,12,2025-01-01,,,AddOn\x00", "{p},{s},P1M,monthly,US,USD,1,1,2025-01-01,,,",
                 header=header)
    )
    assert [(e.line, "control character" in e.message) for e in result.errors] == [(2, True)]
    assert [r.term_duration for r in result.rows] == ["P1M"]
