"""Reactions of the overage app to purchases made in the subscriptions app."""

from django.db import IntegrityError, transaction

from overage.models import OverageService, OverageSetting


def record_overage_owner(sender, *, order, subscriptions, **kwargs):
    """The first partner to buy an overage-capable SKU for a customer owns the customer's
    PhoneServices overage setting (SPEC §7): create it, switched off, owned by the
    transacting partner and naming the subscription's reseller of record. A later partner's
    purchase changes nothing. A concurrent first purchase loses the unique constraint inside
    a savepoint and keeps the winner's row."""
    for subscription in subscriptions:
        if not subscription.sku.can_overage:
            continue
        try:
            with transaction.atomic():
                OverageSetting.objects.get_or_create(
                    customer_id=subscription.customer_id,
                    service=OverageService.PHONE_SERVICES,
                    defaults={"owner_id": subscription.partner_id, "reseller_id": subscription.reseller_id,
                              "enabled": False},
                )
        except IntegrityError:
            pass  # another purchase created it first: that partner owns it
        return  # one setting per customer and service: the first overage line decides
