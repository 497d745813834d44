"""Every page of the portal, rendered in Italian, shows no English text of the catalogue.

The pages come from the URL resolver (the scoping sweep's walk and its ``OBJECT_IDS``), so a
page added later is checked without anyone remembering to: the owner of every object, with
every role and the operator's staff flag, GETs each URL as a page and as an HTMX request, and
POSTs an empty form to each URL that takes POSTs (its refusal or form errors are read too).
The visible text (no tags, scripts, styles or attribute values) must contain no English msgid
of ``locale/it/LC_MESSAGES/django.po`` of more than two words, nor such a run of words between
the placeholders of a msgid. A string shown without gettext, a template without
``{% load i18n %}`` or a missing translation fails here with the page and the words.

The admin pages of the portal's own models are swept the same way (their labels and help
texts are in the catalogue; Django's own words come translated with Django).
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.test import Client
from django.urls import get_resolver, reverse
from django.utils import translation
from django.utils.functional import Promise

from portal.models import Role
from tests.factories import MembershipFactory, PartnerFactory, UserFactory
from tests.portal.test_scoping import API_PREFIX, World, _url_for, _walk
from tools.po_fill import read_po

PO_FILE = settings.BASE_DIR / "locale" / "it" / "LC_MESSAGES" / "django.po"
ITALIAN = {"HTTP_ACCEPT_LANGUAGE": "it"}
# The project's own apps (not Django's, not installed packages): their admin pages are swept.
PORTAL_APPS = {config.label for config in apps.get_app_configs()
               if Path(config.path).is_relative_to(settings.BASE_DIR) and "site-packages" not in config.path}
# Routes a signed-in partner member does not read as a page of their own.
NOT_PAGES = {"logout"}
# English runs that a page may show as data, not as the portal's words: each with its reason.
DATA = {
    "Microsoft Azure plan": "a product name in the reconciliation file (SPEC §9), shown as the file has it",
}
# Split a msgid where the rendered page puts something else: placeholders, tags, entities.
_VARIABLE = re.compile(r"%\(\w+\)[sdif]|%[sdif]|\{\w+\}|<[^>]*>|&\w+;")
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")
_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(text):
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), text)


def _normal(text):
    return " ".join(text.split())


def english_runs():
    """Every English run of more than two words of the catalogue → its msgid. A run that the
    Italian translation keeps as it is (a column name, a code) is not English text."""
    runs = {}
    for entry in read_po(PO_FILE):
        if entry.msgid in (None, "") or entry.is_obsolete:
            continue
        translated = " ".join(_normal(_unescape(text)) for text in entry.msgstr.values())
        for source in filter(None, (entry.msgid, entry.msgid_plural)):
            for part in _VARIABLE.split(_unescape(source)):
                run = _normal(part).strip(" .,:;·—–-()…")
                if len(_WORD.findall(run)) > 2 and run not in translated and run not in DATA:
                    runs.setdefault(run, _unescape(entry.msgid))
    return runs


ENGLISH = english_runs()


class _VisibleText(HTMLParser):
    """The text a person sees: character data outside <script>, <style> and <template>."""

    HIDDEN = {"script", "style", "template"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.hidden = [], 0

    def handle_starttag(self, tag, attrs):
        self.hidden += tag in self.HIDDEN

    def handle_endtag(self, tag):
        self.hidden -= tag in self.HIDDEN and self.hidden > 0

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def visible_text(html):
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return _normal(" ".join(parser.parts))


def english_in(html):
    text = visible_text(html)
    return sorted(run for run in ENGLISH if run in text)


def _assert_italian(response, where):
    assert response.status_code < 500, f"{where} → {response.status_code}"
    if "text/html" not in response.get("Content-Type", ""):
        return False
    found = english_in(response.content.decode())
    assert not found, (
        f"{where} in Italian shows English text of the catalogue: {found}. Mark it for translation "
        f"({{% translate %}} / gettext) and translate it in {PO_FILE.relative_to(settings.BASE_DIR)} "
        f"(make messages, then tools/po_fill.py)."
    )
    return True


def page_routes():
    """Every named, non-admin, non-API route of the portal."""
    return [r for r in _walk(get_resolver().url_patterns) if r.name and not r.pattern.startswith(API_PREFIX)
            and r.name not in NOT_PAGES]


ROUTES = page_routes()


def test_the_catalogue_is_loaded_for_italian():
    # Without a compiled catalogue every page below would fail at once: say why first.
    with translation.override("it"):
        assert translation.gettext("Manage overage") == "Gestisci eccedenza", (
            "locale/it/LC_MESSAGES/django.mo is missing or stale: run `make compilemessages`."
        )


def test_the_sweep_knows_english_runs_and_finds_them():
    # Guards the check itself: a page with an untranslated sentence must be caught.
    assert "Manage overage" not in ENGLISH  # two words: too short to be told from a name
    run = "There is no pending transfer for this customer"
    assert ENGLISH[run] == "There is no pending transfer for this customer."
    assert run in english_in(f"<p>Nota: <b>{run}.</b></p>")
    assert english_in(f'<p title="{run}">Nessun trasferimento</p><script>"{run}"</script>') == []
    # A run between placeholders counts as well.
    assert "is switched off (None" in ENGLISH and "Overage for" not in ENGLISH


@pytest.fixture
def world(db):
    """The owner's objects, all built before the first page so that lists and panels show them,
    and a client of the owner: every role, plus the operator's staff flag (the rating pages)."""
    owner = PartnerFactory(name="Proprietario Srl")
    membership = MembershipFactory(partner=owner, roles=list(Role.values))
    membership.user.is_staff = True
    membership.user.save(update_fields=["is_staff"])
    world = World(owner, user=membership.user)
    for name in ("subscription", "cart_line", "order", "azure_subscription", "overage_setting",
                 "overage_assignment", "overage_transfer", "credit_account", "usage_import", "api_token",
                 "usage_line"):
        getattr(world, name)
    client = Client(**ITALIAN)
    client.force_login(membership.user)
    return world, client


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_page_in_italian_shows_no_english(route, world):
    world, client = world
    url = _url_for(route, world)[0] if route.kwargs else reverse(route.name)
    checked = 0
    for headers in ({}, {"HX-Request": "true"}):
        branch = "HTMX " if headers else ""
        checked += _assert_italian(client.get(url, headers=headers, **ITALIAN), f"{branch}GET {url}")
        # An empty form: the refusal or the form's errors are read by a person too.
        response = client.post(url, {}, headers=headers, **ITALIAN)
        if response.status_code != 405:
            _assert_italian(response, f"{branch}POST {url} (empty form)")
    if route.name == "dashboard:home":
        assert checked, "the dashboard must be an HTML page"


