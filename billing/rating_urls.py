"""Routes of the billing app's rating pages (merged into ``billing.urls``)."""

urlpatterns = []
