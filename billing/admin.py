"""Django admin for credits, rates, usage, billing months and rating (operator's staff).

Money is append-only (SPEC §8): ledger rows are added, never changed or deleted, and only
through the ledger admin (the account page shows them read-only); rated calls and rating
runs are results, shown read-only; a finalized billing month never changes.
"""

from decimal import Decimal

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.db.models import DecimalField, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from billing.models import (
    BillingMonth,
    BillingMonthStatus,
    CreditAccount,
    CreditLedgerEntry,
    RatedCall,
    RatingChunk,
    Rate,
    RatingRun,
    UsageImport,
    UsageRecord,
)
from billing.forms import UsageUploadForm
from billing.services.rating import reap_dead_runs
from billing.services.usage_import import reap_dead_imports, usage_import_create
from billing.tasks import import_usage_upload, save_upload
from portal.admin import AuditedAdminMixin, ReadOnlyAdminMixin, ReadOnlyInline, UUIDSearchMixin
from portal.services import audit_record


class CreditLedgerEntryInline(ReadOnlyInline):
    model = CreditLedgerEntry
    fields = ["occurred_at", "kind", "amount", "note", "actor", "billing_month"]
    ordering = ["-occurred_at", "-id"]


@admin.register(CreditAccount)
class CreditAccountAdmin(AuditedAdminMixin, UUIDSearchMixin, admin.ModelAdmin):
    list_display = ["customer", "currency", "balance_display", "auto_recharge", "threshold", "recharge_amount", "created_at"]
    list_filter = ["auto_recharge", "currency"]
    list_select_related = ["customer"]
    search_fields = ["customer__name", "customer__domain"]
    uuid_search_fields = ["customer__tenant_id"]
    autocomplete_fields = ["customer"]
    readonly_fields = ["balance_display", "created_at"]
    ordering = ["customer__name"]
    inlines = [CreditLedgerEntryInline]

    def get_queryset(self, request):
        # The balance is the sum of the ledger, computed in the list query (no N+1).
        balance = Coalesce(
            Sum("entries__amount"), Decimal("0"), output_field=DecimalField(max_digits=14, decimal_places=2)
        )
        return super().get_queryset(request).annotate(ledger_balance=balance)

    @admin.display(description=_("balance"), ordering="ledger_balance")
    def balance_display(self, obj):
        balance = getattr(obj, "ledger_balance", None)
        return obj.balance() if balance is None else balance


@admin.register(CreditLedgerEntry)
class CreditLedgerEntryAdmin(UUIDSearchMixin, admin.ModelAdmin):
    """Staff add purchases and adjustments here; existing rows are never changed or deleted
    (a mistake is corrected by a further adjustment row)."""

    list_display = ["occurred_at", "account", "kind", "amount", "note", "actor", "billing_month"]
    list_filter = ["kind", "account__currency"]
    list_select_related = ["account__customer", "actor", "billing_month"]
    search_fields = ["account__customer__name", "note"]
    uuid_search_fields = ["account__customer__tenant_id"]
    autocomplete_fields = ["account"]
    date_hierarchy = "occurred_at"
    ordering = ["-occurred_at", "-id"]
    fields = ["account", "kind", "amount", "occurred_at", "note", "actor", "billing_month"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            # Who made the entry is the logged-in staff member; calls are linked by rating only.
            return ["actor", "billing_month"]
        return self.fields

    def get_changeform_initial_data(self, request):
        return {"occurred_at": timezone.now(), **super().get_changeform_initial_data(request)}

    def save_model(self, request, obj, form, change):
        obj.actor = request.user
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit_record(
                actor=request.user,
                action="credits.ledger_entry_added",
                obj=obj,
                customer=obj.account.customer,
                after={"kind": obj.kind, "amount": obj.amount, "note": obj.note},
                request_id=getattr(request, "request_id", ""),
            )


@admin.register(Rate)
class RateAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["destination_country", "number_type", "currency", "unit_price", "erp_price", "effective_from", "effective_to"]
    list_filter = ["number_type", "currency", "destination_country"]
    search_fields = ["=destination_country", "=currency"]
    date_hierarchy = "effective_from"
    ordering = ["destination_country", "number_type", "currency", "-effective_from"]


@admin.register(UsageImport)
class UsageImportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """An import is the record of what a CSV did: rows counted, imported, duplicate, and the
    line-numbered errors. It is written by the import, not by hand."""

    list_display = [
        "file_name",
        "source",
        "status",
        "total_rows",
        "imported_rows",
        "duplicate_rows",
        "error_count",
        "partner",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "source"]
    list_select_related = ["partner", "created_by"]
    search_fields = ["file_name", "partner__name"]
    date_hierarchy = "created_at"

    def changelist_view(self, request, extra_context=None):
        reap_dead_imports()  # an import whose process died reads as failed, not running
        return super().changelist_view(request, extra_context)
    ordering = ["-created_at"]
    fields = [
        "file_name",
        "source",
        "status",
        "total_rows",
        "processed_rows",
        "imported_rows",
        "duplicate_rows",
        "errors_display",
        "partner",
        "created_by",
        "created_at",
        "finished_at",
    ]
    readonly_fields = fields
    change_list_template = "admin/billing/usageimport/change_list.html"

    def get_urls(self):
        upload = path(
            "upload/", self.admin_site.admin_view(self.upload_view), name="billing_usageimport_upload"
        )
        return [upload, *super().get_urls()]

    def has_upload_permission(self, request):
        return request.user.has_perm("billing.add_usagerecord")

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "has_upload_permission": self.has_upload_permission(request)}
        return super().changelist_view(request, extra_context)

    def upload_view(self, request):
        """Staff upload a usage CSV as the operator (any customer); the import runs as a task
        and its page here shows the counts and the line-numbered errors."""
        if not self.has_upload_permission(request):
            raise PermissionDenied
        form = UsageUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            token = save_upload(upload)
            usage_import = usage_import_create(file_name=upload.name, acting_user=request.user, source="admin")
            transaction.on_commit(lambda: import_usage_upload.enqueue(usage_import.pk, token))
            messages.success(request, _("The import of %(name)s has started.") % {"name": upload.name})
            return redirect("admin:billing_usageimport_change", usage_import.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": _("Upload usage CSV"),
        }
        return TemplateResponse(request, "admin/billing/usageimport/upload.html", context)

    @admin.display(description=_("errors"))
    def error_count(self, obj):
        return len(obj.errors or [])

    @admin.display(description=_("errors"))
    def errors_display(self, obj):
        if not obj.errors:
            return "—"
        rows = (
            (error.get("line", ""), error.get("error") or error.get("reason") or error.get("message") or error)
            if isinstance(error, dict)
            else ("", error)
            for error in obj.errors
        )
        return format_html("<table>{}</table>", format_html_join("", "<tr><td>{}</td><td>{}</td></tr>", rows))


