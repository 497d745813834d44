"""The portal's shell: customers list and customer page, error pages, health check.

``portal`` is the lowest app: it imports no higher one. The customer page reaches
subscriptions, licenses and the Azure plan through reverse relations (whose managers keep
their ``owned_by`` and ``transacted_by``); its overage and credit cards are the overage and billing apps' own
template tags, which call those apps' selectors.
"""

import logging
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection
from django.db.models import Count, Q
from django.http import HttpResponseServerError, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.generic import DetailView, ListView

from portal import permissions
from portal.api import INTERNAL_ERROR_MESSAGE, NOT_FOUND_MESSAGE, ApiNotFound
from portal.errors import ErrorCode
from portal.models import Customer

logger = logging.getLogger(__name__)

NO_MEMBERSHIP_MESSAGE = _(
    "Your account is not a member of any partner organisation yet. Ask your partner's global admin "
    "to add you, or the operator's staff if you think this is a mistake."
)


def partner_required(view):
    """Logged in and a member of a partner; otherwise the login page or the no-access page."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if request.partner is None:
            return redirect("portal:no_membership")
        return view(request, *args, **kwargs)

    return wrapped


class PartnerRequiredMixin(LoginRequiredMixin):
    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.partner is None:
            return redirect("portal:no_membership")
        return super().dispatch(request, *args, **kwargs)


def require_permission(request, action):
    """Raise 403 with the reason when the member may not do ``action`` (SPEC §2)."""
    if not permissions.can(request.membership, action):
        raise PermissionDenied(permissions.denial_reason(request.membership, action))


def htmx_template(request, template, partial):
    """One view, two renderings: the partial for a non-boosted HTMX request, else the page."""
    if request.htmx and not request.htmx.boosted:
        return f"{template}#{partial}"
    return template


@login_required
def no_membership(request):
    if request.partner is not None:
        return redirect("dashboard:home")
    return render(request, "portal/no_membership.html", {"message": NO_MEMBERSHIP_MESSAGE}, status=403)


class CustomerListView(PartnerRequiredMixin, ListView):
    """The partner's customers, searchable by name, domain or tenant id. An app above the
    portal lists some of them with the same page: a subclass with ``list_filter`` (the words
    the page shows) and ``only`` (the customers, a queryset of the app's selector)."""

    list_filter = ""
    template_name = "portal/customer_list.html"
    paginate_by = 25
    context_object_name = "customers"

    def get_queryset(self):
        partner = self.request.partner
        live = Customer.subscriptions.field.model.objects.transacted_by(partner).live()
        qs = Customer.objects.transacted_by(partner).annotate(
            subscription_count=Count("subscriptions", filter=Q(subscriptions__in=live))
        )
        self.query = self.request.GET.get("q", "").strip()
        if self.query:
            qs = qs.filter(
                Q(name__icontains=self.query) | Q(domain__icontains=self.query) | Q(tenant_id__icontains=self.query)
            )
        return self.only(qs).order_by("name", "pk")

    def only(self, customers):
        """The customers of the page's list: all of them here."""
        return customers

    def get_template_names(self):
        return [htmx_template(self.request, self.template_name, "results")]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["query"] = self.query
        context["list_filter"] = self.list_filter
        return context


CUSTOMER_OPTIONS_LIMIT = 20


@require_GET
@partner_required
def customer_options(request):
    """The options of a search-as-you-type customer picker (an HTML fragment): at most
    ``CUSTOMER_OPTIONS_LIMIT`` of the partner's customers whose name or tenant id contains
    ``q`` (or ``customer_q``, the picker input's own name), by name. Scoped with
    ``Customer.objects.transacted_by``: another partner's customers never appear."""
    query = (request.GET.get("q") or request.GET.get("customer_q") or "").strip()
    customers = Customer.objects.transacted_by(request.partner)
    if query:
        customers = customers.filter(Q(name__icontains=query) | Q(tenant_id__icontains=query))
    options = list(customers.order_by("name", "pk").values("tenant_id", "name")[: CUSTOMER_OPTIONS_LIMIT + 1])
    context = {
        "options": options[:CUSTOMER_OPTIONS_LIMIT],
        "more": len(options) > CUSTOMER_OPTIONS_LIMIT,
        "query": query,
    }
    return render(request, "portal/customer_options.html", context)


class CustomerDetailView(PartnerRequiredMixin, DetailView):
    """One customer: tenant licenses by channel, the partner's subscriptions, the Azure
    plan, the overage state and the communication-credit balance. The last two come from
    their apps' template tags (``overage_tags``, ``billing_tags``), which call those apps'
    selectors: this view does not read the higher apps' models for them."""

    template_name = "portal/customer_detail.html"
    context_object_name = "customer"

    def get_object(self, queryset=None):
        return get_object_or_404(Customer.objects.transacted_by(self.request.partner), tenant_id=self.kwargs["tenant_id"])

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        customer = self.object
        partner = self.request.partner
        licenses = list(customer.tenant_licenses.select_related("sku", "source_partner").order_by("channel", "sku__title"))
        by_channel = {}
        related_ids = {partner.pk} | set(partner.providers.values_list("pk", flat=True)) | set(
            partner.resellers.values_list("pk", flat=True)
        )
        for lic in licenses:
            # Another partner's name is that partner's business: say only that it is another one.
            if lic.source_partner_id is None:
                lic.source_label = ""
            elif lic.source_partner_id in related_ids:
                lic.source_label = lic.source_partner.name
            else:
                lic.source_label = _("Another partner")
            by_channel.setdefault(lic.get_channel_display(), []).append(lic)
        subscriptions = list(
            customer.subscriptions.transacted_by(partner).select_related("sku", "sku__product", "reseller").order_by(
                "status", "commitment_end_date"
            )
        )
        relationship = customer.relationships.transacted_by(partner).select_related("partner", "reseller").first()
        azure_plan = getattr(customer, "azure_plan", None)
        context.update(
            {
                "licenses_by_channel": by_channel,
                "subscriptions": subscriptions,
                "relationship": relationship,
                "azure_plan": azure_plan,
                "azure_subscriptions": list(azure_plan.azure_subscriptions.transacted_by(partner)) if azure_plan else [],
            }
        )
        return context


def permission_denied(request, exception=None):
    reason = str(exception) if exception and str(exception) else _("You are not allowed to do this.")
    if request.path.startswith("/v1/"):
        return JsonResponse({"code": 403, "description": reason, "data": []}, status=403)
    return render(request, "403.html", {"reason": reason}, status=403)


def page_not_found(request, exception=None):
    if request.path.startswith("/v1/"):
        return JsonResponse(ApiNotFound(404, NOT_FOUND_MESSAGE).api_body(), status=404)
    return render(request, "404.html", status=404)



def server_error(request):
    """The 500 page in the portal's layout, with the request id to quote; never Django's
    technical page. When the layout itself cannot be drawn (the database is down, so the
    signed-in user cannot be read), a plain page says the same."""
    request_id = getattr(request, "request_id", "")
    if request.path.startswith("/v1/"):
        # The API's own handler answers its errors; this is for a failure outside it.
        body = {"code": ErrorCode.INTERNAL_ERROR, "description": str(INTERNAL_ERROR_MESSAGE % {"request_id": request_id}), "data": []}
        return JsonResponse(body, status=500)
    try:
        html = render_to_string("500.html", {"request_id": request_id}, request=request)
    except Exception:
        logger.exception("The 500 page could not be drawn in the layout (request id %s)", request_id)
        title = escape(gettext("Something went wrong"))
        text = escape(gettext("The portal could not finish this request. Try again in a moment."))
        html = f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{text}</p><p>{escape(request_id)}</p>"
    return HttpResponseServerError(html)


@never_cache
@require_GET
def healthz(request):
    """``GET /healthz`` for load balancers and ``make prod``'s checks (SPEC §11): 200 and
    ``{"status": "ok", "database": "ok"}`` when the database answers a query, else 503 with
    ``"database": "unavailable"``. No login, no throttling, no HTTPS redirect (settings)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.exception("Health check: the database does not answer")
        return JsonResponse({"status": "unavailable", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
