"""Routes of the billing app's usage pages (merged into ``billing.urls``)."""

from django.urls import path

from billing import usage_views

urlpatterns = [
    path("usage/import/", usage_views.usage_import, name="usage_import"),
    path("usage/imports/", usage_views.UsageImportListView.as_view(), name="usage_import_list"),
    path("usage/imports/<int:usage_import_id>/", usage_views.usage_import_detail, name="usage_import_detail"),
]
