"""The one HTMX convention (issue 14 item 5, ``portal/htmx.py``) and flyouts as plain pages
(issue 13 defect 1).

- Every flyout URL (found in the templates: whatever ``hx-get``s into ``#flyout-body``) is a
  fragment for HTMX and a full page without it.
- A refusal answers 422 (409 when the form was overtaken) with the form again; to HTMX it is
  retargeted into the flyout with django-htmx's helpers; ``base.html``'s ``responseHandling``
  swaps exactly these statuses. A success to HTMX fires events; without HTMX it is a 303.
- No view writes an ``HX-*`` header by hand; no template has an inline script or handler.
"""

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from overage.models import OverageSetting
from portal.htmx import CONFLICT, FLYOUT, REFUSED
from portal.models import Role
from subscriptions.services.lifecycle import QUANTITY_BELOW_MIN
from tests.factories import (
    AzurePlanFactory,
    AzureSubscriptionFactory,
    CartFactory,
    SkuFactory,
    SubscriptionFactory,
)

ROOT = Path(settings.BASE_DIR)
HTMX = {"HTTP_HX_REQUEST": "true"}
TEMPLATES = sorted(p for p in ROOT.glob("**/templates/**/*.html") if ".venv" not in p.parts)
# The change pages are linked from the actions flyout and have their own ``panel`` partial.
LINKED_FROM_FLYOUTS = {
    "subscriptions:subscription_align",
    "subscriptions:subscription_upgrade",
    "subscriptions:subscription_removal_request",
}
# hx-get values that are not a {% url %} tag, and the route they are built from.
BUILT_IN_VIEWS = {
    "{{ sku.prerequisites_url }}": "catalog:addon_prerequisites",
    "{{ item.action_url }}": "overage:manage",  # the dashboard's flyout items (dashboard/items.py)
}


def _flyout_url_names():
    """The route of every element that loads into the shared flyout."""
    names = set()
    for path in TEMPLATES:
        for tag in re.findall(r"<[a-z]+\b[^>]*hx-target=\"#flyout-body\"[^>]*>", path.read_text(), re.S):
            got = re.search(r'hx-get="([^"]*)"', tag)
            if got is None:
                continue
            value = got.group(1)
            named = re.search(r"{% (?:url|url_for_id) '([^']+)'", value)
            assert named or value in BUILT_IN_VIEWS, f"{path}: unknown flyout source {value!r}"
            names.add(named.group(1) if named else BUILT_IN_VIEWS[value])
    return names


def _route_parameters():
    """``{"namespace:name": [parameter, …]}`` from the resolver."""
    found = {}

    def walk(patterns, namespace):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
                walk(entry.url_patterns, inner)
            elif isinstance(entry, URLPattern) and entry.name:
                found[f"{namespace}{entry.name}"] = list(entry.pattern.converters)

    walk(get_resolver().url_patterns, "")
    return found


FLYOUTS = sorted(_flyout_url_names() | LINKED_FROM_FLYOUTS)


def test_the_flyouts_are_found_in_the_templates():
    assert {"overage:manage", "subscriptions:subscription_actions", "subscriptions:cart_checkout",
            "catalog:addon_prerequisites"} <= set(FLYOUTS)


@pytest.fixture
def world(partner_a, customer_of):
    customer = customer_of(partner_a)
    subscription = SubscriptionFactory(partner=partner_a, customer=customer, sku=SkuFactory(min_quantity=2))
    sku = SkuFactory()
    return {
        "tenant_id": customer.tenant_id,
        "subscription_id": subscription.pk,
        "cart_id": CartFactory(partner=partner_a, customer=customer).pk,
        "product_id": sku.product_id,
        "sku_id": sku.sku_id,
        "customer": customer,
        "subscription": subscription,
    }


@pytest.mark.parametrize("name", FLYOUTS)
def test_every_flyout_url_is_a_fragment_for_htmx_and_a_full_page_without(make_member, partner_a, world, name):
    parameters = _route_parameters()[name]
    url = reverse(name, kwargs={key: world[key] for key in parameters})
    client = make_member(partner_a)
    page = client.get(url)
    assert page.status_code == 200, url
    assert "<html" in page.content.decode() and 'id="flyout-body"' in page.content.decode()
    fragment = client.get(url, **HTMX)
    assert fragment.status_code == 200, url
    assert "<html" not in fragment.content.decode()


# --- refusals: status and headers per flyout ------------------------------------------------


@pytest.fixture
def overage_customer(world, partner_a):
    from catalog.models import ConsumptionType

    customer = world["customer"]
    SubscriptionFactory(partner=partner_a, customer=customer, sku=SkuFactory(consumption_type=ConsumptionType.OVERAGE))
    AzureSubscriptionFactory(plan=AzurePlanFactory(customer=customer, partner=partner_a), number=1)
    OverageSetting.objects.create(customer=customer, owner=partner_a, enabled=False)
    return customer


