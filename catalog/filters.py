"""The catalog page's filters: one row per SKU, priced for a market, term and billing plan.

Scoping: the ``customer`` choice list is built from the request's partner (a callable
queryset), so another partner's tenant id is neither listed nor accepted.
"""

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.forms.renderers import TemplatesSetting
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.models import Availability, BillingCycle, ProductType, Segment, Sku, TermDuration
from catalog.selectors import DEFAULT_MARKET, price_list_markets, with_current_price
from portal.models import Customer

ADDONS = "addons"
PRODUCT_TYPE_CHOICES = [*ProductType.choices, (ADDONS, _("New-commerce add-ons"))]
# The price column needs a term and a billing plan even when the user filters on neither.
DEFAULT_TERM = TermDuration.P1Y
DEFAULT_BILLING_PLAN = BillingCycle.MONTHLY
DEFAULT_SEGMENT = Segment.COMMERCIAL
BILLING_PLAN_CHOICES = [c for c in BillingCycle.choices if c[0] != BillingCycle.NONE]


# Widget templates live with the project's (``templates/widgets/``): the form renderer in use
# reads Django's own widget templates only (there is no ``FORM_RENDERER`` setting), so the
# widgets below render theirs with the project's template engine.
PROJECT_TEMPLATES = TemplatesSetting()


def html_attrs(attrs):
    """``attrs`` as ``(name, value)`` pairs in the order ``flatatt`` writes them (``value``
    pairs by name, then the true booleans with ``True``; false booleans and ``None`` left
    out), for ``widgets/attrs.html``."""
    pairs = sorted((name, value) for name, value in attrs.items() if not isinstance(value, bool) and value is not None)
    return pairs + sorted((name, True) for name, value in attrs.items() if value is True)


class QuickModelSelect(forms.Select):
    """The ``<select>`` of a model choice field, its options read as ``(key, label_field)``
    pairs. Django's ``Select`` builds a model instance and renders two template includes per
    option: a partner's 5,000 customers took about a second per page; this one template
    (``widgets/quick_select.html``) loops over the pairs. Same markup and escaping; the
    label is ``label_field``."""

    template_name = "widgets/quick_select.html"

    def __init__(self, attrs=None, *, label_field):
        super().__init__(attrs)
        self.label_field = label_field

    def options(self, pairs, value):
        """``(key, selected, label)`` of each pair, the field's empty choice first."""
        field = self.choices.field  # the ModelChoiceIterator's field
        selected = set(self.format_value(value))
        if field.empty_label is not None:
            pairs = [("", field.empty_label), *pairs]
        return [(str(key), str(key) in selected, label) for key, label in pairs]

    def get_context(self, name, value, attrs):
        field = self.choices.field
        pairs = field.queryset.values_list(field.to_field_name or "pk", self.label_field)
        attrs = self.build_attrs(self.attrs, attrs)
        return {"widget": {"name": name, "attrs": html_attrs(attrs), "options": self.options(pairs, value)}}

    def render(self, name, value, attrs=None, renderer=None):
        return super().render(name, value, attrs, renderer=PROJECT_TEMPLATES)


def partner_customers(request):
    """The customers the request's partner may pick; none for a request without a partner."""
    partner = getattr(request, "partner", None) if request is not None else None
    if partner is None:
        return Customer.objects.none()
    return Customer.objects.transacted_by(partner).order_by("name", "pk")


def _customer_market(request, tenant_id):
    """The country of the request's partner's customer ``tenant_id`` when the price list has
    that market; None for no, unknown, malformed or another partner's tenant."""
    if not tenant_id or request is None or getattr(request, "partner", None) is None:
        return None
    try:
        country = (
            Customer.objects.transacted_by(request.partner).filter(tenant_id=tenant_id).values_list("country", flat=True).first()
        )
    except ValidationError:
        return None
    return country if country in price_list_markets() else None


def market_choices():
    return [(market, market) for market in price_list_markets()]


def json_list_has(field, value):
    """``Q`` for "the JSON list in ``field`` holds ``value``". SQLite has no JSON containment,
    so there the list's text is searched for the quoted value (values are plain codes)."""
    if connection.features.supports_json_field_contains:
        return Q(**{f"{field}__contains": [value]})
    return Q(**{f"{field}__icontains": f'"{value}"'})