def test_pages_without_a_partner_in_italian(db):
    anonymous = Client(**ITALIAN)
    assert _assert_italian(anonymous.get(reverse("login"), **ITALIAN), "GET login")
    assert _assert_italian(anonymous.post(reverse("login"), {"username": "x@example.com", "password": "no"},
                                          **ITALIAN), "POST login (wrong password)")
    no_partner = Client(**ITALIAN)
    no_partner.force_login(UserFactory())
    assert _assert_italian(no_partner.get(reverse("portal:no_membership"), **ITALIAN), "GET no-access")


def test_error_pages_in_italian(world):
    _world, client = world
    response = client.get("/no-such-page/", **ITALIAN)
    assert response.status_code == 404
    _assert_italian(response, "GET an unknown address")


def _admin_models():
    return [m for m in admin.site._registry if m._meta.app_label in PORTAL_APPS]


@pytest.mark.parametrize("model", _admin_models(), ids=lambda m: m._meta.label)
def test_admin_pages_of_the_portal_in_italian(model, world, admin_client):
    _world, _client = world
    admin_client.defaults.update(ITALIAN)
    info = (model._meta.app_label, model._meta.model_name)
    for url in (reverse("admin:index"), reverse("admin:app_list", args=[info[0]]),
                reverse(f"admin:{info[0]}_{info[1]}_changelist")):
        _assert_italian(admin_client.get(url, **ITALIAN), f"GET {url}")
    first = model._default_manager.first()
    if first is not None:
        url = reverse(f"admin:{info[0]}_{info[1]}_change", args=[first.pk])
        _assert_italian(admin_client.get(url, **ITALIAN), f"GET {url}")
    # The add form, or the refusal page of a model the admin does not let anyone add.
    url = reverse(f"admin:{info[0]}_{info[1]}_add")
    _assert_italian(admin_client.get(url, **ITALIAN), f"GET {url}")


def test_every_portal_app_with_admin_pages_has_a_translated_name():
    # The admin's section titles are the apps' verbose names: gettext_lazy, not a plain str.
    swept = {m._meta.app_label for m in _admin_models()}
    assert {"portal", "catalog", "subscriptions", "overage", "billing"} <= swept
    for label in swept:
        assert isinstance(apps.get_app_config(label).verbose_name, Promise), (
            f"the {label} app's verbose_name is not marked for translation: verbose_name = _(...) in its AppConfig"
        )
    with translation.override("it"):
        assert str(apps.get_app_config("overage").verbose_name) == "Eccedenza"
