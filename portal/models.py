"""Partners, the people who work for them, customers and the audit trail.

Scoping rule: every partner-owned model has a QuerySet with one or both of the two scope
names, and views, forms, filters, API endpoints, selectors and services start from one:

- ``owned_by(partner)``: the row's partner is this partner;
- ``transacted_by(partner)``: the partner transacts it or is its reseller of record.

``objects`` stays unfiltered for admin, migrations, reverse relations and the code that works
across partners on purpose (staff pages, the billing engine). ``tests/test_scope_names.py``
fails when a view, API handler, selector or service reads a partner-owned model another way.
"""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

mpn_validator = RegexValidator(r"^\d{1,10}$", _("An MPN id is made of digits only."))
country_validator = RegexValidator(r"^[A-Z]{2}$", _("Use a two-letter ISO country code, e.g. US."))

# The currency of a customer's market. Markets not listed here fall back to USD.
MARKET_CURRENCY = {
    "US": "USD",
    "CA": "CAD",
    "GB": "GBP",
    "IT": "EUR",
    "DE": "EUR",
    "FR": "EUR",
    "ES": "EUR",
    "NL": "EUR",
    "IE": "EUR",
    "AT": "EUR",
    "BE": "EUR",
}


def currency_for_country(country):
    return MARKET_CURRENCY.get(country, "USD")


class PartnerKind(models.TextChoices):
    DIRECT_BILL = "direct_bill", _("Direct-bill partner")
    INDIRECT_PROVIDER = "indirect_provider", _("Indirect provider")
    INDIRECT_RESELLER = "indirect_reseller", _("Indirect reseller")


class Role(models.TextChoices):
    GLOBAL_ADMIN = "global_admin", _("Global admin")
    ADMIN_AGENT = "admin_agent", _("Admin agent")
    SALES_AGENT = "sales_agent", _("Sales agent")
    BILLING_ADMIN = "billing_admin", _("Billing admin")
    HELPDESK_AGENT = "helpdesk_agent", _("Helpdesk agent")


class PartnerQuerySet(models.QuerySet):
    def transacted_by(self, partner):
        """The partner itself and, for an indirect provider, the resellers linked to it."""
        return self.filter(Q(pk=partner.pk) | Q(providers=partner)).distinct()

    def resellers_of(self, provider):
        return self.filter(kind=PartnerKind.INDIRECT_RESELLER, providers=provider)


class Partner(models.Model):
    """A cloud-solution partner organisation. Only direct-bill partners and indirect
    providers transact; an indirect reseller sells through one or more providers."""

    mpn_id = models.CharField(_("MPN id"), max_length=10, unique=True, validators=[mpn_validator])
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=PartnerKind.choices)
    providers = models.ManyToManyField(
        "self",
        symmetrical=False,
        related_name="resellers",
        blank=True,
        verbose_name=_("indirect providers"),
        help_text=_("For an indirect reseller: the indirect providers it sells through."),
    )
    country = models.CharField(
        _("country"),
        max_length=2,
        blank=True,
        validators=[country_validator],
        help_text=_("Two-letter ISO code; gives its users' default time zone (Europe/Rome for IT)."),
    )
    is_sandbox = models.BooleanField(_("sandbox"), default=False)
    sandbox_azure_access = models.BooleanField(
        _("sandbox Azure-plan access"),
        default=False,
        help_text=_("Sandbox partners cannot provision Azure plans unless granted access."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=PartnerKind.values), name="partner_kind_valid"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.mpn_id})"

    @property
    def transacts(self):
        """Direct-bill partners and indirect providers buy; indirect resellers cannot."""
        return self.kind != PartnerKind.INDIRECT_RESELLER

    @property
    def is_indirect_provider(self):
        return self.kind == PartnerKind.INDIRECT_PROVIDER

    @property
    def is_indirect_reseller(self):
        return self.kind == PartnerKind.INDIRECT_RESELLER

    def clean(self):
        if self.pk and self.kind != PartnerKind.INDIRECT_RESELLER and self.providers.exists():
            raise ValidationError(_("Only an indirect reseller can be linked to indirect providers."))


def validate_roles(value):
    if not isinstance(value, list) or not value:
        raise ValidationError(_("A membership needs at least one role."))
    unknown = [r for r in value if r not in Role.values]
    if unknown:
        raise ValidationError(_("Unknown roles: %(roles)s"), params={"roles": ", ".join(map(str, unknown))})


class MembershipQuerySet(models.QuerySet):
    def owned_by(self, partner):
        return self.filter(partner=partner)


