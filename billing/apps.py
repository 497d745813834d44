from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    verbose_name = _("Billing")
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"
