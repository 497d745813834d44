"""Routes of the subscriptions list and its export, subscription page and row actions (merged into
``subscriptions.urls`` under the ``subscriptions`` namespace)."""

from django.urls import path

from subscriptions import change_views, list_views
from subscriptions import subscription_views as views

urlpatterns = [
    path("subscriptions/", list_views.SubscriptionListView.as_view(), name="subscription_list"),
    path("subscriptions/export.csv", list_views.subscription_export, name="subscription_export"),
    path("subscriptions/<uuid:subscription_id>/", views.SubscriptionDetailView.as_view(), name="subscription_detail"),
    path("subscriptions/<uuid:subscription_id>/actions/", views.subscription_actions, name="subscription_actions"),
    path("subscriptions/<uuid:subscription_id>/quantity/", views.subscription_quantity, name="subscription_quantity"),
    path("subscriptions/<uuid:subscription_id>/cancel/", views.subscription_cancel_view, name="subscription_cancel"),
    path(
        "subscriptions/<uuid:subscription_id>/auto-renew/", views.subscription_auto_renew, name="subscription_auto_renew"
    ),
    path("subscriptions/<uuid:subscription_id>/next-term/", views.subscription_next_term, name="subscription_next_term"),
    path("subscriptions/<uuid:subscription_id>/status/", views.subscription_status, name="subscription_status"),
    # End-date alignment, upgrades and the removal of redundant add-ons (change_views).
    path("subscriptions/<uuid:subscription_id>/align/", change_views.subscription_align, name="subscription_align"),
    path("subscriptions/<uuid:subscription_id>/upgrade/", change_views.subscription_upgrade, name="subscription_upgrade"),
    path(
        "subscriptions/<uuid:subscription_id>/removal-request/",
        change_views.subscription_removal_request,
        name="subscription_removal_request",
    ),
]
