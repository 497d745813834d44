"""Django admin for the operator's staff (SPEC §1, §2: "anything, in Django admin").

Also home of the admin building blocks the higher apps reuse (``portal`` is the lowest app):
``ReadOnlyAdminMixin`` for append-only records, ``AuditedAdminMixin`` so that staff edits land
in the same audit trail as partner actions, and ``UUIDSearchMixin`` for pasted GUIDs.
"""

import json
import uuid

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models, transaction
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from portal.models import ApiToken, AuditEvent, Customer, CustomerRelationship, Membership, Partner, Role
from portal.services import audit_record
from portal.tokens import api_token_revoke

User = get_user_model()

admin.site.site_header = _("Partner portal operations")
admin.site.site_title = _("Partner portal operations")
admin.site.index_title = _("Operations")

ROLES_REQUIRED_MESSAGE = _("Choose at least one role.")


# --- building blocks --------------------------------------------------------------------


class ReadOnlyAdminMixin:
    """Append-only records (money, history, audit): staff may look, never add, edit or delete.

    Read-only is enforced by permissions, so a POST to the change page is refused with 403
    rather than silently ignored."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    """A history shown under its parent; ``fields`` are all displayed read-only."""

    extra = 0
    max_num = 0
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)


class UUIDSearchMixin:
    """A pasted GUID finds the row by its UUID fields (``uuid_search_fields``): an
    ``icontains`` on a UUID column behaves differently across databases (SQLite stores hex
    without dashes), an exact match on the parsed value does not."""

    uuid_search_fields = ()

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            value = uuid.UUID(search_term.strip())
        except (ValueError, AttributeError):
            return results, may_have_duplicates
        condition = models.Q()
        for field in self.uuid_search_fields:
            condition |= models.Q(**{field: value})
        return results | queryset.filter(condition), True


def _audit_value(value):
    # Form values of many-to-many fields are querysets; the audit trail stores their keys.
    if isinstance(value, models.QuerySet):
        return [obj.pk for obj in value]
    return value


class AuditedAdminMixin:
    """Staff changes made in admin are written to the portal's audit trail, with the changed
    fields, in the same transaction as the change (partners see their history whole)."""

    def _audit(self, request, obj, action, after=None):
        partner = obj if isinstance(obj, Partner) else getattr(obj, "partner", None)
        customer = obj if isinstance(obj, Customer) else None
        audit_record(
            actor=request.user,
            action=action,
            obj=obj,
            partner=partner if isinstance(partner, Partner) else None,
            customer=customer,
            after=after,
            request_id=getattr(request, "request_id", ""),
        )

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            changed = {name: _audit_value(form.cleaned_data.get(name)) for name in form.changed_data}
            self._audit(request, obj, "admin.change" if change else "admin.add", after=changed)

    def delete_model(self, request, obj):
        with transaction.atomic():
            self._audit(request, obj, "admin.delete")
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                self._audit(request, obj, "admin.delete")
            super().delete_queryset(request, queryset)


# --- memberships and users --------------------------------------------------------------


class MembershipAdminForm(forms.ModelForm):
    """Roles are a JSON list in the database; staff pick them as checkboxes (SPEC §2: one
    or more roles)."""

    roles = forms.MultipleChoiceField(
        label=_("roles"),
        choices=Role.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": ROLES_REQUIRED_MESSAGE},
    )

    class Meta:
        model = Membership
        fields = ["user", "partner", "roles"]

    def clean_roles(self):
        roles = list(self.cleaned_data.get("roles") or [])
        if not roles:
            raise forms.ValidationError(ROLES_REQUIRED_MESSAGE, code="required")
        # Keep the declared order so the same set of roles always reads the same.
        return [value for value in Role.values if value in roles]


class RoleListFilter(admin.SimpleListFilter):
    title = _("role")
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return Role.choices

    def queryset(self, request, queryset):
        if self.value() in Role.values:
            # Matches the quoted JSON string, which works on SQLite and PostgreSQL alike
            # (JSON containment is not supported on SQLite).
            return queryset.filter(roles__icontains=f'"{self.value()}"')
        return queryset


def _role_labels(membership):
    return ", ".join(str(label) for label in membership.role_labels())


@admin.register(Membership)
class MembershipAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = MembershipAdminForm
    list_display = ["user", "partner", "roles_display", "created_at"]
    list_filter = [RoleListFilter, "partner__kind", "partner"]
    list_select_related = ["user", "partner"]
    search_fields = ["user__username", "user__email", "partner__name", "partner__mpn_id"]
    autocomplete_fields = ["user", "partner"]
    ordering = ["partner__name", "user__username"]

    @admin.display(description=_("roles"))
    def roles_display(self, obj):
        return _role_labels(obj)


class MembershipInline(admin.StackedInline):
    """A user belongs to exactly one partner (SPEC §2)."""

    model = Membership
    form = MembershipAdminForm
    fk_name = "user"
    extra = 0
    max_num = 1
    can_delete = True
    autocomplete_fields = ["partner"]
    verbose_name = _("partner membership")


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin, plus the user's partner membership and roles."""

    inlines = [MembershipInline]
    list_display = ["username", "email", "first_name", "last_name", "partner_display", "is_staff", "is_active"]
    list_filter = ["is_staff", "is_superuser", "is_active", "membership__partner__kind"]
    list_select_related = ["membership__partner"]
    search_fields = ["username", "first_name", "last_name", "email", "membership__partner__name"]

    @admin.display(description=_("partner"), ordering="membership__partner__name")
    def partner_display(self, obj):
        membership = getattr(obj, "membership", None)
        return membership.partner.name if membership else "—"


