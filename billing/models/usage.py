"""Call rates and call usage: the rate card, usage imports and the imported records (SPEC §8)."""


from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from billing.models.credits import _visible_customers
from portal.models import Customer, Partner
from portal.text import stored_text_in_language



class NumberType(models.TextChoices):
    LANDLINE = "landline", _("Landline")
    MOBILE = "mobile", _("Mobile")
    TOLLFREE = "tollfree", _("Toll-free")


class CallType(models.TextChoices):
    DOMESTIC = "domestic", _("Domestic")
    INTERNATIONAL = "international", _("International")
    TOLLFREE_INBOUND = "tollfree_inbound", _("Toll-free inbound")
    CONFERENCE_DIALOUT = "conference_dialout", _("Conference dial-out")


class Rate(models.Model):
    """Per-minute list price for calls to a destination country and number type. Overage is
    charged at list price: no CSP discount, no margin, no partner-earned credit."""

    destination_country = models.CharField(_("destination country"), max_length=2)
    number_type = models.CharField(_("number type"), max_length=10, choices=NumberType.choices)
    currency = models.CharField(_("currency"), max_length=3)
    unit_price = models.DecimalField(_("price per minute"), max_digits=12, decimal_places=6)
    erp_price = models.DecimalField(_("ERP price per minute"), max_digits=12, decimal_places=6)
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective until"), null=True, blank=True)

    class Meta:
        ordering = ["destination_country", "number_type", "currency", "-effective_from"]
        verbose_name = _("call rate")
        verbose_name_plural = _("call rates")
        constraints = [
            models.UniqueConstraint(
                fields=["destination_country", "number_type", "currency", "effective_from"], name="rate_unique"
            ),
            models.CheckConstraint(condition=Q(unit_price__gte=0) & Q(erp_price__gte=0), name="rate_not_negative"),
        ]

    def __str__(self):
        return f"{self.destination_country} {self.number_type} {self.unit_price} {self.currency}/min"


class UsageImportStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class UsageImportQuerySet(models.QuerySet):
    def owned_by(self, partner):
        return self.filter(partner=partner)


# The name of an import sent through the API, stored in English (``portal.text``).
API_BATCH_NAME = _("API batch of %(count)s records")


class UsageImport(models.Model):
    """One CSV (or API batch) of call records, with its line-numbered errors."""

    file_name = models.CharField(_("file"), max_length=255)
    source = models.CharField(_("source"), max_length=20, default="upload")
    status = models.CharField(
        _("status"), max_length=10, choices=UsageImportStatus.choices, default=UsageImportStatus.PENDING
    )
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    imported_rows = models.PositiveIntegerField(default=0)
    duplicate_rows = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    partner = models.ForeignKey(Partner, on_delete=models.SET_NULL, null=True, blank=True, related_name="usage_imports")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = UsageImportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("usage import")
        verbose_name_plural = _("usage imports")

    def __str__(self):
        return f"{self.display_name} ({self.get_status_display()})"

    @property
    def display_name(self):
        """The file's name, or an API batch's name in the reader's language."""
        return stored_text_in_language(self.file_name, [API_BATCH_NAME]) if self.source == "api" else self.file_name


class UsageRecordQuerySet(models.QuerySet):
    def transacted_by(self, partner):
        return self.filter(customer__in=_visible_customers(partner))


class UsageRecord(models.Model):
    """One call. Re-sending a record with the same ``record_id`` is a no-op.

    Millions arrive a month, so the table keeps only three indexes: the primary key, the
    unique record id (a constraint, which on PostgreSQL spares the extra LIKE index a
    ``unique=True`` text field gets) and (customer, start), which also serves the customer
    foreign key."""

    record_id = models.CharField(_("record id"), max_length=100)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="usage_records", db_index=False)
    user = models.CharField(_("user"), max_length=254)
    started_at = models.DateTimeField(_("start (UTC)"))
    duration_seconds = models.PositiveIntegerField(_("duration (s)"))
    call_type = models.CharField(_("call type"), max_length=20, choices=CallType.choices)
    destination_country = models.CharField(_("destination country"), max_length=2)
    number_type = models.CharField(_("number type"), max_length=10, choices=NumberType.choices)
    # Provenance only, written by the import itself: no database-level foreign-key check on
    # the hot insert path (Django still applies SET_NULL when an import is deleted).
    usage_import = models.ForeignKey(
        UsageImport,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="records",
        db_index=False,
        db_constraint=False,
    )
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    objects = UsageRecordQuerySet.as_manager()

    class Meta:
        ordering = ["started_at"]
        verbose_name = _("usage record")
        verbose_name_plural = _("usage records")
        constraints = [
            models.CheckConstraint(condition=Q(duration_seconds__gte=0), name="usage_duration_not_negative"),
            models.UniqueConstraint(fields=["record_id"], name="usage_record_id_unique"),
        ]
        indexes = [models.Index(fields=["customer", "started_at"])]

    def __str__(self):
        return self.record_id
