"""The scoping sweep: every URL that takes an object id answers 404 to another partner.

The URL patterns are read from the resolver when the tests are collected, so a URL added
later is swept without anyone remembering to write its test. Each id kwarg is built from
``OBJECT_IDS``, the one map from kwarg name to "partner A's object"; a URL with a kwarg the map
does not know fails, telling the developer to add it.

The ``/v1/`` API is swept the same way, read from the same resolver: every method an API route
serves (from the ninja operations behind it), called with another partner's bearer token, must
answer 404 in Partner Center's error body, and the owner's token must not.

Skipped: Django admin (operator's staff see everything).
"""

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cached_property

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from config.api import api
from portal.models import Role
from portal.tokens import api_token_create
from subscriptions.models import CartStatus
from tests.factories import (
    ApiTokenFactory,
    BillingMonthFactory,
    AzurePlanFactory,
    AzureSubscriptionFactory,
    CartFactory,
    CartLineFactory,
    CreditAccountFactory,
    CustomerFactory,
    OrderFactory,
    OverageAssignmentFactory,
    OverageSettingFactory,
    OverageTransferFactory,
    PartnerFactory,
    RatedCallFactory,
    RatingRunFactory,
    ProviderFactory,
    ResellerFactory,
    SubscriptionFactory,
    UsageImportFactory,
    UsageRecordFactory,
)

ALL_ROLES = Role.values
SKIPPED_NAMESPACES = {"admin"}
SKIPPED_PREFIXES = ("admin/",)
API_PREFIX = "v1/"
# What the owner's own GET may answer: a page, a redirect, or 405 for a POST-only endpoint.
OWNER_GET_OK = {200, 204, 301, 302, 303, 405}


class World:
    """One partner's objects (with a reseller of record for an indirect sale), built on first
    use so each URL builds only what it names, all around the same customer."""

    def __init__(self, partner, reseller=None, user=None):
        self.partner = partner
        self.reseller = reseller
        self.user = user  # the owner's logged-in member, for per-user objects (API tokens)

    @cached_property
    def customer(self):
        return CustomerFactory(partner=self.partner, reseller=self.reseller)

    @cached_property
    def subscription(self):
        return SubscriptionFactory(partner=self.partner, reseller=self.reseller, customer=self.customer)

    @cached_property
    def cart(self):
        return CartFactory(partner=self.partner, reseller=self.reseller, customer=self.customer)

    @cached_property
    def cart_line(self):
        return CartLineFactory(cart=self.cart, availability=self.subscription.availability)

    @cached_property
    def order(self):
        cart = CartFactory(
            partner=self.partner, reseller=self.reseller, customer=self.customer, status=CartStatus.ORDERED
        )
        return OrderFactory(cart=cart)

    @cached_property
    def azure_plan(self):
        # With its own subscription row: the API names a plan by that subscription's id.
        plan_subscription = SubscriptionFactory(partner=self.partner, reseller=self.reseller, customer=self.customer)
        return AzurePlanFactory(customer=self.customer, partner=self.partner, subscription=plan_subscription)

    @cached_property
    def azure_subscription(self):
        return AzureSubscriptionFactory(plan=self.azure_plan)

    @cached_property
    def overage_setting(self):
        return OverageSettingFactory(
            customer=self.customer,
            owner=self.partner,
            reseller=self.reseller,
            azure_subscription=self.azure_subscription,
            enabled=True,
        )

    @cached_property
    def overage_assignment(self):
        return OverageAssignmentFactory(
            customer=self.customer, partner=self.partner, reseller=self.reseller,
            azure_subscription=self.azure_subscription,
        )

    @cached_property
    def overage_transfer(self):
        return OverageTransferFactory(customer=self.customer, from_partner=self.partner, to_partner=PartnerFactory())

    @cached_property
    def credit_account(self):
        return CreditAccountFactory(customer=self.customer)

    @cached_property
    def usage_import(self):
        return UsageImportFactory(partner=self.partner)

    @cached_property
    def api_token(self):
        return ApiTokenFactory(user=self.user)

    @cached_property
    def usage_line(self):
        """A usage line of September 2026 (the sweep's ``month``): one published post-paid call."""
        call = RatedCallFactory(
            billing_month=BillingMonthFactory(month=date(2026, 9, 1)),
            usage_record=UsageRecordFactory(customer=self.customer, started_at=datetime(2026, 9, 3, tzinfo=UTC)),
            minutes=3, pool_minutes=0, billable_minutes=3, postpaid_minutes=3, unit_price=Decimal("0.02"),
            amount=Decimal("0.06"), postpaid_amount=Decimal("0.06"), azure_subscription=self.azure_subscription,
            partner=self.partner, reseller=self.reseller, status="postpaid",
        )
        return "~".join([str(self.customer.tenant_id), str(call.azure_subscription_id), "US", "landline", "0.02",
                         "2026-09-01"])


