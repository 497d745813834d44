"""Keep locale/<lang>/LC_MESSAGES/django.po translated: the .po itself is the dictionary.

The workflow after strings change in the sources (docs/GLOSSARY-it.md has the terms):

    make messages                                   # makemessages: new msgids, fuzzy guesses
    .venv/bin/python tools/po_fill.py todo > /tmp/todo.txt
    # write /tmp/done.txt: one line "N<TAB>translation" per todo line N (plurals: "N<TAB>one || many")
    .venv/bin/python tools/po_fill.py apply /tmp/todo.txt /tmp/done.txt

`todo` lists every entry that is untranslated or fuzzy (a fuzzy entry shows the old
translation after "~", to be corrected, not trusted). `apply` fills exactly those entries,
clears their fuzzy flag and refuses a translation whose placeholders (%(name)s, %s, {name},
HTML tags) differ from its msgid's. Both sides use the .po escapes (\\n, \\", \\\\).
Only the msgstr lines and the flags of the filled entries change: the rest of the file stays
as makemessages wrote it. No third-party package: plain parsing of the --no-wrap format.
"""

import argparse
import re
import sys
from pathlib import Path

DEFAULT_PO = Path(__file__).resolve().parent.parent / "locale" / "it" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\([A-Za-z_][A-Za-z0-9_]*\)[sdif]|%[sdif]|\{[A-Za-z_][A-Za-z0-9_]*\}|</?[a-z][a-z0-9]*")


class Entry:
    """One block of the .po: its lines, and the parsed parts that the tool reads or writes."""

    def __init__(self, lines):
        self.lines = lines
        self.flags = []
        self.msgctxt = None
        self.msgid = None
        self.msgid_plural = None
        self.msgstr = {}  # index (0 for a singular entry) -> escaped text
        self.locations = []
        current = None
        for line in lines:
            if line.startswith("#,"):
                self.flags = [f.strip() for f in line[2:].split(",") if f.strip()]
            elif line.startswith("#:"):
                self.locations.extend(line[2:].split())
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                self._append(current, line)
            else:
                keyword, _sep, rest = line.partition(" ")
                current = keyword
                self._append(current, rest)

    def _append(self, keyword, quoted):
        text = quoted.strip()[1:-1]
        if keyword == "msgctxt":
            self.msgctxt = (self.msgctxt or "") + text
        elif keyword == "msgid":
            self.msgid = (self.msgid or "") + text
        elif keyword == "msgid_plural":
            self.msgid_plural = (self.msgid_plural or "") + text
        elif keyword == "msgstr":
            self.msgstr[0] = self.msgstr.get(0, "") + text
        elif keyword and keyword.startswith("msgstr["):
            index = int(keyword[7:-1])
            self.msgstr[index] = self.msgstr.get(index, "") + text

    @property
    def is_header(self):
        return self.msgid == ""

    @property
    def is_obsolete(self):
        return all(line.startswith("#") for line in self.lines)

    @property
    def needs_work(self):
        if self.is_header or self.is_obsolete or self.msgid is None:
            return False
        return "fuzzy" in self.flags or any(not text for text in self.msgstr.values()) or not self.msgstr

    def key(self):
        return (self.msgctxt, self.msgid, self.msgid_plural)

    def fill(self, translations, nplurals):
        """Replace the msgstr lines by ``translations`` (a list: one text, or one per plural form)."""
        flags = [f for f in self.flags if f != "fuzzy"]
        comments = [line for line in self.lines if line.startswith("#") and not line.startswith(("#,", "#|"))]
        source = []
        for line in self.lines:
            if line.startswith("msgstr"):
                break
            if not line.startswith("#"):
                source.append(line)
        out = comments + (["#, " + ", ".join(flags)] if flags else []) + source
        if self.msgid_plural is None:
            out.append(f'msgstr "{translations[0]}"')
        else:
            forms = translations if len(translations) == nplurals else translations + [translations[-1]] * (nplurals - len(translations))
            out.extend(f'msgstr[{i}] "{text}"' for i, text in enumerate(forms))
            translations = forms
        self.lines = out
        self.flags = flags
        self.msgstr = dict(enumerate(translations))


def read_po(path):
    blocks, current = [], []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if current:
                blocks.append(Entry(current))
                current = []
            continue
        current.append(line)
    if current:
        blocks.append(Entry(current))
    return blocks


def write_po(path, entries):
    Path(path).write_text("\n\n".join("\n".join(e.lines) for e in entries) + "\n", encoding="utf-8")


def nplurals_of(entries):
    header = next((e for e in entries if e.is_header), None)
    match = re.search(r"nplurals=(\d+)", header.msgstr.get(0, "")) if header else None
    return int(match.group(1)) if match else 2


def placeholders(text):
    return sorted(PLACEHOLDER.findall(text))


def cmd_todo(args):
    entries = read_po(args.po)
    n = 0
    for entry in entries:
        if not entry.needs_work:
            continue
        n += 1
        where = " ".join(sorted(set(entry.locations)))[:120]
        ctx = f" [ctx {entry.msgctxt}]" if entry.msgctxt is not None else ""
        plural = f" || {entry.msgid_plural}" if entry.msgid_plural is not None else ""
        old = ""
        if "fuzzy" in entry.flags:
            old = " ~ " + " || ".join(entry.msgstr[i] for i in sorted(entry.msgstr))
        print(f"{n}\t{entry.msgid}{plural}{ctx}\t# {where}{old}")
    return 0


def cmd_apply(args):
    entries = read_po(args.po)
    nplurals = nplurals_of(entries)
    todo = {}
    for line in Path(args.todo).read_text(encoding="utf-8").splitlines():
        number, msgid, _where = line.split("\t", 2)
        todo[number] = msgid
    done = {}
    for line in Path(args.done).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        number, _sep, text = line.partition("\t")
        done[number.strip()] = text.strip()
    by_text = {}
    for number, listed in todo.items():
        if number in done:
            by_text[listed] = done[number]
    errors, filled = [], 0
    for entry in entries:
        if not entry.needs_work:
            continue
        ctx = f" [ctx {entry.msgctxt}]" if entry.msgctxt is not None else ""
        plural = f" || {entry.msgid_plural}" if entry.msgid_plural is not None else ""
        listed = f"{entry.msgid}{plural}{ctx}"
        if listed not in by_text:
            continue
        forms = [t.strip() for t in by_text[listed].split(" || ")] if entry.msgid_plural is not None else [by_text[listed]]
        sources = [entry.msgid, entry.msgid_plural] if entry.msgid_plural is not None else [entry.msgid]
        for i, form in enumerate(forms):
            source = sources[min(i, len(sources) - 1)]
            # A singular form may leave out the count (Italian "Un token revocato.").
            if placeholders(form) != placeholders(source) and not (plural and i == 0 and set(placeholders(form)) <= set(placeholders(source))):
                errors.append(f"placeholders differ: {source!r} -> {form!r}")
        if not all(forms):
            errors.append(f"empty translation for {entry.msgid!r}")
            continue
        entry.fill(forms, nplurals)
        filled += 1
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        return 1
    write_po(args.po, entries)
    left = sum(1 for e in entries if e.needs_work)
    print(f"filled {filled}; {left} still untranslated or fuzzy")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--po", default=DEFAULT_PO)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("todo")
    apply = sub.add_parser("apply")
    apply.add_argument("todo")
    apply.add_argument("done")
    args = parser.parse_args()
    return {"todo": cmd_todo, "apply": cmd_apply}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
