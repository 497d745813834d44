"""The role table of SPEC §2, in one place. Views, the API and services ask ``can()``.

Each rule is a set of roles, and whether the partner must transact (direct-bill partners and
indirect providers do; indirect resellers only look).
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from portal.models import Role


@dataclass(frozen=True)
class Rule:
    roles: frozenset
    transacting_only: bool
    denied: str  # shown to a user whose role does not allow it


ALL_ROLES = frozenset(Role.values)

VIEW = "view"
BUY = "buy"
AZURE_CREATE = "azure_create"
MANAGE_OVERAGE = "manage_overage"
BILLING = "billing"
USAGE_IMPORT = "usage_import"

RULES = {
    VIEW: Rule(ALL_ROLES, False, _("You cannot see this.")),
    BUY: Rule(
        frozenset({Role.GLOBAL_ADMIN, Role.ADMIN_AGENT, Role.SALES_AGENT}),
        True,
        _("Only global admins, admin agents and sales agents can buy and change subscriptions."),
    ),
    AZURE_CREATE: Rule(
        frozenset({Role.GLOBAL_ADMIN, Role.ADMIN_AGENT}),
        True,
        _("Only global admins and admin agents can create Azure plans and Azure subscriptions."),
    ),
    MANAGE_OVERAGE: Rule(
        frozenset({Role.GLOBAL_ADMIN, Role.ADMIN_AGENT}),
        True,
        _("Only admin agents and global admins can manage overage."),
    ),
    BILLING: Rule(
        frozenset({Role.GLOBAL_ADMIN, Role.BILLING_ADMIN, Role.ADMIN_AGENT, Role.SALES_AGENT}),
        False,
        _("Only global admins, billing admins, admin agents and sales agents can see billing."),
    ),
    # Sending call records is a write that bills the overage holder: transacting partners only.
    USAGE_IMPORT: Rule(
        frozenset({Role.GLOBAL_ADMIN, Role.BILLING_ADMIN, Role.ADMIN_AGENT, Role.SALES_AGENT}),
        True,
        _("Only global admins, billing admins, admin agents and sales agents can import call usage."),
    ),
}


def reseller_denied_message(partner):
    """What an indirect reseller's user is told instead: ask the provider, by name."""
    names = ", ".join(p.name for p in partner.providers.all()) or _("your indirect provider")
    return _("Indirect resellers cannot transact. Ask your indirect provider (%(names)s) to do this for you.") % {
        "names": names
    }


def can(membership, action):
    """True when the member's roles and partner kind allow the action."""
    if membership is None:
        return False
    rule = RULES[action]
    if rule.transacting_only and not membership.partner.transacts:
        return False
    return bool(rule.roles.intersection(membership.roles))


def denial_reason(membership, action):
    """Why ``can()`` said no, for the disabled button's tooltip and the 403 page."""
    if membership is None:
        return _("You are not a member of any partner organisation.")
    rule = RULES[action]
    if rule.transacting_only and not membership.partner.transacts:
        return reseller_denied_message(membership.partner)
    if not rule.roles.intersection(membership.roles):
        return rule.denied
    return ""
