"""Cart and order pages: scoping (another partner's cart/order is 404, HTMX too), who may
buy (403 with the reason otherwise), and the flow new cart → add line → check out → order."""

import datetime

import pytest
import time_machine
from django.urls import reverse

from catalog.models import LicenseChannel
from portal.errors import ErrorCode
from subscriptions.models import Cart, CartStatus, Order, Subscription
from subscriptions.services.cart import cart_create
from subscriptions.services.checkout import cart_checkout
from tests.factories import CustomerFactory, TenantLicenseFactory
from tests.subscriptions.test_cart import line, make_catalog

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def catalog():
    return make_catalog()


@pytest.fixture
def cart_of_a(partner_a, catalog):
    customer = CustomerFactory(partner=partner_a, name="Alpine Ski House")
    return cart_create(partner=partner_a, customer=customer, acting_user=None,
                       lines=[line(catalog.base_av, 2), line(catalog.addon_av)])


def test_cart_list_shows_only_the_partners_carts(make_member, partner_a, partner_b, cart_of_a, catalog,
                                                 django_assert_num_queries):
    other_customer = CustomerFactory(partner=partner_b, name="Other Customer")
    cart_create(partner=partner_b, customer=other_customer, acting_user=None, lines=[line(catalog.base_av)])
    client = make_member(partner_a, "sales_agent")
    # Session, user, membership, the pagination count, and one page of carts with customer,
    # reseller, order and line counts joined in: five whatever the number of carts.
    with django_assert_num_queries(5):
        response = client.get(reverse("subscriptions:cart_list"))
    assert response.status_code == 200
    assert str(cart_of_a.pk) in response.text and "Alpine Ski House" in response.text
    assert "Other Customer" not in response.text


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_cart_detail_in_and_out(make_member, partner_a, partner_b, cart_of_a, headers):
    url = reverse("subscriptions:cart_detail", args=[cart_of_a.pk])
    assert make_member(partner_a).get(url, **headers).status_code == 200
    assert make_member(partner_b).get(url, **headers).status_code == 404


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_checkout_confirmation_in_and_out(make_member, partner_a, partner_b, cart_of_a, headers):
    url = reverse("subscriptions:cart_checkout", args=[cart_of_a.pk])
    response = make_member(partner_a).get(url, **headers)
    assert response.status_code == 200 and 'data-testid="checkout-confirm"' in response.text
    if headers:
        assert "<html" not in response.text  # the flyout fragment only
    assert make_member(partner_b).get(url, **headers).status_code == 404
    assert make_member(partner_b, "global_admin").post(url, **headers).status_code == 404
    assert not Order.objects.exists()


def test_cart_detail_shows_line_errors_inline_with_exact_text(make_member, partner_a, cart_of_a):
    response = make_member(partner_a).get(reverse("subscriptions:cart_detail", args=[cart_of_a.pk]))
    assert "400041: The addon is not purchasable without a compatible base product." in response.text


@pytest.mark.parametrize("headers", [{}, HTMX])
def test_order_detail_in_and_out(make_member, partner_a, partner_b, cart_of_a, catalog, headers):
    TenantLicenseFactory(customer=cart_of_a.customer, sku=catalog.base, channel=LicenseChannel.WEB_DIRECT)
    order = cart_checkout(cart=cart_of_a, acting_user=None).order
    url = reverse("subscriptions:order_detail", args=[order.pk])
    response = make_member(partner_a, "helpdesk_agent").get(url, **headers)
    assert response.status_code == 200 and str(order.subscriptions.first().pk) in response.text
    assert make_member(partner_b).get(url, **headers).status_code == 404


def test_reseller_of_record_sees_the_order_its_provider_placed(make_member, provider, reseller, catalog):
    customer = CustomerFactory(partner=provider, reseller=reseller)
    cart = cart_create(partner=provider, customer=customer, acting_user=None, lines=[line(catalog.base_av)])
    order = cart_checkout(cart=cart, acting_user=None).order
    url = reverse("subscriptions:order_detail", args=[order.pk])
    assert make_member(reseller).get(url).status_code == 200
    # The cart itself is the provider's working object.
    assert make_member(reseller).get(reverse("subscriptions:cart_detail", args=[cart.pk])).status_code == 404


