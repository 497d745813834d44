"""The filter of a month's reconciliation lines: one filter set for the page and its CSV
download, so the file holds exactly the lines the page shows (issue 13, defect 11).

The lines are not a queryset (an open month's are computed from the charges and the rated
calls, SPEC §9): the filter set validates the query and gives a predicate over the lines'
dicts, ``predicate()``. They are the partner's own lines, so a value of another partner (a
tenant id, a product) matches nothing.
"""

import django_filters
from django.utils.translation import gettext_lazy as _

from billing.selectors import CHARGE_TYPES, line_filter
from portal.models import Customer


class ReconciliationLineFilter(django_filters.FilterSet):
    customer = django_filters.UUIDFilter(label=_("Customer"))
    charge_type = django_filters.ChoiceFilter(label=_("Charge type"), choices=[(value, value) for value in CHARGE_TYPES])
    product = django_filters.CharFilter(label=_("Product"), max_length=64)

    NAMES = ("customer", "charge_type", "product")

    class Meta:
        # Only for django-filter's machinery: ``qs`` is never read (see the module's docstring).
        model = Customer
        fields = []

    def __init__(self, data=None, *, request=None):
        super().__init__(data, queryset=Customer.objects.none(), request=request)

    @property
    def values(self):
        """The chosen value of each filter as text, "" when not chosen (the template's
        selects compare with these)."""
        if not self.is_bound:
            return dict.fromkeys(self.NAMES, "")
        if not self.is_valid():
            return {name: str(self.data.get(name, "")).strip() for name in self.NAMES}
        return {name: "" if value in (None, "") else str(value) for name, value in self.form.cleaned_data.items()}

    @property
    def is_filtered(self):
        return any(self.values.values())

    def predicate(self):
        """A function telling whether a line passes the filters (None: every line does); an
        invalid query matches no line."""
        if self.is_bound and not self.is_valid():
            return lambda row: False
        return line_filter(**self.values) if self.is_filtered else None
