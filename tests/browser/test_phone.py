"""Phones (issue 13 §3): on a 390×844 viewport no main page scrolls sideways. Wide data tables
may scroll inside their own ``.table-responsive`` box; the page itself must not."""

import pytest

ALPINE = "11111111-1111-4111-8111-111111111111"
FOURTH_COFFEE = "55555555-5555-4555-8555-555555555555"
PHONE = {"width": 390, "height": 844}

PARTNER_PAGES = [
    "/",
    "/customers/",
    "/customers/{customer}/",
    "/catalog/",
    "/catalog/?product_type=addons",
    "/subscriptions/",
    "/subscriptions/?customer={customer}",
    "/carts/",
    "/carts/new/",
    "/billing/",
    "/billing/rates/",
    "/billing/usage/import/",
    "/billing/usage/imports/",
    "/billing/credits/{customer}/",
    "/overage/customers/{customer}/azure-plan/",
    "/overage/customers/{customer}/manage/",
    "/tokens/",
    "/preferences/",
]
# Pages reached by following the first link of a kind from another page (their ids vary per run).
LINKED_PAGES = [
    ("/carts/", 'a[href^="/carts/"][href$="/"]:not([href="/carts/new/"]):not([href="/carts/"])'),
    ("/billing/", 'a[href*="/billing/reconciliation/"]'),
    ("/billing/rates/", 'a[href^="/billing/rates/"][href$="/"]:not([href="/billing/rates/"])'),
    ("/subscriptions/", 'a[href^="/subscriptions/"][href$="/"]:not([href="/subscriptions/"])'),
]
STAFF_PAGES = ["/billing/rating/", "/admin/", "/admin/portal/auditevent/", "/v1/docs"]

OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [];
  if (document.documentElement.scrollWidth > width) {
    for (const el of document.querySelectorAll("body *")) {
      const box = el.getBoundingClientRect();
      if (box.right > width + 1 && !(el.parentElement && el.parentElement.closest(".table-responsive, .chart-scroll")) && !el.closest(".offcanvas")) {
        wide.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
          (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : "") +
          " right=" + Math.round(box.right));
      }
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, width: width, wide: wide.slice(0, 8)};
}"""


def assert_no_sideways_scroll(page, path):
    response = page.goto(path)
    assert response.status == 200, f"{path} → {response.status}"
    page.wait_for_load_state("networkidle")
    result = page.evaluate(OVERFLOW)
    assert result["scrollWidth"] <= result["width"], f"{path} scrolls sideways: {result}"


def assert_none_scrolls_sideways(page, paths):
    """Every page is checked; the failure lists them all with the elements that stick out."""
    failures = []
    for path in paths:
        try:
            assert_no_sideways_scroll(page, path)
        except AssertionError as error:
            failures.append(str(error))
    assert not failures, "\n".join(failures)


def linked(page, start, selector):
    page.goto(start)
    link = page.locator(selector).first
    assert link.count(), f"no link {selector} on {start}"
    return link.get_attribute("href")


@pytest.mark.parametrize(
    ("email", "customer"), [("ada@contoso.example", ALPINE), ("admin@fabrikam.example", FOURTH_COFFEE)]
)
def test_no_partner_page_scrolls_sideways_on_a_phone(demo_data, page, login, email, customer):
    login(email)
    page.set_viewport_size(PHONE)
    paths = [path.format(customer=customer) for path in PARTNER_PAGES]
    assert_none_scrolls_sideways(page, paths + [linked(page, start, selector) for start, selector in LINKED_PAGES])


def test_no_staff_page_scrolls_sideways_on_a_phone(demo_data, page, login):
    login("staff@portal.example")
    page.set_viewport_size(PHONE)
    assert_none_scrolls_sideways(page, STAFF_PAGES)
