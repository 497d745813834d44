"""Views of the catalog app: the catalog page, the add-on prerequisites flyout, and the price
list as CSV (export for every partner user, import for the operator's staff).

The catalog is public to every partner; what is scoped is the customer a user picks (for buy
links and the prerequisite check), which always comes out of ``Customer.objects.transacted_by``.
"""

import hashlib
import re
import uuid
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import Http404, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods
from django_filters.views import FilterView

from catalog.filters import SkuFilter
from catalog.forms import PriceListConfirmForm, PriceListUploadForm
from catalog.models import Availability, BillingCycle, Sku
from catalog.pricelist import export_lines, pricelist_apply, parse_price_list
from catalog.selectors import ADDON_NOT_PURCHASABLE, addon_prerequisite_rows, addons_missing_prerequisite
from portal import permissions
from portal.errors import PREVIEW_EXPIRED
from portal.htmx import REFUSED
from portal.models import Customer
from portal.views import PartnerRequiredMixin, htmx_template, partner_required

CART_NEW_URL = "/carts/new/"
STAFF_ONLY = _("Only the operator's staff can import the price list.")
CHOOSE_CUSTOMER_FIRST = _("Choose a customer above to buy: the catalog then shows their prices and what their tenant lacks.")
IMPORT_SESSION_KEY = "catalog_pricelist_import"
MAX_ERRORS_SHOWN = 200


class ProductListView(PartnerRequiredMixin, FilterView):
    """The catalog: one row per SKU, filtered, priced for a market/term/billing plan, with buy
    links for the chosen customer when the user may buy. The page costs a fixed number of
    queries whatever the number of rows (prices are subqueries, availabilities one prefetch)."""

    filterset_class = SkuFilter
    template_name = "catalog/product_list.html"
    paginate_by = 25
    context_object_name = "skus"
    # An invalid filter (e.g. another partner's tenant in ?customer=) is reported and ignored,
    # not turned into an empty page.
    strict = False

    def get_queryset(self):
        return Sku.objects.select_related("product").order_by("product__title", "sku_id", "pk")

    def paginate_queryset(self, queryset, page_size):
        """Page first, then price: the ids of the page come from the plain filtered list, and
        only those 25 rows get the price subqueries and the availabilities. Pricing before the
        page would run the subqueries for every match of a search before sorting."""
        paginator, page, object_list, is_paginated = super().paginate_queryset(queryset, page_size)
        ids = list(object_list.values_list("pk", flat=True))
        purchasable = Availability.objects.filter(is_purchasable=True).order_by("availability_id")
        rows = (
            self.filterset.priced(queryset.model.objects.filter(pk__in=ids))
            .select_related("product")
            .prefetch_related(Prefetch("availabilities", queryset=purchasable, to_attr="purchasable_availabilities"))
            .order_by(*queryset.query.order_by)
        )
        page.object_list = list(rows)
        return paginator, page, page.object_list, is_paginated

    def get_filterset_kwargs(self, filterset_class):
        kwargs = super().get_filterset_kwargs(filterset_class)
        # Always bound: the default market and the price columns apply to a bare /catalog/ too.
        kwargs["data"] = self.request.GET
        return kwargs

    def get_template_names(self):
        return [htmx_template(self.request, self.template_name, "results")]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        filterset = self.filterset
        customer = filterset.chosen_customer
        price = filterset.price_context
        can_buy = permissions.can(self.request.membership, permissions.BUY)
        rows = list(context["object_list"])
        missing = addons_missing_prerequisite(skus=rows, customer=customer) if customer else set()
        for sku in rows:
            self._decorate(sku, customer=customer, can_buy=can_buy, segment=price["segment"], missing=missing)
        context.update(
            {
                "skus": rows,
                "customer": customer,
                "price": price,
                "price_plan_label": dict(BillingCycle.choices).get(price["billing_plan"], price["billing_plan"]),
                "can_buy": can_buy,
                "buy_denied": permissions.denial_reason(self.request.membership, permissions.BUY),
                "filter_errors": filterset.errors if filterset.is_bound else {},
                "addon_not_purchasable": ADDON_NOT_PURCHASABLE,
                "choose_customer_first": CHOOSE_CUSTOMER_FIRST,
            }
        )
        return context

    @staticmethod
    def _decorate(sku, *, customer, can_buy, segment, missing):
        sku.prerequisites_url = reverse("catalog:addon_prerequisites", args=[sku.product_id, sku.sku_id])
        if customer is not None:
            sku.prerequisites_url += "?" + urlencode({"customer": customer.tenant_id})
        sku.prerequisite_missing = sku.pk in missing
        sku.buy_url = None
        if customer is not None and can_buy and sku.purchasable_availabilities:
            availability = next(
                (a for a in sku.purchasable_availabilities if a.segment == segment), sku.purchasable_availabilities[0]
            )
            catalog_item_id = f"{sku.product_id}:{sku.sku_id}:{availability.availability_id}"
            sku.buy_url = CART_NEW_URL + "?" + urlencode({"customer": customer.tenant_id, "catalog_item": catalog_item_id})


