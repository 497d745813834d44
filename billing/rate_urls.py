"""Routes of the call-rates pages (merged into ``billing.urls``)."""

from django.urls import path

from billing import rate_views

urlpatterns = [
    path("rates/", rate_views.rates_home, name="rates_home"),
    path("rates/<str:market>/", rate_views.rates_page, name="rates"),
    path("rates/<str:market>.csv", rate_views.rates_csv, name="rates_csv"),
]
