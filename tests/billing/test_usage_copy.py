"""PostgreSQL's COPY lane of the usage import (``billing.services.usage_copy``) gives exactly
what the portable import gives: the same records, counts and line-numbered errors, for files
mixing good rows, every kind of bad row, repeats and records imported before; and a file the
lane cannot take (NUL, a field spanning lines, a blank line, a short row) goes the portable
way with the same outcome."""

import difflib
import pprint
import random

import pytest
from django.db import connection

from billing.models import UsageImport, UsageRecord
from billing.services import usage_import as usage_service
from billing.services import usage_copy, usage_import_copy
from tests.billing.test_usage_import import HEADER, chunked, csv_bytes, row
from tests.factories import CustomerFactory, PartnerFactory, UsageRecordFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY lane is PostgreSQL's"),
]

STARTS = [
    "2025-03-01T10:00:00Z", "2025-03-01T10:00:00", "2025-03-01T12:00:00+02:00", "2025-03-01T10:00:00.25Z",
    "2024-02-29T23:59:59Z", "2025-02-30T10:00:00Z", "2025-13-01T10:00:00Z", "1999-12-31T23:59:59Z",
    "9999-12-31T00:00:00Z", "2025-03-01 10:00:00", "2025-03-01", "yesterday", "", "2025-03-01T24:00:00Z",
    "2025-03-01T10:00:00.1234567Z", "2025-04-31T00:00:00Z",
    # Shapes SQL lets through to its casts, which refuse them or read a sign: Python decides.
    "2025-03-01T1T:00:00Z", "2025-03-01T-1:00:00Z", "2025-03-01T-0:00:00Z", "2025-03-01T10:0Z:00Z",
    "2025-03-01T10:00:60Z", "2025-03-01T10:00:00+-1:00", "2025-03-01T10:00:00+24:00", "2025-03-01T+1:00:00Z",
    "2025-0-1-01T10:00:00Z", "2024-02-29T10:00:00-00:00", "2100-02-29T10:00:00Z", "2025-03-01T10:00:00+0Z:00",
]
SECONDS = ["0", "61", "86400", "86401", "-5", "1.5", "", "007", "99999", "000000000061", "٣"]
USERS = ["ann@contoso.example", " ann@contoso.example", "José", "", "x" * 255, "bob smith", "a\u00a0b"]
COUNTRIES = ["US", "gb", "U", "USA", "", "1T"]
CALL_TYPES = ["domestic", "international", "Domestic", "fax", ""]
NUMBER_TYPES = ["landline", "mobile", "tollfree", "satellite"]


def random_file(rng, tenants, existing_ids, repeats=True):
    lines, ids, existing_ids = [], [], list(existing_ids)
    for i in range(rng.randint(20, 60)):
        pick = rng.random()
        if ids and pick < 0.12 and repeats:
            record_id = rng.choice(ids)  # a repeat of an earlier line (good or not)
        elif pick < 0.2 and existing_ids:
            record_id = rng.choice(existing_ids)  # imported before: a duplicate
            if not repeats:
                existing_ids.remove(record_id)
        elif pick < 0.25:
            record_id = rng.choice(["", " r-pad ", "r" * 101] if repeats else ["", f" r-pad{i} ", "r" * (101 + i)])
        else:
            record_id = f"r{i}"
        ids.append(record_id)
        tenant = rng.choice([*tenants, *tenants, "not-a-uuid", "00000000-0000-0000-0000-000000000000",
                             str(tenants[0]).upper(), str(tenants[0]).replace("-", "")])
        plain = rng.random() < 0.5  # half the rows good as written, half drawn from every kind
        lines.append(row(
            record_id, tenant,
            user=USERS[0] if plain else rng.choice(USERS),
            start=STARTS[0] if plain else rng.choice(STARTS),
            seconds="61" if plain else rng.choice(SECONDS),
            call_type=CALL_TYPES[0] if plain else rng.choice(CALL_TYPES),
            country=COUNTRIES[0] if plain else rng.choice(COUNTRIES),
            number_type=NUMBER_TYPES[0] if plain else rng.choice(NUMBER_TYPES),
        ))
    return csv_bytes(*lines)


def outcome(result):
    records = sorted(UsageRecord.objects.filter(usage_import=result).values_list(
        "record_id", "customer_id", "user", "started_at", "duration_seconds", "call_type", "destination_country",
        "number_type"))
    return (result.status, result.total_rows, result.processed_rows, result.imported_rows, result.duplicate_rows,
            result.errors, records)


def differences(copied, portable):
    return "\n".join(difflib.unified_diff(pprint.pformat(copied, width=150).splitlines(),
                                          pprint.pformat(portable, width=150).splitlines(), "copy", "portable", lineterm=""))


def import_both_ways(data, partner, monkeypatch):
    """The file through the COPY lane, then (its records removed) the portable way."""
    lane_calls = []
    real = usage_service.import_by_copy
    monkeypatch.setattr(usage_service, "import_by_copy", lambda *a: lane_calls.append(real(*a)) or lane_calls[-1])
    by_copy = usage_service.usage_import_file(fileobj_chunks=chunked(data, 50), file_name="a.csv", partner=partner)
    copied = outcome(by_copy)
    UsageRecord.objects.filter(usage_import=by_copy).delete()
    monkeypatch.setattr(usage_service, "import_by_copy", lambda *a: False)
    portable = usage_service.usage_import_file(fileobj_chunks=chunked(data, 50), file_name="b.csv", partner=partner)
    return lane_calls, copied, outcome(portable)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("chunk", [10_000, 7], ids=["one-chunk", "chunks-of-7"])
