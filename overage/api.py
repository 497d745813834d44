"""``/v1/customers/{tenantId}/subscriptions/overage`` and ``…/{planId}/azureEntitlements``
in Partner Center's shapes (SPEC §10).

Update overage answers the first failing check, in this order: 404 the customer is unknown or
not the caller's; 403 the caller's role or partner kind; 400 the body (``overageEnabled``
missing or not a JSON boolean, ``azureEntitlementId`` missing when enabling, a ``partnerId``
that is not a reseller of the caller); then ``overage_update``'s own order: 409 another
partner owns it, 400 no overage-capable subscription, 400 legacy Azure, 400 sandbox, 400 a
bad Azure subscription. The body is read by hand so that a bad body never hides a 404/403.

Mounted in ``config.api`` before the customers' and subscriptions' routers, so
``subscriptions/overage`` is never taken for a subscription id.
"""

import json
import uuid

from django.utils.translation import gettext_lazy as _
from ninja import Router, Schema

from overage import selectors, services
from overage.models import AzurePlan
from subscriptions.models import Subscription
from portal import permissions
from portal.api import (
    ApiError,
    ApiNotFound,
    AttributesOut,
    LinkOut,
    attributes,
    collection,
    collection_schema,
    customer_or_404,
    link,
    require,
    responses,
)
from portal.models import Partner

router = Router(tags=["overage"])

SERVICE = "PhoneServices"

BODY_NOT_OBJECT = _("The request body must be a JSON object with overageEnabled (and azureEntitlementId to enable).")
ENABLED_MISSING = _("overageEnabled is required: true to enable overage, false to switch it off.")
ENABLED_NOT_BOOLEAN = _("overageEnabled must be a JSON boolean (true or false), not %(value)s.")
ENTITLEMENT_MISSING = _("azureEntitlementId is required when overageEnabled is true: the GUID of an active Azure subscription of the customer.")
ENTITLEMENT_NOT_STRING = _("azureEntitlementId must be a string (a GUID).")
PARTNER_ID_NOT_STRING = _("partnerId must be a string (the MPN id of your indirect reseller).")
TYPE_NOT_PHONE_SERVICES = _("type can only be %(service)s (or left out).")
PLAN_NOT_FOUND = _("No Azure plan with subscription id %(plan_id)s for this customer.")


class OverageLinksOut(Schema):
    overage: LinkOut


class OverageOut(Schema):
    azureEntitlementId: str | None
    partnerId: str
    overageEnabled: bool
    type: str
    links: OverageLinksOut
    attributes: AttributesOut


# The Update overage body, as the operation reads it by hand (see the module): overageEnabled
# is required, and azureEntitlementId too when it is true. OpenAPI 3.1 says "required when"
# with if/then.
OVERAGE_IN_SCHEMA = {
    "title": "OverageIn",
    "type": "object",
    "properties": {
        "overageEnabled": {"type": "boolean", "description": "true to enable overage, false to switch it off (None)."},
        "azureEntitlementId": {
            "type": ["string", "null"],
            "description": (
                "The GUID of an active Azure subscription of the customer that receives overage: required when "
                "overageEnabled is true, ignored otherwise."
            ),
        },
        "partnerId": {
            "type": ["string", "null"],
            "description": "An indirect provider names the indirect reseller it acts for by its MPN id.",
        },
        # Any value: Partner Center's {tags, location} is accepted and ignored (the group is always M365).
        "azureResourceGroup": {
            "description": "Accepted for Partner Center compatibility and ignored: the resource group is always M365.",
        },
        "type": {"enum": [SERVICE, None], "description": f"{SERVICE}, the only overage service."},
    },
    "required": ["overageEnabled"],
    "if": {"properties": {"overageEnabled": {"const": True}}, "required": ["overageEnabled"]},
    "then": {
        "required": ["azureEntitlementId"],
        "properties": {"azureEntitlementId": {"type": "string", "pattern": r"\S"}},
    },
}


class AzureEntitlementOut(Schema):
    id: str
    friendlyName: str
    status: str
    subscriptionId: str
    attributes: AttributesOut


OverageCollectionOut = collection_schema(OverageOut)
AzureEntitlementCollectionOut = collection_schema(AzureEntitlementOut)


def overage_json(customer, setting):
    partner = setting.reseller or setting.owner
    return {
        "azureEntitlementId": str(setting.azure_subscription_id) if setting.enabled else None,
        "partnerId": partner.mpn_id,
        "overageEnabled": setting.enabled,
        "type": SERVICE,
        "links": {"overage": link(f"/customers/{customer.tenant_id}/subscriptions/overage")},
        "attributes": attributes("Overage"),
    }


def _visible_setting(customer, partner):
    """The setting when the caller owns it or is its reseller of record; another partner's
    setting is that partner's business (its Update answers 409)."""
    setting = selectors.overage_setting(customer)
    if setting is None or partner.pk not in (setting.owner_id, setting.reseller_id):
        return None
    return setting


