"""Routes of the staff rating pages (merged into ``billing.urls``)."""

from django.urls import path

from billing import rating_views

urlpatterns = [
    path("rating/", rating_views.rating_home, name="rating"),
    path("rating/run/", rating_views.rating_start, name="rating_start"),
    path("rating/finalize/", rating_views.rating_finalize, name="rating_finalize"),
    path("rating/runs/<int:run_id>/", rating_views.rating_run, name="rating_run"),
]
