"""Django admin for carts, orders, subscriptions and their history (operator's staff, SPEC §1).

Seat history and charge events are append-only money records: shown, never edited. A
subscription's status may only move along the declared transition table, and its seat
count is the running total of its seat history, so it is read-only once it exists.
"""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from portal.admin import AuditedAdminMixin, ReadOnlyAdminMixin, ReadOnlyInline, UUIDSearchMixin
from subscriptions.models import (
    SUBSCRIPTION_TRANSITIONS,
    AddonRemovalRequest,
    Cart,
    CartLine,
    ChargeEvent,
    Order,
    SeatChange,
    Subscription,
    SubscriptionStatus,
)
from subscriptions.services import changes
from subscriptions.services.lifecycle import SubscriptionError

STATUS_TRANSITION_MESSAGE = _("A subscription cannot go from %(old)s to %(new)s.")
REMOVAL_COMPLETED_MESSAGE = ngettext_lazy(
    "%(count)d add-on removed with its credit.", "%(count)d add-ons removed with their credit.", "count"
)
REMOVAL_REJECTED_MESSAGE = ngettext_lazy(
    "%(count)d removal request rejected.", "%(count)d removal requests rejected.", "count"
)

# Subscription.__str__ reads its SKU and customer: every list showing subscriptions joins them.
SUBSCRIPTION_RELATED = ["subscription__sku", "subscription__customer"]


class CartLineInline(admin.TabularInline):
    model = CartLine
    fields = [
        "line_number",
        "availability",
        "quantity",
        "term_duration",
        "billing_cycle",
        "friendly_name",
        "error_code",
        "error_description",
    ]
    autocomplete_fields = ["availability"]
    extra = 0