def _is_retargeted_refusal(response, status=REFUSED):
    return (response.status_code, response.get("HX-Retarget"), response.get("HX-Reswap")) == (
        status, FLYOUT, "innerHTML"
    )


def test_overage_flyout_refusal_and_success(make_member, partner_a, overage_customer):
    client = make_member(partner_a)
    url = reverse("overage:manage", args=[overage_customer.tenant_id])
    refused = client.post(url, {"target": "not-a-guid", "seen": ""}, **HTMX)
    assert _is_retargeted_refusal(refused)
    assert 'data-testid="overage-error"' in refused.content.decode()
    plain = client.post(url, {"target": "not-a-guid", "seen": ""})
    assert plain.status_code == REFUSED and "<html" in plain.content.decode()
    assert "HX-Retarget" not in plain

    done = client.post(url, {"target": "none", "seen": ""}, **HTMX)
    assert done.status_code == 200
    assert set(json.loads(done["HX-Trigger"])) == {"overage-updated", "close-flyout"}
    assert client.post(url, {"target": "none", "seen": ""}).status_code == 303


def test_subscription_actions_refusal_conflict_and_success(make_member, partner_a, world):
    subscription = world["subscription"]
    client = make_member(partner_a, Role.ADMIN_AGENT)
    url = reverse("subscriptions:subscription_quantity", args=[subscription.pk])
    refused = client.post(url, {"quantity": "1"}, **HTMX)
    assert _is_retargeted_refusal(refused)
    assert str(QUANTITY_BELOW_MIN % {"min": 2}) in refused.content.decode()
    stale = client.post(url, {"quantity": "7", "version": subscription.version - 1 or 999}, **HTMX)
    assert _is_retargeted_refusal(stale, CONFLICT)

    done = client.post(url, {"quantity": "6", "version": subscription.version}, **HTMX)
    assert done.status_code == 200
    assert set(json.loads(done["HX-Trigger"])) == {"subscription-updated", "close-flyout"}
    assert "HX-Retarget" not in done


def test_change_page_refusal_in_the_flyout_and_as_a_page(make_member, partner_a, world):
    client = make_member(partner_a, Role.ADMIN_AGENT)
    url = reverse("subscriptions:subscription_upgrade", args=[world["subscription_id"]])
    assert _is_retargeted_refusal(client.post(url, {"target": "abc"}, **HTMX))
    plain = client.post(url, {"target": "abc"})
    assert plain.status_code == REFUSED and "<html" in plain.content.decode()


# --- the client side of the convention ------------------------------------------------------


def _htmx_config():
    base = (ROOT / "templates" / "base.html").read_text()
    return json.loads(re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", base).group(1))


def _swaps(status):
    """What htmx 2 does with a status: the first rule whose code (a regular expression,
    unanchored, as htmx tests it) matches."""
    for rule in _htmx_config()["responseHandling"]:
        if re.search(rule["code"], str(status)):
            return rule["swap"]
    return False


def test_htmx_swaps_refusals_and_nothing_else_of_4xx_5xx():
    assert _swaps(200) and _swaps(REFUSED) and _swaps(CONFLICT)
    assert not any(_swaps(status) for status in (204, 400, 403, 404, 405, 413, 429, 500, 503))


def test_portal_js_no_longer_patches_htmx_error_handling():
    script = (ROOT / "static" / "js" / "portal.js").read_text()
    assert "htmx:beforeSwap" not in script and "htmx:beforeOnLoad" not in script


def test_no_view_writes_an_htmx_header_by_hand():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in ROOT.glob("**/*.py")
        if not {".venv", "tests", "bench"} & set(path.relative_to(ROOT).parts)
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"""\[\s*["']HX-""", line)
    ]
    assert not offenders, "use django_htmx.http (retarget, reswap, trigger_client_event): " + ", ".join(offenders)


def test_templates_have_no_inline_script_or_event_handler():
    """The Content-Security-Policy refuses them; behaviour lives in static/js."""
    offenders = []
    for path in TEMPLATES:
        text = path.read_text()
        for script in re.findall(r"<script\b[^>]*>(.*?)</script>", text, re.S):
            if script.strip():
                offenders.append(f"{path.relative_to(ROOT)}: inline <script>")
        for tag in re.findall(r"<[a-zA-Z][^<>]*>", text):
            if re.search(r"\s(on[a-z]+|hx-on[:-][\w:-]*)\s*=", tag):
                offenders.append(f"{path.relative_to(ROOT)}: {tag[:80]}")
    assert not offenders, offenders