@dataclass(frozen=True)
class Owned:
    """An id of an object that belongs to the partner: another partner must get 404."""

    build: object


@dataclass(frozen=True)
class Public:
    """An id of something every partner may see (the catalog) or that is scoped only through
    another kwarg of the same URL (a cart line number inside a cart)."""

    build: object


@dataclass(frozen=True)
class StaffOnly:
    """An id used only by the operator's staff pages (rating runs): no partner user may reach
    the URL at all, which the sweep checks instead of a 404."""

    build: object


# THE map: URL kwarg name → partner A's object id. Key a URL-specific entry as
# "namespace:url_name.kwarg" when a name is ambiguous (``pk``); better, name the kwarg.
OBJECT_IDS = {
    "tenant_id": Owned(lambda w: w.customer.tenant_id),
    "customer_id": Owned(lambda w: w.customer.pk),
    "subscription_id": Owned(lambda w: w.subscription.pk),
    "cart_id": Owned(lambda w: w.cart.pk),
    "line_id": Owned(lambda w: w.cart_line.pk),
    "line_number": Public(lambda w: w.cart_line.line_number),
    "order_id": Owned(lambda w: w.order.pk),
    "plan_id": Owned(lambda w: w.azure_plan.pk),
    "azure_plan_id": Owned(lambda w: w.azure_plan.pk),
    # The API names the Azure plan by its subscription's id (it is listed among subscriptions).
    "v1:get_azure_entitlements.plan_id": Owned(lambda w: w.azure_plan.subscription_id),
    "azure_subscription_id": Owned(lambda w: w.azure_subscription.pk),
    "entitlement_id": Owned(lambda w: w.azure_subscription.pk),
    "overage_setting_id": Owned(lambda w: w.overage_setting.pk),
    "assignment_id": Owned(lambda w: w.overage_assignment.pk),
    "transfer_id": Owned(lambda w: w.overage_transfer.pk),
    "credit_account_id": Owned(lambda w: w.credit_account.pk),
    "usage_import_id": Owned(lambda w: w.usage_import.pk),
    "portal:token_revoke.pk": Owned(lambda w: w.api_token.pk),
    # A month names no partner's object: billing pages always show request.partner's own lines.
    "month": Public(lambda w: "2026-09"),
    "usage_line": Owned(lambda w: w.usage_line),
    # A market of the call-rates pages is a country of one of the partner's customers.
    "market": Owned(lambda w: w.customer.country),
    "run_id": StaffOnly(lambda w: RatingRunFactory().pk),
    "product_id": Public(lambda w: w.subscription.sku.product_id),
    "sku_id": Public(lambda w: w.subscription.sku.sku_id),
    "availability_id": Public(lambda w: w.subscription.availability.availability_id),
}


@dataclass(frozen=True)
class Route:
    pattern: str  # the full route, for messages
    name: str | None  # "namespace:name"
    kwargs: tuple

    def __str__(self):
        return self.name or self.pattern