class Membership(models.Model):
    """A user belongs to exactly one partner, with one or more roles (SPEC §2)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership", verbose_name=_("user")
    )
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("partner"))
    roles = models.JSONField(_("roles"), default=list, validators=[validate_roles])
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self):
        return f"{self.user} @ {self.partner.name}"

    def has_role(self, *roles):
        return any(r in self.roles for r in roles)

    def role_labels(self):
        return [Role(r).label for r in self.roles if r in Role.values]


class CustomerQuerySet(models.QuerySet):
    def owned_by(self, partner):
        """Customers the partner itself has a relationship with (not as reseller of record)."""
        return self.filter(Exists(CustomerRelationship.objects.filter(customer=OuterRef("pk"), partner=partner)))

    def transacted_by(self, partner):
        """Customers the partner has a relationship with, as transacting partner or as the
        reseller of record (an indirect provider thus sees its resellers' customers)."""
        related = CustomerRelationship.objects.filter(customer=OuterRef("pk")).filter(
            Q(partner=partner) | Q(reseller=partner)
        )
        return self.filter(Exists(related))


class Customer(models.Model):
    """A customer organisation with one Microsoft Entra tenant (the customer-tenant-id)."""

    tenant_id = models.UUIDField(_("tenant id"), unique=True, default=uuid.uuid4)
    name = models.CharField(_("name"), max_length=200)
    domain = models.CharField(_("domain"), max_length=253, help_text=_("e.g. alpineskihouse.onmicrosoft.com"))
    country = models.CharField(_("country"), max_length=2, validators=[country_validator])
    on_legacy_azure = models.BooleanField(
        _("on legacy Azure offer (MS-AZR-0145P)"),
        default=False,
        help_text=_("Such a customer must be moved to Azure plan before it can get one."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            models.CheckConstraint(condition=Q(country__regex=r"^[A-Z]{2}$"), name="customer_country_iso2"),
        ]

    def __str__(self):
        return self.name

    @property
    def currency(self):
        return currency_for_country(self.country)


class CustomerRelationshipQuerySet(models.QuerySet):
    def owned_by(self, partner):
        return self.filter(partner=partner)

    def transacted_by(self, partner):
        return self.filter(Q(partner=partner) | Q(reseller=partner))


class CustomerRelationship(models.Model):
    """A partner's relationship with a customer. For an indirect sale the relationship is
    held by the indirect provider, and ``reseller`` names the reseller of record."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="relationships")
    partner = models.ForeignKey(
        Partner, on_delete=models.CASCADE, related_name="customer_relationships", verbose_name=_("partner")
    )
    reseller = models.ForeignKey(
        Partner,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reseller_relationships",
        verbose_name=_("reseller of record"),
        limit_choices_to={"kind": PartnerKind.INDIRECT_RESELLER},
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CustomerRelationshipQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer relationship")
        verbose_name_plural = _("customer relationships")
        constraints = [
            models.UniqueConstraint(fields=["customer", "partner"], name="relationship_unique_customer_partner"),
            models.CheckConstraint(condition=~Q(partner=models.F("reseller")), name="relationship_reseller_not_partner"),
        ]

    def __str__(self):
        if self.reseller_id:
            return f"{self.partner.name} → {self.customer.name} (reseller {self.reseller.name})"
        return f"{self.partner.name} → {self.customer.name}"

    def clean(self):
        if self.reseller_id and self.partner_id:
            if self.reseller.kind != PartnerKind.INDIRECT_RESELLER:
                raise ValidationError({"reseller": _("The reseller of record must be an indirect reseller.")})
            if not self.reseller.providers.filter(pk=self.partner_id).exists():
                raise ValidationError({"reseller": _("This reseller is not linked to that indirect provider.")})


class AuditEventQuerySet(models.QuerySet):
    def owned_by(self, partner):
        return self.filter(partner=partner)


class AuditEvent(models.Model):
    """Who changed what, when, from what to what. Append-only: written by
    ``portal.services.audit_record`` and never edited."""

    occurred_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("who")
    )
    actor_label = models.CharField(_("who (as recorded)"), max_length=254, blank=True)
    partner = models.ForeignKey(
        Partner, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events", verbose_name=_("partner")
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events", verbose_name=_("customer")
    )
    action = models.CharField(_("action"), max_length=80, db_index=True)
    object_type = models.CharField(_("object type"), max_length=80)
    object_id = models.CharField(_("object id"), max_length=64, db_index=True)
    object_repr = models.CharField(_("object"), max_length=300, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self):
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.action} {self.object_repr}"


class ApiTokenQuerySet(models.QuerySet):
    def owned_by(self, partner):
        """Tokens of the partner's users: a token acts as its user, so it belongs to that
        user's partner."""
        return self.filter(user__membership__partner=partner)

    def for_user(self, user):
        return self.filter(user=user)

    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A bearer token for ``/v1/`` that acts as its user, with that user's partner and roles
    (SPEC §10). Only the SHA-256 of the secret is stored: the secret is shown once, when the
    token is created by ``portal.tokens.api_token_create``. A revoked token never works again."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(
        _("prefix"), max_length=8, help_text=_("The first characters of the token, to recognise it.")
    )
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self):
        return self.revoked_at is None


class UserPreference(models.Model):
    """A user's own language and time zone for the pages (issue 12). An empty language
    follows the browser; an empty time zone follows the partner's country
    (``portal.preferences``). The API ignores both: it answers in English and UTC."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference", verbose_name=_("user")
    )
    language = models.CharField(_("language"), max_length=10, blank=True, choices=settings.LANGUAGES)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("user preference")
        verbose_name_plural = _("user preferences")

    def __str__(self):
        return str(self.user)
