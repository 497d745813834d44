"""The partner's dashboard (SPEC §11 ``/``): the to-do list and the month's charges."""

from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from dashboard.items import PER_KIND, month_charges, todo_items
from portal.views import partner_required


@require_GET
@partner_required
def dashboard(request):
    """What needs the partner's attention now, most urgent first, each item linking to where
    it is fixed; and, for roles that see billing, the month's charges so far."""
    now = timezone.now()
    todo = todo_items(membership=request.membership, now=now)
    items = todo.items
    context = {
        "items": items,
        "cut_kinds": todo.cut_kinds,
        "more_kinds": todo.more,
        "per_kind": PER_KIND,
        "urgent_count": sum(1 for item in items if item.severity == "danger"),
        "charges": month_charges(membership=request.membership, today=timezone.localdate(now)),
        "now": now,
    }
    return render(request, "dashboard/dashboard.html", context)
