"""The root URLconf (ROOT_URLCONF): every app's pages, the API at ``/v1/`` (``config.api``),
sign-in, admin and the error handlers."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from config.api import api
from portal import views
from portal.forms import LoginForm

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(authentication_form=LoginForm, redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("v1/", api.urls),
    # Any other /v1/ address answers Partner Center's error body, in DEBUG too.
    re_path(r"^v1/", views.page_not_found),
    path("catalog/", include("catalog.urls")),
    path("billing/", include("billing.urls")),
    path("overage/", include("overage.urls")),
    path("", include("dashboard.urls")),
    path("", include("subscriptions.urls")),
    path("", include("portal.portal_urls")),
]

handler403 = views.permission_denied
handler404 = views.page_not_found
handler500 = views.server_error
