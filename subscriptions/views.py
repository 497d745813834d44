"""Cart, checkout and order pages (SPEC §4, §11).

Everything starts from ``Cart.objects.owned_by`` / ``Order.objects.transacted_by``: another
partner's cart or order is 404. Anyone of the partner sees the pages; only members allowed
to BUY (SPEC §2) change a cart or check it out, and the server refuses the others with 403
and the reason (an indirect reseller's user is told to ask its provider, by name).
"""

import uuid
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Sum
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST
from django.views.generic import DetailView, ListView

from portal import permissions
from portal.htmx import REFUSED
from portal.models import Customer
from portal.views import PartnerRequiredMixin, htmx_template, partner_required, require_permission
from subscriptions.errors import CartInputError
from subscriptions.forms import CartLineForm, CartNewForm, CheckoutForm
from subscriptions.models import Cart, CartStatus, Order
from subscriptions.services.cart import cart_create, cart_update, line_input_from
from subscriptions.services.checkout import cart_checkout
from subscriptions.services.pricing import estimate_cart

CART_CREATED = _("Cart created.")
CART_CREATED_WITH_ERRORS = _("Cart created, but a line has an error: fix or remove it before checking out.")
CHECKOUT_BLOCKED = _("Fix or remove the lines marked in red before checking out.")
LINE_ADDED = _("Line added to the cart.")
LINE_REMOVED = _("Line removed.")
ORDER_PLACED = _("Order placed: one new subscription per line.")
CHECKOUT_REFUSED = _("Nothing was ordered: fix or remove the lines marked in red, then check out again.")


def _buy_context(request):
    allowed = permissions.can(request.membership, permissions.BUY)
    reason = "" if allowed else permissions.denial_reason(request.membership, permissions.BUY)
    return {"can_buy": allowed, "buy_denied": reason}


def _without_csrf_token(request):
    """The no-JavaScript "Update choices" button submits the line form as GET; take the CSRF
    token out of the address (and so out of history and logs) before rendering."""
    if "csrfmiddlewaretoken" not in request.GET:
        return None
    query = request.GET.copy()
    del query["csrfmiddlewaretoken"]
    return redirect(f"{request.path}?{query.urlencode()}")


def _scoped_cart(request, cart_id):
    return get_object_or_404(
        Cart.objects.owned_by(request.partner).select_related("customer", "partner", "reseller"), pk=cart_id
    )


