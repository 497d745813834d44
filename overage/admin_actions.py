"""Operator actions the overage app adds to other apps' admin pages."""

from django.contrib import admin, messages
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from portal.services import audit_record


@admin.action(description=_("Move to Azure plan (off the legacy MS-AZR-0145P offer)"), permissions=["change"])
def move_customers_to_azure_plan(modeladmin, request, queryset):
    """The operator's staff move legacy-Azure customers (MS-AZR-0145P) to Azure plan, which
    lets partners create their Azure plan and enable overage. Each move is audited; customers
    already on Azure plan are left as they are."""
    moved = 0
    with transaction.atomic():
        for customer in queryset.select_for_update().filter(on_legacy_azure=True):
            customer.on_legacy_azure = False
            customer.save(update_fields=["on_legacy_azure"])
            audit_record(
                actor=request.user,
                action="customer.move_to_azure_plan",
                obj=customer,
                customer=customer,
                before={"onLegacyAzure": True},
                after={"onLegacyAzure": False},
                request_id=getattr(request, "request_id", ""),
            )
            moved += 1
    modeladmin.message_user(
        request, ngettext("%(count)d customer moved to Azure plan.", "%(count)d customers moved to Azure plan.", moved)
        % {"count": moved}, messages.SUCCESS
    )
