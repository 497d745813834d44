"""``{% overage_state customer as ov %}``: the overage state of a customer for the current
member, so the Manage overage button and badge can be included on any page (customer page,
Subscriptions page) without that page's view knowing about overage."""

from django import template

from overage.selectors import overage_state as compute_overage_state

register = template.Library()


@register.simple_tag(takes_context=True)
def overage_state(context, customer):
    """Computed once per request and customer: the badge, the button and the warning of one
    page share it."""
    request = context.get("request")
    membership = getattr(request, "membership", None)
    if membership is None or customer is None:
        return None
    cache = request.__dict__.setdefault("_overage_states", {})
    if customer.pk not in cache:
        cache[customer.pk] = compute_overage_state(customer=customer, membership=membership)
    return cache[customer.pk]
