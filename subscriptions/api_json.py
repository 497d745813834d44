"""Carts, orders and subscriptions as Partner Center writes them (PARTNER-CENTER.md §4, §6):
the serialisers of ``subscriptions/api.py``, and the formats they share with its operations.

Each serialiser says which relations it needs loaded; ``subscriptions/api_lookups.py`` loads
them. ``subscription_json`` builds a ``SubscriptionOut``, so the subscription's fields are
named once, by the schema.
"""

import datetime
import uuid

from portal.api import attributes, link
from subscriptions.api_schemas import SubscriptionOut
from subscriptions.windows import can_cancel, cancellation_deadline, refundable_batches

TRANSACTION_RESELLER = "TransactionReseller"


# --- Formats ------------------------------------------------------------------------------


def _day(value):
    """A date as Partner Center writes it in a resource: midnight UTC."""
    return f"{value.isoformat()}T00:00:00Z" if value else None


def _instant(value):
    return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z") if value else None


def _cycle(value):
    return str(value or "").strip().lower()


def _term(value):
    return str(value or "").strip().upper()


def _uuid_or_none(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


# --- Serialisers --------------------------------------------------------------------------


def _participants(reseller):
    return [{"key": TRANSACTION_RESELLER, "value": reseller.mpn_id}] if reseller else []


def cart_json(cart):
    """Needs ``customer``, ``reseller``, ``created_by`` and the lines with their
    availability's SKU loaded (see ``_carts``)."""
    tenant_id = str(cart.customer.tenant_id)
    currency = cart.customer.currency
    participants = _participants(cart.reseller)
    line_items = []
    for line in cart.lines.all():
        item = {
            "id": line.line_number,
            "catalogItemId": line.availability.catalog_item_id,
            "quantity": line.quantity,
            "termDuration": line.term_duration,
            "billingCycle": line.billing_cycle,
            "customTermEndDate": _day(line.custom_term_end_date),
            "friendlyName": line.friendly_name or None,
            "currencyCode": currency,
            "participants": participants,
        }
        if line.error_code is not None:
            item["error"] = {"errorCode": line.error_code, "errorDescription": line.error_description}
        line_items.append(item)
    # The model keeps the cart's creator only; a later PUT by someone else is in the audit log.
    user = cart.created_by
    return {
        "id": str(cart.pk),
        "creationTimestamp": _instant(cart.created_at),
        "lastModifiedTimestamp": _instant(cart.updated_at),
        "expirationTimestamp": _instant(cart.expires_at),
        "lastModifiedUser": (user.email or user.username) if user else None,
        "status": cart.status,
        "lineItems": line_items,
        "links": {"self": link(f"/customers/{tenant_id}/carts/{cart.pk}")},
        "attributes": attributes("Cart"),
    }


def order_json(order):
    """An order in Partner Center's shape: one line per cart line, each with the
    subscription it created (checkout creates them in line order, with one license each)."""
    tenant_id = str(order.customer.tenant_id)
    lines = list(order.cart.lines.select_related("availability__sku").order_by("line_number"))
    subscription_ids = list(order.subscriptions.order_by("license_id", "purchased_at").values_list("pk", flat=True))
    partner_on_record = order.reseller.mpn_id if order.reseller_id else None
    line_items = [
        {
            "lineItemNumber": line.line_number,
            "offerId": line.availability.catalog_item_id,
            "subscriptionId": str(subscription_ids[n]) if n < len(subscription_ids) else None,
            "termDuration": line.term_duration,
            "transactionType": "New",
            "friendlyName": line.friendly_name,
            "quantity": line.quantity,
            "partnerIdOnRecord": partner_on_record,
        }
        for n, line in enumerate(lines)
    ]
    return {
        "id": str(order.pk),
        # Partner Center's alternate id is a short form of the order id.
        "alternateId": order.pk.hex[:12],
        "referenceCustomerId": tenant_id,
        "billingCycle": lines[0].billing_cycle if lines else "",
        "currencyCode": order.currency,
        "lineItems": line_items,
        "creationDate": _instant(order.created_at),
        "status": "completed",
        "transactionType": "UserPurchase",
        "links": {"self": link(f"/customers/{tenant_id}/orders/{order.pk}")},
        "attributes": attributes("Order"),
    }


def _next_term_json(subscription):
    if not any(
        (
            subscription.next_term_quantity,
            subscription.next_term_duration,
            subscription.next_term_billing_cycle,
            subscription.next_term_end_date,
        )
    ):
        return None
    sku = subscription.sku
    return {
        "product": {
            "productId": sku.product_id,
            "skuId": sku.sku_id,
            "availabilityId": subscription.availability.availability_id if subscription.availability_id else None,
            "billingCycle": subscription.next_term_billing_cycle or subscription.billing_cycle,
            "termDuration": subscription.next_term_duration or subscription.term_duration,
        },
        "quantity": subscription.next_term_quantity or subscription.quantity,
        "customTermEndDate": _day(subscription.next_term_end_date),
    }


def subscription_json(subscription, now):
    """The subscription as a ``SubscriptionOut`` (every field of the schema, by keyword: one
    missing is an error here, not a silent gap in the API). Needs ``customer``, ``reseller``,
    ``sku__product``, ``availability__sku`` and the ``seat_changes`` (in order) loaded: see
    ``subscriptions.api_lookups._subscriptions``."""
    tenant_id = str(subscription.customer.tenant_id)
    batches = refundable_batches(subscription, now, seat_changes=list(subscription.seat_changes.all()))
    product = subscription.sku.product
    return SubscriptionOut(
        id=str(subscription.pk),
        offerId=subscription.offer_id,
        offerName=subscription.sku.title,
        friendlyName=subscription.friendly_name,
        quantity=subscription.quantity,
        unitType="Licenses",
        status=subscription.status,
        termDuration=subscription.term_duration,
        billingCycle=subscription.billing_cycle,
        effectiveStartDate=_day(subscription.start_date),
        commitmentEndDate=_day(subscription.commitment_end_date),
        creationDate=_instant(subscription.purchased_at),
        autoRenewEnabled=subscription.auto_renew_enabled,
        consumptionType=subscription.consumption_type or None,
        refundableQuantity={
            "totalQuantity": sum(b.quantity for b in batches),
            "details": [{"quantity": b.quantity, "allowedUntilDateTime": _instant(b.allowed_until)} for b in batches],
        },
        cancellationAllowedUntilDate=(
            _instant(cancellation_deadline(subscription)) if can_cancel(subscription, now) else None
        ),
        scheduledNextTermInstructions=_next_term_json(subscription),
        partnerId=subscription.reseller.mpn_id if subscription.reseller_id else None,
        isTrial=False,
        productType={"id": product.product_type, "displayName": product.product_type},
        links={"self": link(f"/customers/{tenant_id}/subscriptions/{subscription.pk}")},
        attributes=attributes("Subscription") | {"etag": etag(subscription)},
    )


def etag(subscription):
    """The subscription's ETag: its version, quoted (a strong validator)."""
    return f'"{subscription.version}"'
