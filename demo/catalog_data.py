"""The demo catalog (SPEC §3, §13) as plain data: one entry per product, each with one SKU.

``price`` is the USD partner price per license per month on an annual term billed
monthly; every other price is derived from it (see ``demo.catalog``). Prerequisites
and upgrade targets name other entries by key.
"""

from decimal import Decimal

# The term × billing-cycle pairs an availability offers.
FULL_TERMS = [("P1M", "monthly"), ("P1Y", "monthly"), ("P1Y", "annual"), ("P3Y", "triennial")]
NO_TRIENNIAL = [("P1M", "monthly"), ("P1Y", "monthly"), ("P1Y", "annual")]

# Markets of the demo price list and their currencies, with the factor applied to USD.
MARKETS = {"US": ("USD", Decimal("1")), "IT": ("EUR", Decimal("0.94")), "GB": ("GBP", Decimal("0.79"))}

OFFICE_SERVICES = ["Exchange", "SharePoint", "OneDrive", "Teams"]
E5_SERVICES = OFFICE_SERVICES + ["OfficeApps", "TeamsPhone", "AudioConferencing", "PowerBIPro", "DefenderForOffice365"]
M365_E3_SERVICES = OFFICE_SERVICES + ["OfficeApps", "Intune", "EntraIDP1", "WindowsEnterprise"]
M365_E5_SERVICES = M365_E3_SERVICES + ["TeamsPhone", "AudioConferencing", "PowerBIPro", "EntraIDP2", "DefenderXDR"]

BUSINESS_PLANS = ["business_basic", "business_standard", "business_premium"]
E5_PLANS = ["o365_e5", "m365_e5", "m365_e5_calling"]
OFFICE_PLANS = BUSINESS_PLANS + ["o365_e1", "o365_e3", "o365_e5", "m365_e3", "m365_e5", "m365_e5_calling"]
TEAMS_PHONE_HOSTS = ["teams_phone"] + E5_PLANS


def _product(key, product_id, title, price, *, description, services, terms=FULL_TERMS, max_quantity=300,
             overage=False, prerequisites=(), upgrades=(), minutes=(0, 0, 0), max_per_customer=None):
    return {
        "key": key,
        "product_id": product_id,
        "sku_id": "0001",
        "title": title,
        "description": description,
        "product_type": "OnlineServicesNCE",
        "price": Decimal(price),
        "terms": list(terms),
        "min_quantity": 1,
        "max_quantity": max_quantity,
        "max_per_customer": max_per_customer,
        "overage": overage,
        "prerequisites": list(prerequisites),
        "upgrades": list(upgrades),
        "services": list(services),
        "minutes": minutes,  # domestic, international, conferencing dial-out per license per month
    }


