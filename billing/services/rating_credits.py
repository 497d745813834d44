"""Communication credits during a rating run (SPEC §8): a customer's balance replayed in the
time order of its priced calls.

Credits pay whole minutes while the balance covers them; auto-recharge refills the balance
whenever it falls below its threshold, and purchases made during the month count from their
moment on. Each step depends on the balance the previous call left, including the fraction
of a minute's price that a partly paid call leaves behind, so this one part of rating is a
replay, not a running sum: it reads only the priced, billable calls of customers that hold a
credit account (streamed by ``billing.services.rating_sql``) and returns, per call, the
minutes credits paid. Everything else about a call is computed in SQL.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Sum
from django.utils import translation

from billing.models import (
    CALLS_OF_NOTE,
    RECHARGE_NOTE,
    CreditAccount,
    CreditEntryKind,
    CreditLedgerEntry,
    StagedCreditEntry,
)
from billing.services.pg_copy import copy_rows

PRICE_PLACES = Decimal("0.000001")


@dataclass
class CreditState:
    """A customer's credit account replayed in time order during the run."""

    account: CreditAccount
    balance: Decimal
    upcoming: list  # (occurred_at, amount) of entries inside the month, oldest first
    draws: dict = field(default_factory=lambda: defaultdict(Decimal))  # day → amount drawn
    last_draw_at: dict = field(default_factory=dict)
    recharges: list = field(default_factory=list)

    def may_pay(self):
        """Whether this account can pay any minute this month: a positive balance now or
        later in the month, or auto-recharge. The others need no replay at all."""
        return (
            self.balance > 0
            or any(amount > 0 for _moment, amount in self.upcoming)
            or (self.account.auto_recharge and self.account.recharge_amount > 0)
        )

    def advance_to(self, moment):
        while self.upcoming and self.upcoming[0][0] <= moment:
            self.balance += self.upcoming.pop(0)[1]

    def pay(self, minutes, unit_price, moment):
        """Whole minutes paid from the balance; recharges when it falls below the threshold."""
        if unit_price <= 0 or minutes == 0:
            return 0
        paid = 0
        while paid < minutes:
            if self.balance < unit_price:
                if not self._recharge(moment):
                    break
                continue
            affordable = min(minutes - paid, int(self.balance // unit_price))
            self.balance -= unit_price * affordable
            paid += affordable
            day = moment.date()
            self.draws[day] += unit_price * affordable
            self.last_draw_at[day] = moment
            if self.account.auto_recharge and self.balance < self.account.threshold:
                self._recharge(moment)
        return paid

    def _recharge(self, moment):
        account = self.account
        if not account.auto_recharge or account.recharge_amount <= 0:
            return False
        self.balance += account.recharge_amount
        self.recharges.append((moment, account.recharge_amount))
        return True


def credit_states(first_customer_id, last_customer_id, month_start, month_end, billing_month):
    """The credit state at the month's start of every account of the customers in the range;
    the month's provisional draws of an earlier run are not part of it (they are replaced)."""
    accounts = {a.customer_id: a for a in CreditAccount.objects.filter(customer_id__gte=first_customer_id, customer_id__lte=last_customer_id)}
    if not accounts:
        return {}
    entries = CreditLedgerEntry.objects.filter(account__in=accounts.values()).exclude(billing_month=billing_month)
    opening = dict(
        entries.filter(occurred_at__lt=month_start).values_list("account_id").annotate(total=Sum("amount")).values_list(
            "account_id", "total"
        )
    )
    upcoming = defaultdict(list)
    for account_id, occurred_at, amount in (
        entries.filter(occurred_at__gte=month_start, occurred_at__lt=month_end)
        .order_by("occurred_at", "pk")
        .values_list("account_id", "occurred_at", "amount")
    ):
        upcoming[account_id].append((occurred_at, amount))
    return {
        customer_id: CreditState(account, opening.get(account.pk) or Decimal("0"), upcoming[account.pk])
        for customer_id, account in accounts.items()
    }


STAGED_COLUMNS = ("run_id", "account_id", "kind", "amount", "occurred_at", "note")


def stage_credit_entries(run, states):
    """Write the draws (one per customer per day, dated at that day's last paid call) and the
    recharges of ``states`` for ``run``, kept apart until it is published. Tens of thousands
    of rows a month: written as plain rows (``COPY`` on PostgreSQL), not model instances."""
    rows = []
    with translation.override("en"):  # stored in English; CreditLedgerEntry.note_text shows them
        calls_of, recharged = str(CALLS_OF_NOTE), str(RECHARGE_NOTE)
    draw, recharge = CreditEntryKind.USAGE_DRAW.value, CreditEntryKind.RECHARGE.value
    for state in states.values():
        account_id = state.account.pk
        for day, amount in sorted(state.draws.items()):
            rows.append((run.pk, account_id, draw, -amount.quantize(PRICE_PLACES), state.last_draw_at[day],
                         calls_of % {"day": day.isoformat()}))
        for moment, amount in state.recharges:
            rows.append((run.pk, account_id, recharge, amount, moment, recharged % {"threshold": state.account.threshold}))
    if not rows:
        return 0
    table = connection.ops.quote_name(StagedCreditEntry._meta.db_table)
    columns = ", ".join(STAGED_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            copy_rows(cursor, table, STAGED_COLUMNS, rows)
        else:
            adapt_time, adapt_amount = connection.ops.adapt_datetimefield_value, str
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s)",
                [(r[0], r[1], r[2], adapt_amount(r[3]), adapt_time(r[4]), r[5]) for r in rows],
            )
    return len(rows)


def publish_credit_entries(run, billing_month):
    """Inside the publishing transaction: the month's provisional draws and recharges become
    those of ``run`` (one ``INSERT … SELECT``, in the order they were staged)."""
    CreditLedgerEntry.objects.filter(billing_month=billing_month).delete()
    ledger = connection.ops.quote_name(CreditLedgerEntry._meta.db_table)
    staged = connection.ops.quote_name(StagedCreditEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ledger} (account_id, kind, amount, occurred_at, billing_month_id, note) "
            f"SELECT account_id, kind, amount, occurred_at, %s, note FROM {staged} WHERE run_id = %s ORDER BY id",
            [billing_month.pk, run.pk],
        )
    StagedCreditEntry.objects.filter(run=run).delete()
