"""Filters and sorting of the Subscriptions list (and of its CSV export).

Scoping: the customer and product choice lists are built from the request's partner
(callable querysets), so another partner's tenant id is neither listed nor accepted: the
form is invalid and the view shows no rows. The customer picker of a large partner loads
its options from ``portal:customer_options``, which scopes them the same way.
"""

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.filters import QuickModelSelect, html_attrs
from catalog.models import ConsumptionType, Product, Sku
from portal.forms import LocalDateInput
from portal.models import Customer
from subscriptions.models import RemovalRequestStatus, Subscription, SubscriptionStatus
from subscriptions.selectors_attention import expiring, seat_windows_closing
from subscriptions.selectors_list import base_end_date

AUTO_RENEW_CHOICES = [("", _("Any")), ("true", _("On")), ("false", _("Off"))]

# ``o=`` keys → the fields they sort on. The primary key breaks ties so pages never overlap.
ORDERING_FIELDS = (
    ("customer__name", "customer"),
    ("sku__title", "offer"),
    ("quantity", "quantity"),
    ("status", "status"),
    ("commitment_end_date", "end"),
    ("auto_renew_enabled", "auto_renew"),
)
DEFAULT_ORDERING = ("customer__name", "commitment_end_date", "pk")

# Up to this many customers the filter is a plain <select>; above, a search-as-you-type
# picker (5,000 options were ~400 KB of HTML and 30-40 ms per page).
PICKER_THRESHOLD = 200


def partner_customers(request):
    partner = getattr(request, "partner", None) if request is not None else None
    if partner is None:
        return Customer.objects.none()
    return Customer.objects.transacted_by(partner).order_by("name", "pk")


def partner_products(request):
    """Only the products the partner has subscriptions of: a list of every catalog product
    would mostly filter to nothing."""
    partner = getattr(request, "partner", None) if request is not None else None
    if partner is None:
        return Product.objects.none()
    # EXISTS per product, not a DISTINCT over a join of every subscription (0.5 s with 100,000).
    sold = Subscription.objects.transacted_by(partner).filter(sku__product=OuterRef("pk"))
    return Product.objects.filter(Exists(sold)).order_by("title")


class CustomerPicker(QuickModelSelect):
    """The customer filter: a ``<select>`` for a partner with at most ``PICKER_THRESHOLD``
    customers, else a search-as-you-type picker (``subscriptions/widgets/customer_picker.html``).

    Both read the partner's customers once, as ``(tenant_id, name)`` pairs (at most
    ``PICKER_THRESHOLD + 1`` of them), as ``QuickModelSelect`` does. The picker is a
    text input ``customer_q`` (the chosen customer's name, or what was typed) whose options
    HTMX loads from ``portal:customer_options``; the list page's script puts the chosen
    tenant id into the hidden ``customer`` input. Without JavaScript the text submits as
    ``customer_q``: customers whose name contains it. The filter set gives the widget
    ``selected_label`` (the chosen customer's name) and ``search_text`` (``customer_q``)."""

    template_name = "subscriptions/widgets/customer_picker.html"
    selected_label = ""
    search_text = ""

    def __init__(self, attrs=None, *, threshold=PICKER_THRESHOLD):
        super().__init__(attrs, label_field="name")
        self.threshold = threshold

    def get_context(self, name, value, attrs):
        field = self.choices.field  # the ModelChoiceIterator's field
        pairs = list(field.queryset.values_list("tenant_id", "name")[: self.threshold + 1])
        attrs = self.build_attrs(self.attrs, attrs)
        if len(pairs) <= self.threshold:
            return {"widget": {"name": name, "attrs": html_attrs(attrs), "options": self.options(pairs, value)}}
        selected = self.format_value(value)
        return {"widget": {"name": name, "picker": self._picker(name, selected[0] if selected else "", attrs)}}

    def _picker(self, name, tenant_id, attrs):
        """The attributes of the picker's hidden ``customer`` input and of its text input,
        and the id of its options' list."""
        input_id = attrs.get("id") or f"id_{name}"
        options_id = f"{input_id}_options"
        text_attrs = {
            **attrs,
            "class": "form-control form-control-sm",
            "type": "search",
            "name": f"{name}_q",
            "value": self.selected_label or self.search_text,
            "placeholder": _("Name or tenant id"),
            "autocomplete": "off",
            "role": "combobox",
            "aria-autocomplete": "list",
            "aria-controls": options_id,
            "hx-get": reverse("portal:customer_options"),
            "hx-trigger": "input changed delay:250ms, focus",
            "hx-target": f"#{options_id}",
            "hx-swap": "innerHTML",
            "hx-sync": "this:replace",
            # The filter form pushes its URL; the options request must not.
            "hx-push-url": "false",
            "data-testid": "customer-picker-input",
        }
        if text_attrs["value"] == "":
            del text_attrs["value"]
        hidden = {"type": "hidden", "name": name, "value": tenant_id, "id": f"{input_id}_tenant"}
        return {"hidden_attrs": html_attrs(hidden), "text_attrs": html_attrs(text_attrs), "options_id": options_id}


