"""Usage CSV ingestion (SPEC §8): line-numbered errors, good rows kept, idempotent by
record_id, streamed, scoped to the partner's customers; and the ``import_usage`` command."""

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError

from billing.models import UsageImport, UsageImportStatus, UsageRecord
from billing.services import run_locks
from billing.services import usage_copy, usage_engine, usage_import_copy
from billing.services import usage_import as usage_import_service
from billing.services.usage_import import usage_import_file
from billing.services.usage_parse import (
    BAD_COUNTRY,
    BAD_DATE,
    BAD_DURATION,
    BAD_ENCODING,
    BLANK_FIELD,
    CALL_IN_FUTURE,
    CALL_TOO_OLD,
    CONTROL_CHARACTER,
    DURATION_TOO_LARGE,
    DUPLICATE_OF_LINE,
    EMPTY_FILE,
    MISSING_COLUMNS,
    NEGATIVE_DURATION,
    UNKNOWN_CALL_TYPE,
    UNKNOWN_NUMBER_TYPE,
    UNKNOWN_TENANT,
)
from billing.services.usage_preview import usage_preview
from billing.usage_selectors import usage_import_error_rows
from tests.factories import CustomerFactory, UsageRecordFactory

HEADER = "record_id,tenant_id,user,start_time,duration_seconds,call_type,destination_country,number_type"


def row(record_id, tenant, *, user="ann@contoso.example", start="2025-03-01T10:00:00Z", seconds="61",
        call_type="domestic", country="US", number_type="landline"):
    return f"{record_id},{tenant},{user},{start},{seconds},{call_type},{country},{number_type}"


def csv_bytes(*lines, header=HEADER, encoding="utf-8"):
    return ("\n".join([header, *lines]) + "\n").encode(encoding)


def chunked(data, size=7):
    # Tiny chunks: rows, multi-byte characters and the BOM are split across chunk edges.
    return (data[i : i + size] for i in range(0, len(data), size))


def small_batches(monkeypatch, size):
    """Batches of ``size`` rows in both lanes: the portable import and PostgreSQL's COPY lane."""
    monkeypatch.setattr(usage_engine, "BATCH_SIZE", size)
    monkeypatch.setattr(usage_import_copy, "BATCH_SIZE", size)


def run(data, **kwargs):
    return usage_import_file(fileobj_chunks=chunked(data), file_name="usage.csv", **kwargs)


def reasons(usage_import):
    return [(e["line"], e["reason"]) for e in usage_import.errors]


@pytest.fixture
def customer(db):
    return CustomerFactory()


def test_good_file_imports_every_record_with_utc_times(customer):
    t = customer.tenant_id
    data = csv_bytes(
        row("c1", t, start="2025-03-01T10:00:00Z"),
        row("c2", t, start="2025-03-01T10:00:00+00:00", call_type="international", country="gb", number_type="mobile"),
        row("c3", t, start="2025-03-01T10:00:00"),
        row("c4", t, start="2025-03-01T12:00:00+02:00", seconds="0"),
    )
    result = run(data)

    assert result.status == UsageImportStatus.DONE
    assert (result.total_rows, result.processed_rows, result.imported_rows, result.duplicate_rows) == (4, 4, 4, 0)
    assert result.errors == [] and result.finished_at is not None
    expected = dt.datetime(2025, 3, 1, 10, tzinfo=dt.UTC)
    assert {r.record_id: r.started_at for r in UsageRecord.objects.all()} == {
        "c1": expected, "c2": expected, "c3": expected, "c4": expected,
    }
    c2 = UsageRecord.objects.get(record_id="c2")
    assert (c2.customer, c2.call_type, c2.destination_country, c2.number_type, c2.usage_import) == (
        customer, "international", "GB", "mobile", result,
    )