@admin.register(UsageRecord)
class UsageRecordAdmin(AuditedAdminMixin, UUIDSearchMixin, admin.ModelAdmin):
    list_display = [
        "record_id",
        "customer",
        "user",
        "started_at",
        "duration_seconds",
        "call_type",
        "destination_country",
        "number_type",
        "usage_import",
    ]
    list_filter = ["call_type", "number_type", "destination_country"]
    list_select_related = ["customer", "usage_import"]
    search_fields = ["=record_id", "user", "customer__name", "customer__domain"]
    uuid_search_fields = ["customer__tenant_id"]
    autocomplete_fields = ["customer"]
    raw_id_fields = ["usage_import"]
    readonly_fields = ["received_at"]
    date_hierarchy = "started_at"
    ordering = ["-started_at"]


class RatingRunInline(ReadOnlyInline):
    model = RatingRun
    fields = ["created_at", "status", "processed_records", "total_records", "message", "started_by", "finished_at"]
    ordering = ["-created_at"]


@admin.register(BillingMonth)
class BillingMonthAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Months are opened here; finalizing is the billing service's job (it freezes the
    month's rated calls), so the status is read-only and a finalized month is locked."""

    list_display = ["month", "status", "finalized_at", "finalized_by"]
    list_filter = ["status"]
    list_select_related = ["finalized_by"]
    date_hierarchy = "month"
    ordering = ["-month"]
    fields = ["month", "status", "finalized_at", "finalized_by"]
    inlines = [RatingRunInline]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return self.fields
        return ["status", "finalized_at", "finalized_by"]

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.status == BillingMonthStatus.FINALIZED:
            return False
        return super().has_delete_permission(request, obj)


class RatingChunkInline(admin.TabularInline):
    model = RatingChunk
    fields = ["number", "first_customer_id", "last_customer_id", "calls", "status", "done_at", "done_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(RatingRun)
class RatingRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Runs are results. A run whose process died is shown failed (reaped on every visit):
    nothing here needs fixing by hand, and a new run can start at once."""

    list_display = ["billing_month", "status", "processed_records", "total_records", "done_chunks", "total_chunks",
                    "started_by", "created_at", "finished_at"]
    list_filter = ["status"]
    list_select_related = ["billing_month", "started_by"]
    search_fields = ["message"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    inlines = [RatingChunkInline]

    def changelist_view(self, request, extra_context=None):
        reap_dead_runs()
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        reap_dead_runs()
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(RatedCall)
class RatedCallAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "usage_record",
        "customer",
        "billing_month",
        "partner",
        "reseller",
        "minutes",
        "pool_minutes",
        "billable_minutes",
        "amount",
        "credit_amount",
        "postpaid_amount",
        "currency",
        "status",
        "is_adjustment",
    ]
    list_filter = ["status", "is_adjustment", "billing_month", ("partner", admin.RelatedOnlyFieldListFilter)]

    def get_queryset(self, request):
        # What the months bill: a run at work or one that died is never shown as billed.
        return super().get_queryset(request).published()
    list_select_related = ["usage_record__customer", "billing_month", "partner", "reseller"]
    search_fields = ["=usage_record__record_id", "usage_record__customer__name", "partner__name", "partner__mpn_id"]
    ordering = ["-billing_month__month", "usage_record__started_at"]

    @admin.display(description=_("customer"), ordering="usage_record__customer__name")
    def customer(self, obj):
        return obj.usage_record.customer
