"""Django admin for the catalog and the tenants' licenses (operator's staff, SPEC §1)."""

from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from catalog.models import Availability, PriceListEntry, Product, Sku, TenantLicense
from portal.admin import AuditedAdminMixin, UUIDSearchMixin
from portal.admin import CustomerAdmin as PortalCustomerAdmin
from portal.models import Customer


class SkuInline(admin.TabularInline):
    model = Sku
    fields = ["sku_id", "title", "is_addon", "is_trial", "consumption_type", "min_quantity", "max_quantity"]
    extra = 0
    show_change_link = True


@admin.register(Product)
class ProductAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["id", "title", "product_type", "publisher_name", "sku_count"]
    list_filter = ["product_type", "publisher_name"]
    search_fields = ["id", "title"]
    ordering = ["title"]
    inlines = [SkuInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(sku_count=Count("skus"))

    @admin.display(description=_("SKUs"), ordering="sku_count")
    def sku_count(self, obj):
        return obj.sku_count


class AvailabilityInline(admin.TabularInline):
    model = Availability
    fields = ["availability_id", "segment", "terms", "is_purchasable", "is_renewable"]
    extra = 0
    show_change_link = True


class PriceListEntryInline(admin.TabularInline):
    """A SKU's price rows. The price list can be long: it is collapsed here, and the full,
    filterable list is the price list admin (linked from the SKU page)."""

    model = PriceListEntry
    fields = [
        "market",
        "currency",
        "segment",
        "term_duration",
        "billing_plan",
        "unit_price",
        "erp_price",
        "effective_start",
        "effective_end",
        "tags",
    ]
    extra = 0
    classes = ["collapse"]


@admin.register(Sku)
class SkuAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "title", "product", "is_addon", "is_trial", "consumption_type", "min_quantity", "max_quantity"]
    list_filter = ["is_addon", "is_trial", "consumption_type", "product__product_type"]
    list_select_related = ["product"]
    search_fields = ["title", "sku_id", "product__id", "product__title"]
    ordering = ["product__title", "sku_id"]
    autocomplete_fields = ["product", "prerequisites", "upgrade_targets"]
    readonly_fields = ["price_list_link"]
    inlines = [AvailabilityInline, PriceListEntryInline]

    @admin.display(description=_("SKU code"), ordering="product__id")
    def code(self, obj):
        return obj.code

    @admin.display(description=_("price list"))
    def price_list_link(self, obj):
        if obj.pk is None:
            return "—"
        url = reverse("admin:catalog_pricelistentry_changelist") + f"?sku__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("All price-list rows of this SKU"))


@admin.register(Availability)
class AvailabilityAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["catalog_item_id", "sku", "segment", "is_purchasable", "is_renewable"]
    list_filter = ["segment", "is_purchasable", "is_renewable", "sku__is_addon"]
    list_select_related = ["sku"]
    search_fields = ["availability_id", "sku__title", "sku__sku_id", "sku__product__id", "sku__product__title"]
    ordering = ["sku__product__id", "sku__sku_id", "availability_id"]
    autocomplete_fields = ["sku"]

    @admin.display(description=_("catalog item id"))
    def catalog_item_id(self, obj):
        return obj.catalog_item_id


@admin.register(PriceListEntry)
class PriceListEntryAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """The whole price list; ``?sku__id__exact=<pk>`` (linked from a SKU) narrows it to one SKU.
    Its changelist links to the CSV import (preview, line-numbered errors) and export."""

    change_list_template = "admin/catalog/pricelistentry/change_list.html"

    list_display = [
        "sku",
        "market",
        "currency",
        "segment",
        "term_duration",
        "billing_plan",
        "unit_price",
        "erp_price",
        "effective_start",
        "effective_end",
    ]
    list_filter = ["market", "currency", "segment", "term_duration", "billing_plan", "sku__is_addon"]
    list_select_related = ["sku"]
    search_fields = ["sku__title", "sku__sku_id", "sku__product__id", "sku__product__title", "=market"]
    ordering = ["sku__product__id", "sku__sku_id", "market", "term_duration", "billing_plan", "-effective_start"]
    autocomplete_fields = ["sku"]
    date_hierarchy = "effective_start"


@admin.register(TenantLicense)
class TenantLicenseAdmin(AuditedAdminMixin, UUIDSearchMixin, admin.ModelAdmin):
    list_display = ["customer", "sku", "channel", "source_partner", "quantity", "is_active", "provisioned_at"]
    list_filter = ["channel", "is_active", ("source_partner", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["customer", "sku", "source_partner"]
    search_fields = ["customer__name", "customer__domain", "sku__title", "sku__product__id", "source_partner__name"]
    uuid_search_fields = ["customer__tenant_id"]
    ordering = ["customer__name", "sku__title"]
    autocomplete_fields = ["customer", "sku", "source_partner"]


class TenantLicenseInline(admin.TabularInline):
    """What the tenant has, from every channel: the basis of add-on prerequisites."""

    model = TenantLicense
    fields = ["sku", "channel", "source_partner", "quantity", "is_active"]
    autocomplete_fields = ["sku", "source_partner"]
    extra = 0
    show_change_link = True


# ``portal`` cannot import the catalog, so the customer admin gains its licenses here.
admin.site.unregister(Customer)


@admin.register(Customer)
class CustomerAdmin(PortalCustomerAdmin):
    inlines = [*PortalCustomerAdmin.inlines, TenantLicenseInline]
