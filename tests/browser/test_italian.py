"""The two flows of the Italian seed pages, walked in Italian (issue 12 item 5): Gestisci
eccedenza on a customer, and the purchase of a componente aggiuntivo (refused without a
prerequisite, bought with one). The browser asks for Italian (Accept-Language: it-IT), as an
Italian partner's browser does; every step's visible text is checked for English runs of the
catalogue, as the page sweep does, and screenshots go to docs/screenshots/ (it-*.png).
"""

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.test_catalog_cart import COHO, GRAPHIC_DESIGN, OFFICE_E3, TEAMS_PHONE, wait_for_flyout
from tests.portal.test_italian_pages import english_in

ALPINE = "11111111-1111-4111-8111-111111111111"
SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "docs" / "screenshots"
NOT_PURCHASABLE_IT = "Il componente aggiuntivo non è acquistabile senza un prodotto di base compatibile."


def in_italian(page):
    page.set_extra_http_headers({"Accept-Language": "it-IT,it;q=0.9"})
    return page


def no_english(page):
    found = english_in(page.content())
    assert not found, f"{page.url} in Italian shows English text of the catalogue: {found}"


def shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"it-{name}.png"), full_page=True)


def open_manage_overage(page):
    page.get_by_role("button", name="Gestisci eccedenza").click()
    flyout = wait_for_flyout(page)
    expect(page.locator("#flyout-title")).to_have_text("Gestisci eccedenza")
    return flyout


def test_gestisci_eccedenza_in_italian(demo_data, page, login):
    in_italian(page)
    login("alan@contoso.example")
    expect(page.locator("html")).to_have_attribute("lang", "it")
    page.goto(f"/customers/{ALPINE}/")
    expect(page.get_by_text("Eccedenza telco (PhoneServices)", exact=True)).to_be_visible()
    badge = page.get_by_test_id("overage-badge")
    expect(badge).to_have_attribute("data-enabled", "false")
    no_english(page)

    flyout = open_manage_overage(page)
    expect(flyout.get_by_test_id("overage-current")).to_contain_text("Nessuno (eccedenza disattivata)")
    expect(flyout.get_by_label("Crea nuovo")).to_be_visible()
    expect(flyout.get_by_label("Nessuno", exact=True)).to_be_checked()
    flyout.get_by_label("Subscription 1").check()
    no_english(page)
    shot(page, "gestisci-eccedenza")
    dialogs = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    flyout.get_by_role("button", name="Salva").click()

    expect(badge).to_have_attribute("data-enabled", "true")
    expect(badge).to_contain_text("Subscription 1")
    expect(page.locator("#messages")).to_contain_text("L'eccedenza di Alpine Ski House va ora a Subscription 1")
    assert dialogs and dialogs[0].startswith("Cambiare la destinazione dell'eccedenza di Alpine Ski House?")
    expect(flyout).to_be_hidden()
    no_english(page)
    shot(page, "eccedenza-abilitata")

    flyout = open_manage_overage(page)
    expect(flyout.get_by_test_id("overage-target")).to_contain_text("Subscription 1")
    flyout.get_by_label("Nessuno", exact=True).check()
    page.once("dialog", lambda dialog: dialog.accept())
    flyout.get_by_role("button", name="Salva").click()
    expect(badge).to_have_attribute("data-enabled", "false")
    expect(badge).to_contain_text("Non abilitata")
    expect(page.locator("#messages")).to_contain_text("L'eccedenza di Alpine Ski House è disattivata (Nessuno).")
    no_english(page)
    shot(page, "eccedenza-nessuno")


def choose_customer(page, tenant_id):
    page.get_by_label("Cliente", exact=True).select_option(tenant_id)
    expect(page).to_have_url(re.compile(f"customer={tenant_id}"))
    expect(page.get_by_test_id("catalog-customer")).to_be_visible()


def add_teams_phone_to_a_new_cart(page, tenant_id):
    page.goto("/catalog/?product_type=addons")
    choose_customer(page, tenant_id)
    page.locator(f'[data-testid="catalog-row"][data-sku="{TEAMS_PHONE}"]').get_by_test_id("add-to-cart").click()
    expect(page).to_have_url(re.compile(r"/carts/new/"))
    return page.get_by_test_id("cart-new-form")


def test_acquisto_di_un_componente_aggiuntivo_in_italian(demo_data, page, login):
    in_italian(page)
    login("alan@contoso.example")

    # The catalog, add-ons only, for a customer whose tenant has no base product.
    page.goto("/catalog/")
    page.get_by_label("Tipo di prodotto").select_option(label="Componenti aggiuntivi del nuovo commercio")
    expect(page).to_have_url(re.compile(r"product_type=addons"))
    choose_customer(page, GRAPHIC_DESIGN)
    row = page.locator(f'[data-testid="catalog-row"][data-sku="{TEAMS_PHONE}"]')
    expect(row).to_contain_text("Componente aggiuntivo")
    row.get_by_test_id("prerequisites-info").click()
    flyout = wait_for_flyout(page)
    expect(page.locator("#flyout-title")).to_contain_text("Prerequisiti di Microsoft Teams Phone Standard")
    expect(flyout).to_contain_text("Visualizza sottoscrizioni di prodotti di base compatibili")
    expect(flyout.get_by_test_id("prerequisite-list").locator(f'[data-sku="{OFFICE_E3}"]')).to_contain_text(
        "Non nel tenant")
    expect(flyout.get_by_test_id("addon-verdict")).to_have_text(NOT_PURCHASABLE_IT)
    no_english(page)
    shot(page, "prerequisiti-componente-aggiuntivo")

    # Refused on the cart line with its code, in Italian.
    form = add_teams_phone_to_a_new_cart(page, GRAPHIC_DESIGN)
    expect(form.get_by_label("Periodo e ciclo di fatturazione")).to_be_visible()
    form.get_by_test_id("create-cart").click()
    expect(page.locator("#messages")).to_contain_text("Carrello creato, ma una voce contiene un errore")
    line = page.get_by_test_id("cart-line")
    expect(line.get_by_test_id("line-error")).to_have_text(f"400041: {NOT_PURCHASABLE_IT}")
    no_english(page)
    shot(page, "carrello-rifiutato")

    # Bought for a tenant with Office 365 E3 through volume licensing.
    form = add_teams_phone_to_a_new_cart(page, COHO)
    form.get_by_label("Quantità").fill("5")
    form.get_by_label("Nome descrittivo").fill("Telefoni Coho")
    no_english(page)
    form.get_by_test_id("create-cart").click()
    expect(page.get_by_test_id("cart-line").get_by_test_id("line-error")).to_have_count(0)
    page.get_by_test_id("checkout").click()
    wait_for_flyout(page)
    expect(page.locator("#flyout-title")).to_have_text("Conferma l'ordine")
    confirm = page.get_by_test_id("checkout-confirm")
    expect(confirm).to_contain_text("Stai acquistando per Coho Winery")
    no_english(page)
    shot(page, "conferma-ordine")
    confirm.get_by_test_id("confirm-checkout").click()

    expect(page).to_have_url(re.compile(r"/orders/[0-9a-f-]+/$"))
    expect(page.get_by_role("heading", name="Ordine per Coho Winery")).to_be_visible()
    expect(page.locator("#messages")).to_contain_text("Ordine effettuato: una nuova sottoscrizione per ogni voce.")
    expect(page.get_by_test_id("order-line")).to_contain_text("Componente aggiuntivo")
    no_english(page)
    shot(page, "ordine-effettuato")
