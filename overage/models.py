"""Azure plans, Azure subscriptions and the telco pay-as-you-go overage setting.

The overage setting is per customer per service (PhoneServices). The first partner to buy
an overage-capable SKU for the customer owns it; only the owner changes it. Each period
during which an Azure subscription held overage is an ``OverageAssignment`` interval, so
usage is billed to whoever held it at the time of the call (SPEC §7).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.models import Customer, CustomerRelationship, Partner
from subscriptions.models import Subscription


def _visible_customers(partner):
    return Customer.objects.transacted_by(partner)


class AzurePlanQuerySet(models.QuerySet):
    def transacted_by(self, partner):
        return self.filter(customer__in=_visible_customers(partner))


class AzurePlan(models.Model):
    """The customer's no-cost Azure plan (product DZH318Z0BPS6). At most one per customer;
    it is listed among the customer's subscriptions through ``subscription``."""

    customer = models.OneToOneField(Customer, on_delete=models.PROTECT, related_name="azure_plan")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="azure_plans")
    subscription = models.OneToOneField(
        Subscription, on_delete=models.PROTECT, null=True, blank=True, related_name="azure_plan"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = AzurePlanQuerySet.as_manager()

    class Meta:
        verbose_name = _("Azure plan")
        verbose_name_plural = _("Azure plans")

    def __str__(self):
        return gettext("Azure plan of %(customer)s") % {"customer": self.customer}


class AzureSubscriptionStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    DELETED = "deleted", _("Cancelled")


class AzureSubscriptionQuerySet(models.QuerySet):
    def transacted_by(self, partner):
        """The partner's own Azure subscriptions, and those its indirect provider created for
        the customers it is the reseller of record of. Another partner's, under the same
        customer's plan, are that partner's business."""
        as_reseller = CustomerRelationship.objects.filter(
            customer=OuterRef("plan__customer"), partner=OuterRef("partner"), reseller=partner
        )
        return self.filter(Q(partner=partner) | Exists(as_reseller))

    def active(self):
        return self.filter(status=AzureSubscriptionStatus.ACTIVE)


class AzureSubscription(models.Model):
    """An Azure subscription (Partner Center: Azure entitlement) under the customer's plan,
    created by one partner and that partner's alone. Overage charges accrue to one of them.
    Named ``Subscription 1``, ``Subscription 2``, … across the plan."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    plan = models.ForeignKey(AzurePlan, on_delete=models.PROTECT, related_name="azure_subscriptions")
    partner = models.ForeignKey(
        Partner,
        on_delete=models.PROTECT,
        related_name="azure_subscriptions",
        verbose_name=_("partner"),
        help_text=_("The partner that created it: only that partner sees it and can send overage to it."),
    )
    number = models.PositiveIntegerField(_("number"))
    friendly_name = models.CharField(_("friendly name"), max_length=200)
    status = models.CharField(
        _("status"), max_length=10, choices=AzureSubscriptionStatus.choices, default=AzureSubscriptionStatus.ACTIVE
    )
    dedicated_to_overage = models.BooleanField(_("dedicated to overage"), default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = AzureSubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["plan", "number"]
        verbose_name = _("Azure subscription")
        verbose_name_plural = _("Azure subscriptions")
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="azure_subscription_unique_number"),
        ]

    def __str__(self):
        return f"{self.friendly_name} ({self.id})"


class OverageService(models.TextChoices):
    PHONE_SERVICES = "PhoneServices", "PhoneServices"


class OverageSettingQuerySet(models.QuerySet):
    def transacted_by(self, partner):
        return self.filter(customer__in=_visible_customers(partner))


class OverageSetting(models.Model):
    """Who owns a customer's overage for a service, and where it goes now. One row per
    customer and service (the database enforces the single owner)."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="overage_settings")
    service = models.CharField(
        _("service"), max_length=20, choices=OverageService.choices, default=OverageService.PHONE_SERVICES
    )
    owner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="owned_overage_settings", verbose_name=_("owner"))
    reseller = models.ForeignKey(
        Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("reseller of record")
    )
    azure_subscription = models.ForeignKey(
        AzureSubscription, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    enabled = models.BooleanField(_("overage enabled"), default=False)
    # Set when the customer and both partners agreed to move overage to this partner; it
    # may take ownership once the owner has set overage to None.
    transfer_to = models.ForeignKey(Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OverageSettingQuerySet.as_manager()

    class Meta:
        verbose_name = _("overage setting")
        verbose_name_plural = _("overage settings")
        constraints = [
            models.UniqueConstraint(fields=["customer", "service"], name="overage_one_owner_per_customer_service"),
            models.CheckConstraint(
                condition=Q(enabled=False) | Q(azure_subscription__isnull=False),
                name="overage_enabled_needs_azure_subscription",
            ),
        ]

    def __str__(self):
        state = self.azure_subscription.friendly_name if self.enabled and self.azure_subscription else "None"
        return f"{self.customer} {self.service}: {self.owner.name} → {state}"


class OverageAssignmentQuerySet(models.QuerySet):
    def owned_by(self, partner):
        return self.filter(partner=partner)

    def transacted_by(self, partner):
        return self.filter(Q(partner=partner) | Q(reseller=partner))

    def at(self, moment):
        return self.filter(started_at__lte=moment).filter(Q(ended_at__isnull=True) | Q(ended_at__gt=moment))


class OverageAssignment(models.Model):
    """The time interval [started_at, ended_at) during which an Azure subscription held a
    customer's overage. At most one open interval per customer and service."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="overage_assignments")
    service = models.CharField(max_length=20, choices=OverageService.choices, default=OverageService.PHONE_SERVICES)
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="overage_assignments")
    reseller = models.ForeignKey(Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    azure_subscription = models.ForeignKey(AzureSubscription, on_delete=models.PROTECT, related_name="assignments")
    started_at = models.DateTimeField(_("from"))
    ended_at = models.DateTimeField(_("until"), null=True, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    objects = OverageAssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["customer", "started_at"]
        verbose_name = _("overage assignment")
        verbose_name_plural = _("overage assignments")
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "service"],
                condition=Q(ended_at__isnull=True),
                name="overage_one_open_assignment",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="overage_assignment_end_after_start",
            ),
        ]
        indexes = [models.Index(fields=["customer", "service", "started_at"])]

    def __str__(self):
        return f"{self.customer} → {self.azure_subscription.friendly_name} from {self.started_at:%Y-%m-%d %H:%M}"


class OverageTransferQuerySet(models.QuerySet):
    def transacted_by(self, partner):
        """Transfers the partner is a party to, giving or taking the overage."""
        return self.filter(Q(from_partner=partner) | Q(to_partner=partner))


class OverageTransfer(models.Model):
    """The recorded agreement of the customer and both partners to move the customer's
    overage from the owner to another partner."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="overage_transfers")
    service = models.CharField(max_length=20, choices=OverageService.choices, default=OverageService.PHONE_SERVICES)
    from_partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="+", verbose_name=_("from partner"))
    to_partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="+", verbose_name=_("to partner"))
    customer_agreed_at = models.DateTimeField(_("customer agreed"), null=True, blank=True)
    from_partner_agreed_at = models.DateTimeField(_("current owner agreed"), null=True, blank=True)
    to_partner_agreed_at = models.DateTimeField(_("new partner agreed"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OverageTransferQuerySet.as_manager()

    class Meta:
        verbose_name = _("overage transfer agreement")
        verbose_name_plural = _("overage transfer agreements")
        constraints = [
            models.CheckConstraint(condition=~Q(from_partner=models.F("to_partner")), name="overage_transfer_two_partners"),
            models.UniqueConstraint(
                fields=["customer", "service"],
                condition=Q(completed_at__isnull=True),
                name="overage_one_pending_transfer",
            ),
        ]

    def __str__(self):
        return f"{self.customer}: {self.from_partner.name} → {self.to_partner.name}"

    @property
    def fully_agreed(self):
        return all([self.customer_agreed_at, self.from_partner_agreed_at, self.to_partner_agreed_at])
