from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    """The partner's dashboard at ``/``: a to-do list built from the selectors of every
    domain app. It sits above them all (it may import any app's selectors; none imports it)
    and owns no model."""

    name = "dashboard"
    verbose_name = _("Dashboard")
