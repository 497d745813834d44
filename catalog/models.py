"""The catalog (products, SKUs, availabilities, price list) and the tenant's licenses.

The catalog itself is public to every partner. ``TenantLicense`` is what a customer's tenant
actually has provisioned, from every channel: add-on prerequisites are checked against it,
never against the partner's own subscriptions (SPEC §3).
"""

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from portal.models import Customer, Partner

product_id_validator = RegexValidator(r"^[A-Z0-9]{12}$", _("A product id is 12 upper-case letters or digits."))
sku_id_validator = RegexValidator(r"^[0-9A-Z]{4}$", _("A SKU id is 4 characters, e.g. 0001."))


class ProductType(models.TextChoices):
    ONLINE_SERVICES_NCE = "OnlineServicesNCE", _("Online services (new commerce)")
    AZURE = "Azure", _("Azure")
    SOFTWARE = "Software", _("Software")


class Segment(models.TextChoices):
    COMMERCIAL = "commercial", _("Commercial")
    EDUCATION = "education", _("Education")
    GOVERNMENT = "government", _("Government")
    NONPROFIT = "nonprofit", _("Nonprofit")


class TermDuration(models.TextChoices):
    P1M = "P1M", _("1 month")
    P1Y = "P1Y", _("1 year")
    P3Y = "P3Y", _("3 years")


class BillingCycle(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    ANNUAL = "annual", _("Annual")
    TRIENNIAL = "triennial", _("Triennial")
    NONE = "none", _("None")


class ConsumptionType(models.TextChoices):
    OVERAGE = "overage", _("Overage")


class CallingZone(models.TextChoices):
    DOMESTIC = "domestic", _("Domestic")
    INTERNATIONAL = "international", _("International")
    CONFERENCING = "conferencing", _("Conferencing dial-out")


AZURE_PLAN_PRODUCT_ID = "DZH318Z0BPS6"


class Product(models.Model):
    """A catalog product, e.g. CFQ7TTC0LH18 Microsoft 365 Business Basic."""

    id = models.CharField(_("product id"), max_length=12, primary_key=True, validators=[product_id_validator])
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    product_type = models.CharField(_("product type"), max_length=40, choices=ProductType.choices)
    segments = models.JSONField(_("segments"), default=list, blank=True)
    publisher_name = models.CharField(_("publisher"), max_length=100, default="Microsoft Corporation")

    class Meta:
        ordering = ["title"]
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self):
        return f"{self.title} ({self.id})"

    @property
    def is_azure_plan(self):
        return self.id == AZURE_PLAN_PRODUCT_ID

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        # The SKUs' search text includes the product's title, description and id.
        for sku in self.skus.all():
            Sku.objects.filter(pk=sku.pk).update(search_text=sku_search_text(sku, self))


def sku_search_text(sku, product):
    """The text the catalog search looks in, lower-cased: SKU and product titles and
    descriptions, the product id and the ``productId:skuId`` code. Bulk writers (which skip
    ``save()``) set it with this function."""
    parts = [sku.title, sku.description, product.title, product.description, product.id, f"{product.id}:{sku.sku_id}"]
    return "\n".join(part for part in parts if part).lower()


class SkuQuerySet(models.QuerySet):
    def addons(self):
        return self.filter(is_addon=True)

    def overage_capable(self):
        return self.filter(consumption_type=ConsumptionType.OVERAGE)


