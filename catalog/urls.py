from django.urls import path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.ProductListView.as_view(), name="product_list"),
    path(
        "skus/<str:product_id>/<str:sku_id>/prerequisites/",
        views.addon_prerequisites,
        name="addon_prerequisites",
    ),
    path("pricelist.csv", views.pricelist_export, name="pricelist_export"),
    path("pricelist/import/", views.pricelist_import, name="pricelist_import"),
]
