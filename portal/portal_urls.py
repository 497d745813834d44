from django.urls import path

from portal import preference_views, token_views, views

app_name = "portal"

urlpatterns = [
    path("customers/", views.CustomerListView.as_view(), name="customer_list"),
    path("customers/options/", views.customer_options, name="customer_options"),
    path("customers/<uuid:tenant_id>/", views.CustomerDetailView.as_view(), name="customer_detail"),
    path("no-access/", views.no_membership, name="no_membership"),
    path("preferences/", preference_views.preferences_edit, name="preferences"),
    path("preferences/language/", preference_views.language_set, name="language_set"),
    path("tokens/", token_views.token_list, name="token_list"),
    path("tokens/<int:pk>/revoke/", token_views.token_revoke, name="token_revoke"),
]