class Sku(models.Model):
    """A SKU of a product (``productId:skuId``). An add-on is a SKU with prerequisites; it is
    bought from the catalog like a base offer and needs one prerequisite SKU provisioned in the
    customer's tenant. ``consumption_type`` = overage marks telco SKUs that can overage."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="skus", verbose_name=_("product"))
    sku_id = models.CharField(_("SKU id"), max_length=4, validators=[sku_id_validator])
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    min_quantity = models.PositiveIntegerField(_("minimum quantity"), default=1, validators=[MinValueValidator(1)])
    max_quantity = models.PositiveIntegerField(_("maximum quantity"), default=300)
    max_per_customer = models.PositiveIntegerField(
        _("limit per customer"),
        null=True,
        blank=True,
        help_text=_("Most seats one customer may hold across its subscriptions of this SKU (error 800089)."),
    )
    supported_terms = models.JSONField(_("supported terms"), default=list)
    supported_billing_cycles = models.JSONField(_("supported billing cycles"), default=list)
    consumption_type = models.CharField(
        _("consumption type"), max_length=20, choices=ConsumptionType.choices, null=True, blank=True
    )
    is_addon = models.BooleanField(_("add-on"), default=False, db_index=True)
    is_trial = models.BooleanField(_("trial"), default=False)
    prerequisites = models.ManyToManyField(
        "self",
        symmetrical=False,
        related_name="addons",
        blank=True,
        verbose_name=_("prerequisite SKUs"),
        help_text=_("Any one of these SKUs provisioned in the tenant makes this add-on purchasable."),
    )
    upgrade_targets = models.ManyToManyField(
        "self", symmetrical=False, related_name="upgrade_sources", blank=True, verbose_name=_("upgrade target offers")
    )
    included_services = models.JSONField(
        _("included services"),
        default=list,
        blank=True,
        help_text=_("Service plans this SKU includes, e.g. TeamsPhone. An upgrade target that includes an "
                    "add-on's services makes that add-on redundant."),
    )
    included_minutes_domestic = models.PositiveIntegerField(_("domestic minutes per license per month"), default=0)
    included_minutes_international = models.PositiveIntegerField(
        _("international minutes per license per month"), default=0
    )
    included_minutes_conferencing = models.PositiveIntegerField(
        _("conferencing dial-out minutes per license per month"), default=0
    )

    # What the catalog's text search reads: one lower-cased column rather than five across a
    # join, so a search of 10,000 SKUs stays fast. Kept in step by save() and Product.save().
    search_text = models.TextField(editable=False, default="")

    objects = SkuQuerySet.as_manager()

    class Meta:
        ordering = ["product__title", "sku_id"]
        verbose_name = _("SKU")
        verbose_name_plural = _("SKUs")
        constraints = [
            models.UniqueConstraint(fields=["product", "sku_id"], name="sku_unique_per_product"),
            models.CheckConstraint(condition=Q(max_quantity__gte=models.F("min_quantity")), name="sku_min_le_max"),
            models.CheckConstraint(condition=Q(min_quantity__gte=1), name="sku_min_positive"),
        ]

    def __str__(self):
        return f"{self.title} ({self.code})"

    def save(self, *args, **kwargs):
        self.search_text = sku_search_text(self, self.product)
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "search_text"}
        super().save(*args, **kwargs)

    @property
    def code(self):
        """Partner Center's ``productId:skuId``."""
        return f"{self.product_id}:{self.sku_id}"

    @property
    def can_overage(self):
        return self.consumption_type == ConsumptionType.OVERAGE

    def included_minutes(self, zone):
        return {
            CallingZone.DOMESTIC: self.included_minutes_domestic,
            CallingZone.INTERNATIONAL: self.included_minutes_international,
            CallingZone.CONFERENCING: self.included_minutes_conferencing,
        }[zone]


class Availability(models.Model):
    """What can be bought of a SKU: ``catalogItemId`` = ``productId:skuId:availabilityId``."""

    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="availabilities", verbose_name=_("SKU"))
    availability_id = models.CharField(_("availability id"), max_length=12)
    terms = models.JSONField(
        _("terms"), default=list, help_text=_('List of {"termDuration": "P1Y", "billingCycle": "monthly"}.')
    )
    segment = models.CharField(_("segment"), max_length=20, choices=Segment.choices, default=Segment.COMMERCIAL)
    is_purchasable = models.BooleanField(_("purchasable"), default=True)
    is_renewable = models.BooleanField(_("renewable"), default=True)

    class Meta:
        verbose_name = _("availability")
        verbose_name_plural = _("availabilities")
        constraints = [
            models.UniqueConstraint(fields=["sku", "availability_id"], name="availability_unique_per_sku"),
        ]

    def __str__(self):
        return self.catalog_item_id

    @property
    def catalog_item_id(self):
        return f"{self.sku.product_id}:{self.sku.sku_id}:{self.availability_id}"

    def supports(self, term_duration, billing_cycle):
        return any(
            t.get("termDuration") == term_duration and t.get("billingCycle") == billing_cycle for t in self.terms
        )


class PriceTag(models.TextChoices):
    INCLUDES_OVERAGE = "IncludesOverage", _("Includes overage")
    ADD_ON = "AddOn", _("Add-on")


