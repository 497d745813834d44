from django.apps import AppConfig


class BillingConfig(AppConfig):
    verbose_name = "Billing"
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"
