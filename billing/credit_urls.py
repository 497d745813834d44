"""Routes of the communication-credit pages (merged into ``billing.urls``)."""

from django.urls import path

from billing import credit_views

urlpatterns = [
    path("credits/<uuid:tenant_id>/", credit_views.customer_credits, name="credits"),
]
