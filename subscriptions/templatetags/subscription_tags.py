"""Tags for rows of subscriptions, rendered 25 at a time on the list: cheaper than an
``{% include %}`` or a ``{% url %}`` per row (the list's first page has a 60 ms budget)."""

from django import template
from django.urls import get_script_prefix, reverse
from django.utils.html import format_html

register = template.Library()

STATUS_BADGE_CLASSES = {
    "active": "text-bg-success",
    "suspended": "text-bg-warning",
    "deleted": "text-bg-danger",
    "pending": "text-bg-info",
}
_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"
_url_templates = {}


@register.simple_tag
def status_badge(subscription):
    """The subscription's status as a coloured badge."""
    css = STATUS_BADGE_CLASSES.get(subscription.status, "text-bg-secondary")
    return format_html('<span class="badge {}">{}</span>', css, subscription.get_status_display())


@register.simple_tag
def url_for_id(view_name, object_id):
    """``{% url view_name object_id %}`` for a view taking one UUID: reversed once per view
    name (and script prefix) with a placeholder, then the id put in its place."""
    key = (view_name, get_script_prefix())
    pattern = _url_templates.get(key)
    if pattern is None:
        pattern = _url_templates[key] = reverse(view_name, args=[_PLACEHOLDER])
    return pattern.replace(_PLACEHOLDER, str(object_id))