def test_sales_agent_creates_a_cart_adds_a_line_and_checks_out(make_member, partner_a, catalog):
    customer = CustomerFactory(partner=partner_a)
    TenantLicenseFactory(customer=customer, sku=catalog.base, channel=LicenseChannel.VOLUME_LICENSING)
    client = make_member(partner_a, "sales_agent")

    page = client.get(reverse("subscriptions:cart_new"),
                      {"customer": str(customer.tenant_id), "catalog_item": catalog.base_av.catalog_item_id})
    assert page.status_code == 200
    assert 'value="P1Y:annual"' in page.text  # the availability's terms are offered

    response = client.post(reverse("subscriptions:cart_new"), {
        "customer": str(customer.tenant_id), "catalog_item": catalog.base_av.catalog_item_id,
        "quantity": "3", "term": "P1Y:monthly", "custom_term_end_date": "", "friendly_name": "Head office",
    })
    cart = Cart.objects.get()
    assert response.status_code == 302 and response.url == reverse("subscriptions:cart_detail", args=[cart.pk])
    assert (cart.partner, cart.customer, cart.created_by) == (partner_a, customer, client.user)

    response = client.post(reverse("subscriptions:cart_line_add", args=[cart.pk]), {
        "catalog_item": catalog.addon_av.catalog_item_id, "quantity": "3", "term": "P1M:monthly",
    })
    assert response.status_code == 302
    assert [ln.availability for ln in cart.lines.order_by("line_number")] == [catalog.base_av, catalog.addon_av]

    response = client.post(reverse("subscriptions:cart_checkout", args=[cart.pk]), {"idempotency_key": "k1"})
    order = Order.objects.get()
    assert response.status_code == 302 and response.url == reverse("subscriptions:order_detail", args=[order.pk])
    # A double click: the same order, no new subscription.
    again = client.post(reverse("subscriptions:cart_checkout", args=[cart.pk]), {"idempotency_key": "k2"})
    assert again.url == response.url
    assert Subscription.objects.count() == 2
    assert client.get(response.url).status_code == 200


def test_checkout_with_line_errors_goes_back_to_the_cart(make_member, partner_a, cart_of_a):
    client = make_member(partner_a, "admin_agent")
    response = client.post(reverse("subscriptions:cart_checkout", args=[cart_of_a.pk]))
    assert response.status_code == 302
    assert response.url == reverse("subscriptions:cart_detail", args=[cart_of_a.pk])
    assert not Order.objects.exists()


def test_remove_a_line(make_member, partner_a, cart_of_a):
    client = make_member(partner_a, "global_admin")
    response = client.post(reverse("subscriptions:cart_line_remove", args=[cart_of_a.pk, 1]))
    assert response.status_code == 302
    assert list(cart_of_a.lines.values_list("line_number", "error_code")) == [(0, None)]


@pytest.mark.parametrize("role", ["billing_admin", "helpdesk_agent"])
def test_members_who_may_not_buy_read_the_cart_but_get_403_on_post(make_member, partner_a, cart_of_a, catalog, role):
    client = make_member(partner_a, role)
    page = client.get(reverse("subscriptions:cart_detail", args=[cart_of_a.pk]))
    assert page.status_code == 200
    assert "Only global admins, admin agents and sales agents can buy" in page.text
    assert 'data-testid="add-line-form"' not in page.text
    for url, data in [
        (reverse("subscriptions:cart_checkout", args=[cart_of_a.pk]), {}),
        (reverse("subscriptions:cart_line_remove", args=[cart_of_a.pk, 1]), {}),
        (reverse("subscriptions:cart_line_add", args=[cart_of_a.pk]), {}),
        (reverse("subscriptions:cart_new"), {"customer": str(cart_of_a.customer.tenant_id)}),
    ]:
        response = client.post(url, data)
        assert response.status_code == 403
        assert "Only global admins, admin agents and sales agents can buy" in response.text
    assert cart_of_a.lines.count() == 2 and not Order.objects.exists()


