"""Filters and sorting of the Subscriptions list (and of its CSV export).

Scoping: the customer and product choice lists are built from the request's partner
(callable querysets), so another partner's tenant id is neither listed nor accepted: the
form is invalid and the view shows no rows.
"""

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from catalog.filters import QuickModelSelect
from catalog.models import ConsumptionType, Product, Sku
from portal.models import Customer
from subscriptions.models import Subscription, SubscriptionStatus

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


def partner_customers(request):
    partner = getattr(request, "partner", None) if request is not None else None
    if partner is None:
        return Customer.objects.none()
    return Customer.objects.for_partner(partner).order_by("name", "pk")


def partner_products(request):
    """Only the products the partner has subscriptions of: a list of every catalog product
    would mostly filter to nothing."""
    partner = getattr(request, "partner", None) if request is not None else None
    if partner is None:
        return Product.objects.none()
    # EXISTS per product, not a DISTINCT over a join of every subscription (0.5 s with 100,000).
    sold = Subscription.objects.for_partner(partner).filter(sku__product=OuterRef("pk"))
    return Product.objects.filter(Exists(sold)).order_by("title")


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
        widget=QuickModelSelect(label_field="name"),
    )
    product = django_filters.ModelChoiceFilter(
        field_name="sku__product", queryset=partner_products, label=_("Product"), empty_label=_("All products")
    )
    status = django_filters.ChoiceFilter(
        choices=SubscriptionStatus.choices, label=_("Status"), empty_label=_("Any")
    )
    end_from = django_filters.DateFilter(
        field_name="commitment_end_date",
        lookup_expr="gte",
        label=_("Term ends from"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    end_to = django_filters.DateFilter(
        field_name="commitment_end_date",
        lookup_expr="lte",
        label=_("Term ends by"),
        widget=forms.DateInput(attrs={"type": "date"}),
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

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(friendly_name__icontains=value) | Q(sku__title__icontains=value) | Q(customer__name__icontains=value)
        )

    def filter_addons(self, queryset, name, value):
        # An unticked checkbox means "all", not "no add-ons". EXISTS rather than a join: on
        # a join SQLite reads every add-on row first and sorts them all for one page.
        if not value:
            return queryset
        return queryset.filter(Exists(Sku.objects.filter(pk=OuterRef("sku_id"), is_addon=True)))

    def filter_overage(self, queryset, name, value):
        return queryset.filter(consumption_type=ConsumptionType.OVERAGE) if value else queryset