@router.get(
    "/{tenant_id}/subscriptions/overage",
    response=responses(OverageCollectionOut),
    summary="Get the customer's overage setting",
)
def get_overage(request, tenant_id: str):
    customer = customer_or_404(request, tenant_id)
    require(request, permissions.VIEW)
    setting = _visible_setting(customer, request.partner)
    return collection([overage_json(customer, setting)] if setting else [])


def _parse_body(request):
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(description=BODY_NOT_OBJECT, data=[{"error": str(exc)}]) from None
    if not isinstance(body, dict):
        raise ApiError(description=BODY_NOT_OBJECT)
    if "overageEnabled" not in body or body["overageEnabled"] is None:
        raise ApiError(description=ENABLED_MISSING, data=[{"field": "overageEnabled"}])
    enabled = body["overageEnabled"]
    if not isinstance(enabled, bool):
        raise ApiError(
            description=ENABLED_NOT_BOOLEAN % {"value": json.dumps(enabled)}, data=[{"field": "overageEnabled"}]
        )
    entitlement = body.get("azureEntitlementId")
    if entitlement is not None and not isinstance(entitlement, str):
        raise ApiError(description=ENTITLEMENT_NOT_STRING, data=[{"field": "azureEntitlementId"}])
    if enabled and not (entitlement or "").strip():
        raise ApiError(description=ENTITLEMENT_MISSING, data=[{"field": "azureEntitlementId"}])
    partner_id = body.get("partnerId")
    if partner_id is not None and not isinstance(partner_id, str):
        raise ApiError(description=PARTNER_ID_NOT_STRING, data=[{"field": "partnerId"}])
    if body.get("type") not in (None, SERVICE):
        raise ApiError(description=TYPE_NOT_PHONE_SERVICES, params={"service": SERVICE}, data=[{"field": "type"}])
    return enabled, (entitlement or "").strip(), (partner_id or "").strip()


class _Verbatim:
    """An id passed to the service as text only (never mistaken for ``CREATE_NEW``)."""

    def __init__(self, text):
        self.text = text

    def __str__(self):
        return self.text


def _reseller(request, customer, partner_id):
    """The indirect reseller named by ``partnerId`` (the caller's own MPN id names no one);
    without one, the reseller of record of the caller's relationship with the customer."""
    partner = request.partner
    if not partner_id:
        return selectors.acting_reseller(customer=customer, partner=partner)
    if partner_id == partner.mpn_id:
        return None
    reseller = Partner.objects.resellers_of(partner).filter(mpn_id=partner_id).first()
    if reseller is None:
        raise ApiError(description=services.RESELLER_NOT_LINKED, params={"mpn": partner_id}, data=[{"field": "partnerId"}])
    return reseller


@router.put(
    "/{tenant_id}/subscriptions/overage",
    response=responses(OverageOut),
    summary="Update the customer's overage setting",
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": OVERAGE_IN_SCHEMA}},
            "required": True,
        }
    },
)
def put_overage(request, tenant_id: str):
    customer = customer_or_404(request, tenant_id)
    require(request, permissions.MANAGE_OVERAGE)
    enabled, entitlement, partner_id = _parse_body(request)
    reseller = _reseller(request, customer, partner_id)
    if entitlement == services.CREATE_NEW:
        # "new" is the flyout's Create new; the API names an existing Azure subscription, so
        # here it is just a malformed id, refused at its turn in the service's order.
        entitlement = _Verbatim(entitlement)
    setting = services.overage_update(
        customer=customer,
        partner=request.partner,
        acting_user=request.user,
        enabled=enabled,
        azure_subscription=entitlement or None,
        reseller=reseller,
        request_id=getattr(request, "request_id", ""),
    )
    return overage_json(customer, setting)


@router.get(
    "/{tenant_id}/subscriptions/{plan_id}/azureEntitlements",
    response=responses(AzureEntitlementCollectionOut),
    summary="List the Azure subscriptions (entitlements) of the customer's Azure plan",
)
def get_azure_entitlements(request, tenant_id: str, plan_id: str):
    customer = customer_or_404(request, tenant_id)
    require(request, permissions.VIEW)
    not_found = ApiNotFound(description=PLAN_NOT_FOUND % {"plan_id": plan_id})
    try:
        plan_uuid = uuid.UUID(plan_id)
    except ValueError:
        raise not_found from None
    plan = AzurePlan.objects.transacted_by(request.partner).filter(customer=customer, subscription_id=plan_uuid).first()
    if plan is None:
        raise not_found
    entitlements = plan.azure_subscriptions.transacted_by(request.partner).order_by("number")
    # The plan is the customer's; what is in it is each partner's own. A partner that neither
    # sees the plan's subscription nor has an Azure subscription in it gets the same 404.
    if not (Subscription.objects.transacted_by(request.partner).filter(pk=plan.subscription_id).exists() or entitlements):
        raise not_found
    return collection(
        {
            "id": str(az.pk),
            "friendlyName": az.friendly_name,
            "status": az.status,
            "subscriptionId": str(plan.subscription_id),
            "attributes": attributes("AzureEntitlement"),
        }
        for az in entitlements
    )

