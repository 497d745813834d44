"""A subscription's append-only history: seat changes and priced charge events."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from catalog.models import Availability, BillingCycle, Sku, TermDuration
from subscriptions.models.carts import Order
from subscriptions.models.scopes import of_subscription_transacted_by
from subscriptions.models.subscription import Subscription


class SeatChangeKind(models.TextChoices):
    PURCHASE = "purchase", _("Purchase")
    ADD = "add", _("Seats added")
    REDUCE = "reduce", _("Seats reduced")
    RENEW = "renew", _("Renewal")
    CANCEL = "cancel", _("Cancellation")
    CONVERT = "convert", _("Upgrade")


class SeatChangeQuerySet(models.QuerySet):
    def transacted_by(self, partner):
        return self.filter(of_subscription_transacted_by(partner))


class SeatChange(models.Model):
    """Append-only seat history. A positive batch can be reduced until ``refundable_until``
    (168 hours after it was added); ``refundableQuantity`` is derived from these rows."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="seat_changes")
    kind = models.CharField(_("kind"), max_length=10, choices=SeatChangeKind.choices)
    delta = models.IntegerField(_("change"))
    quantity_after = models.PositiveIntegerField(_("quantity after"))
    occurred_at = models.DateTimeField(_("when"))
    refundable_until = models.DateTimeField(_("reducible until"), null=True, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    objects = SeatChangeQuerySet.as_manager()

    class Meta:
        ordering = ["subscription", "occurred_at", "id"]
        verbose_name = _("seat change")
        verbose_name_plural = _("seat history")
        # The 168-hour windows closing soon (the dashboard): a day's batches, not every row.
        indexes = [models.Index(fields=["refundable_until"], name="seatchange_refundable_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.delta:+d} → {self.quantity_after}"


class ChargeType(models.TextChoices):
    NEW = "new", "new"
    ADD_QUANTITY = "addQuantity", "addQuantity"
    REMOVE_QUANTITY = "removeQuantity", "removeQuantity"
    CANCEL_IMMEDIATE = "cancelImmediate", "cancelImmediate"
    RENEW = "renew", "renew"
    CONVERT = "convert", "convert"
    CYCLE_CHARGE = "cycleCharge", "cycleCharge"


class ChargeEventQuerySet(models.QuerySet):
    def owned_by(self, partner):
        """Charges of the subscriptions the partner transacts itself."""
        return self.filter(subscription__partner=partner)

    def transacted_by(self, partner):
        return self.filter(of_subscription_transacted_by(partner))


class ChargeEvent(models.Model):
    """One commercial event of a license subscription, priced in ``Decimal``: the input of
    the reconciliation file's license lines. Append-only; a credit is a negative amount."""

    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="charge_events")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, null=True, blank=True, related_name="charge_events")
    charge_type = models.CharField(_("charge type"), max_length=20, choices=ChargeType.choices)
    # What was sold when the event happened: an upgrade changes the subscription's SKU and a
    # renewal its term and billing cycle, never the lines of earlier months.
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="+")
    availability = models.ForeignKey(Availability, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    term_duration = models.CharField(_("term"), max_length=3, choices=TermDuration.choices)
    billing_cycle = models.CharField(_("billing cycle"), max_length=10, choices=BillingCycle.choices)
    quantity = models.IntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), max_digits=18, decimal_places=6)
    effective_unit_price = models.DecimalField(_("effective unit price"), max_digits=18, decimal_places=6)
    amount = models.DecimalField(_("amount"), max_digits=18, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    charge_start = models.DateField(_("charge start"))
    charge_end = models.DateField(_("charge end"))
    occurred_at = models.DateTimeField(_("when"), db_index=True)

    objects = ChargeEventQuerySet.as_manager()

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name = _("charge event")
        verbose_name_plural = _("charge events")
        constraints = [
            models.CheckConstraint(condition=Q(charge_end__gte=models.F("charge_start")), name="charge_end_after_start"),
        ]

    def __str__(self):
        return f"{self.charge_type} {self.amount} {self.currency}"