def test_each_bad_row_is_reported_by_line_and_the_good_rows_are_kept(customer):
    t = customer.tenant_id
    data = csv_bytes(
        row("ok-1", t),  # line 2
        row("blank-user", t, user=""),  # 3
        row("bad-date", t, start="2025-13-45T99:00"),  # 4
        row("negative", t, seconds="-5"),  # 5
        row("fraction", t, seconds="1.5"),  # 6
        row("call-type", t, call_type="local"),  # 7
        row("number-type", t, number_type="pager"),  # 8
        row("country", t, country="USA"),  # 9
        row("tenant", "00000000-0000-0000-0000-000000000001"),  # 10
        row("ok-1", t),  # 11: same record_id as line 2
        row("ok-2", t),  # 12
    )
    result = run(data)

    assert result.status == UsageImportStatus.DONE
    assert reasons(result) == [
        (3, BLANK_FIELD % {"field": "user"}),
        (4, BAD_DATE % {"value": "2025-13-45T99:00"}),
        (5, NEGATIVE_DURATION % {"value": "-5"}),
        (6, BAD_DURATION % {"value": "1.5"}),
        (7, UNKNOWN_CALL_TYPE % {"value": "local", "choices": "domestic, international, tollfree_inbound, conference_dialout"}),
        (8, UNKNOWN_NUMBER_TYPE % {"value": "pager", "choices": "landline, mobile, tollfree"}),
        (9, BAD_COUNTRY % {"value": "USA"}),
        (10, UNKNOWN_TENANT % {"value": "00000000-0000-0000-0000-000000000001"}),
        (11, DUPLICATE_OF_LINE % {"line": 2, "record_id": "ok-1"}),
    ]
    assert (result.total_rows, result.imported_rows, result.duplicate_rows) == (11, 2, 0)
    assert usage_import_error_rows(result) == 9
    assert sorted(UsageRecord.objects.values_list("record_id", flat=True)) == ["ok-1", "ok-2"]


def test_a_row_with_missing_cells_names_each_blank_field(customer):
    data = csv_bytes(f"short,{customer.tenant_id},ann")
    result = run(data)
    assert reasons(result) == [
        (2, "; ".join(BLANK_FIELD % {"field": f} for f in
                      ["start_time", "duration_seconds", "call_type", "destination_country", "number_type"])),
    ]


def test_malformed_tenant_id_is_an_unknown_tenant(customer):
    result = run(csv_bytes(row("x", "not-a-uuid")))
    assert reasons(result) == [(2, UNKNOWN_TENANT % {"value": "not-a-uuid"})]


def test_missing_column_imports_nothing_and_names_the_columns(customer):
    header = "record_id,tenant_id,user,start_time,call_type,destination_country"
    data = csv_bytes(f"c1,{customer.tenant_id},ann,2025-03-01T10:00:00Z,domestic,US", header=header)
    result = run(data)

    assert result.status == UsageImportStatus.FAILED
    assert reasons(result) == [(1, MISSING_COLUMNS % {"columns": "duration_seconds, number_type"})]
    assert not UsageRecord.objects.exists()


def test_empty_file_is_refused(db):
    result = run(b"")
    assert result.status == UsageImportStatus.FAILED
    assert reasons(result) == [(1, EMPTY_FILE)]


def test_columns_in_any_order_with_extra_columns_and_blank_lines(customer):
    header = "note,number_type,destination_country,call_type,duration_seconds,start_time,user,tenant_id,record_id"
    data = (f"{header}\nhello,mobile,IT,international,30,2025-03-01T10:00:00Z,bob,{customer.tenant_id},c9\n\n").encode()
    result = run(data)
    assert (result.imported_rows, result.errors) == (1, [])
    assert UsageRecord.objects.get(record_id="c9").destination_country == "IT"


def test_reimporting_a_file_counts_every_record_as_a_duplicate(customer):
    data = csv_bytes(row("c1", customer.tenant_id), row("c2", customer.tenant_id))
    run(data)
    again = run(data)

    assert again.status == UsageImportStatus.DONE
    assert (again.imported_rows, again.duplicate_rows, again.errors) == (0, 2, [])
    assert UsageRecord.objects.count() == 2
    # The records still belong to the first import: a re-send changes nothing.
    assert set(UsageRecord.objects.values_list("usage_import", flat=True)) == {UsageImport.objects.last().pk}


