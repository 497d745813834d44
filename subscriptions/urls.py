from django.urls import path

from subscriptions import views
from subscriptions.subscription_urls import urlpatterns as subscription_urlpatterns

app_name = "subscriptions"

urlpatterns = [
    path("carts/", views.CartListView.as_view(), name="cart_list"),
    path("carts/new/", views.cart_new, name="cart_new"),
    path("carts/line-options/", views.line_options, name="line_options"),
    path("carts/<uuid:cart_id>/", views.CartDetailView.as_view(), name="cart_detail"),
    path("carts/<uuid:cart_id>/lines/", views.cart_line_add, name="cart_line_add"),
    path("carts/<uuid:cart_id>/lines/<int:line_number>/remove/", views.cart_line_remove, name="cart_line_remove"),
    path("carts/<uuid:cart_id>/checkout/", views.cart_checkout_view, name="cart_checkout"),
    path("orders/<uuid:order_id>/", views.OrderDetailView.as_view(), name="order_detail"),
    # The subscriptions list, subscription page and row actions live in their own module.
    *subscription_urlpatterns,
]