def _walk(patterns, prefix="", namespace="", kwargs=()):
    """Yield a Route for every URL pattern, carrying the namespace and kwargs of its includes."""
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if route.startswith(SKIPPED_PREFIXES):
            continue
        # .regex exists for path() and re_path() alike; its named groups are the view kwargs.
        names = kwargs + tuple(entry.pattern.regex.groupindex)
        if isinstance(entry, URLResolver):
            if entry.namespace in SKIPPED_NAMESPACES:
                continue
            inner = ":".join(filter(None, [namespace, entry.namespace]))
            yield from _walk(entry.url_patterns, route, inner, names)
        elif isinstance(entry, URLPattern):
            name = (f"{namespace}:{entry.name}" if namespace else entry.name) if entry.name else None
            yield Route(route, name, names)


def routes_with_ids():
    """Every non-admin, non-API URL pattern that takes at least one kwarg."""
    return [route for route in _walk(get_resolver().url_patterns) if route.kwargs and not route.pattern.startswith(API_PREFIX)]


def _api_methods():
    """URL name → the HTTP methods of the ninja operation of that name."""
    methods = {}
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                methods[operation.view_func.__name__] = list(operation.methods)
    return methods


@dataclass(frozen=True)
class ApiRoute(Route):
    methods: tuple = ()


def api_routes_with_ids():
    """Every ``/v1/`` URL pattern that takes a kwarg, once per path, with all its methods (ninja
    makes one Django pattern per operation, each of which serves the path's every method)."""
    methods = _api_methods()
    by_pattern = {}
    for route in _walk(get_resolver().url_patterns):
        if route.pattern.startswith(API_PREFIX) and route.kwargs and route.name:
            first, served = by_pattern.get(route.pattern, (route, ()))
            by_pattern[route.pattern] = (first, served + tuple(methods.get(route.name.split(":")[-1], ())))
    return [ApiRoute(r.pattern, r.name, r.kwargs, tuple(dict.fromkeys(m))) for r, m in by_pattern.values()]


ROUTES = routes_with_ids()
API_ROUTES = api_routes_with_ids()


def _id_spec(route, kwarg):
    return OBJECT_IDS.get(f"{route.name}.{kwarg}") or OBJECT_IDS.get(kwarg)


def _url_for(route, world):
    missing = [k for k in route.kwargs if _id_spec(route, k) is None]
    if missing:
        pytest.fail(
            f"URL {route} ({route.pattern!r}) takes {', '.join(missing)}, which the scoping sweep cannot build. "
            f"Add {', '.join(repr(k) for k in missing)} to OBJECT_IDS in tests/portal/test_scoping.py "
            f"(an Owned(...) builder returning partner A's object id, or Public(...) for catalog ids), "
            f"so this URL is proved to answer 404 to other partners."
        )
    if route.name is None:
        pytest.fail(f"URL pattern {route.pattern!r} has no name: name it (STYLE.md: explicit named routes).")
    kwargs = {k: _id_spec(route, k).build(world) for k in route.kwargs}
    specs = [_id_spec(route, k) for k in route.kwargs]
    kind = "staff" if any(isinstance(s, StaffOnly) for s in specs) else "owned" if any(isinstance(s, Owned) for s in specs) else "public"
    return reverse(route.name, kwargs=kwargs), kind


def test_the_sweep_finds_the_customer_page():
    # Guards the resolver walk itself: if it found nothing, every sweep test would pass vacuously.
    assert "portal:customer_detail" in {r.name for r in ROUTES}


def test_the_api_sweep_finds_the_subscription_and_its_methods():
    routes = {r.pattern: r for r in API_ROUTES}
    subscription = routes["v1/customers/<tenant_id>/subscriptions/<subscription_id>"]
    assert set(subscription.methods) == {"GET", "PATCH"}
    assert "v1/customers/<tenant_id>/carts/<cart_id>/checkout" in routes


SCENARIOS = ["direct", "sibling_reseller"]


@pytest.fixture
def scenario(request, db, make_member):
    """(owner's world, a client of the owner's transacting partner, an outsider's client).

    direct: partner A owns the object, partner B (another direct-bill partner) asks.
    sibling_reseller: a provider sold to a customer through reseller R1; reseller R2 of the
    same provider asks — it shares a provider but must not see R1's customers.
    """
    if request.param == "direct":
        owner, outsider = PartnerFactory(name="Owner A"), PartnerFactory(name="Outsider B")
        reseller = None
    else:
        owner = ProviderFactory(name="Provider")
        reseller = ResellerFactory(name="Reseller 1", providers=[owner])
        outsider = ResellerFactory(name="Reseller 2", providers=[owner])
    owner_client = make_member(owner, *ALL_ROLES)
    world = World(owner, reseller=reseller, user=owner_client.user)
    return world, owner_client, make_member(outsider, *ALL_ROLES)


