"""Carts, their lines and the order a checkout makes of them.

Each cart line checked out becomes one new, independent subscription: an add-on is never
attached to its base (SPEC §3).
"""

import uuid

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from catalog.models import Availability, BillingCycle, TermDuration
from portal.models import Customer, Partner
from subscriptions.errors import line_error_text
from subscriptions.models.scopes import transacting_or_reseller


class CartStatus(models.TextChoices):
    ACTIVE = "Active", _("Active")
    ORDERED = "Ordered", _("Ordered")


class CartQuerySet(models.QuerySet):
    def owned_by(self, partner):
        return self.filter(partner=partner)


class Cart(models.Model):
    """A partner's cart for one customer. Expires 7 days after creation; checked out once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="carts", verbose_name=_("partner"))
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="carts", verbose_name=_("customer"))
    reseller = models.ForeignKey(
        Partner,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reseller_carts",
        verbose_name=_("transaction reseller"),
    )
    status = models.CharField(_("status"), max_length=10, choices=CartStatus.choices, default=CartStatus.ACTIVE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("last modified"), auto_now=True)
    expires_at = models.DateTimeField(_("expires"))

    objects = CartQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("cart")
        verbose_name_plural = _("carts")

    def __str__(self):
        return f"Cart {self.id} ({self.customer})"


class CartLine(models.Model):
    """A cart line. ``error_code``/``error_description`` carry Partner Center's line error."""

    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    line_number = models.PositiveIntegerField(_("line"))
    availability = models.ForeignKey(Availability, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    term_duration = models.CharField(_("term"), max_length=3, choices=TermDuration.choices)
    billing_cycle = models.CharField(_("billing cycle"), max_length=10, choices=BillingCycle.choices)
    custom_term_end_date = models.DateField(_("custom term end date"), null=True, blank=True)
    friendly_name = models.CharField(_("friendly name"), max_length=200, blank=True)
    error_code = models.IntegerField(_("error code"), null=True, blank=True)
    error_description = models.CharField(_("error"), max_length=500, blank=True)

    class Meta:
        ordering = ["cart", "line_number"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "line_number"], name="cart_line_unique_number"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="cart_line_quantity_positive"),
        ]

    def __str__(self):
        return f"{self.availability} ×{self.quantity}"

    @property
    def error_text(self):
        """The line error in the reader's language (``error_description`` is stored in English,
        as the API returns it)."""
        return line_error_text(self.error_description) if self.error_description else ""


class OrderQuerySet(models.QuerySet):
    def owned_by(self, partner):
        return self.filter(partner=partner)

    def transacted_by(self, partner):
        return self.filter(transacting_or_reseller(partner))


class Order(models.Model):
    """The result of one checkout. One order per cart (the database says so), which is what
    makes checkout idempotent."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    cart = models.OneToOneField(Cart, on_delete=models.PROTECT, related_name="order")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="orders")
    reseller = models.ForeignKey(Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="reseller_orders")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            # A retried checkout (same key) makes one order; keys are each partner's own.
            models.UniqueConstraint(fields=["partner", "idempotency_key"], name="order_idempotency_key_per_partner"),
        ]

    def __str__(self):
        return f"Order {self.id}"
