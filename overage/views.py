"""Pages and HTMX endpoints of the overage app: the Manage overage flyout, the overage badge,
the Azure plan page and the overage transfer page (SPEC §6, §7, §11).

Every view starts from ``Customer.objects.transacted_by``: another partner's customer is 404.
Changes need the role table's permission (403 with the reason otherwise) and go through
``overage.services``, whose refusals are shown where the member acted (inside the flyout),
with the status of ``portal.htmx``'s convention (422; 409 when another partner owns it).
"""

from django.contrib import messages
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget, trigger_client_event

from overage import rules, selectors, services
from overage.forms import ManageOverageForm, TransferForm
from overage.models import AzurePlan, AzureSubscriptionStatus
from overage.services import UNSET, OverageError
from portal import permissions
from portal.errors import ErrorCode
from portal.models import Customer
from portal.htmx import REFUSED, is_fragment_request, refusal_status, render_flyout, see_other
from portal.views import CustomerListView, partner_required, require_permission

MANAGE_TEMPLATE = "overage/manage.html"

OVERAGE_ENABLED_MESSAGE = _("Overage for %(customer)s now goes to %(name)s (%(id)s).")
OVERAGE_DISABLED_MESSAGE = _("Overage for %(customer)s is switched off (None).")
AZURE_PLAN_CREATED_MESSAGE = _("The Azure plan of %(customer)s is ready.")
AZURE_SUBSCRIPTION_CREATED_MESSAGE = _("%(name)s was added to the Azure plan of %(customer)s.")
TRANSFER_PROPOSED_MESSAGE = _("The transfer is proposed. Each party's agreement must now be recorded.")
TRANSFER_AGREED_MESSAGE = _("The agreement was recorded.")
TRANSFER_NOT_POSSIBLE = _("There is no overage setting of another partner to transfer to you.")
NO_PENDING_TRANSFER = _("There is no pending transfer for this customer.")


def _customer(request, tenant_id):
    return get_object_or_404(Customer.objects.transacted_by(request.partner), tenant_id=tenant_id)


# --- Manage overage ----------------------------------------------------------------------


def _manage_context(request, customer, *, form=None, error=""):
    state = selectors.overage_state(customer=customer, membership=request.membership, with_choices=True)
    if form is None:
        current = state.current_azure_subscription
        initial_target = str(current.pk) if current else ("none" if state.setting and not state.owned_by_other else "")
        form = ManageOverageForm(
            initial={"target": initial_target, "seen": state.seen}, azure_subscriptions=state.azure_subscriptions
        )
    return {"customer": customer, "state": state, "form": form, "error": error, "create_new": services.CREATE_NEW}


def _manage_error(request, customer, error, status=REFUSED):
    """A refused change, shown inside the flyout (or on the page without HTMX) with a 4xx
    (``portal.htmx``). The form is rebuilt from the current state, so what it shows is what
    is true."""
    return render_flyout(request, MANAGE_TEMPLATE, _manage_context(request, customer, error=error), status=status)


@require_http_methods(["GET", "POST"])
@partner_required
def manage(request, tenant_id):
    """The Manage overage flyout (a full page without HTMX): the current state, the
    customer's active Azure subscriptions, Create new and None. Posting changes it through
    ``overage_update``; only admin agents and global admins of a transacting partner may."""
    customer = _customer(request, tenant_id)
    if request.method == "POST":
        return _manage_post(request, customer)
    return render_flyout(request, MANAGE_TEMPLATE, _manage_context(request, customer))


