"""The Italian catalogue is whole, compiles, and follows the sources (issue 12 item 5).

* every message of ``locale/it/LC_MESSAGES/django.po`` is translated and none is fuzzy;
* each translation keeps its msgid's placeholders and HTML tags;
* ``compilemessages`` compiles it (msgfmt --check-format) into a catalogue gettext reads;
* it is not stale: ``makemessages`` run on the sources now, into a temporary folder, finds
  exactly the msgids the file has. A string added to the code without running ``make
  messages`` (and translating it) fails here, as does a msgid whose string left the code.

The rendered pages are checked in tests/portal/test_italian_pages.py.
"""

import gettext
import shutil
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from tools.po_fill import placeholders, read_po

LOCALE = settings.BASE_DIR / "locale"
PO_FILE = LOCALE / "it" / "LC_MESSAGES" / "django.po"
# What `make messages` leaves out of the scan (MESSAGES_IGNORE in the Makefile): not the
# portal's strings. "locale" is the output itself.
NOT_SOURCES = {".git", ".venv", ".tools", "tests", "bench", "var", "staticfiles", "locale", "node_modules"}


def _entries(path):
    return [e for e in read_po(path) if not e.is_header and not e.is_obsolete and e.msgid is not None]


def _keys(path):
    return {e.key() for e in _entries(path)}


def test_every_message_is_translated_and_none_is_fuzzy():
    entries = read_po(PO_FILE)
    header = next(e for e in entries if e.is_header)
    assert "fuzzy" not in header.flags, "the .po header is fuzzy: fill it in (Language: it)"
    assert "Language: it\\n" in header.msgstr[0]
    todo = [e.msgid for e in entries if e.needs_work]
    assert not todo, (
        f"{len(todo)} message(s) of {PO_FILE.name} are untranslated or fuzzy, e.g. {todo[:10]}. "
        f"Translate them: tools/po_fill.py todo / apply (docs/GLOSSARY-it.md has the terms)."
    )
    assert len(_entries(PO_FILE)) > 1000


def test_plural_messages_have_both_italian_forms():
    plurals = [e for e in _entries(PO_FILE) if e.msgid_plural is not None]
    assert plurals
    for entry in plurals:
        assert sorted(entry.msgstr) == [0, 1] and all(entry.msgstr.values()), entry.msgid


def test_translations_keep_placeholders_and_tags():
    wrong = []
    for entry in _entries(PO_FILE):
        sources = [entry.msgid, entry.msgid_plural or entry.msgid]
        for index, text in entry.msgstr.items():
            if placeholders(text) != placeholders(sources[min(index, 1)]):
                wrong.append((entry.msgid, text))
    assert not wrong, f"translations whose placeholders or tags differ from their msgid: {wrong}"


def test_compilemessages_compiles_the_catalogue(tmp_path, settings, monkeypatch):
    shutil.copytree(LOCALE, tmp_path / "locale", ignore=shutil.ignore_patterns("*.mo"))
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    monkeypatch.chdir(tmp_path)
    call_command("compilemessages", locale=["it"], verbosity=0)  # CommandError if msgfmt refuses it
    with open(tmp_path / "locale" / "it" / "LC_MESSAGES" / "django.mo", "rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)
    assert catalogue.gettext("Manage overage") == "Gestisci eccedenza"
    assert catalogue.gettext("Create new") == "Crea nuovo"
    assert catalogue.ngettext("%(n)s subscription", "%(n)s subscriptions", 1) == "%(n)s sottoscrizione"
    assert catalogue.ngettext("%(n)s subscription", "%(n)s subscriptions", 3) == "%(n)s sottoscrizioni"


def _source_farm(root):
    """A folder of links to the portal's sources, without the catalogue: makemessages run there
    writes its own catalogue into the temporary LOCALE_PATHS, never into the real one."""
    root.mkdir()
    for entry in Path(settings.BASE_DIR).iterdir():
        if entry.name not in NOT_SOURCES:
            (root / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return root


def test_the_catalogue_has_every_string_of_the_sources_and_no_other(tmp_path, settings, monkeypatch):
    farm = _source_farm(tmp_path / "src")
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    monkeypatch.chdir(farm)
    call_command("makemessages", locale=["it"], symlinks=True, verbosity=0)
    fresh = _keys(tmp_path / "locale" / "it" / "LC_MESSAGES" / "django.po")
    current = _keys(PO_FILE)
    assert len(fresh) > 1000, "makemessages found almost nothing: the source farm is wrong"
    missing, gone = sorted(fresh - current, key=str), sorted(current - fresh, key=str)
    assert not missing and not gone, (
        f"{PO_FILE.relative_to(settings.BASE_DIR)} is stale. Not in it yet: {[k[1] for k in missing][:20]}; "
        f"no longer in the sources: {[k[1] for k in gone][:20]}. Run `make messages`, then translate "
        f"the new entries (tools/po_fill.py)."
    )


# The names a module may call gettext by; xgettext (makemessages) extracts only the standard
# ones, and nothing inside an f-string's expressions.
GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "gettext_noop"}


def _escaped(text):
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")


def test_every_string_the_code_translates_is_in_the_catalogue():
    """A string passed to gettext where makemessages cannot see it (``_()`` inside an f-string,
    gettext imported under another name) is never translated: each one is found here by
    reading the Python sources themselves."""
    import ast

    known = {e.msgid for e in _entries(PO_FILE)}
    unseen = []
    for path in sorted(Path(settings.BASE_DIR).rglob("*.py")):
        relative = path.relative_to(settings.BASE_DIR)
        if relative.parts[0] in NOT_SOURCES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {alias.asname for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                   and node.module == "django.utils.translation" for alias in node.names
                   if alias.asname and alias.name in GETTEXT_NAMES}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if (name in GETTEXT_NAMES or name in aliases) and _escaped(node.args[0].value) not in known:
                unseen.append(f"{relative}:{node.lineno} {node.args[0].value!r}")
    assert not unseen, f"translated in the code but not in the catalogue (makemessages cannot see them): {unseen}"