# --- partners and customers -------------------------------------------------------------


class PartnerMembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipAdminForm
    fields = ["user", "roles"]
    autocomplete_fields = ["user"]
    extra = 0
    verbose_name_plural = _("people")


@admin.register(Partner)
class PartnerAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "mpn_id", "kind", "is_sandbox", "sandbox_azure_access", "created_at"]
    list_filter = ["kind", "is_sandbox", "sandbox_azure_access"]
    search_fields = ["name", "mpn_id"]
    ordering = ["name"]
    autocomplete_fields = ["providers"]
    inlines = [PartnerMembershipInline]
    readonly_fields = ["created_at"]


class CustomerRelationshipInline(admin.TabularInline):
    model = CustomerRelationship
    fk_name = "customer"
    fields = ["partner", "reseller", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["partner", "reseller"]
    extra = 0


@admin.register(Customer)
class CustomerAdmin(AuditedAdminMixin, UUIDSearchMixin, admin.ModelAdmin):
    """Customers and their partner relationships. ``catalog.admin`` adds the tenant's
    licenses as a further inline (``portal`` cannot import the catalog)."""

    list_display = ["name", "domain", "country", "tenant_id", "on_legacy_azure", "created_at"]
    list_filter = ["country", "on_legacy_azure", "relationships__partner__kind"]
    search_fields = ["name", "domain", "relationships__partner__name", "relationships__partner__mpn_id"]
    uuid_search_fields = ["tenant_id"]
    ordering = ["name"]
    readonly_fields = ["created_at"]
    inlines = [CustomerRelationshipInline]


@admin.register(CustomerRelationship)
class CustomerRelationshipAdmin(AuditedAdminMixin, UUIDSearchMixin, admin.ModelAdmin):
    list_display = ["customer", "partner", "reseller", "created_at"]
    list_filter = ["partner__kind", ("reseller", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["customer", "partner", "reseller"]
    search_fields = ["customer__name", "customer__domain", "partner__name", "partner__mpn_id", "reseller__name"]
    uuid_search_fields = ["customer__tenant_id"]
    autocomplete_fields = ["customer", "partner", "reseller"]
    ordering = ["customer__name", "partner__name"]


# --- audit trail --------------------------------------------------------------------------


def _pretty_json(value):
    if value is None:
        return "—"
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The audit trail is evidence: nobody, not even the operator, edits or deletes it."""

    list_display = ["occurred_at", "action", "object_type", "object_repr", "actor_label", "partner", "customer", "request_id"]
    list_filter = ["action", ("partner", admin.RelatedOnlyFieldListFilter), "object_type"]
    list_select_related = ["partner", "customer"]
    search_fields = ["object_id", "object_repr", "actor_label", "request_id"]
    date_hierarchy = "occurred_at"
    ordering = ["-occurred_at", "-id"]
    fields = [
        "occurred_at",
        "actor",
        "actor_label",
        "partner",
        "customer",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "before_display",
        "after_display",
        "request_id",
    ]
    readonly_fields = fields

    @admin.display(description=_("before"))
    def before_display(self, obj):
        return _pretty_json(obj.before)

    @admin.display(description=_("after"))
    def after_display(self, obj):
        return _pretty_json(obj.after)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """API tokens: staff can see who holds which token and revoke it; the secret is never
    stored, so it cannot be shown or created here (users create their own on /tokens/)."""

    list_display = ["prefix", "name", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "user__email"]
    list_select_related = ["user"]
    readonly_fields = ["user", "name", "prefix", "key_hash", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request, queryset):
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            api_token_revoke(token=token, acting_user=request.user)
            count += 1
        self.message_user(request, ngettext("%(count)s token revoked.", "%(count)s tokens revoked.", count) % {"count": count})