def _manage_post(request, customer):
    require_permission(request, permissions.MANAGE_OVERAGE)
    partner = request.partner
    form = ManageOverageForm(request.POST)
    if not form.is_valid():
        return _manage_error(request, customer, form.errors["target"][0])
    enabled, azure_subscription = form.change()
    seen = form.cleaned_data["seen"] if "seen" in request.POST else UNSET
    try:
        setting = services.overage_update(
            customer=customer,
            partner=partner,
            acting_user=request.user,
            enabled=enabled,
            azure_subscription=azure_subscription,
            reseller=selectors.acting_reseller(customer=customer, partner=partner),
            seen=seen,
            request_id=getattr(request, "request_id", ""),
        )
    except OverageError as exc:
        return _manage_error(request, customer, exc.description, refusal_status(exc.status))

    if setting.enabled:
        target = setting.azure_subscription
        message = OVERAGE_ENABLED_MESSAGE % {"customer": customer.name, "name": target.friendly_name, "id": target.pk}
    else:
        message = OVERAGE_DISABLED_MESSAGE % {"customer": customer.name}
    messages.success(request, message)
    if not is_fragment_request(request):
        return see_other("portal:customer_detail", tenant_id=customer.tenant_id)
    html = render_to_string("overage/manage_response.html", _manage_context(request, customer), request=request)
    response = HttpResponse(html)
    trigger_client_event(
        response,
        "overage-updated",
        {
            "tenantId": str(customer.tenant_id),
            "overageEnabled": setting.enabled,
            "azureEntitlementId": str(setting.azure_subscription_id) if setting.enabled else None,
        },
    )
    trigger_client_event(response, "close-flyout")
    # Only the out-of-band parts (#messages) are swapped: swapping into #flyout-body would
    # make portal.js reopen the flyout that close-flyout has just closed.
    return reswap(retarget(response, "#messages"), "none")


@require_GET
@partner_required
def badge(request, tenant_id):
    """The customer's overage state badge; pages re-fetch it on ``overage-updated``."""
    customer = _customer(request, tenant_id)
    return render(request, "overage/badge.html", {"customer": customer})


# --- Azure plan ------------------------------------------------------------------------------


def _azure_plan_context(request, customer):
    partner = request.partner
    plan = AzurePlan.objects.transacted_by(partner).filter(customer=customer).select_related("subscription").first()
    setting = selectors.overage_setting(customer)
    ours = setting is not None and partner.pk in (setting.owner_id, setting.reseller_id)
    overage_target = setting.azure_subscription_id if ours and setting.enabled else None
    azure_subscriptions = list(plan.azure_subscriptions.transacted_by(partner).select_related("created_by")) if plan else []
    for az in azure_subscriptions:
        az.holds_overage = az.pk == overage_target
    return {
        "customer": customer,
        "plan": plan,
        "azure_subscriptions": azure_subscriptions,
        "history": selectors.overage_history(customer=customer, partner=partner),
        "can_create": permissions.can(request.membership, permissions.AZURE_CREATE),
        "create_denial": permissions.denial_reason(request.membership, permissions.AZURE_CREATE),
        "legacy_message": rules.LEGACY_AZURE if customer.on_legacy_azure else "",
        "sandbox_message": (
            rules.SANDBOX_NO_AZURE if partner.is_sandbox and not partner.sandbox_azure_access else ""
        ),
        "active_status": AzureSubscriptionStatus.ACTIVE,
    }


@require_GET
@partner_required
def azure_plan(request, tenant_id):
    """The customer's Azure plan, its Azure subscriptions (which one holds overage) and the
    history of where overage went, with Create Azure plan / Add Azure subscription."""
    customer = _customer(request, tenant_id)
    return render(request, "overage/azure_plan.html", _azure_plan_context(request, customer))


def _azure_refused(request, customer, exc):
    context = _azure_plan_context(request, customer)
    context["error"] = exc.description
    return render(request, "overage/azure_plan.html", context, status=refusal_status(exc.status))


@require_POST
@partner_required
def azure_plan_create(request, tenant_id):
    """Create the no-cost Azure plan (global admins and admin agents; not for legacy-Azure
    customers nor sandbox partners without Azure-plan access)."""
    customer = _customer(request, tenant_id)
    require_permission(request, permissions.AZURE_CREATE)
    try:
        services.azure_plan_create(
            customer=customer, partner=request.partner, acting_user=request.user,
            request_id=getattr(request, "request_id", ""),
        )
    except OverageError as exc:
        return _azure_refused(request, customer, exc)
    messages.success(request, AZURE_PLAN_CREATED_MESSAGE % {"customer": customer.name})
    return see_other("overage:azure_plan", tenant_id=customer.tenant_id)


