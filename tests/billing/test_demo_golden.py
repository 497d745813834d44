"""The golden reconciliation files of the demo month (issue 6): ``seed_demo``'s data, rated
by the rating engine, exported by ``reconciliation_csv``, byte for byte. The demo is built
around a fixed "today" (its ids are ``uuid5``s, its times come from the demo clock), so any
change of rating, pricing or the file's format shows up as a diff here.

To accept an intended change: ``UPDATE_GOLDEN=1 make test PYTEST_ARGS=tests/billing/test_demo_golden.py``,
then review the diff of ``tests/billing/golden/`` and commit it."""

import datetime as dt
import os
from pathlib import Path

import pytest
import time_machine

from billing.models import BillingMonth, RatedCall
from billing.reconciliation_selectors import reconciliation_csv
from demo.loader import load_demo
from portal.models import Partner

GOLDEN_DIR = Path(__file__).parent / "golden"
TODAY = dt.date(2026, 11, 22)
DEMO_MONTH = dt.date(2026, 10, 1)


@pytest.fixture
def demo(db):
    with time_machine.travel(dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC), tick=False):
        summary = load_demo(today=TODAY)
    assert summary["clock"].usage_month == DEMO_MONTH
    return summary


def golden_path(partner):
    return GOLDEN_DIR / f"demo_{DEMO_MONTH:%Y-%m}_{partner.mpn_id}.csv"


@pytest.mark.django_db
def test_the_demo_month_is_rated_by_the_engine(demo):
    month = BillingMonth.objects.get(month=DEMO_MONTH)
    assert demo["rated_calls"] > 0
    assert RatedCall.objects.filter(billing_month=month).count() == demo["rated_calls"]
    assert set(RatedCall.objects.filter(billing_month=month).values_list("status", flat=True)) >= {
        "included", "postpaid", "blocked"}


@pytest.mark.django_db
def test_golden_reconciliation_files_of_the_demo_month(demo):
    files = {}
    for partner in Partner.objects.order_by("mpn_id"):
        text = "".join(reconciliation_csv(partner=partner, month=DEMO_MONTH))
        if text.count("\n") > 1:  # more than the header
            files[partner.mpn_id] = (golden_path(partner), text)
    assert len(files) >= 2  # the direct-bill partner and the distributor at least
    if os.environ.get("UPDATE_GOLDEN"):  # pragma: no cover - rewrite on purpose, review the diff, commit
        for path, text in files.values():
            path.write_text(text, encoding="utf-8", newline="")
    for mpn_id, (path, text) in files.items():
        assert path.exists(), f"no golden file for partner {mpn_id}: run with UPDATE_GOLDEN=1 and review it"
        assert text == path.read_text(encoding="utf-8"), f"the demo month's file of {mpn_id} changed"
    stale = {p.name for p in GOLDEN_DIR.glob(f"demo_{DEMO_MONTH:%Y-%m}_*.csv")} - {p.name for p, _ in files.values()}
    assert not stale, f"golden files of partners with no lines any more: {stale}"