def test_record_already_in_the_database_is_a_duplicate_not_an_error(customer):
    UsageRecordFactory(record_id="old", customer=customer)
    result = run(csv_bytes(row("old", customer.tenant_id), row("new", customer.tenant_id)))
    assert (result.imported_rows, result.duplicate_rows, result.errors) == (1, 1, [])


def test_utf8_bom_and_non_ascii_text_are_accepted(customer):
    data = b"\xef\xbb\xbf" + csv_bytes(row("c1", customer.tenant_id, user="zoë@contoso.example"))
    result = run(data)
    assert (result.status, result.imported_rows) == (UsageImportStatus.DONE, 1)
    assert UsageRecord.objects.get().user == "zoë@contoso.example"


def test_latin1_file_is_refused_with_one_error_and_nothing_imported(customer):
    data = csv_bytes(row("c1", customer.tenant_id), row("c2", customer.tenant_id, user="zoë"), encoding="latin-1")
    result = run(data)

    assert result.status == UsageImportStatus.FAILED
    assert len(result.errors) == 1 and result.errors[0]["reason"] == BAD_ENCODING % {"line": result.errors[0]["line"]}
    assert (result.imported_rows, result.duplicate_rows) == (0, 0)
    assert not UsageRecord.objects.exists()


def test_bad_encoding_after_batches_were_written_takes_them_back(customer, monkeypatch):
    small_batches(monkeypatch, 2)
    UsageRecordFactory(record_id="c1", customer=customer)  # existed before: must survive
    lines = [row(f"c{i}", customer.tenant_id) for i in range(1, 9)]
    data = csv_bytes(*lines) + row("late", customer.tenant_id, user="zoë").encode("latin-1") + b"\n"
    result = usage_import_file(fileobj_chunks=[data[:200], data[200:]], file_name="late.csv")

    assert result.status == UsageImportStatus.FAILED
    assert result.errors[0]["reason"].startswith(str(BAD_ENCODING).split("(")[0])
    assert list(UsageRecord.objects.values_list("record_id", flat=True)) == ["c1"]
    assert result.imported_rows == 0


def test_batches_update_progress_and_duplicates_are_found_across_batches(customer, monkeypatch):
    small_batches(monkeypatch, 2)
    seen = []
    t = customer.tenant_id
    data = csv_bytes(row("a", t), row("b", t), row("c", t), row("a", t), row("d", t))
    result = run(data, progress=seen.append)

    assert seen == [2, 4, 5]
    assert reasons(result) == [(5, DUPLICATE_OF_LINE % {"line": 2, "record_id": "a"})]
    assert (result.processed_rows, result.imported_rows) == (5, 4)


def test_stored_errors_are_capped_but_counted(customer, monkeypatch):
    monkeypatch.setattr(usage_engine, "MAX_STORED_ERRORS", 3)  # the portable import
    monkeypatch.setattr(usage_import_copy, "MAX_STORED_ERRORS", 3)  # PostgreSQL's COPY lane
    data = csv_bytes(*[row(f"bad{i}", customer.tenant_id, seconds="x") for i in range(5)], row("ok", customer.tenant_id))
    result = run(data)
    assert [e["line"] for e in result.errors] == [2, 3, 4]
    assert usage_import_error_rows(result) == 5
    assert result.imported_rows == 1


def test_partner_file_accepts_only_the_partners_customers(partner_a, partner_b, customer_of):
    mine, theirs = customer_of(partner_a), customer_of(partner_b)
    data = csv_bytes(row("mine", mine.tenant_id), row("theirs", theirs.tenant_id))
    result = run(data, partner=partner_a)

    assert reasons(result) == [(3, UNKNOWN_TENANT % {"value": str(theirs.tenant_id)})]
    assert list(UsageRecord.objects.values_list("record_id", flat=True)) == ["mine"]
    assert result.partner == partner_a


def test_provider_may_import_for_its_resellers_customers(provider, reseller, customer_of):
    customer = customer_of(provider, reseller=reseller)
    result = run(csv_bytes(row("r1", customer.tenant_id)), partner=reseller)
    assert result.imported_rows == 1


