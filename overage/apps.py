from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OverageConfig(AppConfig):
    verbose_name = _("Overage")
    name = "overage"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from overage import receivers
        from subscriptions.models import Order
        from subscriptions.signals import subscriptions_purchased

        subscriptions_purchased.connect(
            receivers.record_overage_owner, sender=Order, dispatch_uid="overage.record_overage_owner"
        )
