from django.apps import AppConfig


class PortalConfig(AppConfig):
    verbose_name = "Partners and customers"
    name = "portal"
    default_auto_field = "django.db.models.BigAutoField"
