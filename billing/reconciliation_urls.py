"""Routes of the billing app's reconciliation pages (merged into ``billing.urls``): the billing
home (SPEC's fixed ``/billing/``), a month's reconciliation table and its CSV download."""

from django.urls import path, register_converter

from billing import reconciliation_views as views
from billing.reconciliation_format import parse_month


class MonthConverter:
    """``YYYY-MM`` in the URL ↔ the month's first day; anything else does not match (404)."""

    regex = r"[0-9]{4}-[0-9]{2}"

    def to_python(self, value):
        return parse_month(value)

    def to_url(self, value):
        return value if isinstance(value, str) else f"{value:%Y-%m}"


register_converter(MonthConverter, "billing_month")

urlpatterns = [
    path("", views.billing_home, name="home"),
    path("reconciliation/<billing_month:month>/", views.reconciliation_page, name="reconciliation"),
    path("reconciliation/<billing_month:month>.csv", views.reconciliation_csv, name="reconciliation_csv"),
    path("reconciliation/<billing_month:month>/usage/<str:usage_line>/", views.usage_line_calls_page,
         name="usage_line_calls"),
    path("reconciliation/<billing_month:month>/usage/<str:usage_line>.csv", views.usage_line_calls_csv,
         name="usage_line_calls_csv"),
]
