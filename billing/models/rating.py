"""Rating and billing months: runs and their chunks, staged credit draws, rated calls and
the frozen reconciliation lines of a finalized month (SPEC §8, §9).

A call is rated at most once per run; re-rating a draft month replaces its lines, a
finalized month never changes.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing.models.credits import CreditAccount, CreditEntryKind
from billing.models.usage import Rate, UsageRecord
from overage.models import AzureSubscription
from portal.models import Partner
from portal.text import stored_text_in_language



class BillingMonthStatus(models.TextChoices):
    OPEN = "open", _("Open")
    FINALIZED = "finalized", _("Finalized")


class BillingMonth(models.Model):
    """A calendar month of billing (``month`` is its first day). A finalized month never changes."""

    month = models.DateField(_("month"), unique=True)
    status = models.CharField(
        _("status"), max_length=10, choices=BillingMonthStatus.choices, default=BillingMonthStatus.OPEN
    )
    finalized_at = models.DateTimeField(null=True, blank=True)
    finalized_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The run whose rated calls are the month's: a new run writes its rows beside these and
    # takes their place in one transaction at its end, so a run that dies changes nothing.
    published_run = models.OneToOneField(
        "RatingRun", on_delete=models.PROTECT, null=True, blank=True, related_name="published_for", db_index=False
    )

    class Meta:
        ordering = ["-month"]
        verbose_name = _("billing month")
        verbose_name_plural = _("billing months")
        constraints = [
            models.CheckConstraint(condition=Q(month__day=1), name="billing_month_first_day"),
        ]

    def __str__(self):
        return f"{self.month:%Y-%m}"


class RatingRunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


# What a run says when it ends, stored in English (``portal.text``): RatingRun.message_text.
CALLS_RATED = _("Calls rated: %(count)s")
RUN_DIED = _("The process rating this month stopped before the end; nothing of this run was published.")
RUN_SUPERSEDED = _("This run was stopped: another run of the month took over.")


class RatingRun(models.Model):
    """One run of rating for a month, with its progress for the progress bar.

    "Running" is only a claim: the process rating it holds a lock that dies with it
    (``billing.services.run_locks``), and a run whose lock is free is marked failed the next
    time anyone looks. Its rated calls stay invisible until it is published."""

    billing_month = models.ForeignKey(BillingMonth, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(_("status"), max_length=10, choices=RatingRunStatus.choices, default=RatingRunStatus.QUEUED)
    total_records = models.PositiveIntegerField(default=0)
    processed_records = models.PositiveIntegerField(default=0)
    total_chunks = models.PositiveIntegerField(_("chunks"), default=0)
    done_chunks = models.PositiveIntegerField(_("chunks done"), default=0)
    task_id = models.CharField(max_length=64, blank=True, help_text=_("The queued task that coordinates the run."))
    message = models.CharField(max_length=500, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("rating run")
        verbose_name_plural = _("rating runs")
        constraints = [
            # Two runs of one month at once would rate its calls twice: the database refuses.
            models.UniqueConstraint(
                fields=["billing_month"],
                condition=Q(status__in=["queued", "running"]),
                name="rating_one_active_run_per_month",
            ),
        ]

    def __str__(self):
        return f"Rating {self.billing_month} ({self.get_status_display()})"

    @property
    def message_text(self):
        """The run's last word in the reader's language (stored in English)."""
        return stored_text_in_language(self.message, [CALLS_RATED, RUN_DIED, RUN_SUPERSEDED]) if self.message else ""


class RatingChunkStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DONE = "done", _("Done")


class RatingChunk(models.Model):
    """A range of customers of a run, rated in one transaction by whichever worker claims it
    (``SELECT … FOR UPDATE SKIP LOCKED``). A worker that dies rolls its chunk back and
    releases the row lock, so another worker takes the chunk again."""

    run = models.ForeignKey(RatingRun, on_delete=models.CASCADE, related_name="chunks")
    number = models.PositiveIntegerField()
    first_customer_id = models.BigIntegerField()
    last_customer_id = models.BigIntegerField()
    calls = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=RatingChunkStatus.choices, default=RatingChunkStatus.PENDING)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.CharField(_("rated by"), max_length=100, blank=True, help_text=_("host:process id"))

    class Meta:
        ordering = ["run", "number"]
        verbose_name = _("rating chunk")
        verbose_name_plural = _("rating chunks")
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="rating_chunk_unique")]

    def __str__(self):
        return f"{self.run} chunk {self.number}"


class StagedCreditEntry(models.Model):
    """A credit draw or recharge computed by a run, kept apart from the ledger until the run
    is published (then copied into ``CreditLedgerEntry`` in the publishing transaction), so
    that no balance moves while a run that may still die is at work."""

    # No database constraints and no index on the account: a run stages tens of thousands
    # of rows, each taken from the run and the account it names, and PostgreSQL would check
    # both foreign keys row by row at each chunk's commit (0.4 s for a month's 55,000 draws).
    # CASCADE still applies to deletes made through the ORM; publishing reads them by run.
    run = models.ForeignKey(RatingRun, on_delete=models.CASCADE, related_name="staged_credit_entries", db_constraint=False)
    account = models.ForeignKey(CreditAccount, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False)
    kind = models.CharField(max_length=12, choices=CreditEntryKind.choices)
    amount = models.DecimalField(max_digits=18, decimal_places=6)
    occurred_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("staged credit entry")
        verbose_name_plural = _("staged credit entries")


class RatedCallStatus(models.TextChoices):
    INCLUDED = "included", _("Within included minutes")
    CREDITS = "credits", _("Paid from credits")
    POSTPAID = "postpaid", _("Post-paid overage")
    MIXED = "mixed", _("Credits and post-paid")
    BLOCKED = "blocked", _("Blocked")


class RatedCallQuerySet(models.QuerySet):
    def owned_by(self, partner):
        return self.filter(partner=partner)

    def transacted_by(self, partner):
        return self.filter(Q(partner=partner) | Q(reseller=partner))

    def published(self):
        """The rated calls of their month's published run: what the month bills. Rows of a
        run still at work, or of one that died, are never read as the month's."""
        return self.filter(run=models.F("billing_month__published_run"))

    def billed_in(self, month):
        """The published rated calls of the billing month starting ``month``. The run is
        read once (a scalar subquery) so the database walks the run's index."""
        run = BillingMonth.objects.filter(month=month).values("published_run")[:1]
        return self.filter(run=models.Subquery(run), billing_month__month=month)


