"""``/v1/customers``: the caller's customers in Partner Center's Customer shape.

Scoped by ``Customer.objects.transacted_by``: an indirect provider sees its resellers'
customers, a reseller only its own; anyone else's tenant id is 404, like an unknown one.
"""

from ninja import Router, Schema

from portal import permissions
from portal.api import (
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
from portal.models import Customer

router = Router(tags=["customers"])


class CompanyProfileOut(Schema):
    tenantId: str
    domain: str
    companyName: str


class AddressOut(Schema):
    country: str


class BillingProfileOut(Schema):
    defaultAddress: AddressOut


class CustomerLinksOut(Schema):
    self: LinkOut


class CustomerOut(Schema):
    id: str
    companyProfile: CompanyProfileOut
    billingProfile: BillingProfileOut
    relationshipToPartner: str
    links: CustomerLinksOut
    attributes: AttributesOut


CustomerCollectionOut = collection_schema(CustomerOut)


def customer_json(customer):
    tenant_id = str(customer.tenant_id)
    return {
        "id": tenant_id,
        "companyProfile": {"tenantId": tenant_id, "domain": customer.domain, "companyName": customer.name},
        "billingProfile": {"defaultAddress": {"country": customer.country}},
        # Partner Center's value for a customer the partner transacts for (or resells to).
        "relationshipToPartner": "reseller",
        "links": {"self": link(f"/customers/{tenant_id}")},
        "attributes": attributes("Customer"),
    }


@router.get("", response=responses(CustomerCollectionOut), summary="List your customers")
def list_customers(request):
    require(request, permissions.VIEW)
    customers = Customer.objects.transacted_by(request.partner).order_by("name", "pk")
    return collection(customer_json(c) for c in customers)


@router.get("/{tenant_id}", response=responses(CustomerOut), summary="Get one of your customers")
def get_customer(request, tenant_id: str):
    require(request, permissions.VIEW)
    return customer_json(customer_or_404(request, tenant_id))
