from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from subscriptions.tasks import renew_due_subscriptions
from tests.factories import SubscriptionFactory


@pytest.mark.django_db
def test_command_renews_what_ended_before_the_date():
    renewing = SubscriptionFactory(start_date=date(2026, 1, 1), commitment_end_date=date(2026, 12, 31))
    lapsing = SubscriptionFactory(start_date=date(2026, 1, 1), commitment_end_date=date(2026, 12, 31), auto_renew_enabled=False)
    out = StringIO()
    call_command("renew_subscriptions", "--date", "2027-01-01", stdout=out)
    assert "1 renewed, 1 expired" in out.getvalue()
    renewing.refresh_from_db()
    lapsing.refresh_from_db()
    assert renewing.commitment_end_date == date(2027, 12, 31)
    assert lapsing.status == "expired"


@pytest.mark.django_db
def test_command_refuses_a_bad_date_with_one_line():
    with pytest.raises(CommandError, match="--date must be YYYY-MM-DD"):
        call_command("renew_subscriptions", "--date", "2027-13-01")


@pytest.mark.django_db
def test_task_runs_the_renewal():
    SubscriptionFactory(start_date=date(2026, 1, 1), commitment_end_date=date(2026, 12, 31))
    result = renew_due_subscriptions.enqueue("2027-01-01")
    assert result.return_value == {"renewed": 1, "expired": 0}