@admin.register(Cart)
class CartAdmin(AuditedAdminMixin, UUIDSearchMixin, admin.ModelAdmin):
    list_display = ["id", "partner", "customer", "reseller", "status", "created_at", "expires_at"]
    list_filter = ["status", ("partner", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["partner", "customer", "reseller"]
    search_fields = ["customer__name", "partner__name", "partner__mpn_id"]
    uuid_search_fields = ["id", "customer__tenant_id"]
    autocomplete_fields = ["partner", "customer", "reseller", "created_by"]
    readonly_fields = ["created_at", "updated_at"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    inlines = [CartLineInline]


@admin.register(Order)
class OrderAdmin(AuditedAdminMixin, UUIDSearchMixin, admin.ModelAdmin):
    list_display = ["id", "partner", "customer", "reseller", "currency", "created_by", "created_at"]
    list_filter = ["currency", ("partner", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["partner", "customer", "reseller", "created_by"]
    search_fields = ["customer__name", "partner__name", "partner__mpn_id", "=idempotency_key"]
    uuid_search_fields = ["id", "cart__id", "customer__tenant_id"]
    autocomplete_fields = ["partner", "customer", "reseller", "created_by"]
    raw_id_fields = ["cart"]
    readonly_fields = ["created_at"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]


class SeatChangeInline(ReadOnlyInline):
    model = SeatChange
    fields = ["occurred_at", "kind", "delta", "quantity_after", "refundable_until", "actor"]
    ordering = ["occurred_at", "id"]


class ChargeEventInline(ReadOnlyInline):
    model = ChargeEvent
    fields = [
        "occurred_at",
        "charge_type",
        "quantity",
        "unit_price",
        "effective_unit_price",
        "amount",
        "currency",
        "charge_start",
        "charge_end",
        "order",
    ]
    ordering = ["occurred_at", "id"]


class SubscriptionAdminForm(forms.ModelForm):
    class Meta:
        model = Subscription
        fields = "__all__"

    def clean_status(self):
        """A status change follows ``SUBSCRIPTION_TRANSITIONS``, in admin as in the portal."""
        new = self.cleaned_data["status"]
        if self.instance.pk is None:
            return new
        old = Subscription.objects.filter(pk=self.instance.pk).values_list("status", flat=True).first()
        if old and new != old and new not in SUBSCRIPTION_TRANSITIONS.get(SubscriptionStatus(old), set()):
            raise forms.ValidationError(
                STATUS_TRANSITION_MESSAGE,
                code="invalid_transition",
                params={"old": SubscriptionStatus(old).label, "new": SubscriptionStatus(new).label},
            )
        return new


@admin.register(Subscription)
class SubscriptionAdmin(AuditedAdminMixin, UUIDSearchMixin, admin.ModelAdmin):
    form = SubscriptionAdminForm
    list_display = [
        "name_display",
        "customer",
        "partner",
        "reseller",
        "quantity",
        "status",
        "term_duration",
        "billing_cycle",
        "commitment_end_date",
        "auto_renew_enabled",
    ]
    list_filter = ["status", "term_duration", "billing_cycle", "auto_renew_enabled", "sku__is_addon", "currency"]
    list_select_related = ["customer", "partner", "reseller", "sku"]
    search_fields = [
        "friendly_name",
        "customer__name",
        "customer__domain",
        "partner__name",
        "partner__mpn_id",
        "sku__title",
        "sku__product__id",
    ]
    uuid_search_fields = ["id", "customer__tenant_id", "order__id"]
    autocomplete_fields = ["customer", "partner", "reseller", "sku", "availability", "license", "upgraded_from"]
    raw_id_fields = ["order"]
    date_hierarchy = "purchased_at"
    ordering = ["customer__name", "commitment_end_date"]
    inlines = [SeatChangeInline, ChargeEventInline]
    fieldsets = [
        (None, {"fields": ["customer", "partner", "reseller", "sku", "availability", "order", "license", "friendly_name"]}),
        (
            _("Term"),
            {
                "fields": [
                    "quantity",
                    "status",
                    "term_duration",
                    "billing_cycle",
                    "start_date",
                    "commitment_end_date",
                    "auto_renew_enabled",
                    "purchased_at",
                    "term_started_at",
                ]
            },
        ),
        (_("Price"), {"fields": ["unit_price", "currency", "consumption_type"]}),
        (
            _("Next term and upgrades"),
            {
                "fields": [
                    "next_term_quantity",
                    "next_term_duration",
                    "next_term_billing_cycle",
                    "upgraded_from",
                    "redundant_since",
                    "updated_at",
                ]
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        # The seat count is the sum of the seat history: only the services change it.
        if obj is not None:
            return ["quantity", "updated_at"]
        return ["updated_at"]

    @admin.display(description=_("subscription"), ordering="friendly_name")
    def name_display(self, obj):
        return obj.friendly_name or obj.sku.title


class SubscriptionContextMixin:
    """Columns naming the subscription and its customer, for history rows whose own string
    says little."""

    @admin.display(description=_("customer"), ordering="subscription__customer__name")
    def customer(self, obj):
        return obj.subscription.customer


@admin.register(SeatChange)
class SeatChangeAdmin(ReadOnlyAdminMixin, SubscriptionContextMixin, UUIDSearchMixin, admin.ModelAdmin):
    list_display = ["occurred_at", "subscription", "customer", "kind", "delta", "quantity_after", "refundable_until", "actor"]
    list_filter = ["kind"]
    list_select_related = [*SUBSCRIPTION_RELATED, "actor"]
    search_fields = ["subscription__friendly_name", "subscription__customer__name", "subscription__sku__title"]
    uuid_search_fields = ["subscription__id"]
    date_hierarchy = "occurred_at"
    ordering = ["-occurred_at", "-id"]


@admin.register(ChargeEvent)
class ChargeEventAdmin(ReadOnlyAdminMixin, SubscriptionContextMixin, UUIDSearchMixin, admin.ModelAdmin):
    list_display = [
        "occurred_at",
        "subscription",
        "customer",
        "charge_type",
        "quantity",
        "unit_price",
        "effective_unit_price",
        "amount",
        "currency",
        "charge_start",
        "charge_end",
    ]
    list_filter = ["charge_type", "currency"]
    list_select_related = SUBSCRIPTION_RELATED
    search_fields = ["subscription__friendly_name", "subscription__customer__name", "subscription__sku__title"]
    uuid_search_fields = ["subscription__id", "order__id"]
    date_hierarchy = "occurred_at"
    ordering = ["-occurred_at", "-id"]


@admin.register(AddonRemovalRequest)
class AddonRemovalRequestAdmin(AuditedAdminMixin, SubscriptionContextMixin, admin.ModelAdmin):
    list_display = ["subscription", "customer", "upgraded_subscription", "deadline", "status", "raised_by", "raised_at"]
    list_filter = ["status"]
    list_select_related = [
        *SUBSCRIPTION_RELATED,
        "upgraded_subscription__sku",
        "upgraded_subscription__customer",
        "raised_by",
    ]
    search_fields = ["subscription__friendly_name", "subscription__customer__name", "subscription__sku__title"]
    autocomplete_fields = ["subscription", "upgraded_subscription", "raised_by"]
    # The decision is taken by the two actions only (recorded and audited by the services);
    # the note, written first on the request's page, is what the partner reads with it.
    readonly_fields = ["raised_at", "status", "resolved_by", "resolved_at", "credit"]
    ordering = ["deadline"]
    actions = ["complete_requests", "reject_requests"]

    def _decide(self, request, queryset, service, done_message):
        decided = 0
        for removal_request in queryset.select_related("subscription"):
            try:
                service(removal_request=removal_request, acting_user=request.user, note=removal_request.note,
                        request_id=getattr(request, "request_id", ""))
            except SubscriptionError as exc:
                self.message_user(request, f"{removal_request}: {exc.description}", messages.ERROR)
            else:
                decided += 1
        if decided:
            self.message_user(request, done_message % {"count": decided}, messages.SUCCESS)

    @admin.action(description=_("Remove the add-ons with their credit"), permissions=["change"])
    def complete_requests(self, request, queryset):
        self._decide(request, queryset, changes.addon_removal_request_complete, REMOVAL_COMPLETED_MESSAGE)

    @admin.action(description=_("Reject the requests (the note tells the partner why)"), permissions=["change"])
    def reject_requests(self, request, queryset):
        self._decide(request, queryset, changes.addon_removal_request_reject, REMOVAL_REJECTED_MESSAGE)
