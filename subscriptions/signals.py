"""Signals of the subscriptions app, for the apps above it (overage, billing) to react to
purchases without this app importing them."""

from django.dispatch import Signal

# Sent by checkout inside its transaction, once per order:
# ``subscriptions_purchased.send(sender=Order, order=order, subscriptions=[Subscription, ...])``.
subscriptions_purchased = Signal()