def test_indirect_reseller_user_gets_403_naming_its_provider(make_member, provider, reseller, catalog):
    customer = CustomerFactory(partner=provider, reseller=reseller)
    client = make_member(reseller, "global_admin")
    page = client.get(reverse("subscriptions:cart_new"))
    assert page.status_code == 200 and "Fabrikam Test Provider" in page.text
    response = client.post(reverse("subscriptions:cart_new"), {
        "customer": str(customer.tenant_id), "catalog_item": catalog.base_av.catalog_item_id,
        "quantity": "1", "term": "P1Y:monthly",
    })
    assert response.status_code == 403
    assert "Fabrikam Test Provider" in response.text
    assert not Cart.objects.exists()


def test_new_cart_offers_only_customers_the_partner_sells_to(make_member, partner_a, partner_b):
    mine = CustomerFactory(partner=partner_a, name="Mine Inc")
    CustomerFactory(partner=partner_b, name="Theirs Inc")
    page = make_member(partner_a, "sales_agent").get(reverse("subscriptions:cart_new"))
    assert str(mine.tenant_id) in page.text and "Theirs Inc" not in page.text


def test_new_cart_refuses_another_partners_customer(make_member, partner_a, partner_b, catalog):
    theirs = CustomerFactory(partner=partner_b)
    response = make_member(partner_a, "sales_agent").post(reverse("subscriptions:cart_new"), {
        "customer": str(theirs.tenant_id), "catalog_item": catalog.base_av.catalog_item_id,
        "quantity": "1", "term": "P1Y:monthly",
    })
    assert response.status_code == 422 and "customer" in response.context["form"].errors
    assert not Cart.objects.exists()


MID_MONTH = datetime.datetime(2026, 11, 12, 10, 0, tzinfo=datetime.UTC)
LAST_DAY_OF_MONTH = datetime.datetime(2026, 11, 30, 10, 0, tzinfo=datetime.UTC)


@time_machine.travel(MID_MONTH, tick=False)
def test_line_options_offers_the_allowed_end_dates_for_the_term(make_member, partner_a, catalog):
    customer = CustomerFactory(partner=partner_a)
    client = make_member(partner_a, "sales_agent")
    response = client.get(reverse("subscriptions:line_options"), {
        "customer": str(customer.tenant_id), "catalog_item": catalog.base_av.catalog_item_id, "term": "P1M:monthly",
    }, **HTMX)
    assert response.status_code == 200
    assert 'id="line-options"' in response.text and "<html" not in response.text
    assert "end of the month" in response.text
    other = CustomerFactory()
    leaked = client.get(reverse("subscriptions:line_options"), {
        "customer": str(other.tenant_id), "catalog_item": catalog.base_av.catalog_item_id, "term": "P1Y:monthly",
    }, **HTMX)
    assert leaked.status_code == 200  # no aligned dates of a customer the partner does not see


@time_machine.travel(LAST_DAY_OF_MONTH, tick=False)
def test_a_monthly_line_bought_on_the_last_day_of_the_month_has_no_month_end_to_align_with(
    make_member, partner_a, catalog
):
    # Bought on 30 November, a monthly term ends naturally on 29 December: 30 November is not
    # after the start and 31 December is after the natural end, so only "no alignment" is left.
    customer = CustomerFactory(partner=partner_a)
    client = make_member(partner_a, "sales_agent")
    monthly = client.get(reverse("subscriptions:line_options"), {
        "customer": str(customer.tenant_id), "catalog_item": catalog.base_av.catalog_item_id, "term": "P1M:monthly",
    }, **HTMX)
    assert "end of the month" not in monthly.text
    assert "No alignment" in monthly.text
    annual = client.get(reverse("subscriptions:line_options"), {
        "customer": str(customer.tenant_id), "catalog_item": catalog.base_av.catalog_item_id, "term": "P1Y:monthly",
    }, **HTMX)
    assert "end of the month" in annual.text