PRODUCTS = [
    _product(
        "business_basic", "CFQ7TTC0LH18", "Microsoft 365 Business Basic", "6.00",
        description="Web and mobile Office apps, Teams, 1 TB of OneDrive storage and business email.",
        services=OFFICE_SERVICES, upgrades=["business_standard"],
    ),
    _product(
        "business_standard", "CFQ7TTC0LDPB", "Microsoft 365 Business Standard", "12.50",
        description="Everything in Business Basic plus desktop Office apps, webinars and attendee registration.",
        services=OFFICE_SERVICES + ["OfficeApps"], upgrades=["business_premium"],
    ),
    _product(
        "business_premium", "CFQ7TTC0LCHC", "Microsoft 365 Business Premium", "22.00",
        description="Everything in Business Standard plus advanced security, Intune and Entra ID P1.",
        services=OFFICE_SERVICES + ["OfficeApps", "Intune", "EntraIDP1"],
    ),
    _product(
        "o365_e1", "CFQ7TTC0LF8Q", "Office 365 E1", "10.00",
        description="Web versions of Office apps, email, file storage and Teams for the enterprise.",
        services=OFFICE_SERVICES, max_quantity=10000, upgrades=["o365_e3"],
    ),
    _product(
        "o365_e3", "CFQ7TTC0LF8R", "Office 365 E3", "23.00",
        description="Desktop Office apps, enterprise email, file storage and Teams, with compliance tools.",
        services=OFFICE_SERVICES + ["OfficeApps"], max_quantity=10000, upgrades=["o365_e5"],
    ),
    _product(
        "o365_e5", "CFQ7TTC0LF8S", "Office 365 E5", "38.00",
        description="Office 365 E3 plus Teams Phone, Audio Conferencing, Power BI Pro and advanced security.",
        services=E5_SERVICES, max_quantity=10000,
    ),
    _product(
        "m365_e3", "CFQ7TTC0LFLX", "Microsoft 365 E3", "36.00",
        description="Office apps, Windows Enterprise, Intune and Entra ID P1 for the enterprise.",
        services=M365_E3_SERVICES, max_quantity=10000, upgrades=["m365_e5"],
    ),
    _product(
        "m365_e5", "CFQ7TTC0LFLZ", "Microsoft 365 E5", "57.00",
        description="Microsoft 365 E3 plus Teams Phone, Audio Conferencing, Power BI Pro and Defender XDR.",
        services=M365_E5_SERVICES, max_quantity=10000,
    ),
    _product(
        "m365_e5_calling", "CFQ7TTC0LFK3", "Microsoft 365 E5 with Calling Minutes", "69.00",
        description="Microsoft 365 E5 with a domestic calling plan: 3,000 pooled minutes per license per "
                    "month; calls beyond them are charged as overage.",
        services=M365_E5_SERVICES + ["CallingPlanDomestic"], max_quantity=10000, overage=True,
        minutes=(3000, 0, 0),
    ),
    _product(
        "exchange_p1", "CFQ7TTC0LH16", "Exchange Online (Plan 1)", "4.00",
        description="Business email with a 50 GB mailbox.",
        services=["Exchange"], max_quantity=10000,
    ),
    _product(
        "teams_phone", "CFQ7TTC0LH1G", "Microsoft Teams Phone Standard", "8.00",
        description="Add-on: cloud phone system for Teams. Needs Office 365 E1/E3 or Microsoft 365 Business.",
        services=["TeamsPhone"], terms=NO_TRIENNIAL, max_quantity=10000,
        prerequisites=["o365_e1", "o365_e3", "m365_e3"] + BUSINESS_PLANS,
    ),
    _product(
        "teams_domestic", "CFQ7TTC0LH1C", "Microsoft Teams Domestic Calling Plan", "12.00",
        description="Add-on: 3,000 domestic minutes per license per month, pooled; beyond them calls are "
                    "charged as overage. Needs Teams Phone Standard or an E5.",
        services=["CallingPlanDomestic"], terms=NO_TRIENNIAL, max_quantity=10000, overage=True,
        prerequisites=TEAMS_PHONE_HOSTS, minutes=(3000, 0, 0),
    ),
    _product(
        "teams_international", "CFQ7TTC0LH1D", "Microsoft Teams Domestic and International Calling Plan", "24.00",
        description="Add-on: 3,000 domestic and 600 international minutes per license per month, pooled. "
                    "Needs Teams Phone Standard or an E5.",
        services=["CallingPlanDomestic", "CallingPlanInternational"], terms=NO_TRIENNIAL, max_quantity=10000,
        overage=True, prerequisites=TEAMS_PHONE_HOSTS, minutes=(3000, 600, 0),
    ),
    _product(
        "teams_payg", "CFQ7TTC0LH1P", "Microsoft Teams Calling Plan pay-as-you-go", "4.00",
        description="Add-on: unlimited inbound calls; every outbound minute is charged as overage. "
                    "Needs Teams Phone Standard or an E5.",
        services=["CallingPlanPayAsYouGo"], terms=NO_TRIENNIAL, max_quantity=10000, overage=True,
        prerequisites=TEAMS_PHONE_HOSTS,
    ),
    _product(
        "teams_phone_calling", "CFQ7TTC0LH1H", "Microsoft Teams Phone with Calling Plan", "15.00",
        description="Teams Phone Standard with a domestic calling plan: 3,000 pooled minutes per license per "
                    "month; calls beyond them are charged as overage.",
        services=["TeamsPhone", "CallingPlanDomestic"], terms=NO_TRIENNIAL, max_quantity=10000, overage=True,
        minutes=(3000, 0, 0),
    ),
    _product(
        "audio_conferencing", "CFQ7TTC0LH1J", "Microsoft Teams Audio Conferencing with dial-out", "4.00",
        description="Add-on: dial-in numbers for meetings and 60 dial-out minutes per license per month; "
                    "beyond them dial-out is charged as overage.",
        services=["AudioConferencing"], terms=NO_TRIENNIAL, max_quantity=10000, overage=True,
        prerequisites=["o365_e1", "o365_e3", "m365_e3"] + E5_PLANS + BUSINESS_PLANS, minutes=(0, 0, 60),
    ),
    _product(
        "extra_storage", "CFQ7TTC0LH0Z", "Office 365 Extra File Storage", "0.20",
        description="Add-on: 1 GB of extra SharePoint storage per unit, per month.",
        services=["ExtraFileStorage"], terms=[("P1M", "monthly"), ("P1Y", "monthly"), ("P1Y", "annual")],
        max_quantity=1000000, prerequisites=OFFICE_PLANS,
    ),
]

AZURE_PLAN = {
    "key": "azure_plan",
    "product_id": "DZH318Z0BPS6",
    "sku_id": "0001",
    "title": "Microsoft Azure plan",
    "description": "The no-cost Azure plan: Azure subscriptions under it are billed for what they consume.",
    "product_type": "Azure",
}