def test_preview_checks_rows_without_writing(customer):
    UsageRecordFactory(record_id="old", customer=customer)
    data = csv_bytes(row("old", customer.tenant_id), row("new", customer.tenant_id), row("bad", customer.tenant_id, seconds="-1"))
    preview = usage_preview(fileobj_chunks=chunked(data))

    assert (preview.scanned, preview.valid, preview.already_imported, preview.invalid, preview.complete) == (3, 2, 1, 1, True)
    assert [(line, values["record_id"], reason) for line, values, reason in preview.rows] == [
        (2, "old", ""), (3, "new", ""), (4, "bad", NEGATIVE_DURATION % {"value": "-1"}),
    ]
    assert UsageRecord.objects.count() == 1


# --- the command ---------------------------------------------------------------------------


def test_command_prints_the_summary_and_first_errors(customer, tmp_path, capsys):
    path = tmp_path / "calls.csv"
    path.write_bytes(csv_bytes(row("c1", customer.tenant_id), row("c2", customer.tenant_id, seconds="-3")))
    call_command("import_usage", str(path))
    out = capsys.readouterr().out
    assert "Imported 1, duplicates 0, errors 1 (of 2 rows" in out
    assert f"line 3: {NEGATIVE_DURATION % {'value': '-3'}}" in out


def test_command_as_a_partner_rejects_other_tenants(partner_a, partner_b, customer_of, tmp_path, capsys):
    theirs = customer_of(partner_b)
    path = tmp_path / "calls.csv"
    path.write_bytes(csv_bytes(row("c1", theirs.tenant_id)))
    call_command("import_usage", str(path), "--partner", partner_a.mpn_id)
    assert "line 2: " + str(UNKNOWN_TENANT % {"value": str(theirs.tenant_id)}) in capsys.readouterr().out
    assert not UsageRecord.objects.exists()


def test_command_fails_on_a_missing_file(db, tmp_path):
    with pytest.raises(CommandError, match="Cannot read .*nope.csv"):
        call_command("import_usage", str(tmp_path / "nope.csv"))


def test_command_fails_on_an_unknown_partner(db, tmp_path):
    path = tmp_path / "calls.csv"
    path.write_bytes(csv_bytes())
    with pytest.raises(CommandError, match="No partner with MPN id 999"):
        call_command("import_usage", str(path), "--partner", "999")


def test_command_fails_on_a_missing_column_or_bad_encoding(customer, tmp_path):
    path = tmp_path / "calls.csv"
    path.write_bytes(b"record_id,user\nc1,ann\n")
    with pytest.raises(CommandError, match="Missing required column"):
        call_command("import_usage", str(path))
    path.write_bytes(csv_bytes(row("c1", customer.tenant_id, user="zoë"), encoding="latin-1"))
    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("import_usage", str(path))
    assert not UsageRecord.objects.exists()


def test_nul_and_control_characters_in_any_field_are_refused_by_line_and_the_rest_imported(customer):
    # Issue 10: a NUL in one field crashed the import and left it "running" for ever.
    t = customer.tenant_id
    data = csv_bytes(
        row("ok-1", t),  # line 2
        row("nul-user", t, user="ann\x00@contoso.example"),  # 3
        row("nul-type", t, call_type="dom\x00estic"),  # 4
        row("nul\x00id", t),  # 5
        row("bell", t, country="U\x07"),  # 6
        row("ok-2", t),  # 7
    )
    result = run(data)
    assert result.status == UsageImportStatus.DONE
    assert reasons(result) == [
        (3, CONTROL_CHARACTER % {"field": "user"}),
        (4, CONTROL_CHARACTER % {"field": "call_type"}),
        (5, CONTROL_CHARACTER % {"field": "record_id"}),
        (6, CONTROL_CHARACTER % {"field": "destination_country"}),
    ]
    assert sorted(UsageRecord.objects.values_list("record_id", flat=True)) == ["ok-1", "ok-2"]


