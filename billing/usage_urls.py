"""Routes of the billing app's usage pages (merged into ``billing.urls``)."""

urlpatterns = []
