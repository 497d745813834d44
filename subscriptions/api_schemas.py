"""The request and response shapes of the carts, checkout and subscriptions API
(``subscriptions/api.py``), in Partner Center's field names (PARTNER-CENTER.md §4, §6).

Request shapes accept what Partner Center accepts (codes in any letter case) and leave the
checks with Partner Center's messages to the operations; response shapes document what the
serialisers of ``subscriptions/api_json.py`` build.
"""

import uuid

from ninja import Schema
from pydantic import Field, StrictBool, StrictInt

from catalog.models import BillingCycle, TermDuration
from portal.api import AttributesOut, InputSchema, IsoDate, LinkOut, any_case, collection_schema, documented
from subscriptions import errors

# Partner Center's REST docs spell the participant type in snake case too.
TRANSACTION_RESELLER_KEYS = ("transactionreseller", "transaction_reseller")
# What a PATCH may set ``status`` to: cancel, suspend, reactivate.
PATCHABLE_STATUSES = ("active", "suspended", "deleted")


# --- Request shapes -----------------------------------------------------------------------


# What each code field accepts, for the schema; the operation checks it with PC's messages.
CATALOG_ITEM_ID_PATTERN = r"^\s*[A-Za-z0-9]{12}:[A-Za-z0-9]{4}:[A-Za-z0-9]{1,12}\s*$"
TERM_PATTERN = any_case(*TermDuration.values)
CYCLE_PATTERN = any_case(BillingCycle.MONTHLY, BillingCycle.ANNUAL, BillingCycle.TRIENNIAL)
TERM_TEXT = documented(pattern=TERM_PATTERN, description="P1M, P1Y or P3Y (any letter case).")
CYCLE_TEXT = documented(pattern=CYCLE_PATTERN, description="monthly, annual or triennial (any letter case).")
SEATS = documented(StrictInt, minimum=1)


class ParticipantIn(InputSchema):
    key: documented(pattern=any_case(*TRANSACTION_RESELLER_KEYS), description="TransactionReseller.")
    value: str = Field(..., description="The MPN id of your indirect reseller.")


class CartLineIn(InputSchema):
    catalogItemId: documented(pattern=CATALOG_ITEM_ID_PATTERN, description="productId:skuId:availabilityId.")
    # Strict: "5" or 2.5 is bad input, not five seats or two.
    quantity: documented(StrictInt, minimum=1, maximum=errors.MAX_LINE_QUANTITY)
    termDuration: TERM_TEXT
    billingCycle: CYCLE_TEXT
    customTermEndDate: IsoDate | None = None
    friendlyName: str | None = Field(None, max_length=errors.FRIENDLY_NAME_MAX_LENGTH)
    participants: list[ParticipantIn] = []


class CartIn(InputSchema):
    lineItems: list[CartLineIn] = Field(..., min_length=1)


class NextTermProductIn(InputSchema):
    # Empty means "no change", like a missing field.
    termDuration: documented(pattern=any_case(*TermDuration.values, optional=True)) | None = None
    billingCycle: documented(
        pattern=any_case(BillingCycle.MONTHLY, BillingCycle.ANNUAL, BillingCycle.TRIENNIAL, optional=True)
    ) | None = None


class NextTermIn(InputSchema):
    quantity: SEATS | None = None
    product: NextTermProductIn | None = None
    customTermEndDate: IsoDate | None = None


class SubscriptionPatchIn(InputSchema):
    """Any of these; other fields of a full Subscription resource sent back are ignored."""

    quantity: SEATS | None = None
    autoRenewEnabled: StrictBool | None = None
    status: documented(pattern=any_case(*PATCHABLE_STATUSES), description="active, suspended or deleted.") | None = None
    friendlyName: str | None = Field(None, max_length=errors.FRIENDLY_NAME_MAX_LENGTH)
    scheduledNextTermInstructions: NextTermIn | None = None


class CustomTermEndDatesQuery(Schema):
    term_duration: TERM_TEXT
    term_start_date: IsoDate | None = None
    target_coterm_subscription_id: uuid.UUID | None = None


# --- Response shapes ----------------------------------------------------------------------


class SelfLinksOut(Schema):
    self: LinkOut


class CartErrorOut(Schema):
    errorCode: int
    errorDescription: str


class ParticipantOut(Schema):
    key: str
    value: str


class CartLineOut(Schema):
    id: int
    catalogItemId: str
    quantity: int
    termDuration: str
    billingCycle: str
    customTermEndDate: str | None = None
    friendlyName: str | None = None
    currencyCode: str
    participants: list[ParticipantOut]
    error: CartErrorOut | None = None


class CartOut(Schema):
    id: str
    creationTimestamp: str
    lastModifiedTimestamp: str
    expirationTimestamp: str
    lastModifiedUser: str | None = None
    status: str
    lineItems: list[CartLineOut]
    links: SelfLinksOut
    attributes: AttributesOut


class OrderLineOut(Schema):
    lineItemNumber: int
    offerId: str
    subscriptionId: str | None = None
    termDuration: str
    transactionType: str
    friendlyName: str
    quantity: int
    partnerIdOnRecord: str | None = None


class OrderOut(Schema):
    id: str
    alternateId: str
    referenceCustomerId: str
    billingCycle: str
    currencyCode: str
    lineItems: list[OrderLineOut]
    creationDate: str
    status: str
    transactionType: str
    links: SelfLinksOut
    attributes: AttributesOut


class OrderErrorOut(Schema):
    orderGroupId: str
    code: int
    description: str
    lineItemNumber: int | None = None


class CheckoutResultOut(Schema):
    orders: list[OrderOut]
    orderErrors: list[OrderErrorOut]
    attributes: AttributesOut


class RefundDetailOut(Schema):
    quantity: int
    allowedUntilDateTime: str


class RefundableQuantityOut(Schema):
    totalQuantity: int
    details: list[RefundDetailOut]


class NextTermProductOut(Schema):
    productId: str
    skuId: str
    availabilityId: str | None
    billingCycle: str
    termDuration: str


class NextTermOut(Schema):
    product: NextTermProductOut
    quantity: int
    customTermEndDate: str | None


class ProductTypeOut(Schema):
    id: str
    displayName: str


class SubscriptionAttributesOut(Schema):
    objectType: str
    etag: str


class SubscriptionOut(Schema):
    id: str
    offerId: str
    offerName: str
    friendlyName: str
    quantity: int
    unitType: str
    status: str
    termDuration: str
    billingCycle: str
    effectiveStartDate: str
    commitmentEndDate: str
    creationDate: str
    autoRenewEnabled: bool
    consumptionType: str | None
    refundableQuantity: RefundableQuantityOut
    cancellationAllowedUntilDate: str | None
    scheduledNextTermInstructions: NextTermOut | None
    partnerId: str | None
    isTrial: bool
    productType: ProductTypeOut
    links: SelfLinksOut
    attributes: SubscriptionAttributesOut


class CustomTermEndDateOut(Schema):
    allowedCustomTermEndDateType: str
    allowedCustomTermEndDate: str
    cotermSubscriptionIds: list[str]


SubscriptionCollectionOut = collection_schema(SubscriptionOut)
CustomTermEndDateCollectionOut = collection_schema(CustomTermEndDateOut)
