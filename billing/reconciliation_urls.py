"""Routes of the billing app's reconciliation pages (merged into ``billing.urls``)."""

urlpatterns = []
