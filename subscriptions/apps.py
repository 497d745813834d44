from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubscriptionsConfig(AppConfig):
    verbose_name = _("Subscriptions")
    name = "subscriptions"
    default_auto_field = "django.db.models.BigAutoField"