class StableOrderingFilter(django_filters.OrderingFilter):
    """Ordering with the primary key appended, and the list's default when none is asked."""

    def filter(self, qs, value):
        if not value:
            return qs.order_by(*DEFAULT_ORDERING)
        ordering = [self.get_ordering_value(param) for param in value if param not in (None, "")]
        return qs.order_by(*ordering, "pk")


class SubscriptionFilter(django_filters.FilterSet):
    """The Subscriptions list's filters (SPEC §11). Build it with ``request=request``."""

    q = django_filters.CharFilter(
        method="filter_search",
        label=_("Search"),
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Name, offer or customer")}),
    )
    customer = django_filters.ModelChoiceFilter(
        queryset=partner_customers, to_field_name="tenant_id", label=_("Customer"), empty_label=_("All customers"),
        widget=CustomerPicker(),
    )
    # The customer picker's text without JavaScript (a chosen ``customer`` takes precedence).
    customer_q = django_filters.CharFilter(method="filter_customer_q", label=_("Customer name"))
    product = django_filters.ModelChoiceFilter(
        field_name="sku__product", queryset=partner_products, label=_("Product"), empty_label=_("All products"),
        widget=QuickModelSelect(label_field="title"),
    )
    status = django_filters.ChoiceFilter(
        choices=SubscriptionStatus.choices, label=_("Status"), empty_label=_("Any")
    )
    end_from = django_filters.DateFilter(
        field_name="commitment_end_date",
        lookup_expr="gte",
        label=_("Term ends from"),
        widget=LocalDateInput(),
    )
    end_to = django_filters.DateFilter(
        field_name="commitment_end_date",
        lookup_expr="lte",
        label=_("Term ends by"),
        widget=LocalDateInput(),
    )
    auto_renew = django_filters.BooleanFilter(
        field_name="auto_renew_enabled", label=_("Auto-renew"), widget=forms.Select(choices=AUTO_RENEW_CHOICES)
    )
    addons = django_filters.BooleanFilter(
        method="filter_addons", label=_("Add-ons only"), widget=forms.CheckboxInput
    )
    overage = django_filters.BooleanFilter(
        method="filter_overage", label=_("Overage-capable"), widget=forms.CheckboxInput
    )
    # The dashboard's "more" links (SPEC §11), each the rows of one kind of its to-do items: the
    # page shows these only when they are set.
    window_closing = django_filters.BooleanFilter(
        method="filter_window_closing", label=_("168-hour window"), widget=forms.CheckboxInput
    )
    expiring = django_filters.BooleanFilter(method="filter_expiring", label=_("Expiring"), widget=forms.CheckboxInput)
    outlives_base = django_filters.BooleanFilter(
        method="filter_outlives_base", label=_("Add-on outlives base"), widget=forms.CheckboxInput
    )
    removal_requested = django_filters.BooleanFilter(
        method="filter_removal_requested", label=_("Removal request"), widget=forms.CheckboxInput
    )
    o = StableOrderingFilter(fields=ORDERING_FIELDS, label=_("Sort"))

    class Meta:
        model = Subscription
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, form_field in self.form.fields.items():
            widget = form_field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select form-select-sm"
            else:
                css = "form-control form-control-sm"
            widget.attrs["class"] = css
        self.form.fields["customer"].widget.search_text = (self.data or {}).get("customer_q", "")

    @property
    def chosen_customer(self):
        """The chosen customer (scoped by the field's queryset), or None when unset or
        invalid. The picker shows its name."""
        if not self.is_bound or not self.form.is_valid():
            return None
        customer = self.form.cleaned_data.get("customer")
        if customer is not None:
            self.form.fields["customer"].widget.selected_label = customer.name
        return customer

    @property
    def count_qs(self):
        """The filtered rows, built for counting rather than for reading one page: the
        add-ons condition as ``sku_id IN (add-on SKUs)``, which SQLite counts from the
        partner/reseller/SKU index (~3 ms for 100,000 rows) but which would make it sort
        every add-on row for a page; the page keeps the ``EXISTS`` (see ``filter_addons``)."""
        self._counting = True
        try:
            return self.filter_queryset(self.queryset.all())
        finally:
            self._counting = False

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(friendly_name__icontains=value) | Q(sku__title__icontains=value) | Q(customer__name__icontains=value)
        )

    def filter_customer_q(self, queryset, name, value):
        value = value.strip()
        if not value or self.form.cleaned_data.get("customer") is not None:
            return queryset
        return queryset.filter(customer__name__icontains=value)

    def filter_addons(self, queryset, name, value):
        # An unticked checkbox means "all", not "no add-ons". EXISTS rather than a join or
        # IN for a page: on those SQLite reads every add-on row first and sorts them all for
        # one page. Counting is the opposite: a correlated EXISTS per row (25 ms).
        if not value:
            return queryset
        if getattr(self, "_counting", False):
            return queryset.filter(sku__in=Sku.objects.filter(is_addon=True).values("pk"))
        return queryset.filter(Exists(Sku.objects.filter(pk=OuterRef("sku_id"), is_addon=True)))

    def filter_overage(self, queryset, name, value):
        return queryset.filter(consumption_type=ConsumptionType.OVERAGE) if value else queryset

    def filter_window_closing(self, queryset, name, value):
        """Subscriptions with seats whose 168-hour window closes within a day: those of
        ``selectors_attention.seat_windows_closing`` (two queries), which replays each one's
        seat history as the seat flyout does; a rule no filter of the rows could say."""
        if not value:
            return queryset
        closing = seat_windows_closing(partner=self.request.partner, limit=None)
        return queryset.filter(pk__in=[row.subscription.pk for row in closing])

    def filter_expiring(self, queryset, name, value):
        """Active licences ending within 30 days with auto-renew off: the rows of
        ``selectors_attention.ending_without_auto_renew`` (the Azure plan, which never renews,
        is no licence)."""
        return expiring(queryset, today=timezone.localdate()) if value else queryset

    def filter_outlives_base(self, queryset, name, value):
        """Active add-ons ending after every live base of the same customer the same partner
        sold: the rule of ``annotate_list_flags`` and of the dashboard's item."""
        if not value:
            return queryset
        return queryset.filter(sku__is_addon=True, status=SubscriptionStatus.ACTIVE).filter(
            commitment_end_date__gt=base_end_date()
        )

    def filter_removal_requested(self, queryset, name, value):
        """Add-ons with an open request to remove them (SPEC §5)."""
        if not value:
            return queryset
        return queryset.filter(removal_request__status=RemovalRequestStatus.OPEN)  # one request a subscription
