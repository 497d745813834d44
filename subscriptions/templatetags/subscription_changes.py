"""Template tags for the term and offer changes shown on the subscription page.

The subscription page's view does not compute the redundant add-on's removal deadline, so
the page asks for it here, scoped to the request's partner like the removal page itself.
"""

from django import template

from subscriptions.change_views import removal_state

register = template.Library()


@register.simple_tag(takes_context=True)
def subscription_removal_state(context, subscription):
    """``removal_state`` for the request's partner: ``None`` unless the add-on is redundant
    (so a page of ordinary subscriptions spends no query on it)."""
    request = context.get("request")
    if request is None or getattr(request, "partner", None) is None or subscription.redundant_since is None:
        return None
    return removal_state(request.partner, subscription)