def test_the_copy_lane_gives_what_the_portable_import_gives(seed, chunk, monkeypatch):
    # Chunks of 7 lines: repeats and duplicates across chunks, and chunks whose insert skips rows.
    monkeypatch.setattr(usage_import_copy, "BATCH_SIZE", chunk)
    rng = random.Random(seed)
    partner = PartnerFactory()
    mine = [CustomerFactory(partner=partner) for _ in range(2)]
    other = CustomerFactory()  # another partner's: unknown to this one
    existing = [UsageRecordFactory(customer=mine[0], record_id=f"old{i}").record_id for i in range(3)]
    data = random_file(rng, [c.tenant_id for c in mine] + [other.tenant_id], existing)

    lane_calls, copied, portable = import_both_ways(data, partner, monkeypatch)

    assert lane_calls == [True], "the file should have gone through COPY"
    assert copied == portable, differences(copied, portable)
    assert copied[3] > 0 and copied[5], "the file should have good and bad rows"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("body", [
    'a,{t},ann@x.example,2025-03-01T10:00:00Z,61,domestic,US,landline\nb,{t},"ann\x00",2025-03-01T10:00:00Z,61,domestic,US,landline',
    'a,{t},"ann\nsmith",2025-03-01T10:00:00Z,61,domestic,US,landline\nb,{t},bob,2025-03-01T10:00:00Z,61,domestic,US,landline',
    'a,{t},ann,2025-03-01T10:00:00Z,61,domestic,US,landline\n\nb,{t},bob,2025-03-01T10:00:00Z,61,domestic,US,landline',
    'a,{t},ann,2025-03-01T10:00:00Z,61,domestic,US\nb,{t},bob,2025-03-01T10:00:00Z,61,domestic,US,landline',
    'a,{t},ann,2025-03-01T10:00:00Z,61,domestic,US,landline,extra\nb,{t},bob,2025-03-01T10:00:00Z,61,domestic,US,landline',
], ids=["nul", "field-spanning-lines", "blank-line", "short-row", "long-row"])
def test_a_file_the_lane_cannot_take_goes_the_portable_way(body, monkeypatch):
    customer = CustomerFactory()
    data = (HEADER + "\n" + body.format(t=customer.tenant_id) + "\n").encode()

    lane_calls, copied, portable = import_both_ways(data, None, monkeypatch)

    assert lane_calls == [False]
    assert copied == portable


@pytest.mark.django_db(transaction=True)
def test_the_lane_leaves_no_staging_tables_behind(monkeypatch):
    customer = CustomerFactory()
    usage_service.usage_import_file(fileobj_chunks=[csv_bytes(row("a", customer.tenant_id))], file_name="a.csv")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'usage_copy%%'")
        assert cursor.fetchone()[0] == 0
    assert UsageImport.objects.get().imported_rows == 1


@pytest.mark.django_db(transaction=True)
def test_rows_only_python_can_vouch_for_go_through_the_lane(monkeypatch):
    customer = CustomerFactory()
    data = csv_bytes(*(row(f"r{i}", customer.tenant_id, user=" padded") for i in range(5)))

    lane_calls, copied, portable = import_both_ways(data, None, monkeypatch)

    assert lane_calls == [True]
    assert copied == portable and copied[3] == 5


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("start", ["2025-03-01T1T:00:00Z", "2025-03-01T10:0Z:00Z"])
def test_a_start_sql_cannot_read_sends_its_chunk_to_python(start, monkeypatch):
    customer = CustomerFactory()
    data = csv_bytes(row("a", customer.tenant_id), row("b", customer.tenant_id, start=start),
                     row("c", customer.tenant_id))
    exact = []
    real = usage_import_copy._move_chunk_exactly
    monkeypatch.setattr(usage_import_copy, "_move_chunk_exactly", lambda *a: exact.append(a[1:3]) or real(*a))

    lane_calls, copied, portable = import_both_ways(data, None, monkeypatch)

    assert lane_calls == [True] and exact == [(2, 5)]
    assert copied == portable and copied[3] == 2 and copied[5][0]["line"] == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seed", range(6))
def test_a_file_without_repeats_moves_its_chunks_on_two_connections(seed, monkeypatch):
    # Which connection moves which chunk depends on timing; the outcome may not.
    monkeypatch.setattr(usage_import_copy, "BATCH_SIZE", 5)
    rng = random.Random(seed)
    partner = PartnerFactory()
    mine = [CustomerFactory(partner=partner) for _ in range(2)]
    existing = [UsageRecordFactory(customer=mine[0], record_id=f"old{i}").record_id for i in range(3)]
    data = random_file(rng, [c.tenant_id for c in mine] + [CustomerFactory().tenant_id], existing, repeats=False)
    asked = []
    real = usage_copy.repeats_a_record_id
    monkeypatch.setattr(usage_copy, "repeats_a_record_id", lambda *a: asked.append(real(*a)) or asked[-1])

    lane_calls, copied, portable = import_both_ways(data, partner, monkeypatch)

    assert lane_calls == [True] and asked == [False]  # the second connection took chunks once it knew
    assert copied == portable, differences(copied, portable)
    assert copied[3] > 0 and copied[5], "the file should have good and bad rows"
