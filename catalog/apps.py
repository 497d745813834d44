from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    verbose_name = _("Catalog")
    name = "catalog"
    default_auto_field = "django.db.models.BigAutoField"