class RatedCall(models.Model):
    """The rating of one call by one run: pool minutes, billable minutes, and how the charge
    was paid. Unique per call and run, and only the month's published run is read
    (``RatedCall.objects.published()``), so a call can never be billed twice."""

    usage_record = models.ForeignKey(UsageRecord, on_delete=models.PROTECT, related_name="ratings", db_index=False, db_constraint=False)
    run = models.ForeignKey(RatingRun, on_delete=models.PROTECT, related_name="rated_calls", db_index=False, db_constraint=False)
    # A million rows a month: besides the primary key and the unique (call, run), one partial
    # index (run, partner) serves every query; the foreign keys carry none of their own. Nor do they
    # carry database constraints: PostgreSQL checks Django's deferred foreign keys row by row
    # at commit (seven lookups a call, most of a chunk's time), while every value here comes
    # from a join with the row it names in the same statement. PROTECT still guards deletes
    # made through the ORM.
    billing_month = models.ForeignKey(BillingMonth, on_delete=models.PROTECT, related_name="rated_calls", db_index=False, db_constraint=False)
    is_adjustment = models.BooleanField(_("late adjustment"), default=False)
    minutes = models.PositiveIntegerField(_("minutes"))
    pool_minutes = models.PositiveIntegerField(_("from included minutes"))
    billable_minutes = models.PositiveIntegerField(_("billable minutes"))
    # How the billable minutes were paid: credits pay whole minutes while the balance
    # covers them, the rest accrues post-paid to the Azure subscription holding overage,
    # and minutes with neither are blocked (not billed).
    credit_minutes = models.PositiveIntegerField(_("minutes paid from credits"), default=0)
    postpaid_minutes = models.PositiveIntegerField(_("post-paid minutes"), default=0)
    blocked_minutes = models.PositiveIntegerField(_("blocked minutes"), default=0)
    rate = models.ForeignKey(Rate, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False, db_constraint=False)
    unit_price = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    amount = models.DecimalField(_("charge"), max_digits=12, decimal_places=6, default=0)
    credit_amount = models.DecimalField(_("paid from credits"), max_digits=12, decimal_places=6, default=0)
    postpaid_amount = models.DecimalField(_("post-paid"), max_digits=12, decimal_places=6, default=0)
    currency = models.CharField(max_length=3)
    azure_subscription = models.ForeignKey(
        AzureSubscription, on_delete=models.PROTECT, null=True, blank=True, related_name="rated_calls", db_index=False, db_constraint=False
    )
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="rated_calls", db_index=False, db_constraint=False
    )
    reseller = models.ForeignKey(Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False, db_constraint=False)
    status = models.CharField(_("status"), max_length=10, choices=RatedCallStatus.choices)

    objects = RatedCallQuerySet.as_manager()

    class Meta:
        verbose_name = _("rated call")
        verbose_name_plural = _("rated calls")
        constraints = [
            models.CheckConstraint(
                condition=Q(minutes=models.F("pool_minutes") + models.F("billable_minutes")), name="rated_call_minutes_add_up"
            ),
            models.CheckConstraint(
                condition=Q(
                    billable_minutes=models.F("credit_minutes") + models.F("postpaid_minutes") + models.F("blocked_minutes")
                ),
                name="rated_call_billable_minutes_split",
            ),
            # Within half a millionth, not equal: SQLite keeps decimals as floating point, so an
            # exact sum can miss by a rounding error (PostgreSQL's numeric is exact either way).
            models.CheckConstraint(
                condition=Q(amount__gte=models.F("credit_amount") + models.F("postpaid_amount") - Decimal("0.0000005"))
                & Q(amount__lte=models.F("credit_amount") + models.F("postpaid_amount") + Decimal("0.0000005")),
                name="rated_call_amount_paid",
            ),
            # Run first: a run's rows are found (and deleted once replaced) by this index, and
            # a call's rating in a given run too.
            models.UniqueConstraint(fields=["run", "usage_record"], name="rated_call_once_per_run"),
        ]
        # Only post-paid calls name a partner (the one that owned the overage): the index for
        # the partner's lines of a run skips the others, a third of the writing.
        indexes = [
            models.Index(fields=["run", "partner"], name="billing_rat_run_partner_idx",
                         condition=Q(partner__isnull=False)),
        ]

    def __str__(self):
        return gettext("%(record)s: %(minutes)s billable min") % {"record": self.usage_record_id, "minutes": self.billable_minutes}


