from django.apps import AppConfig


class OverageConfig(AppConfig):
    name = "overage"
    default_auto_field = "django.db.models.BigAutoField"