def test_ordered_cart_shows_the_order_link_and_no_checkout(make_member, partner_a, catalog):
    customer = CustomerFactory(partner=partner_a)
    cart = cart_create(partner=partner_a, customer=customer, acting_user=None, lines=[line(catalog.base_av)])
    order = cart_checkout(cart=cart, acting_user=None).order
    page = make_member(partner_a, "sales_agent").get(reverse("subscriptions:cart_detail", args=[cart.pk]))
    assert reverse("subscriptions:order_detail", args=[order.pk]) in page.text
    assert 'data-testid="checkout"' not in page.text
    cart.refresh_from_db()
    assert cart.status == CartStatus.ORDERED


def test_checkout_with_an_idempotency_key_too_long_orders_nothing_and_says_why(make_member, partner_a, catalog):
    cart = cart_create(partner=partner_a, customer=CustomerFactory(partner=partner_a), acting_user=None,
                       lines=[line(catalog.base_av, 2)])
    client = make_member(partner_a, "admin_agent")
    response = client.post(reverse("subscriptions:cart_checkout", args=[cart.pk]), {"idempotency_key": "k" * 5000},
                           follow=True)
    assert response.redirect_chain == [(reverse("subscriptions:cart_detail", args=[cart.pk]), 302)]
    assert "at most 100 characters" in response.text
    assert not Order.objects.exists()


def test_new_cart_whose_only_line_fails_says_so_and_cannot_be_checked_out(make_member, partner_a, catalog):
    """Issue 13 defect 6: a new cart whose only line failed with 400041 said a green "Cart
    created.", numbered the line 0, showed the total as "—" although the line has a price, and
    kept "Check out" enabled."""
    from subscriptions.views import CART_CREATED, CART_CREATED_WITH_ERRORS, CHECKOUT_BLOCKED

    customer = CustomerFactory(partner=partner_a)  # no base licence: the add-on fails with 400041
    client = make_member(partner_a, "sales_agent")

    response = client.post(reverse("subscriptions:cart_new"), {
        "customer": str(customer.tenant_id), "catalog_item": catalog.addon_av.catalog_item_id,
        "quantity": "2", "term": "P1Y:monthly", "custom_term_end_date": "", "friendly_name": "",
    }, follow=True)

    html = response.content.decode()
    messages = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert messages == [("warning", str(CART_CREATED_WITH_ERRORS))]
    assert str(CART_CREATED) not in html
    row = html.split('data-testid="cart-line"')[1]
    assert row.split("<td>")[1].startswith("1</td>")  # people count lines from 1
    assert "400041" in row
    # The line's price is shown beside a total that does not count it (checkout orders nothing).
    assert response.context["not_counted"] == [("USD", response.context["estimates"][0].charge.amount)]
    assert 'data-testid="cart-total">$0.00' in html
    # Check out is shown disabled, with the reason, before the user tries.
    assert str(CHECKOUT_BLOCKED) in html
    assert 'disabled data-testid="checkout"' in html
    assert f'href="{reverse("subscriptions:cart_checkout", args=[Cart.objects.get().pk])}"' not in html


def test_cart_without_errors_is_created_in_green_and_checks_out(make_member, partner_a, catalog):
    customer = CustomerFactory(partner=partner_a)
    client = make_member(partner_a, "sales_agent")

    response = client.post(reverse("subscriptions:cart_new"), {
        "customer": str(customer.tenant_id), "catalog_item": catalog.base_av.catalog_item_id,
        "quantity": "2", "term": "P1Y:monthly", "custom_term_end_date": "", "friendly_name": "",
    }, follow=True)

    assert [(m.level_tag, str(m)) for m in response.context["messages"]] == [("success", "Cart created.")]
    assert f'href="{reverse("subscriptions:cart_checkout", args=[Cart.objects.get().pk])}"' in response.text
    assert response.context["not_counted"] == []


