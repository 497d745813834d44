from django.urls import path

from overage import views

app_name = "overage"

urlpatterns = [
    path("customers/overage-off/", views.OverageOffCustomerListView.as_view(), name="customers_overage_off"),
    path("customers/<uuid:tenant_id>/manage/", views.manage, name="manage"),
    path("customers/<uuid:tenant_id>/badge/", views.badge, name="badge"),
    path("customers/<uuid:tenant_id>/azure-plan/", views.azure_plan, name="azure_plan"),
    path("customers/<uuid:tenant_id>/azure-plan/create/", views.azure_plan_create, name="azure_plan_create"),
    path(
        "customers/<uuid:tenant_id>/azure-plan/subscriptions/",
        views.azure_subscription_create,
        name="azure_subscription_create",
    ),
    path("customers/<uuid:tenant_id>/transfer/", views.transfer, name="transfer"),
]