@pytest.mark.parametrize("scenario", SCENARIOS, indirect=True)
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_another_partners_object_is_not_found(route, scenario):
    world, owner_client, outsider_client = scenario
    url, kind = _url_for(route, world)
    if kind == "staff":
        for client in (owner_client, outsider_client):
            response = client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"], (
                f"partner user GET staff-only {url} → {response.status_code}"
            )
        return
    if kind == "public":
        pytest.skip(f"{route} takes only public ids ({', '.join(route.kwargs)})")

    # Positive control: the owner reaches the same URL, so the 404 below is about scoping.
    response = owner_client.get(url)
    assert response.status_code in OWNER_GET_OK, f"owner GET {url} → {response.status_code}"
    if response.status_code == 405:
        response = owner_client.post(url)
        assert response.status_code != 404 and response.status_code < 500, (
            f"owner POST {url} → {response.status_code}"
        )

    for headers in ({}, {"HX-Request": "true"}):
        branch = "HTMX" if headers else "page"
        get = outsider_client.get(url, headers=headers).status_code
        post = outsider_client.post(url, headers=headers).status_code
        assert get in {404, 405} and post in {404, 405} and 404 in {get, post}, (
            f"{branch} request to another partner's {url}: GET → {get}, POST → {post}; expected 404 "
            f"(405 only for the method the URL does not serve). Fetch the object from owned_by() or transacted_by()."
        )


# A body each body-taking operation accepts, so that the call gets past ninja's body validation
# (the same 400 whatever the ids, so no leak) to the scope check.
_LINE = {"catalogItemId": "ABCDEFGHIJKL:0001:ABC", "quantity": 1, "termDuration": "P1Y", "billingCycle": "monthly"}
API_BODIES = {
    "v1:create_cart": {"lineItems": [_LINE]},
    "v1:get_cart": {"lineItems": [_LINE]},  # the cart path's PUT (update_cart)
}
# Likewise the query parameters an operation requires.
API_QUERIES = {"v1:list_custom_term_end_dates": "?term_duration=P1Y"}


def _token_client(user):
    _token, secret = api_token_create(user=user, name="scoping sweep")
    return Client(headers={"Authorization": f"Bearer {secret}"})


@pytest.mark.parametrize("scenario", SCENARIOS, indirect=True)
@pytest.mark.parametrize("route", API_ROUTES, ids=str)
def test_another_partners_object_is_not_found_in_the_api(route, scenario):
    world, owner_session, outsider_session = scenario
    url, kind = _url_for(route, world)
    if kind == "public":
        pytest.skip(f"{route} takes only public ids ({', '.join(route.kwargs)})")
    owner, outsider = _token_client(owner_session.user), _token_client(outsider_session.user)
    url += API_QUERIES.get(route.name, "")

    body = json.dumps(API_BODIES.get(route.name, {}))
    for method in route.methods:
        # The outsider first: the owner's calls may change the object (a checkout, a PATCH).
        response = outsider.generic(method, url, body, content_type="application/json")
        assert response.status_code == 404, (
            f"{method} {url} with another partner's token → {response.status_code} {response.content[:200]!r}; "
            f"expected 404 (fetch the object from owned_by() or transacted_by() before any other check)."
        )
        assert set(response.json()) == {"code", "description", "data"}
    # Positive control: the owner's token reaches the same objects (a 400 for the empty body
    # is fine: it is past the scope check).
    for method in route.methods:
        response = owner.generic(method, url, body, content_type="application/json")
        assert response.status_code not in {401, 403, 404} and response.status_code < 500, (
            f"owner {method} {url} → {response.status_code} {response.content[:200]!r}"
        )
