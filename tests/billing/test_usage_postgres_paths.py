"""The PostgreSQL write path of usage ingestion: the direct COPY and its conflict-safe fallback."""

from datetime import datetime
from datetime import timezone as dt_timezone

import pytest
from django.db import connection

from billing.models import UsageRecord
from billing.services.usage_write import write_postgresql
from tests.factories import CustomerFactory, UsageRecordFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path is PostgreSQL's"),
]

START = datetime(2026, 9, 1, 10, tzinfo=dt_timezone.utc)


def row(record_id, customer):
    return (record_id, customer.pk, "u@x.example", START, 60, "domestic", "US", "landline")


def test_a_batch_of_new_records_is_copied_whole():
    customer = CustomerFactory()
    assert write_postgresql([row("new-1", customer), row("new-2", customer)], None) == 2
    assert set(UsageRecord.objects.values_list("record_id", flat=True)) == {"new-1", "new-2"}


def test_an_existing_record_refuses_the_copy_and_the_staged_path_skips_only_it():
    customer = CustomerFactory()
    UsageRecordFactory(record_id="old-1", customer=customer, duration_seconds=7)
    assert write_postgresql([row("old-1", customer), row("new-1", customer), row("new-2", customer)], None) == 2
    assert set(UsageRecord.objects.values_list("record_id", flat=True)) == {"old-1", "new-1", "new-2"}
    assert UsageRecord.objects.get(record_id="old-1").duration_seconds == 7  # left alone


def test_the_same_id_twice_in_a_batch_is_inserted_once():
    customer = CustomerFactory()
    # The same id twice in one batch (the importer refuses it earlier; this is the last guard):
    # the COPY hits the unique constraint and the staged path inserts exactly one.
    assert write_postgresql([row("dup", customer), row("dup", customer), row("other", customer)], None) == 2
    assert UsageRecord.objects.filter(record_id="dup").count() == 1