def test_calls_before_2000_after_tomorrow_or_longer_than_a_day_are_refused_by_line(customer):
    t = customer.tenant_id
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(hours=23)
    too_late = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    data = csv_bytes(
        row("old", t, start="1999-12-31T23:59:59Z"),  # line 2
        row("year-1", t, start="0001-01-01T00:00:00Z"),  # 3
        row("year-9999", t, start="9999-12-31T00:00:00Z"),  # 4
        row("future", t, start=too_late.strftime("%Y-%m-%dT%H:%M:%SZ")),  # 5
        row("long", t, seconds="86401"),  # 6
        row("soon", t, start=tomorrow.strftime("%Y-%m-%dT%H:%M:%SZ")),  # 7: within a day, accepted
        row("a-day", t, seconds="86400"),  # 8: exactly a day, accepted
        row("y2k", t, start="2000-01-01T00:00:00Z"),  # 9
    )
    result = run(data)
    assert result.status == UsageImportStatus.DONE
    assert [line for line, _ in reasons(result)] == [2, 3, 4, 5, 6]
    assert reasons(result)[0] == (2, CALL_TOO_OLD % {"value": "1999-12-31T23:59:59Z"})
    assert reasons(result)[2] == (4, CALL_IN_FUTURE % {"value": "9999-12-31T00:00:00Z"})
    assert reasons(result)[4] == (6, DURATION_TOO_LARGE % {"value": "86401"})
    assert sorted(UsageRecord.objects.values_list("record_id", flat=True)) == ["a-day", "soon", "y2k"]


def test_an_import_that_stops_on_an_error_is_failed_never_left_running(customer, monkeypatch):
    def broken(*args):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(usage_engine, "write_rows", broken)  # the portable writer
    monkeypatch.setattr(usage_copy, "move", broken)  # PostgreSQL's COPY lane
    with pytest.raises(DatabaseError):
        run(csv_bytes(row("a", customer.tenant_id)))
    usage_import = UsageImport.objects.get()
    assert usage_import.status == UsageImportStatus.FAILED
    assert usage_import.errors[-1]["reason"] == str(usage_import_service.INTERNAL_FAILURE)
    assert usage_import_service.reap_dead_imports() == 0  # nothing left to reap


def test_a_running_import_without_a_live_process_is_reaped_as_failed(customer):
    dead = UsageImport.objects.create(file_name="x.csv", status=UsageImportStatus.RUNNING, processed_rows=7,
                                      imported_rows=5)
    alive = UsageImport.objects.create(file_name="y.csv", status=UsageImportStatus.RUNNING)
    assert run_locks.acquire(run_locks.USAGE_IMPORT, alive.pk)
    try:
        assert usage_import_service.reap_dead_imports() == 1
    finally:
        run_locks.release(run_locks.USAGE_IMPORT, alive.pk)
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == UsageImportStatus.FAILED and dead.imported_rows == 5
    assert dead.errors[-1]["reason"] == str(usage_import_service.PROCESS_DIED)
    assert alive.status == UsageImportStatus.RUNNING


def test_command_with_a_nul_byte_reports_the_line_and_exits_cleanly(customer, tmp_path, capsys):
    path = tmp_path / "calls.csv"
    path.write_bytes(csv_bytes(row("ok", customer.tenant_id), row("bad", customer.tenant_id, user="a\x00b")))
    call_command("import_usage", str(path))
    out = capsys.readouterr().out
    assert "Imported 1, duplicates 0, errors 1" in out and "line 3:" in out
    assert UsageImport.objects.get().status == UsageImportStatus.DONE


def test_values_with_surrounding_spaces_are_stripped_not_refused(customer):
    data = csv_bytes(row(" spaced ", f" {customer.tenant_id} ", user=" ann@contoso.example ", seconds=" 61 ",
                         call_type=" domestic", country="us "))
    result = run(data)
    assert result.errors == [] and result.imported_rows == 1
    record = UsageRecord.objects.get()
    assert (record.record_id, record.user, record.destination_country) == ("spaced", "ann@contoso.example", "US")


def test_one_tenant_written_two_ways_in_one_file_is_known_both_ways(customer):
    # The tenant lookup once kept one spelling per tenant: the other was reported unknown.
    t = str(customer.tenant_id)
    result = run(csv_bytes(row("lower", t), row("upper", t.upper()), row("bare", t.replace("-", ""))))

    assert result.errors == []
    assert result.imported_rows == 3
    assert set(UsageRecord.objects.values_list("customer_id", flat=True)) == {customer.pk}
