"""The role table of SPEC §2, cell by cell, for a transacting partner and for an indirect reseller."""

import pytest

from portal import permissions
from portal.models import Role
from tests.factories import MembershipFactory, PartnerFactory, ProviderFactory, ResellerFactory

pytestmark = pytest.mark.django_db

GA, AA, SA, BA, HD = (
    Role.GLOBAL_ADMIN.value,
    Role.ADMIN_AGENT.value,
    Role.SALES_AGENT.value,
    Role.BILLING_ADMIN.value,
    Role.HELPDESK_AGENT.value,
)

# SPEC §2, written out again on purpose: a change to permissions.RULES must be a change here too.
TRANSACTING_TABLE = {
    permissions.VIEW: {GA, AA, SA, BA, HD},
    permissions.BUY: {GA, AA, SA},
    permissions.AZURE_CREATE: {GA, AA},
    permissions.MANAGE_OVERAGE: {GA, AA},
    permissions.BILLING: {GA, BA, AA, SA},
    permissions.USAGE_IMPORT: {GA, BA, AA, SA},
}
# An indirect reseller only looks: it never buys, creates Azure plans or manages overage.
RESELLER_TABLE = {
    permissions.VIEW: {GA, AA, SA, BA, HD},
    permissions.BUY: set(),
    permissions.AZURE_CREATE: set(),
    permissions.MANAGE_OVERAGE: set(),
    permissions.BILLING: {GA, BA, AA, SA},
    permissions.USAGE_IMPORT: set(),  # sending usage bills the overage holder: a write
}

CELLS = [(action, role) for action in TRANSACTING_TABLE for role in Role.values]


def test_the_table_covers_every_action():
    assert set(TRANSACTING_TABLE) == set(permissions.RULES) == set(RESELLER_TABLE)


@pytest.mark.parametrize("partner_factory", [PartnerFactory, ProviderFactory], ids=["direct_bill", "provider"])
@pytest.mark.parametrize("action, role", CELLS)
def test_transacting_partner_role_table(partner_factory, action, role):
    membership = MembershipFactory(partner=partner_factory(), roles=[role])
    allowed = role in TRANSACTING_TABLE[action]
    assert permissions.can(membership, action) is allowed
    assert (permissions.denial_reason(membership, action) == "") is allowed


@pytest.mark.parametrize("action, role", CELLS)
def test_indirect_reseller_role_table(action, role):
    membership = MembershipFactory(partner=ResellerFactory(), roles=[role])
    allowed = role in RESELLER_TABLE[action]
    assert permissions.can(membership, action) is allowed
    assert (permissions.denial_reason(membership, action) == "") is allowed


def test_roles_add_up():
    membership = MembershipFactory(roles=[HD, BA])
    assert permissions.can(membership, permissions.BILLING)
    assert not permissions.can(membership, permissions.BUY)


def test_sales_agent_cannot_manage_overage():
    membership = MembershipFactory(roles=[SA])
    assert not permissions.can(membership, permissions.MANAGE_OVERAGE)
    assert "overage" in str(permissions.denial_reason(membership, permissions.MANAGE_OVERAGE))


def test_no_membership_can_do_nothing():
    for action in permissions.RULES:
        assert not permissions.can(None, action)
        assert permissions.denial_reason(None, action)


@pytest.mark.parametrize("action", [permissions.BUY, permissions.AZURE_CREATE, permissions.MANAGE_OVERAGE])
def test_resellers_user_is_told_to_ask_the_named_provider(action):
    provider = ProviderFactory(name="Fabrikam Distribution")
    membership = MembershipFactory(partner=ResellerFactory(providers=[provider]), roles=[GA])
    reason = str(permissions.denial_reason(membership, action))
    assert "Fabrikam Distribution" in reason
    assert "indirect provider" in reason.lower()


def test_resellers_user_is_told_every_provider():
    providers = [ProviderFactory(name="Fabrikam Distribution"), ProviderFactory(name="Litware Distribution")]
    membership = MembershipFactory(partner=ResellerFactory(providers=providers), roles=[AA])
    reason = str(permissions.denial_reason(membership, permissions.BUY))
    assert "Fabrikam Distribution" in reason and "Litware Distribution" in reason
