"""Forms of the cart pages. Every choice list is scoped where the field is built: customers
are those the partner sells to, end dates those allowed for this customer and partner."""

import datetime

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.models import Availability, BillingCycle, TermDuration
from portal.formatting import format_date
from portal.models import Customer
from subscriptions.errors import (
    FRIENDLY_NAME_MAX_LENGTH,
    IDEMPOTENCY_KEY_MAX_LENGTH,
    IDEMPOTENCY_KEY_TOO_LONG,
    MAX_LINE_QUANTITY,
)
from subscriptions.selectors import CALENDAR_MONTH_ALIGNED, allowed_custom_term_end_dates, coterm_candidates
from subscriptions.services.cart import LineInput

TERM_SEPARATOR = ":"


def term_choice(term_duration, billing_cycle):
    """The value of a term and billing cycle pair in a form's choice: ``P1Y:monthly``."""
    return f"{term_duration}{TERM_SEPARATOR}{billing_cycle}"


def split_term_choice(value):
    """``(term, billing cycle)`` of a ``term_choice`` value (``("", "")`` for none)."""
    term_duration, _sep, billing_cycle = (value or "").partition(TERM_SEPARATOR)
    return term_duration, billing_cycle


def term_label(term_duration, billing_cycle):
    return f"{TermDuration(term_duration).label} · {BillingCycle(billing_cycle).label}"


# After an add-on's title in the catalog item choices (a constant: gettext is not found in f-strings).
ADDON_MARK = _("(add-on)")


def end_date_choices(items, names):
    """The end-date select's choices, grouped (issue 13, defect 10: a 3-year term listed 36
    month ends in one run): first the dates shared with the customer's subscriptions, each
    naming them, then the month ends, one group per year."""
    aligned, month_ends = [], {}
    for item in items:
        day = item["allowedCustomTermEndDate"]
        if item["allowedCustomTermEndDateType"] == CALENDAR_MONTH_ALIGNED:
            label = _("%(date)s — end of the month") % {"date": format_date(day)}
            month_ends.setdefault(day.year, []).append((day.isoformat(), label))
        else:
            subscriptions = [names.get(pk, pk) for pk in item["cotermSubscriptionIds"]]
            shown = ", ".join(subscriptions[:3])
            if len(subscriptions) > 3:
                shown = _("%(names)s and %(count)s more") % {"names": shown, "count": len(subscriptions) - 3}
            label = _("%(date)s — with %(subscriptions)s") % {"date": format_date(day), "subscriptions": shown}
            aligned.append((day.isoformat(), label))
    choices = [("", _("No alignment (natural end of the term)"))]
    if aligned:
        choices.append((_("Aligned with the customer's subscriptions"), aligned))
    choices += [(_("Month ends in %(year)s") % {"year": year}, days) for year, days in month_ends.items()]
    return choices


