"""Django admin for Azure plans, Azure subscriptions and telco overage (operator's staff).

Where a customer's overage goes is billed from the assignment intervals, which only the
overage services open and close: on an existing setting, "enabled" and the Azure
subscription are read-only here, so the setting can never disagree with the intervals.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from overage.admin_actions import move_customers_to_azure_plan
from overage.models import (
    AzurePlan,
    AzureSubscription,
    OverageAssignment,
    OverageSetting,
    OverageTransfer,
)
from portal.admin import AuditedAdminMixin, UUIDSearchMixin
from portal.models import Customer


class AzureSubscriptionInline(admin.TabularInline):
    model = AzureSubscription
    fields = ["number", "friendly_name", "status", "dedicated_to_overage", "created_at"]
    readonly_fields = ["created_at"]
    extra = 0
    show_change_link = True


@admin.register(AzurePlan)
class AzurePlanAdmin(AuditedAdminMixin, UUIDSearchMixin, admin.ModelAdmin):
    list_display = ["customer", "partner", "subscription", "created_at"]
    list_filter = [("partner", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["customer", "partner", "subscription__sku", "subscription__customer"]
    search_fields = ["customer__name", "customer__domain", "partner__name", "partner__mpn_id"]
    uuid_search_fields = ["customer__tenant_id", "subscription__id"]
    autocomplete_fields = ["customer", "partner", "subscription"]
    readonly_fields = ["created_at"]
    ordering = ["customer__name"]
    inlines = [AzureSubscriptionInline]


@admin.register(AzureSubscription)
class AzureSubscriptionAdmin(AuditedAdminMixin, UUIDSearchMixin, admin.ModelAdmin):
    list_display = ["friendly_name", "id", "customer", "number", "status", "dedicated_to_overage", "created_at"]
    list_filter = ["status", "dedicated_to_overage"]
    list_select_related = ["plan__customer"]
    search_fields = ["friendly_name", "plan__customer__name", "plan__customer__domain", "plan__partner__name"]
    uuid_search_fields = ["id", "plan__customer__tenant_id"]
    autocomplete_fields = ["plan", "created_by"]
    readonly_fields = ["created_at"]
    ordering = ["plan__customer__name", "number"]

    @admin.display(description=_("customer"), ordering="plan__customer__name")
    def customer(self, obj):
        return obj.plan.customer


@admin.register(OverageSetting)
class OverageSettingAdmin(AuditedAdminMixin, UUIDSearchMixin, admin.ModelAdmin):
    list_display = ["customer", "service", "owner", "reseller", "enabled", "azure_subscription", "transfer_to", "updated_at"]
    list_filter = ["service", "enabled", ("owner", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["customer", "owner", "reseller", "azure_subscription", "transfer_to"]
    search_fields = ["customer__name", "customer__domain", "owner__name", "owner__mpn_id"]
    uuid_search_fields = ["customer__tenant_id", "azure_subscription__id"]
    autocomplete_fields = ["customer", "owner", "reseller", "azure_subscription", "transfer_to"]
    ordering = ["customer__name", "service"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ["enabled", "azure_subscription", "created_at", "updated_at"]
        return ["created_at", "updated_at"]


class OpenAssignmentFilter(admin.SimpleListFilter):
    title = _("open")
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", _("Open (current)")), ("no", _("Ended"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(ended_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(ended_at__isnull=False)
        return queryset


@admin.register(OverageAssignment)
class OverageAssignmentAdmin(AuditedAdminMixin, UUIDSearchMixin, admin.ModelAdmin):
    list_display = ["customer", "service", "partner", "reseller", "azure_subscription", "started_at", "ended_at"]
    list_filter = [OpenAssignmentFilter, "service", ("partner", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["customer", "partner", "reseller", "azure_subscription"]
    search_fields = ["customer__name", "partner__name", "partner__mpn_id", "azure_subscription__friendly_name"]
    uuid_search_fields = ["customer__tenant_id", "azure_subscription__id"]
    autocomplete_fields = ["customer", "partner", "reseller", "azure_subscription", "started_by", "ended_by"]
    date_hierarchy = "started_at"
    ordering = ["customer__name", "-started_at"]


@admin.register(OverageTransfer)
class OverageTransferAdmin(AuditedAdminMixin, UUIDSearchMixin, admin.ModelAdmin):
    list_display = [
        "customer",
        "service",
        "from_partner",
        "to_partner",
        "customer_agreed_at",
        "from_partner_agreed_at",
        "to_partner_agreed_at",
        "fully_agreed",
        "completed_at",
    ]
    list_filter = ["service", ("completed_at", admin.EmptyFieldListFilter)]
    list_select_related = ["customer", "from_partner", "to_partner"]
    search_fields = ["customer__name", "from_partner__name", "to_partner__name"]
    uuid_search_fields = ["customer__tenant_id"]
    autocomplete_fields = ["customer", "from_partner", "to_partner", "recorded_by"]
    readonly_fields = ["created_at"]
    ordering = ["-created_at"]

    @admin.display(description=_("all agreed"), boolean=True)
    def fully_agreed(self, obj):
        return obj.fully_agreed


# The Customer admin belongs to portal, which cannot know about Azure plans: the overage app
# adds its "Move to Azure plan" action to it (portal's admin is registered first).
_customer_admin_class = admin.site._registry[Customer].__class__
if move_customers_to_azure_plan not in _customer_admin_class.actions:
    _customer_admin_class.actions = [*(_customer_admin_class.actions or []), move_customers_to_azure_plan]