@time_machine.travel(MID_MONTH, tick=False)
def test_end_dates_of_a_three_year_term_are_grouped_and_name_the_aligned_subscriptions(make_member, partner_a, catalog):
    """Issue 13 defect 10: a 3-year term listed 36 month ends in one run, and "aligned with 2
    active subscription(s)" did not say which."""
    from tests.factories import SubscriptionFactory

    customer = CustomerFactory(partner=partner_a)
    for name in ("Head office", "Branch"):
        SubscriptionFactory(partner=partner_a, customer=customer, friendly_name=name, term_duration="P1Y",
                            start_date=datetime.date(2026, 6, 1), commitment_end_date=datetime.date(2027, 5, 31))
    client = make_member(partner_a, "sales_agent")

    response = client.get(reverse("subscriptions:line_options"), {
        "customer": str(customer.tenant_id), "catalog_item": catalog.base_av.catalog_item_id, "term": "P3Y:monthly",
    }, **HTMX)

    html = response.content.decode()
    assert "active subscription(s)" not in html
    assert html.count("<optgroup") == 1 + 4  # the aligned dates, then month ends of 2026 … 2029
    aligned = html.split('label="Aligned with the customer&#x27;s subscriptions"')[1].split("</optgroup>")[0]
    assert 'value="2027-05-31"' in aligned and "Head office" in aligned and "Branch" in aligned
    assert 'label="Month ends in 2029"' in html


def test_line_errors_are_stored_in_english_and_shown_in_the_readers_language(make_member, api_client, partner_a,
                                                                            catalog):
    """A cart made on an Italian page stored its line errors in Italian, so the API (English by
    SPEC) returned them in Italian. Now they are stored in English, as the API returns them, and
    a page shows them in its reader's language with their code."""
    from django.utils import translation

    from subscriptions import errors
    from subscriptions.models import CartLine

    customer = CustomerFactory(partner=partner_a)  # no base licence: the add-on fails with 400041
    italian = make_member(partner_a, "sales_agent")
    italian.post(reverse("subscriptions:cart_new"), {
        "customer": str(customer.tenant_id), "catalog_item": catalog.addon_av.catalog_item_id,
        "quantity": "2", "term": "P1Y:monthly", "custom_term_end_date": "", "friendly_name": "",
    }, HTTP_ACCEPT_LANGUAGE="it")
    cart = Cart.objects.get()
    # A second line with a message that carries values (10015), validated in Italian too.
    with translation.override("it"):
        seats_cart = cart_create(partner=partner_a, customer=customer, acting_user=None,
                                 lines=[line(catalog.base_av, 301)])
    seats = {"quantity": 301, "max": 300, "sku": catalog.base_av.sku.code}
    with translation.override("en"):
        addon_en = str(errors.ADDON_NOT_PURCHASABLE)
        seats_en = str(errors.SEATS_OVER_MAXIMUM) % seats
    with translation.override("it"):
        addon_it = str(errors.ADDON_NOT_PURCHASABLE)
        seats_it = str(errors.SEATS_OVER_MAXIMUM) % seats
    assert addon_it != addon_en and seats_it != seats_en  # the catalogue translates both

    # Stored in English whatever the language of the request that validated the cart.
    assert [(ln.error_code, ln.error_description) for ln in CartLine.objects.order_by("cart__created_at")] == [
        (ErrorCode.ADDON_PREREQUISITE_MISSING, addon_en), (ErrorCode.SEATS_OUT_OF_RANGE, seats_en),
    ]
    # The API returns them in English, even to a caller that asks for Italian.
    api = api_client(partner_a)
    for made, expected in ((cart, addon_en), (seats_cart, seats_en)):
        body = api.get(f"/v1/customers/{customer.tenant_id}/carts/{made.pk}", HTTP_ACCEPT_LANGUAGE="it").json()
        assert body["lineItems"][0]["error"]["errorDescription"] == expected
    # A page shows them in its reader's language, with their code.
    for made, code, english, translated in ((cart, 400041, addon_en, addon_it), (seats_cart, 10015, seats_en, seats_it)):
        url = reverse("subscriptions:cart_detail", args=[made.pk])
        page_it = italian.get(url, HTTP_ACCEPT_LANGUAGE="it").content.decode()
        assert f"{code}: {translated}" in page_it.replace("&#x27;", "'") and english not in page_it
        page_en = italian.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert f"{code}: {english}" in page_en.replace("&#x27;", "'")


def test_a_stored_line_error_made_from_no_known_message_is_shown_as_stored():
    from django.utils import translation

    from subscriptions.errors import line_error_text

    with translation.override("it"):
        assert line_error_text("Something Partner Center said.") == "Something Partner Center said."