class SkuFilter(django_filters.FilterSet):
    """Filters of the catalog page. ``market``, ``term``, ``billing_plan`` and ``segment``
    also choose the price shown; ``customer`` chooses who the buy links and the
    prerequisite check are for (it never narrows the catalog)."""

    q = django_filters.CharFilter(method="filter_search", label=_("Search"))
    product_type = django_filters.ChoiceFilter(
        choices=PRODUCT_TYPE_CHOICES, method="filter_product_type", label=_("Product type"),
        empty_label=_("All product types"),
    )
    segment = django_filters.ChoiceFilter(
        choices=Segment.choices, method="filter_segment", label=_("Segment"), empty_label=_("All segments")
    )
    term = django_filters.ChoiceFilter(
        choices=TermDuration.choices, method="filter_term", label=_("Term"), empty_label=_("All terms")
    )
    billing_plan = django_filters.ChoiceFilter(
        choices=BILLING_PLAN_CHOICES, method="filter_billing_plan", label=_("Billing plan"),
        empty_label=_("All billing plans"),
    )
    market = django_filters.ChoiceFilter(
        choices=market_choices, method="filter_nothing", label=_("Market"), empty_label=None
    )
    customer = django_filters.ModelChoiceFilter(
        queryset=partner_customers,
        to_field_name="tenant_id",
        method="filter_nothing",
        label=_("Customer"),
        empty_label=_("No customer selected"),
        widget=QuickModelSelect(label_field="name"),
    )

    class Meta:
        model = Sku
        fields = []

    def __init__(self, data=None, *args, **kwargs):
        if data is not None and not data.get("market"):
            data = data.copy()
            # Prices for the chosen customer's own market unless another one is asked for.
            data["market"] = _customer_market(kwargs.get("request"), data.get("customer")) or DEFAULT_MARKET
        super().__init__(data, *args, **kwargs)
        for name, field in self.form.fields.items():
            css = "form-control" if name == "q" else "form-select"
            field.widget.attrs.setdefault("class", css)
        self.form.fields["q"].widget.attrs.update(
            {"placeholder": _("Title, description, product id or SKU"), "type": "search"}
        )

    # Filters

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        match = Q(search_text__contains=value.lower())
        if ":" in value:
            # A Partner Center code: productId:skuId (maybe with an availability id after it).
            product_id, _sep, rest = value.partition(":")
            match |= Q(product__id__iexact=product_id.strip(), sku_id__istartswith=rest.split(":")[0].strip())
        return queryset.filter(match)

    def filter_product_type(self, queryset, name, value):
        if value == ADDONS:
            return queryset.filter(is_addon=True)
        return queryset.filter(product__product_type=value)

    def filter_segment(self, queryset, name, value):
        # A SKU is in a segment when an availability is offered in it or its product lists it.
        offered = Availability.objects.filter(sku=OuterRef("pk"), segment=value)
        return queryset.filter(Exists(offered) | json_list_has("product__segments", value))

    def filter_term(self, queryset, name, value):
        return queryset.filter(json_list_has("supported_terms", value))

    def filter_billing_plan(self, queryset, name, value):
        return queryset.filter(json_list_has("supported_billing_cycles", value))

    def filter_nothing(self, queryset, name, value):
        return queryset

    # Pricing

    def _cleaned(self, name):
        if not self.is_bound:
            return None
        self.errors  # noqa: B018 -- validates the form so that cleaned_data exists
        return self.form.cleaned_data.get(name)

    @property
    def chosen_customer(self):
        """The chosen customer, already scoped to the partner (None when invalid or unset)."""
        return self._cleaned("customer")

    @property
    def price_context(self):
        """Which price-list rows the price column shows."""
        return {
            "market": self._cleaned("market") or DEFAULT_MARKET,
            "term_duration": self._cleaned("term") or DEFAULT_TERM.value,
            "billing_plan": self._cleaned("billing_plan") or DEFAULT_BILLING_PLAN.value,
            "segment": self._cleaned("segment") or DEFAULT_SEGMENT.value,
        }

    def priced(self, queryset):
        """``queryset`` with the price column of this filter's market, term and plan."""
        return with_current_price(queryset, **self.price_context, on=timezone.localdate())
