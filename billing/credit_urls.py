"""Routes of the communication-credit pages (merged into ``billing.urls``)."""

from django.urls import path

from billing import credit_views

urlpatterns = [
    path("credits/auto-recharge/", credit_views.AutoRechargeCustomerListView.as_view(), name="credits_auto_recharge"),
    path("credits/<uuid:tenant_id>/", credit_views.customer_credits, name="credits"),
]
