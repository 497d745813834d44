"""Routes of the subscriptions list, subscription page and row actions (merged into
``subscriptions.urls`` under the ``subscriptions`` namespace)."""

from django.urls import path

from subscriptions import subscription_views as views

urlpatterns = [
    path("subscriptions/", views.SubscriptionListView.as_view(), name="subscription_list"),
    path("subscriptions/export.csv", views.subscription_export, name="subscription_export"),
    path("subscriptions/<uuid:subscription_id>/", views.SubscriptionDetailView.as_view(), name="subscription_detail"),
    path("subscriptions/<uuid:subscription_id>/actions/", views.subscription_actions, name="subscription_actions"),
    path("subscriptions/<uuid:subscription_id>/quantity/", views.subscription_quantity, name="subscription_quantity"),
    path("subscriptions/<uuid:subscription_id>/cancel/", views.subscription_cancel_view, name="subscription_cancel"),
    path(
        "subscriptions/<uuid:subscription_id>/auto-renew/", views.subscription_auto_renew, name="subscription_auto_renew"
    ),
    path("subscriptions/<uuid:subscription_id>/next-term/", views.subscription_next_term, name="subscription_next_term"),
    path("subscriptions/<uuid:subscription_id>/status/", views.subscription_status, name="subscription_status"),
]
