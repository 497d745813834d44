"""The PostgreSQL write path of usage ingestion: the direct COPY and its conflict-safe fallback."""

from datetime import datetime
from datetime import timezone as dt_timezone

import pytest
from django.db import connection

from billing.models import UsageRecord
from billing.services.usage import _write_postgresql
from tests.factories import CustomerFactory, UsageRecordFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path is PostgreSQL's"),
]

START = datetime(2026, 9, 1, 10, tzinfo=dt_timezone.utc)


def row(record_id, customer):
    return (record_id, customer.pk, "u@x.example", START, 60, "domestic", "US", "landline")


def test_existing_records_are_skipped_and_new_ones_copied():
    customer = CustomerFactory()
    UsageRecordFactory(record_id="old-1", customer=customer)
    assert _write_postgresql([row("old-1", customer), row("new-1", customer), row("new-2", customer)], None) == 2
    assert set(UsageRecord.objects.values_list("record_id", flat=True)) == {"old-1", "new-1", "new-2"}


def test_a_conflict_the_lookup_missed_falls_back_to_the_conflict_safe_path():
    customer = CustomerFactory()
    # The same id twice in one batch is not in the table yet, so the look-up misses it and the
    # COPY hits the unique constraint: the staged path must still insert exactly one.
    assert _write_postgresql([row("dup", customer), row("dup", customer), row("other", customer)], None) == 2
    assert UsageRecord.objects.filter(record_id="dup").count() == 1
