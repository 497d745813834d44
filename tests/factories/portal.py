"""Factories for portal: partners, users and memberships, customers and relationships.

Invariant kept here: a customer built with ``partner=`` (and optionally ``reseller=``) gets the
CustomerRelationship that makes it visible to that partner, so tests never build an orphan
customer by accident.
"""

import factory
from django.contrib.auth import get_user_model
from factory.django import DjangoModelFactory

from portal.models import ApiToken, AuditEvent, Customer, CustomerRelationship, Membership, Partner, PartnerKind, Role

PASSWORD = "test-pass-123"


class PartnerFactory(DjangoModelFactory):
    """A direct-bill partner unless ``kind`` says otherwise."""

    class Meta:
        model = Partner

    mpn_id = factory.Sequence(lambda n: f"{7000000 + n}")
    name = factory.Sequence(lambda n: f"Partner {n}")
    kind = PartnerKind.DIRECT_BILL


class ProviderFactory(PartnerFactory):
    kind = PartnerKind.INDIRECT_PROVIDER
    name = factory.Sequence(lambda n: f"Provider {n}")


class ResellerFactory(PartnerFactory):
    """An indirect reseller, linked to ``providers`` (a new provider when none is given)."""

    kind = PartnerKind.INDIRECT_RESELLER
    name = factory.Sequence(lambda n: f"Reseller {n}")

    @factory.post_generation
    def providers(self, create, extracted, **kwargs):
        if not create:
            return
        self.providers.set(extracted if extracted is not None else [ProviderFactory()])


class UserFactory(DjangoModelFactory):
    """A Django user whose username is the e-mail address; password ``PASSWORD``."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@partner.example")
    username = factory.SelfAttribute("email")
    password = factory.django.Password(PASSWORD)


class MembershipFactory(DjangoModelFactory):
    """A user of ``partner`` with ``roles`` (default: admin agent)."""

    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    partner = factory.SubFactory(PartnerFactory)
    roles = factory.LazyFunction(lambda: [Role.ADMIN_AGENT.value])


class CustomerFactory(DjangoModelFactory):
    """A customer. Pass ``partner=`` (and ``reseller=`` for an indirect sale, where
    ``partner`` is the indirect provider) to create the relationship that scopes it."""

    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n:04d}")
    domain = factory.Sequence(lambda n: f"customer{n}.onmicrosoft.com")
    country = "US"

    @classmethod
    def _create(cls, model_class, *args, partner=None, reseller=None, **kwargs):
        customer = super()._create(model_class, *args, **kwargs)
        ensure_relationship(customer, partner, reseller)
        return customer


class CustomerRelationshipFactory(DjangoModelFactory):
    class Meta:
        model = CustomerRelationship
        django_get_or_create = ("customer", "partner")

    customer = factory.SubFactory(CustomerFactory)
    partner = factory.SubFactory(PartnerFactory)
    reseller = None


def ensure_relationship(customer, partner, reseller=None):
    """Give ``partner`` (with ``reseller`` of record) a relationship with ``customer`` unless
    it has one: the factories of partner-owned objects call this to keep scoping true."""
    if partner is None or customer is None:
        return None
    relationship, _ = CustomerRelationship.objects.get_or_create(
        customer=customer, partner=partner, defaults={"reseller": reseller}
    )
    return relationship


class AuditEventFactory(DjangoModelFactory):
    class Meta:
        model = AuditEvent

    partner = factory.SubFactory(PartnerFactory)
    customer = None
    actor = None
    actor_label = "system"
    action = "test.action"
    object_type = "portal.customer"
    object_id = factory.Sequence(lambda n: str(n))
    object_repr = factory.Sequence(lambda n: f"Object {n}")


class ApiTokenFactory(DjangoModelFactory):
    """An active API token of a member. The secret is not kept: tests that call the API make
    their token with ``portal.tokens.api_token_create``, which returns it."""

    class Meta:
        model = ApiToken

    user = factory.LazyAttribute(lambda o: MembershipFactory().user)
    name = factory.Sequence(lambda n: f"Token {n}")
    prefix = "pp_test0"
    key_hash = factory.Sequence(lambda n: f"{n:064x}")