class ReconciliationLineQuerySet(models.QuerySet):
    def owned_by(self, partner):
        return self.filter(partner=partner)


class ReconciliationLine(models.Model):
    """One line of a finalized month's reconciliation file, frozen when the month is
    finalized so that the file is byte-for-byte the same on every download (SPEC §9).

    ``values`` holds every column as the exact text written to the CSV; the other fields
    copy a few of them for filtering and totals. Written only by
    ``billing.services.reconciliation.reconciliation_snapshot``; never edited."""

    billing_month = models.ForeignKey(BillingMonth, on_delete=models.PROTECT, related_name="reconciliation_lines")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="reconciliation_lines")
    sequence = models.PositiveIntegerField(_("line"))
    charge_type = models.CharField(_("charge type"), max_length=20)
    customer_name = models.CharField(_("customer"), max_length=200)
    product_id = models.CharField(_("product id"), max_length=12)
    currency = models.CharField(_("currency"), max_length=3)
    subtotal = models.DecimalField(_("subtotal"), max_digits=18, decimal_places=2)
    values = models.JSONField(_("columns"))

    objects = ReconciliationLineQuerySet.as_manager()

    class Meta:
        ordering = ["billing_month", "partner", "sequence"]
        verbose_name = _("reconciliation line")
        verbose_name_plural = _("reconciliation lines")
        constraints = [
            models.UniqueConstraint(fields=["billing_month", "partner", "sequence"], name="reconciliation_line_unique"),
        ]

    def __str__(self):
        return f"{self.billing_month} {self.partner_id} #{self.sequence} {self.charge_type}"