class PriceListEntry(models.Model):
    """One row of the new-commerce license price list: SKU × term × billing plan × market ×
    currency × segment, valid from ``effective_start`` until ``effective_end`` (exclusive)."""

    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="prices", verbose_name=_("SKU"))
    term_duration = models.CharField(_("term"), max_length=3, choices=TermDuration.choices)
    billing_plan = models.CharField(_("billing plan"), max_length=10, choices=BillingCycle.choices)
    market = models.CharField(_("market"), max_length=2)
    currency = models.CharField(_("currency"), max_length=3)
    segment = models.CharField(_("segment"), max_length=20, choices=Segment.choices, default=Segment.COMMERCIAL)
    unit_price = models.DecimalField(_("unit price"), max_digits=18, decimal_places=6)
    erp_price = models.DecimalField(_("ERP price"), max_digits=18, decimal_places=6)
    effective_start = models.DateField(_("effective start"))
    effective_end = models.DateField(_("effective end"), null=True, blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)

    class Meta:
        ordering = ["sku", "market", "term_duration", "billing_plan", "-effective_start"]
        verbose_name = _("price-list row")
        verbose_name_plural = _("price list")
        constraints = [
            models.UniqueConstraint(
                fields=["sku", "term_duration", "billing_plan", "market", "currency", "segment", "effective_start"],
                name="price_unique_row",
            ),
            models.CheckConstraint(condition=Q(unit_price__gte=0) & Q(erp_price__gte=0), name="price_not_negative"),
            models.CheckConstraint(
                condition=Q(effective_end__isnull=True) | Q(effective_end__gt=models.F("effective_start")),
                name="price_end_after_start",
            ),
        ]
        indexes = [models.Index(fields=["market", "term_duration", "billing_plan", "segment"])]

    def __str__(self):
        return f"{self.sku.code} {self.term_duration}/{self.billing_plan} {self.market} {self.unit_price} {self.currency}"


class LicenseChannel(models.TextChoices):
    CSP_NCE = "csp_nce", _("CSP new commerce")
    CSP_LEGACY = "csp_legacy", _("CSP legacy")
    WEB_DIRECT = "web_direct", _("Web direct")
    VOLUME_LICENSING = "volume_licensing", _("Volume licensing (EA)")


class TenantLicenseQuerySet(models.QuerySet):
    def transacted_by(self, partner):
        """All licenses of the tenants of the partner's customers, whatever their channel: a
        partner needs to see what the tenant has to know which add-ons it can sell."""
        return self.filter(customer__in=Customer.objects.transacted_by(partner))

    def active(self):
        return self.filter(is_active=True)


class TenantLicense(models.Model):
    """A SKU provisioned in a customer's tenant, from any channel (CSP of any partner, web
    direct, volume licensing, legacy). ``source_partner`` is set for CSP channels."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="tenant_licenses", verbose_name=_("customer")
    )
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="tenant_licenses", verbose_name=_("SKU"))
    channel = models.CharField(_("channel"), max_length=20, choices=LicenseChannel.choices)
    source_partner = models.ForeignKey(
        Partner,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="provisioned_licenses",
        verbose_name=_("source partner"),
    )
    quantity = models.PositiveIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    is_active = models.BooleanField(_("active"), default=True)
    provisioned_at = models.DateTimeField(_("provisioned at"), auto_now_add=True)

    objects = TenantLicenseQuerySet.as_manager()

    class Meta:
        ordering = ["customer", "sku"]
        verbose_name = _("tenant license")
        verbose_name_plural = _("tenant licenses")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="tenant_license_quantity_positive"),
            models.CheckConstraint(
                condition=Q(channel__in=[LicenseChannel.CSP_NCE, LicenseChannel.CSP_LEGACY], source_partner__isnull=False)
                | Q(channel__in=[LicenseChannel.WEB_DIRECT, LicenseChannel.VOLUME_LICENSING], source_partner__isnull=True),
                name="tenant_license_source_partner_matches_channel",
            ),
        ]
        indexes = [models.Index(fields=["customer", "is_active"])]

    def __str__(self):
        return f"{self.customer.name}: {self.sku.title} ×{self.quantity} ({self.get_channel_display()})"