@require_POST
@partner_required
def azure_subscription_create(request, tenant_id):
    """Add ``Subscription N`` to the customer's Azure plan, creating the plan if missing."""
    customer = _customer(request, tenant_id)
    require_permission(request, permissions.AZURE_CREATE)
    request_id = getattr(request, "request_id", "")
    try:
        plan = services.azure_plan_create(
            customer=customer, partner=request.partner, acting_user=request.user, request_id=request_id
        )
        azure_subscription = services.azure_subscription_create(
            plan=plan, acting_user=request.user, partner=request.partner, request_id=request_id
        )
    except OverageError as exc:
        return _azure_refused(request, customer, exc)
    messages.success(
        request,
        AZURE_SUBSCRIPTION_CREATED_MESSAGE % {"name": azure_subscription.friendly_name, "customer": customer.name},
    )
    return see_other("overage:azure_plan", tenant_id=customer.tenant_id)


# --- Transfer of ownership -------------------------------------------------------------------


def _transfer_context(request, customer, error=""):
    state = selectors.overage_state(customer=customer, membership=request.membership)
    transfer = state.transfer
    partner = request.partner
    return {
        "customer": customer,
        "state": state,
        "transfer": transfer,
        "error": error,
        "can_act": permissions.can(request.membership, permissions.MANAGE_OVERAGE),
        "denial": permissions.denial_reason(request.membership, permissions.MANAGE_OVERAGE),
        "can_propose": state.owned_by_other and state.capable and transfer is None,
        "is_owner": transfer is not None and transfer.from_partner_id == partner.pk,
        "is_receiver": transfer is not None and transfer.to_partner_id == partner.pk,
        "form": TransferForm(),
    }


@require_http_methods(["GET", "POST"])
@partner_required
def transfer(request, tenant_id):
    """Move the customer's overage to another partner: a partner that is not the owner but
    sells it an overage-capable SKU proposes; the owner agrees for itself, the receiver for
    itself, and either partner records the customer's (written) agreement. Once all three
    agreed, the owner sets None and the receiver takes over in Manage overage."""
    customer = _customer(request, tenant_id)
    if request.method == "GET":
        return render(request, "overage/transfer.html", _transfer_context(request, customer))

    require_permission(request, permissions.MANAGE_OVERAGE)
    form = TransferForm(request.POST)
    if not form.is_valid():
        error = (form.non_field_errors() or [next(iter(form.errors.values()))[0]])[0]
        return render(request, "overage/transfer.html", _transfer_context(request, customer, error), status=REFUSED)
    action = form.cleaned_data["action"]
    partner = request.partner
    request_id = getattr(request, "request_id", "")
    try:
        if action == "propose":
            state = selectors.overage_state(customer=customer, membership=request.membership)
            if not (state.owned_by_other and state.capable):
                raise OverageError(ErrorCode.INVALID_INPUT, TRANSFER_NOT_POSSIBLE)
            services.overage_transfer_propose(
                customer=customer, to_partner=partner, acting_user=request.user, partner=partner, request_id=request_id
            )
            message = TRANSFER_PROPOSED_MESSAGE
        else:
            pending = selectors.pending_transfer(customer=customer, partner=partner)
            if pending is None:
                raise OverageError(ErrorCode.INVALID_INPUT, NO_PENDING_TRANSFER)
            services.overage_transfer_agree(
                transfer=pending, party=action.removeprefix("agree_"), acting_user=request.user, partner=partner,
                request_id=request_id,
            )
            message = TRANSFER_AGREED_MESSAGE
    except OverageError as exc:
        return render(
            request, "overage/transfer.html", _transfer_context(request, customer, exc.description),
            status=refusal_status(exc.status),
        )
    messages.success(request, message)
    return see_other("overage:transfer", tenant_id=customer.tenant_id)


class OverageOffCustomerListView(CustomerListView):
    """The customers list, of those with overage off (``selectors.customers_with_overage_off``,
    all of them): where the dashboard's "Overage off" items that did not fit lead."""

    list_filter = _("Overage off")

    def only(self, customers):
        off = selectors.customers_overage_managed_by(self.request.partner, unless=Q(enabled=True))
        return customers.filter(pk__in=off.values("pk"))
