"""Carts, orders, subscriptions, their seat history and charge events.

Each cart line checked out becomes one new, independent subscription: an add-on is never
attached to its base (SPEC §3). Seat changes and charge events are append-only; a
subscription's ``quantity`` is the running total kept in step by the services.

One module per part; every model and choice is imported from here (``subscriptions.models``).
"""

from subscriptions.models.carts import Cart, CartLine, CartQuerySet, CartStatus, Order, OrderQuerySet
from subscriptions.models.history import (
    ChargeEvent,
    ChargeEventQuerySet,
    ChargeType,
    SeatChange,
    SeatChangeKind,
    SeatChangeQuerySet,
)
from subscriptions.models.instalments import MonthlyInstalmentTotal, MonthlyInstalmentTotalQuerySet
from subscriptions.models.removal import (
    REMOVAL_REQUEST_TRANSITIONS,
    AddonRemovalRequest,
    AddonRemovalRequestQuerySet,
    RemovalRequestStatus,
)
from subscriptions.models.subscription import (
    SUBSCRIPTION_TRANSITIONS,
    Subscription,
    SubscriptionQuerySet,
    SubscriptionStatus,
)

__all__ = [
    "REMOVAL_REQUEST_TRANSITIONS",
    "SUBSCRIPTION_TRANSITIONS",
    "AddonRemovalRequest",
    "AddonRemovalRequestQuerySet",
    "Cart",
    "CartLine",
    "CartQuerySet",
    "CartStatus",
    "ChargeEvent",
    "ChargeEventQuerySet",
    "ChargeType",
    "MonthlyInstalmentTotal",
    "MonthlyInstalmentTotalQuerySet",
    "Order",
    "OrderQuerySet",
    "RemovalRequestStatus",
    "SeatChange",
    "SeatChangeKind",
    "SeatChangeQuerySet",
    "Subscription",
    "SubscriptionQuerySet",
    "SubscriptionStatus",
]
