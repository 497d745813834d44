"""What text the portal accepts from outside: no control characters (issue 11).

Unicode's control characters (C0, DEL, C1) and lone surrogates have no place in a name, an id
or a search, and PostgreSQL refuses NUL in any text with an error of its own. Multi-line text
(a textarea, which sends CR LF) legitimately holds tab, CR and LF, so the request middleware
(``portal.middleware.RejectControlCharactersMiddleware``) lets those three through in form
fields and JSON strings (never in the address or a query string) and single-line fields
refuse them themselves (``control_character(text)``); importers of uploaded files apply the
rule to their cells.
"""

import functools
import re

from django.utils import translation

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_BUT_LINE_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def control_character(text, *, line_breaks=False):
    """The first control character (or lone surrogate) of ``text`` as ``U+XXXX``, or None.
    ``line_breaks=True`` lets tab, CR and LF through."""
    found = (_CONTROL_BUT_LINE_BREAKS if line_breaks else _CONTROL).search(text)
    return f"U+{ord(found.group()):04X}" if found else None


# --- Texts stored in English ----------------------------------------------------------------
# A text made from a translatable message and kept in the database (a cart line's error, the
# name of an API batch) is stored in English, as the API returns it, whatever the language of
# the request that made it. A page shows it in its reader's language: ``stored_text_in_language``
# finds which message it was made from and formats that message's translation with the same
# values.
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@functools.cache
def _pattern(english):
    parts, end = [], 0
    for match in _PLACEHOLDER.finditer(english):
        parts.append(re.escape(english[end:match.start()]))
        parts.append(f"(?P<{match.group(1)}>.+?)")
        end = match.end()
    parts.append(re.escape(english[end:]))
    return re.compile("".join(parts), re.DOTALL)


def in_english(function):
    """Runs ``function`` in English: for the code that makes the texts it stores."""

    @functools.wraps(function)
    def english(*args, **kwargs):
        with translation.override("en"):
            return function(*args, **kwargs)

    return english


def stored_text_in_language(text, messages):
    """``text`` (stored in English, made from one of ``messages``) in the active language; a text
    made from none of them (stored earlier, or typed by a person) is returned as stored."""
    with translation.override("en"):
        english = [str(message) for message in messages]
    for message, source in zip(messages, english, strict=True):
        match = _pattern(source).fullmatch(text)
        if match:
            values = match.groupdict()
            translated = str(message)
            if not values:
                return translated
            values = {name: int(value) if f"%({name})d" in translated and value.isdigit() else value
                      for name, value in values.items()}
            return translated % values
    return text
