from django.urls import path

from portal import views

app_name = "portal"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("customers/", views.CustomerListView.as_view(), name="customer_list"),
    path("customers/<uuid:tenant_id>/", views.CustomerDetailView.as_view(), name="customer_detail"),
    path("no-access/", views.no_membership, name="no_membership"),
]
