"""Builds the demo partners, their users and memberships, and the customers (SPEC §13)."""

import uuid

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from portal.models import Customer, CustomerRelationship, Membership, Partner, PartnerKind, Role

from . import DEMO_PASSWORD, STAFF_EMAIL

PARTNERS = [
    {"key": "contoso", "mpn_id": "1000001", "name": "Contoso Cloud", "kind": PartnerKind.DIRECT_BILL},
    {"key": "fabrikam", "mpn_id": "2000001", "name": "Fabrikam Distribution", "kind": PartnerKind.INDIRECT_PROVIDER},
    {"key": "northwind", "mpn_id": "3000001", "name": "Northwind Reseller", "kind": PartnerKind.INDIRECT_RESELLER,
     "providers": ["fabrikam"]},
    {"key": "adatum", "mpn_id": "4000001", "name": "Adatum Partners", "kind": PartnerKind.DIRECT_BILL},
    {"key": "tailspin", "mpn_id": "5000001", "name": "Tailspin Sandbox", "kind": PartnerKind.DIRECT_BILL,
     "is_sandbox": True, "sandbox_azure_access": False},
]

USERS = [
    ("ada@contoso.example", "Ada", "contoso", [Role.GLOBAL_ADMIN]),
    ("alan@contoso.example", "Alan", "contoso", [Role.ADMIN_AGENT]),
    ("sam@contoso.example", "Sam", "contoso", [Role.SALES_AGENT]),
    ("bea@contoso.example", "Bea", "contoso", [Role.BILLING_ADMIN]),
    ("admin@fabrikam.example", "Fabrikam admin", "fabrikam", [Role.ADMIN_AGENT]),
    ("sales@fabrikam.example", "Fabrikam sales", "fabrikam", [Role.SALES_AGENT]),
    ("admin@northwind.example", "Northwind admin", "northwind", [Role.ADMIN_AGENT]),
    ("admin@adatum.example", "Adatum admin", "adatum", [Role.ADMIN_AGENT]),
    ("admin@tailspin.example", "Tailspin admin", "tailspin", [Role.ADMIN_AGENT]),
]

# (key, name, tenant id, country, onmicrosoft domain, [(partner key, reseller key or None)], legacy Azure)
CUSTOMERS = [
    ("alpine", "Alpine Ski House", "11111111-1111-4111-8111-111111111111", "US",
     "alpineskihouse.onmicrosoft.com", [("contoso", None)], False),
    ("blueyonder", "Blue Yonder Airlines", "22222222-2222-4222-8222-222222222222", "US",
     "blueyonderairlines.onmicrosoft.com", [("contoso", None), ("adatum", None)], False),
    ("coho", "Coho Winery", "33333333-3333-4333-8333-333333333333", "US",
     "cohowinery.onmicrosoft.com", [("contoso", None)], False),
    ("datum", "Datum Corporation", "44444444-4444-4444-8444-444444444444", "US",
     "datumcorp.onmicrosoft.com", [("contoso", None)], True),
    ("fourthcoffee", "Fourth Coffee", "55555555-5555-4555-8555-555555555555", "IT",
     "fourthcoffee.onmicrosoft.com", [("fabrikam", "northwind")], False),
    ("graphicdesign", "Graphic Design Institute", "66666666-6666-4666-8666-666666666666", "GB",
     "graphicdesigninstitute.onmicrosoft.com", [("contoso", None)], False),
    ("humongous", "Humongous Insurance", "77777777-7777-4777-8777-777777777777", "US",
     "humongousinsurance.onmicrosoft.com", [("tailspin", None)], False),
]


def build_partners():
    """Create or refresh the demo partners; returns ``{key: Partner}``."""
    partners = {}
    for spec in PARTNERS:
        partner, _ = Partner.objects.update_or_create(
            mpn_id=spec["mpn_id"],
            defaults={
                "name": spec["name"],
                "kind": spec["kind"],
                "is_sandbox": spec.get("is_sandbox", False),
                "sandbox_azure_access": spec.get("sandbox_azure_access", False),
            },
        )
        partners[spec["key"]] = partner
    for spec in PARTNERS:
        if spec.get("providers"):
            partners[spec["key"]].providers.set([partners[key] for key in spec["providers"]])
    return partners


def build_users(partners):
    """Create the demo users (username = email) and their memberships; returns ``{email: User}``.

    A password is set only on users this run creates, so a demo user who changed theirs
    keeps it. One hash serves every new user: hashing is deliberately slow, and these
    accounts share one published password anyway.
    """
    User = get_user_model()
    emails = [email for email, *_ in USERS] + [STAFF_EMAIL]
    missing = set(emails) - set(User.objects.filter(username__in=emails).values_list("username", flat=True))
    password_hash = make_password(DEMO_PASSWORD) if missing else None
    users = {}
    for email, first_name, partner_key, roles in USERS:
        user, _ = User.objects.get_or_create(
            username=email, defaults={"email": email, "first_name": first_name, "password": password_hash}
        )
        Membership.objects.update_or_create(
            user=user, defaults={"partner": partners[partner_key], "roles": [str(role) for role in roles]}
        )
        users[email] = user

    staff, created = User.objects.get_or_create(
        username=STAFF_EMAIL,
        defaults={"email": STAFF_EMAIL, "first_name": "Operator", "password": password_hash,
                  "is_staff": True, "is_superuser": True},
    )
    if not created and not (staff.is_staff and staff.is_superuser):
        staff.is_staff = staff.is_superuser = True
        staff.save(update_fields=["is_staff", "is_superuser"])
    users[STAFF_EMAIL] = staff
    return users


def build_customers(partners):
    """Create or refresh the demo customers and their partner relationships; returns ``{key: Customer}``."""
    customers = {}
    for key, name, tenant_id, country, domain, relationships, legacy in CUSTOMERS:
        customer, _ = Customer.objects.update_or_create(
            tenant_id=uuid.UUID(tenant_id),
            defaults={"name": name, "country": country, "domain": domain, "on_legacy_azure": legacy},
        )
        for partner_key, reseller_key in relationships:
            CustomerRelationship.objects.update_or_create(
                customer=customer,
                partner=partners[partner_key],
                defaults={"reseller": partners[reseller_key] if reseller_key else None},
            )
        customers[key] = customer
    return customers

