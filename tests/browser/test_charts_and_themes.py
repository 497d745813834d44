"""Charts, the dark mode and the overage history on a phone and a desktop (issue 13 §3 and
defect 7): chart text stays at a normal size and no label is cut; the page follows the browser's
dark preference; the history's "Who" column is not scrolled out of its card. The README's
screenshots of these pages are taken here."""

from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "docs" / "screenshots"
ALPINE = "11111111-1111-4111-8111-111111111111"
BLUE_YONDER = "22222222-2222-4222-8222-222222222222"
FOURTH_COFFEE = "55555555-5555-4555-8555-555555555555"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

# Each chart label's rendered font size (its CSS size times the SVG's scale) and whether its box
# lies inside the SVG's box.
CHART_LABELS = """() => [...document.querySelectorAll("svg.billing-chart")].flatMap(svg => {
  const box = svg.getBoundingClientRect();
  const scale = box.width / svg.viewBox.baseVal.width;
  return [...svg.querySelectorAll("text")].map(text => {
    const r = text.getBoundingClientRect();
    return {
      text: text.textContent,
      size: parseFloat(getComputedStyle(text).fontSize) * scale,
      inside: r.left >= box.left - 0.5 && r.right <= box.right + 0.5 && r.top >= box.top - 0.5 && r.bottom <= box.bottom + 0.5,
    };
  });
})"""


def shoot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def assert_chart_labels_readable(page, where, charts):
    labels = page.evaluate(CHART_LABELS)
    assert len({label["text"] for label in labels}) > 5, f"{where}: {labels}"
    assert page.locator("svg.billing-chart").count() >= charts, where
    small_or_big = [label for label in labels if not 11.5 <= label["size"] <= 14]
    assert not small_or_big, f"{where}: text not at 12-14 px: {small_or_big[:5]}"
    cut = [label["text"] for label in labels if not label["inside"]]
    assert not cut, f"{where}: labels cut by the chart's edge: {cut}"


@pytest.mark.parametrize(("viewport", "name"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_billing_charts_have_normal_text_and_no_cut_label(demo_data, page, login, viewport, name):
    login("ada@contoso.example")
    page.set_viewport_size(viewport)
    page.goto("/billing/?month=2026-11")
    page.wait_for_load_state("networkidle")
    assert_chart_labels_readable(page, f"billing at {name}", charts=1)
    # The page never scrolls sideways, even with charts wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    shoot(page, f"billing-{name}")


@pytest.mark.parametrize(("viewport", "name"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_credit_balance_chart_keeps_its_last_date(demo_data, page, login, viewport, name):
    login("admin@fabrikam.example")
    page.set_viewport_size(viewport)
    page.goto(f"/billing/credits/{FOURTH_COFFEE}/")
    page.wait_for_load_state("networkidle")
    labels = page.evaluate(CHART_LABELS)
    dates = [label for label in labels if label["text"][:4].isdigit() and label["text"].count("-") == 2]
    assert dates and all(len(label["text"]) == 10 and label["inside"] for label in dates), dates
    assert all(11.5 <= label["size"] <= 14 for label in labels), labels
    shoot(page, f"credits-{name}")


@pytest.mark.parametrize(("viewport", "name"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_overage_history_shows_who(demo_data, page, login, viewport, name):
    login("alan@contoso.example")
    page.set_viewport_size(viewport)
    page.goto(f"/overage/customers/{BLUE_YONDER}/azure-plan/")
    who = page.get_by_test_id("overage-history-who").first
    assert "@" in who.inner_text()
    box = page.evaluate(
        """() => { const t = document.querySelector('[data-testid=overage-history]');
        const wrap = t.closest('.table-responsive'); return {table: t.scrollWidth, wrap: wrap.clientWidth}; }"""
    )
    if name == "desktop":
        # On a desktop the whole table is in view: nothing to scroll to.
        assert box["table"] <= box["wrap"], box
        shoot(page, "overage-history")
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_dark_preference_gives_the_dark_mode(demo_data, page, login):
    page.emulate_media(color_scheme="dark")
    login("alan@contoso.example")
    page.goto("/")
    assert page.evaluate("document.documentElement.getAttribute('data-bs-theme')") == "dark"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    red, green, blue = (int(part) for part in background[background.index("(") + 1:-1].split(",")[:3])
    assert red + green + blue < 150, background
    shoot(page, "dashboard-dark")
    page.set_viewport_size(PHONE)
    shoot(page, "dashboard-dark-phone")
    page.emulate_media(color_scheme="light")
    page.reload()
    assert page.evaluate("document.documentElement.getAttribute('data-bs-theme')") == "light"
    shoot(page, "dashboard-phone")


def test_subscriptions_on_a_phone_and_in_the_dark(demo_data, page, login):
    login("alan@contoso.example")
    page.set_viewport_size(PHONE)
    page.goto(f"/subscriptions/?customer={ALPINE}")
    page.wait_for_load_state("networkidle")
    shoot(page, "subscriptions-phone")
    page.set_viewport_size(DESKTOP)
    page.emulate_media(color_scheme="dark")
    page.goto(f"/subscriptions/?customer={ALPINE}")
    page.wait_for_load_state("networkidle")
    shoot(page, "subscriptions-dark")