def _scoped_customer(request):
    """The ``?customer=`` tenant, out of the partner's customers; 404 when unknown or not
    theirs (ids must not leak); None when not given."""
    tenant = request.GET.get("customer", "").strip()
    if not tenant:
        return None
    try:
        tenant_id = uuid.UUID(tenant)
    except ValueError:
        raise Http404 from None
    return get_object_or_404(Customer.objects.transacted_by(request.partner), tenant_id=tenant_id)


@require_GET
@partner_required
def addon_prerequisites(request, product_id, sku_id):
    """The info flyout of an add-on: its prerequisite SKUs and, for a chosen customer, which
    the tenant has (any channel, active only) and whether the add-on is purchasable."""
    sku = get_object_or_404(Sku.objects.select_related("product"), product_id=product_id, sku_id=sku_id)
    customer = _scoped_customer(request)
    rows = addon_prerequisite_rows(sku=sku, customer=customer)
    for row in rows:
        for lic in row.licenses:
            # Another partner's name is that partner's business: say only that it is another one.
            if lic.source_partner_id is None:
                lic.source_label = ""
            elif lic.source_partner_id == request.partner.pk:
                lic.source_label = _("through you")
            else:
                lic.source_label = _("through another partner")
    rows.sort(key=lambda row: not row.in_tenant)  # what the tenant has first; stable otherwise
    purchasable = None
    if customer is not None:
        purchasable = not sku.prerequisites.exists() or any(row.in_tenant for row in rows)
    context = {
        "sku": sku,
        "customer": customer,
        "rows": rows,
        "purchasable": purchasable,
        "addon_not_purchasable": ADDON_NOT_PURCHASABLE,
        "catalog_url": reverse("catalog:product_list")
        + ("?" + urlencode({"customer": customer.tenant_id}) if customer else ""),
    }
    return render(request, htmx_template(request, "catalog/addon_prerequisites.html", "flyout"), context)


@require_GET
@partner_required
def pricelist_export(request):
    """The price list as CSV, streamed; ``?market=US`` for one market, all markets without it."""
    market = request.GET.get("market", "").strip().upper()
    if market and not re.fullmatch(r"[A-Z]{2}", market):
        return HttpResponseBadRequest(_("market must be a two-letter country code, e.g. US."))
    filename = f"pricelist-{market or 'all'}-{timezone.localdate().isoformat()}.csv"
    response = StreamingHttpResponse(export_lines(market=market or None), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def staff_required(view):
    """Logged in (else the login page) and the operator's staff (else 403)."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied(STAFF_ONLY)
        return view(request, *args, **kwargs)

    return wrapped


def _digest(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@require_http_methods(["GET", "POST"])
@staff_required
def pricelist_import(request):
    """Staff import of a price-list CSV in two steps. Upload → preview (rows to create and to
    update, errors by line); confirm → the good rows are applied in one transaction and the
    bad ones skipped, as the preview said. The file's text waits in the session between the
    two steps and is parsed again on confirm, so the catalog is checked as it is then."""
    template = "catalog/pricelist_import.html"
    if request.method == "POST" and "digest" in request.POST:
        confirm = PriceListConfirmForm(request.POST)
        pending = request.session.get(IMPORT_SESSION_KEY)
        if not confirm.is_valid() or not pending or pending.get("digest") != confirm.cleaned_data["digest"]:
            messages.error(request, PREVIEW_EXPIRED)
            return render(request, template, {"form": PriceListUploadForm()}, status=REFUSED)
        result = parse_price_list(pending["text"])
        created, updated = pricelist_apply(rows=result.rows, acting_user=request.user)
        del request.session[IMPORT_SESSION_KEY]
        messages.success(
            request,
            _("Price list imported from %(name)s: %(created)s rows created, %(updated)s updated, %(skipped)s skipped.")
            % {"name": pending.get("name", ""), "created": created, "updated": updated,
               "skipped": len(result.errors)},
        )
        return redirect("catalog:pricelist_import")

    if request.method == "POST":
        form = PriceListUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return render(request, template, {"form": form}, status=REFUSED)
        text = form.cleaned_data["text"]
        result = parse_price_list(text)
        context = {
            "form": PriceListUploadForm(),
            "result": result,
            "file_name": form.cleaned_data["file"].name,
            "errors_shown": result.errors[:MAX_ERRORS_SHOWN],
            "errors_hidden": max(0, len(result.errors) - MAX_ERRORS_SHOWN),
        }
        if result.rows:
            digest = _digest(text)
            request.session[IMPORT_SESSION_KEY] = {"digest": digest, "text": text, "name": context["file_name"]}
            context["confirm_form"] = PriceListConfirmForm(initial={"digest": digest})
        else:
            request.session.pop(IMPORT_SESSION_KEY, None)
        return render(request, template, context)

    return render(request, template, {"form": PriceListUploadForm()})
