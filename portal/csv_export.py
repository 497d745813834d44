"""The one rule for every CSV file the portal writes (the subscriptions export, the price
list, the reconciliation file): a cell is what was stored, except a text cell a spreadsheet
would run as a formula.

OWASP's advice against CSV injection: a cell starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return gets a leading apostrophe, so Excel, LibreOffice and Google Sheets show
it as text (``=HYPERLINK(…)`` in a friendly name stays a friendly name). Numbers are never
touched: a plain number (``-12.50``, ``-3``, ``+7``) cannot be a formula, and amounts and
quantities must stay exactly what the file promises (the reconciliation golden files pin it).

Exports write their lines through ``CsvLineWriter``; ``tests/portal/test_csv_export.py``
fails when a module calls ``csv.writer`` itself.
"""

import csv
import re

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
NEUTRALISING_PREFIX = "'"
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def csv_cell(value):
    """``value`` as it may go into a CSV cell: a text starting a formula with an apostrophe in
    front, anything else (numbers, and text that is a plain number) unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS) and not _NUMBER.fullmatch(value):
        return NEUTRALISING_PREFIX + value
    return value


def csv_row(values):
    return [csv_cell(value) for value in values]


class _Echo:
    """A file-like object whose ``write`` hands the line back, for streaming responses."""

    def write(self, value):
        return value


class CsvLineWriter:
    """``csv.writer`` for streamed files: ``writerow`` neutralises each cell (``csv_cell``)
    and returns the line's text instead of writing it. ``fmtparams`` are ``csv.writer``'s."""

    def __init__(self, **fmtparams):
        self._writer = csv.writer(_Echo(), **fmtparams)

    def writerow(self, values):
        return self._writer.writerow(csv_row(values))
