"""Carts, orders, subscriptions, their seat history and charge events.

Each cart line checked out becomes one new, independent subscription: an add-on is never
attached to its base (SPEC §3). Seat changes and charge events are append-only; a
subscription's ``quantity`` is the running total kept in step by the services.
"""

import uuid

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from catalog.models import AZURE_PLAN_PRODUCT_ID, Availability, BillingCycle, Sku, TenantLicense, TermDuration
from portal.models import Customer, Partner
from subscriptions.errors import line_error_text


def _transacting_or_reseller(partner):
    return Q(partner=partner) | Q(reseller=partner)


def _of_subscription_transacted_by(partner):
    """Rows of a subscription the partner transacts or is the reseller of record of, joined
    to it: the database reads the few rows another filter picks (a date range, an open
    status) and checks each one's subscription, where ``subscription__in`` a subquery of
    every subscription of a large partner reads them all (issue 13, ``bench/dashboard.py``)."""
    return Q(subscription__partner=partner) | Q(subscription__reseller=partner)


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
        return self.filter(_transacting_or_reseller(partner))


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
        return self.filter(_transacting_or_reseller(partner))

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
    def offer_id(self):
        if self.availability_id:
            return self.availability.catalog_item_id
        return self.sku.code


class SeatChangeKind(models.TextChoices):
    PURCHASE = "purchase", _("Purchase")
    ADD = "add", _("Seats added")
    REDUCE = "reduce", _("Seats reduced")
    RENEW = "renew", _("Renewal")
    CANCEL = "cancel", _("Cancellation")
    CONVERT = "convert", _("Upgrade")


class SeatChangeQuerySet(models.QuerySet):
    def transacted_by(self, partner):
        return self.filter(_of_subscription_transacted_by(partner))


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
        return self.filter(_of_subscription_transacted_by(partner))


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


class RemovalRequestStatus(models.TextChoices):
    OPEN = "open", _("Open")
    COMPLETED = "completed", _("Completed")
    REJECTED = "rejected", _("Rejected")


# A request is decided once, by the operator's staff: the add-on removed with its credit, or refused.
REMOVAL_REQUEST_TRANSITIONS = {
    RemovalRequestStatus.OPEN: {RemovalRequestStatus.COMPLETED, RemovalRequestStatus.REJECTED},
}


class AddonRemovalRequestQuerySet(models.QuerySet):
    def transacted_by(self, partner):
        return self.filter(_of_subscription_transacted_by(partner))


class AddonRemovalRequest(models.Model):
    """A support request to remove an add-on made redundant by an upgrade, with a refund.
    Accepted only within two billing cycles of the upgraded license's first billing."""

    subscription = models.OneToOneField(Subscription, on_delete=models.PROTECT, related_name="removal_request")
    upgraded_subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="+")
    deadline = models.DateField(_("deadline"))
    status = models.CharField(
        _("status"), max_length=10, choices=RemovalRequestStatus.choices, default=RemovalRequestStatus.OPEN
    )
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    raised_at = models.DateTimeField(_("raised"), auto_now_add=True)
    # The decision (issue 13, defect 14): who decided, when, the credit given and the note the
    # partner reads (the reason of a rejection).
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(_("decided"), null=True, blank=True)
    credit = models.DecimalField(_("credit"), max_digits=14, decimal_places=2, null=True, blank=True)
    note = models.CharField(_("note to the partner"), max_length=500, blank=True)

    objects = AddonRemovalRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("add-on removal request")
        verbose_name_plural = _("add-on removal requests")

    def __str__(self):
        return f"Remove {self.subscription}"


class MonthlyInstalmentTotalQuerySet(models.QuerySet):
    def transacted_by(self, partner):
        return self.filter(Q(partner=partner) | Q(reseller_key=partner.pk))


class MonthlyInstalmentTotal(models.Model):
    """The seats × unit price of the live license subscriptions billed monthly (not the Azure
    plan), summed per transacting partner, reseller of record, currency, month of the start
    date and month of the term end: the month's estimated instalments of a partner are the sum
    of the rows that started before the month and end in it or later (the dashboard, issue 13).

    Kept by the database, not by the services: triggers on the subscription table (migration
    ``0009``) add each row's new figure and take away its old one on every insert, update of a
    column it depends on, and delete, in the writer's transaction; so bulk writes (renewal,
    the demo loader) and the admin keep it as exact as the services do. Read only."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    # The reseller of record's id, 0 without one (a unique key cannot match NULLs).
    reseller_key = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    start_month = models.DateField()
    end_month = models.DateField()
    amount = models.DecimalField(max_digits=24, decimal_places=6, default=0)

    objects = MonthlyInstalmentTotalQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "reseller_key", "currency", "start_month", "end_month"],
                name="monthly_instalment_total_key",
            ),
        ]
        indexes = [models.Index(fields=["reseller_key"], name="instalment_total_reseller_idx")]

    def __str__(self):
        return f"{self.partner_id}/{self.reseller_key} {self.start_month}–{self.end_month}: {self.amount} {self.currency}"
