"""What text the portal accepts from outside: no control characters (issue 11).

Unicode's control characters (C0, DEL, C1) and lone surrogates have no place in a name, an id
or a search, and PostgreSQL refuses NUL in any text with an error of its own. Multi-line text
(a textarea, which sends CR LF) legitimately holds tab, CR and LF, so the request middleware
(``portal.middleware.RejectControlCharactersMiddleware``) lets those three through in form
fields and JSON strings (never in the address or a query string) and single-line fields
refuse them themselves (``control_character(text)``); importers of uploaded files apply the
rule to their cells.
"""

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_BUT_LINE_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def control_character(text, *, line_breaks=False):
    """The first control character (or lone surrogate) of ``text`` as ``U+XXXX``, or None.
    ``line_breaks=True`` lets tab, CR and LF through."""
    found = (_CONTROL_BUT_LINE_BREAKS if line_breaks else _CONTROL).search(text)
    return f"U+{ord(found.group()):04X}" if found else None
