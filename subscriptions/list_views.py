"""The Subscriptions list and its CSV export.

Both start from ``Subscription.objects.transacted_by(request.partner)`` and the same filter
set: the export is the list the partner is looking at, every page of it.
"""

from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.decorators.http import require_GET
from django.views.generic import ListView

from portal.csv_export import CsvLineWriter
from portal.views import PartnerRequiredMixin, htmx_template, partner_required
from subscriptions.filters import ORDERING_FIELDS, SubscriptionFilter
from subscriptions.list_columns import export_header, export_row, page_header
from subscriptions.models import Subscription
from subscriptions.selectors_list import PAGE_ROW_RELATED, list_rows

LIST_TEMPLATE = "subscriptions/subscription_list.html"


def _filtered(request):
    """The filter set and the filtered, ordered subscriptions, without the row joins and
    flags (``list_rows`` adds them). Invalid input (e.g. another partner's tenant id as
    ``customer``) gives no rows rather than silently ignoring the filter."""
    scoped = Subscription.objects.transacted_by(request.partner)
    filterset = SubscriptionFilter(request.GET or None, queryset=scoped, request=request)
    if filterset.is_bound and not filterset.is_valid():
        return filterset, filterset.queryset.none()
    return filterset, filterset.qs


class DeferredRowsPaginator(Paginator):
    """Counts and slices ``keys`` (the filtered, ordered subscriptions, unannotated), then
    reads the full, annotated rows of the page's keys only. With 100,000 subscriptions,
    counting or sorting the annotated rows computed the flags' subquery and the joins for
    every row (0.2-0.5 s); the lean queries read indexes and stop after one page. The keys
    are fetched apart, not as a subquery: with the row query's eight joins PostgreSQL
    planned ``IN (subquery)`` as a hash join over every row.

    ``count_keys`` (default ``keys``) is what is counted: the same rows, possibly written
    for a count rather than for a page (see ``SubscriptionFilter.count_qs``)."""

    def __init__(self, object_list, per_page, *, keys, count_keys=None, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.keys = keys
        self.count_keys = keys if count_keys is None else count_keys

    @cached_property
    def count(self):
        return self.count_keys.count()

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        pks = list(self.keys.values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in self.object_list.filter(pk__in=pks)}
        # A row gone between the two reads is left out rather than failing the page.
        return self._get_page([rows[pk] for pk in pks if pk in rows], number, self)


def _sort_links(request):
    """For each sortable column: the URL that sorts by it (toggling the direction when it
    already sorts by it), and the current direction. Filters are kept, the page is not.
    With no ``o=`` the list is in its default order, by customer: that column says so."""
    current = request.GET.get("o") or "customer"
    links = {}
    for _field, key in ORDERING_FIELDS:
        direction = "asc" if current == key else "desc" if current == f"-{key}" else ""
        params = request.GET.copy()
        params.pop("page", None)
        params["o"] = f"-{key}" if direction == "asc" else key
        links[key] = {"url": f"?{params.urlencode()}", "direction": direction}
    return links


class SubscriptionListView(PartnerRequiredMixin, ListView):
    """The partner's subscriptions, filtered, sorted and paginated. HTMX (not boosted) gets
    only the results partial; the filter form pushes its URL so the page is shareable."""

    template_name = LIST_TEMPLATE
    paginate_by = 25
    context_object_name = "subscriptions"

    def get_queryset(self):
        self.filterset, self.filtered = _filtered(self.request)
        return list_rows(self.filtered, related=PAGE_ROW_RELATED)

    def get_paginator(self, queryset, per_page, orphans=0, allow_empty_first_page=True, **kwargs):
        valid = self.filterset.is_bound and self.filterset.is_valid()
        return DeferredRowsPaginator(
            queryset, per_page, orphans=orphans, allow_empty_first_page=allow_empty_first_page,
            keys=self.filtered, count_keys=self.filterset.count_qs if valid else None, **kwargs
        )

    def get_template_names(self):
        return [htmx_template(self.request, self.template_name, "results")]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        params = self.request.GET.copy()
        params.pop("page", None)
        form = self.filterset.form
        customer = self.filterset.chosen_customer
        sort = _sort_links(self.request)
        context.update(
            {
                "filter": self.filterset,
                "filter_form": form,
                "filter_customer": customer,
                "sort": sort,
                "columns": page_header(sort),
                "export_query": params.urlencode(),
                "ordering": self.request.GET.get("o", ""),
            }
        )
        return context


def _csv_rows(queryset):
    writer = CsvLineWriter()
    yield writer.writerow(export_header())
    for subscription in queryset.iterator(chunk_size=500):
        yield writer.writerow(export_row(subscription))


@require_GET
@partner_required
def subscription_export(request):
    """The filtered list as CSV, streamed (the same filters and scoping as the page)."""
    _filterset, queryset = _filtered(request)
    response = StreamingHttpResponse(_csv_rows(list_rows(queryset)), content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="subscriptions-{stamp}.csv"'
    return response
