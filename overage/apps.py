from django.apps import AppConfig


class OverageConfig(AppConfig):
    name = "overage"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from overage import receivers
        from subscriptions.models import Order
        from subscriptions.signals import subscriptions_purchased

        subscriptions_purchased.connect(
            receivers.record_overage_owner, sender=Order, dispatch_uid="overage.record_overage_owner"
        )
