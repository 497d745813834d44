"""Database constraints and ``owned_by``/``transacted_by`` scoping of the portal models."""

import pytest
from django.db import DataError, IntegrityError, transaction

from portal.models import ApiToken, AuditEvent, Customer, CustomerRelationship, Membership, Partner
from tests.factories import (
    ApiTokenFactory,
    AuditEventFactory,
    CustomerFactory,
    CustomerRelationshipFactory,
    MembershipFactory,
    PartnerFactory,
    ProviderFactory,
    ResellerFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "factory",
    [PartnerFactory, ProviderFactory, ResellerFactory, UserFactory, MembershipFactory, CustomerFactory,
     CustomerRelationshipFactory, AuditEventFactory, ApiTokenFactory],
)
def test_factory_builds_a_valid_row(factory):
    factory().full_clean()


# Constraints


def test_customer_country_must_be_iso2():
    CustomerFactory(country="IT")
    for bad in ["us", "U1", ""]:
        with pytest.raises(IntegrityError), transaction.atomic():
            CustomerFactory(country=bad)
    # Too long: PostgreSQL refuses it for the column's length (DataError) before the check
    # constraint; SQLite has no length limit and the check refuses it.
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        CustomerFactory(country="USA")


def test_partner_kind_must_be_known():
    with pytest.raises(IntegrityError), transaction.atomic():
        PartnerFactory(kind="distributor")


def test_partner_mpn_id_is_unique():
    PartnerFactory(mpn_id="1234567")
    with pytest.raises(IntegrityError), transaction.atomic():
        PartnerFactory(mpn_id="1234567")


def test_customer_tenant_id_is_unique():
    customer = CustomerFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerFactory(tenant_id=customer.tenant_id)


def test_one_relationship_per_customer_and_partner():
    relationship = CustomerRelationshipFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerRelationship.objects.create(customer=relationship.customer, partner=relationship.partner)
    # Another partner may hold its own relationship with the same customer.
    CustomerRelationship.objects.create(customer=relationship.customer, partner=PartnerFactory())
    assert relationship.customer.relationships.count() == 2


def test_relationship_reseller_is_not_the_partner(provider, reseller):
    customer = CustomerFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerRelationship.objects.create(customer=customer, partner=reseller, reseller=reseller)
    CustomerRelationship.objects.create(customer=customer, partner=provider, reseller=reseller)


def test_a_user_has_one_membership(partner_a, partner_b):
    membership = MembershipFactory(partner=partner_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=membership.user, partner=partner_b, roles=["admin_agent"])


def test_membership_roles_are_validated():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        MembershipFactory(roles=[]).full_clean()
    with pytest.raises(ValidationError):
        MembershipFactory(roles=["owner"]).full_clean()


# Scoping


def test_partner_sees_its_customer_and_not_another_partners(partner_a, partner_b, customer_of):
    customer = customer_of(partner_a)
    assert list(Customer.objects.transacted_by(partner_a)) == [customer]
    assert not Customer.objects.transacted_by(partner_b).exists()


def test_customer_shared_by_two_partners_is_seen_by_both(partner_a, partner_b, customer_of):
    customer = customer_of(partner_a)
    CustomerRelationshipFactory(customer=customer, partner=partner_b)
    assert list(Customer.objects.transacted_by(partner_a)) == [customer]
    assert list(Customer.objects.transacted_by(partner_b)) == [customer]


def test_provider_and_reseller_see_the_resellers_customer(provider, reseller, partner_b, customer_of):
    customer = customer_of(provider, reseller=reseller)
    assert list(Customer.objects.transacted_by(provider)) == [customer]
    assert list(Customer.objects.transacted_by(reseller)) == [customer]
    assert not Customer.objects.transacted_by(partner_b).exists()


def test_reseller_does_not_see_the_providers_own_customers(provider, reseller, customer_of):
    customer_of(provider)
    assert Customer.objects.transacted_by(provider).count() == 1
    assert not Customer.objects.transacted_by(reseller).exists()


def test_reseller_does_not_see_another_resellers_customers(provider, reseller, customer_of):
    other = ResellerFactory(providers=[provider])
    customer_of(provider, reseller=other)
    assert not Customer.objects.transacted_by(reseller).exists()


def test_relationships_scoped(provider, reseller, partner_a, customer_of):
    customer = customer_of(provider, reseller=reseller)
    customer_of(partner_a)
    assert list(CustomerRelationship.objects.transacted_by(reseller).values_list("customer", flat=True)) == [customer.pk]
    assert CustomerRelationship.objects.transacted_by(provider).count() == 1


def test_partner_transacted_by_includes_a_providers_resellers(provider, reseller, partner_a):
    assert set(Partner.objects.transacted_by(provider)) == {provider, reseller}
    assert set(Partner.objects.transacted_by(reseller)) == {reseller}
    assert set(Partner.objects.transacted_by(partner_a)) == {partner_a}
    assert list(Partner.objects.resellers_of(provider)) == [reseller]


def test_memberships_and_audit_events_scoped(partner_a, partner_b):
    mine = MembershipFactory(partner=partner_a)
    MembershipFactory(partner=partner_b)
    event = AuditEventFactory(partner=partner_a)
    AuditEventFactory(partner=partner_b)
    assert list(Membership.objects.owned_by(partner_a)) == [mine]
    assert list(AuditEvent.objects.owned_by(partner_a)) == [event]


def test_api_token_hash_is_unique():
    token = ApiTokenFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiTokenFactory(key_hash=token.key_hash)


def test_api_tokens_belong_to_their_users_partner(partner_a, partner_b):
    mine = ApiTokenFactory(user=MembershipFactory(partner=partner_a).user)
    ApiTokenFactory(user=MembershipFactory(partner=partner_b).user)
    assert list(ApiToken.objects.owned_by(partner_a)) == [mine]
    assert list(ApiToken.objects.for_user(mine.user)) == [mine]
