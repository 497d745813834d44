from portal import permissions


def partner(request):
    """The current partner and what the user may do, for navigation and buttons."""
    membership = getattr(request, "membership", None)
    return {
        "current_partner": getattr(request, "partner", None),
        "current_membership": membership,
        "perms_portal": {
            "buy": permissions.can(membership, permissions.BUY),
            "azure_create": permissions.can(membership, permissions.AZURE_CREATE),
            "manage_overage": permissions.can(membership, permissions.MANAGE_OVERAGE),
            "billing": permissions.can(membership, permissions.BILLING),
        },
    }