class CartLineForm(forms.Form):
    """One cart line: catalog item, quantity, term + billing cycle (from the availability's
    terms), optional custom term end date (from the allowed list only), friendly name."""

    catalog_item = forms.ChoiceField(label=_("Catalog item"))
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=MAX_LINE_QUANTITY, initial=1)
    term = forms.ChoiceField(label=_("Term and billing cycle"))
    custom_term_end_date = forms.ChoiceField(
        label=_("Term end date"), required=False,
        help_text=_("Align the end of the first term with a month end or with one of your active subscriptions; "
                    "the first term is prorated."),
    )
    friendly_name = forms.CharField(label=_("Friendly name"), max_length=FRIENDLY_NAME_MAX_LENGTH, required=False)

    def __init__(self, *args, partner, customer=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.partner = partner
        self.customer = customer
        options_url = reverse("subscriptions:line_options")
        htmx = {"hx-get": options_url, "hx-trigger": "change", "hx-target": "#line-options",
                "hx-include": "closest form", "hx-swap": "outerHTML"}
        self.availabilities = {
            a.catalog_item_id: a
            for a in Availability.objects.filter(is_purchasable=True)
            .select_related("sku__product")
            .order_by("sku__product__title", "sku__sku_id", "availability_id")
        }
        self.fields["catalog_item"].choices = [("", _("Choose a product SKU…"))] + [
            (key, f"{a.sku.title} {ADDON_MARK} — {key}" if a.sku.is_addon else f"{a.sku.title} — {key}")
            for key, a in self.availabilities.items()
        ]
        self.fields["catalog_item"].widget.attrs.update(htmx)
        self.fields["term"].widget.attrs.update(htmx)
        self.availability = self.availabilities.get(self._value("catalog_item") or "")
        terms = self.availability.terms if self.availability else []
        self.fields["term"].choices = [
            (
                term_choice(t["termDuration"], t["billingCycle"]),
                term_label(t["termDuration"], t["billingCycle"]),
            )
            for t in terms
            if t.get("termDuration") in TermDuration.values and t.get("billingCycle") in BillingCycle.values
        ]
        self.end_date_items = []
        term = self._value("term") or (self.fields["term"].choices[0][0] if self.fields["term"].choices else "")
        term_duration = term.split(TERM_SEPARATOR)[0] if term else ""
        names = {}
        if self.customer is not None and term_duration in TermDuration.values:
            candidates = coterm_candidates(customer=self.customer, partner=partner)
            names = {str(sub["id"]): sub["friendly_name"] or sub["sku__title"] for sub in candidates}
            self.end_date_items = allowed_custom_term_end_dates(
                customer=self.customer, partner=partner, term_duration=term_duration, start_date=timezone.localdate(),
                candidates=candidates,
            )
        self.fields["custom_term_end_date"].choices = end_date_choices(self.end_date_items, names)

    def _value(self, name):
        if self.is_bound:
            return self.data.get(self.add_prefix(name))
        value = self.initial.get(name, self.fields[name].initial)
        return value

    def clean_term(self):
        term = self.cleaned_data["term"]
        term_duration, billing_cycle = split_term_choice(term)
        return term_duration, billing_cycle

    def clean_custom_term_end_date(self):
        value = self.cleaned_data.get("custom_term_end_date")
        return datetime.date.fromisoformat(value) if value else None

    def line_input(self):
        term_duration, billing_cycle = self.cleaned_data["term"]
        return LineInput(
            catalog_item_id=self.cleaned_data["catalog_item"],
            quantity=self.cleaned_data["quantity"],
            term_duration=term_duration,
            billing_cycle=billing_cycle,
            custom_term_end_date=self.cleaned_data["custom_term_end_date"],
            friendly_name=self.cleaned_data.get("friendly_name", ""),
        )


def sellable_customers(partner):
    """The customers ``partner`` transacts for (it holds the relationship), by name."""
    return Customer.objects.owned_by(partner).order_by("name", "pk")


class CartNewForm(CartLineForm):
    """A new cart: the customer (only those the partner sells to) and its first line."""

    customer = forms.ModelChoiceField(
        label=_("Customer"), queryset=Customer.objects.none(), to_field_name="tenant_id",
        empty_label=_("Choose a customer…"),
    )
    field_order = ["customer", "catalog_item", "quantity", "term", "custom_term_end_date", "friendly_name"]

    def __init__(self, *args, partner, **kwargs):
        data = args[0] if args else kwargs.get("data")
        initial = kwargs.get("initial") or {}
        queryset = sellable_customers(partner)
        tenant = (data or {}).get("customer") if data is not None else initial.get("customer")
        customer = None
        if tenant:
            try:
                customer = queryset.filter(tenant_id=tenant).first()
            except (ValueError, forms.ValidationError):
                customer = None
        super().__init__(*args, partner=partner, customer=customer, **kwargs)
        self.fields["customer"].queryset = queryset
        self.fields["customer"].widget.attrs.update(
            {"hx-get": reverse("subscriptions:line_options"), "hx-trigger": "change", "hx-target": "#line-options",
             "hx-include": "closest form", "hx-swap": "outerHTML"}
        )


class CheckoutForm(forms.Form):
    """The checkout button's form: the idempotency key the cart page rendered (a double click
    or a retry posts the same key, and gets the same order)."""

    idempotency_key = forms.CharField(
        required=False,
        max_length=IDEMPOTENCY_KEY_MAX_LENGTH,
        widget=forms.HiddenInput,
        error_messages={"max_length": IDEMPOTENCY_KEY_TOO_LONG},
    )
