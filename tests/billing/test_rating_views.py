"""Staff rate a month with a button and follow the progress bar; the command does the same."""

from datetime import date, datetime
from datetime import timezone as dt_timezone
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.urls import reverse

from billing.models import BillingMonth, RatedCall, RatingRun
from billing.services import run_locks
from tests.factories import UsageRecordFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def october():
    with time_machine.travel(datetime(2026, 10, 5, tzinfo=dt_timezone.utc), tick=False):
        yield


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("ops@x.example", "ops@x.example", "x", is_staff=True))
    return client


@pytest.fixture
def september_call(db):
    return UsageRecordFactory(started_at=datetime(2026, 9, 3, 10, tzinfo=dt_timezone.utc), duration_seconds=120)


def test_staff_start_a_run_and_see_its_progress(staff, september_call, django_capture_on_commit_callbacks):
    page = staff.get(reverse("billing:rating"))
    assert page.status_code == 200 and b"September 2026" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(reverse("billing:rating_start"), {"month": "2026-09"})
    run = RatingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("billing:rating_run", args=[run.pk])
    assert run.status == "done" and run.processed_records == 1
    partial = staff.get(reverse("billing:rating_run", args=[run.pk]), headers={"HX-Request": "true"})
    assert b"<html" not in partial.content and b"100%" in partial.content
    assert b"hx-trigger" not in partial.content  # finished: the polling stops


@pytest.fixture
def alive():
    """``alive(run)``: hold the run's lock as the process rating it would."""
    held = []

    def hold(run):
        assert run_locks.acquire(run_locks.RATING_RUN, run.pk)
        held.append(run.pk)
        return run

    yield hold
    for pk in held:
        run_locks.release(run_locks.RATING_RUN, pk)


def test_a_running_run_keeps_polling(staff, alive):
    run = alive(RatingRun.objects.create(billing_month=BillingMonth.objects.create(month=date(2026, 9, 1)),
                                         status="running", total_records=10, processed_records=4))
    partial = staff.get(reverse("billing:rating_run", args=[run.pk]), headers={"HX-Request": "true"})
    assert b'hx-trigger="every 1s"' in partial.content and b"40%" in partial.content


def test_a_second_run_while_one_is_active_is_refused(staff, alive):
    month = BillingMonth.objects.create(month=date(2026, 9, 1))
    alive(RatingRun.objects.create(billing_month=month, status="running"))
    response = staff.post(reverse("billing:rating_start"), {"month": "2026-09"}, follow=True)
    assert b"being rated right now" in response.content
    assert RatingRun.objects.count() == 1


def test_a_run_whose_process_died_shows_as_failed_and_frees_the_month(
    staff, september_call, django_capture_on_commit_callbacks
):
    month = BillingMonth.objects.create(month=date(2026, 9, 1))
    dead = RatingRun.objects.create(billing_month=month, status="running", total_records=10, processed_records=4)
    partial = staff.get(reverse("billing:rating_run", args=[dead.pk]), headers={"HX-Request": "true"})
    assert b"stopped before the end" in partial.content and b"hx-trigger" not in partial.content
    dead.refresh_from_db()
    assert dead.status == "failed"
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(reverse("billing:rating_start"), {"month": "2026-09"})
    assert RatingRun.objects.exclude(pk=dead.pk).get().status == "done"


def test_the_command_takes_over_a_month_whose_run_died(september_call):
    month = BillingMonth.objects.create(month=date(2026, 9, 1))
    RatingRun.objects.create(billing_month=month, status="running")
    out = StringIO()
    call_command("rate_usage", "--month", "2026-09", stdout=out)
    assert "1 calls rated" in out.getvalue()
    assert list(RatingRun.objects.order_by("pk").values_list("status", flat=True)) == ["failed", "done"]


def test_rating_the_current_month_is_refused_with_a_message(staff):
    response = staff.post(reverse("billing:rating_start"), {"month": "2026-10"}, follow=True)
    assert b"has not ended yet" in response.content
    assert not RatingRun.objects.exists()


def test_finalize_from_the_page(staff, september_call, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(reverse("billing:rating_start"), {"month": "2026-09"})
    response = staff.post(reverse("billing:rating_finalize"), {"month": "2026-09"}, follow=True)
    assert b"is finalized" in response.content
    assert BillingMonth.objects.get(month=date(2026, 9, 1)).status == "finalized"
    again = staff.post(reverse("billing:rating_finalize"), {"month": "2026-09"}, follow=True)
    assert b"already finalized" in again.content


def test_partner_users_cannot_rate(make_member, partner_a):
    client = make_member(partner_a, "global_admin")
    assert client.post(reverse("billing:rating_start"), {"month": "2026-09"}).status_code == 302  # to admin login
    assert not RatingRun.objects.exists()


def test_command_rates_and_finalizes(september_call):
    out = StringIO()
    call_command("rate_usage", "--month", "2026-09", "--finalize", stdout=out)
    assert "1 calls rated" in out.getvalue() and "finalized" in out.getvalue()
    assert RatedCall.objects.count() == 1
    with pytest.raises(CommandError, match="finalized"):
        call_command("rate_usage", "--month", "2026-09")


@pytest.mark.parametrize("month", ["2026-9", "september", "2026-13"])
def test_command_refuses_a_bad_month(month):
    with pytest.raises(CommandError):
        call_command("rate_usage", "--month", month)


def test_command_refuses_a_month_that_has_not_ended():
    with pytest.raises(CommandError, match="has not ended"):
        call_command("rate_usage", "--month", "2026-10")


def test_rating_a_month_without_calls_is_refused_in_one_line_and_changes_nothing(db):
    with pytest.raises(CommandError, match="has no calls to rate: nothing was changed"):
        call_command("rate_usage", "--month", "2026-08")
    assert not RatingRun.objects.exists()


def test_the_progress_shows_chunks_done_of_total(staff, alive):
    run = alive(RatingRun.objects.create(billing_month=BillingMonth.objects.create(month=date(2026, 9, 1)),
                                         status="running", total_records=10, processed_records=4, total_chunks=5,
                                         done_chunks=2))
    partial = staff.get(reverse("billing:rating_run", args=[run.pk]), headers={"HX-Request": "true"})
    assert b"2 of 5 chunks done" in partial.content