class CartListView(PartnerRequiredMixin, ListView):
    """The partner's carts, newest first, with their order when checked out."""

    template_name = "subscriptions/cart_list.html"
    context_object_name = "carts"
    paginate_by = 25

    def get_queryset(self):
        return (
            Cart.objects.owned_by(self.request.partner)
            .select_related("customer", "reseller", "order")
            .annotate(line_count=Count("lines"), seat_count=Sum("lines__quantity"))
            .order_by("-created_at", "pk")
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(_buy_context(self.request))
        context["now"] = timezone.now()
        return context


@partner_required
def cart_new(request):
    """A new cart for one customer, with its first line; created by ``cart_create``."""
    context = _buy_context(request)
    if request.method == "POST":
        require_permission(request, permissions.BUY)
        form = CartNewForm(request.POST, partner=request.partner)
        if form.is_valid():
            try:
                cart = cart_create(
                    partner=request.partner, customer=form.cleaned_data["customer"], acting_user=request.user,
                    lines=[form.line_input()], request_id=getattr(request, "request_id", ""),
                )
            except CartInputError as error:
                form.add_error(None, error.description)
            else:
                if cart.lines.filter(error_code__isnull=False).exists():
                    messages.warning(request, CART_CREATED_WITH_ERRORS)
                else:
                    messages.success(request, CART_CREATED)
                return redirect("subscriptions:cart_detail", cart_id=cart.pk)
    elif request.method == "GET":
        if cleaned := _without_csrf_token(request):
            return cleaned
        initial = {key: request.GET[key] for key in CartNewForm.base_fields if request.GET.get(key)}
        form = CartNewForm(partner=request.partner, initial=initial)
    else:
        return HttpResponseNotAllowed(["GET", "POST"])
    context["form"] = form
    # A POST that reaches here was refused: the form comes back with its errors.
    return render(request, "subscriptions/cart_new.html", context, status=REFUSED if form.is_bound else 200)


@partner_required
@require_GET
def line_options(request):
    """HTMX: the term and end-date selects for the chosen catalog item, customer and term."""
    customer = None
    tenant = request.GET.get("customer") or request.GET.get("cart_customer")
    if tenant:
        try:
            customer = Customer.objects.transacted_by(request.partner).filter(tenant_id=tenant).first()
        except ValidationError:  # a malformed tenant id: offer no aligned dates rather than fail
            customer = None
    form = CartLineForm(request.GET, partner=request.partner, customer=customer)
    return render(request, "subscriptions/line_form.html#options", {"form": form})


class CartDetailView(PartnerRequiredMixin, DetailView):
    """A cart: its lines with their errors, an estimate of the first charges, and (for
    members who may buy, while the cart is active) add line, remove line, check out."""

    template_name = "subscriptions/cart_detail.html"
    context_object_name = "cart"
    add_form = None

    def get(self, request, *args, **kwargs):
        self.object = self.get_object()  # 404 first: another partner's cart never redirects
        if cleaned := _without_csrf_token(request):
            return cleaned
        return self.render_to_response(self.get_context_data(object=self.object))

    def get_object(self, queryset=None):
        return _scoped_cart(self.request, self.kwargs["cart_id"])

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(cart_page_context(self.request, self.object, add_form=self.add_form))
        return context


def cart_page_context(request, cart, add_form=None):
    lines = list(cart.lines.select_related("availability__sku__product").order_by("line_number"))
    estimates, totals = estimate_cart(cart=cart, lines=lines, today=timezone.localdate())
    context = _buy_context(request)
    expired = cart.expires_at <= timezone.now()
    editable = cart.status == CartStatus.ACTIVE and not expired
    if add_form is None and editable and context["can_buy"]:
        initial = {key: request.GET[key] for key in CartLineForm.base_fields if request.GET.get(key)}
        add_form = CartLineForm(partner=request.partner, customer=cart.customer, initial=initial)
    # What the lines with an error would charge: not in the total (checkout orders none of
    # them), shown beside it so a priced line never reads as "no price".
    not_counted = {}
    for estimate in estimates:
        if estimate.line.error_code is not None and estimate.charge is not None:
            currency = estimate.price.currency
            not_counted[currency] = not_counted.get(currency, Decimal("0")) + estimate.charge.amount
            totals.setdefault(currency, Decimal("0.00"))
    has_errors = any(ln.error_code is not None for ln in lines)
    context.update(
        {
            "cart": cart,
            "estimates": estimates,
            "totals": sorted(totals.items()),
            "not_counted": sorted(not_counted.items()),
            "has_errors": has_errors,
            "checkout_blocked": CHECKOUT_BLOCKED if has_errors else "",
            "expired": expired,
            "editable": editable,
            "add_form": add_form,
            "order": getattr(cart, "order", None) if cart.status == CartStatus.ORDERED else None,
            "idempotency_key": uuid.uuid4(),
        }
    )
    return context


@partner_required
@require_POST
def cart_line_add(request, cart_id):
    """Add a line: the cart's lines are replaced by themselves plus the new one."""
    cart = _scoped_cart(request, cart_id)
    require_permission(request, permissions.BUY)
    form = CartLineForm(request.POST, partner=request.partner, customer=cart.customer)
    if not form.is_valid():
        context = cart_page_context(request, cart, add_form=form)
        return render(request, "subscriptions/cart_detail.html", context, status=REFUSED)
    lines = [line_input_from(ln) for ln in cart.lines.select_related("availability__sku").order_by("line_number")]
    try:
        cart_update(cart=cart, acting_user=request.user, lines=lines + [form.line_input()],
                    request_id=getattr(request, "request_id", ""))
    except CartInputError as error:
        messages.error(request, error.description)
    else:
        messages.success(request, LINE_ADDED)
    return redirect("subscriptions:cart_detail", cart_id=cart.pk)


@partner_required
@require_POST
def cart_line_remove(request, cart_id, line_number):
    """Remove one line (a cart keeps at least one; delete-by-abandon is the 7-day expiry)."""
    cart = _scoped_cart(request, cart_id)
    require_permission(request, permissions.BUY)
    existing = list(cart.lines.select_related("availability__sku").order_by("line_number"))
    if not any(ln.line_number == line_number for ln in existing):
        return redirect("subscriptions:cart_detail", cart_id=cart.pk)
    lines = [line_input_from(ln) for ln in existing if ln.line_number != line_number]
    try:
        cart_update(cart=cart, acting_user=request.user, lines=lines, request_id=getattr(request, "request_id", ""))
    except CartInputError as error:
        messages.error(request, error.description)
    else:
        messages.success(request, LINE_REMOVED)
    return redirect("subscriptions:cart_detail", cart_id=cart.pk)


@partner_required
def cart_checkout_view(request, cart_id):
    """GET: the confirmation (a summary with totals; a flyout fragment for HTMX). POST:
    check out (idempotent: a double click or a retry makes one order) and go to the order."""
    cart = _scoped_cart(request, cart_id)
    if request.method == "GET":
        context = cart_page_context(request, cart)
        return render(request, htmx_template(request, "subscriptions/cart_checkout.html", "confirm"), context)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    require_permission(request, permissions.BUY)
    form = CheckoutForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["idempotency_key"][0])
        return redirect("subscriptions:cart_detail", cart_id=cart.pk)
    try:
        result = cart_checkout(
            cart=cart, acting_user=request.user, idempotency_key=form.cleaned_data["idempotency_key"] or None,
            request_id=getattr(request, "request_id", ""),
        )
    except CartInputError as error:
        messages.error(request, error.description)
        return redirect("subscriptions:cart_detail", cart_id=cart.pk)
    if result.order is None:
        messages.error(request, CHECKOUT_REFUSED)
        return redirect("subscriptions:cart_detail", cart_id=cart.pk)
    messages.success(request, ORDER_PLACED)
    return redirect("subscriptions:order_detail", order_id=result.order.pk)


class OrderDetailView(PartnerRequiredMixin, DetailView):
    """An order: its lines, the subscriptions they created and what was charged."""

    template_name = "subscriptions/order_detail.html"
    context_object_name = "order"

    def get_object(self, queryset=None):
        return get_object_or_404(
            Order.objects.transacted_by(self.request.partner).select_related("customer", "partner", "reseller", "cart"),
            pk=self.kwargs["order_id"],
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        charges = {}
        for charge in self.object.charge_events.all():
            charges.setdefault(charge.subscription_id, []).append(charge)
        subscriptions = list(
            self.object.subscriptions.select_related("sku__product", "availability").order_by("purchased_at", "pk")
        )
        rows = [(s, charges.get(s.pk, [])) for s in subscriptions]
        totals = {}
        for charge_list in charges.values():
            for charge in charge_list:
                totals[charge.currency] = totals.get(charge.currency, 0) + charge.amount
        context.update({"rows": rows, "totals": sorted(totals.items())})
        return context
