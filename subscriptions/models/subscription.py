"""The license subscription, its statuses and the declared table of status changes.

A subscription's ``quantity`` is the running total kept in step by the services with the
append-only seat history (``subscriptions.models.history``).
"""

import uuid

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from catalog.models import (
    AZURE_PLAN_PRODUCT_ID,
    Availability,
    BillingCycle,
    ConsumptionType,
    Sku,
    TenantLicense,
    TermDuration,
)
from portal.models import Customer, Partner
from subscriptions.models.carts import Order
from subscriptions.models.scopes import transacting_or_reseller


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    DELETED = "deleted", _("Cancelled")
    EXPIRED = "expired", _("Expired")
    PENDING = "pending", _("Pending")


# The declared table of allowed status changes. Anything else raises a domain exception.
SUBSCRIPTION_TRANSITIONS = {
    SubscriptionStatus.PENDING: {SubscriptionStatus.ACTIVE, SubscriptionStatus.DELETED},
    SubscriptionStatus.ACTIVE: {SubscriptionStatus.SUSPENDED, SubscriptionStatus.DELETED, SubscriptionStatus.EXPIRED},
    SubscriptionStatus.SUSPENDED: {SubscriptionStatus.ACTIVE, SubscriptionStatus.DELETED, SubscriptionStatus.EXPIRED},
    SubscriptionStatus.DELETED: set(),
    SubscriptionStatus.EXPIRED: set(),
}


class SubscriptionQuerySet(models.QuerySet):
    def owned_by(self, partner):
        """Subscriptions the partner transacts itself (not those it is only the reseller of)."""
        return self.filter(partner=partner)

    def transacted_by(self, partner):
        """Subscriptions the partner transacts, or is the reseller of record of."""
        return self.filter(transacting_or_reseller(partner))

    def live(self):
        return self.filter(status__in=[SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED])

    def licenses(self):
        """Every subscription but the Azure plan: the plan is pay as you go, with no term to
        renew, align with or bill in instalments."""
        return self.exclude(sku__product_id=AZURE_PLAN_PRODUCT_ID)


class Subscription(models.Model):
    """A license subscription: one per checked-out cart line, with its own term, end date
    and renewal. ``term_started_at`` is the purchase or the latest renewal, from which the
    168-hour cancellation window runs."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="subscriptions")
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="subscriptions", verbose_name=_("transacting partner")
    )
    reseller = models.ForeignKey(
        Partner,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reseller_subscriptions",
        verbose_name=_("reseller of record"),
    )
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="subscriptions", verbose_name=_("SKU"))
    availability = models.ForeignKey(Availability, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, null=True, blank=True, related_name="subscriptions")
    license = models.OneToOneField(
        TenantLicense, on_delete=models.PROTECT, null=True, blank=True, related_name="subscription"
    )
    friendly_name = models.CharField(_("friendly name"), max_length=200, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    status = models.CharField(
        _("status"), max_length=10, choices=SubscriptionStatus.choices, default=SubscriptionStatus.ACTIVE, db_index=True
    )
    term_duration = models.CharField(_("term"), max_length=3, choices=TermDuration.choices)
    billing_cycle = models.CharField(_("billing cycle"), max_length=10, choices=BillingCycle.choices)
    start_date = models.DateField(_("start date"))
    commitment_end_date = models.DateField(_("term end date"), db_index=True)
    auto_renew_enabled = models.BooleanField(_("auto-renew"), default=True)
    consumption_type = models.CharField(_("consumption type"), max_length=20, null=True, blank=True)
    unit_price = models.DecimalField(_("unit price"), max_digits=18, decimal_places=6, default=0)
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    purchased_at = models.DateTimeField(_("purchased"))
    term_started_at = models.DateTimeField(_("current term started"))
    # Next-term changes; they need auto-renew, and any mid-term change drops them.
    next_term_quantity = models.PositiveIntegerField(_("next-term quantity"), null=True, blank=True)
    next_term_duration = models.CharField(
        _("next-term term"), max_length=3, choices=TermDuration.choices, null=True, blank=True
    )
    next_term_billing_cycle = models.CharField(
        _("next-term billing cycle"), max_length=10, choices=BillingCycle.choices, null=True, blank=True
    )
    next_term_end_date = models.DateField(
        _("next-term end date"),
        null=True,
        blank=True,
        help_text=_("Coterminosity: the next term ends on this allowed date, its first term prorated."),
    )
    upgraded_from = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="upgraded_to"
    )
    made_redundant_by = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="made_redundant",
        verbose_name=_("made redundant by"),
        help_text=_("The upgraded base subscription whose new SKU already includes this add-on's services."),
    )
    redundant_since = models.DateTimeField(
        _("redundant since"),
        null=True,
        blank=True,
        help_text=_("Set when an upgrade of a base subscription made this add-on's services redundant."),
    )
    updated_at = models.DateTimeField(auto_now=True)
    # Optimistic concurrency (Partner Center's ETag): a change made from another version than
    # the current one is refused, so two changes never silently combine.
    version = models.PositiveIntegerField(
        _("version"),
        default=1,
        editable=False,
        help_text=_("Counts the changes: the API's ETag, and the hidden field of the change forms."),
    )

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["customer__name", "commitment_end_date"]
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="subscription_quantity_positive"),
            models.CheckConstraint(
                condition=Q(commitment_end_date__gte=models.F("start_date")), name="subscription_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(next_term_quantity__isnull=True) | Q(next_term_quantity__gte=1),
                name="subscription_next_term_quantity_positive",
            ),
            models.CheckConstraint(
                condition=Q(status__in=SubscriptionStatus.values), name="subscription_status_valid"
            ),
        ]
        indexes = [
            # By end date within a partner's live rows: the dashboard's expiring subscriptions
            # and add-ons outliving their base read them in this order and stop at the tenth.
            models.Index(fields=["partner", "status", "commitment_end_date"], name="subscription_partner_end_idx"),
            models.Index(fields=["reseller", "status", "commitment_end_date"], name="subscription_reseller_end_idx"),
            models.Index(fields=["customer", "status"]),
        ]

    def __str__(self):
        return f"{self.friendly_name or self.sku.title} ×{self.quantity} ({self.customer})"

    def save(self, *args, **kwargs):
        """Every save of an existing subscription is a new version, counted by the database
        (``version + 1``, read back on save): two writers holding the same copy still make
        two versions. Bulk updates (``renew_subscriptions``) add ``F("version") + 1`` themselves."""
        update_fields = kwargs.get("update_fields")
        updating = not self._state.adding and self.pk is not None and not kwargs.get("force_insert")
        if updating and (update_fields is None or update_fields):
            self.version = models.F("version") + 1
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "version"}
        super().save(*args, **kwargs)

    @property
    def is_azure_plan(self):
        """The no-cost Azure plan is listed among subscriptions but has no seats or term."""
        return self.sku.product_id == AZURE_PLAN_PRODUCT_ID

    @property
    def consumption_type_label(self):
        """The consumption type as a person reads it ("Overage", translated), not the value
        Partner Center sends ("overage")."""
        return ConsumptionType(self.consumption_type).label if self.consumption_type else ""

    @property
    def offer_id(self):
        if self.availability_id:
            return self.availability.catalog_item_id
        return self.sku.code
