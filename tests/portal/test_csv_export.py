"""The one CSV-cell rule (OWASP, CSV injection): a text cell a spreadsheet would run as a
formula is neutralised with a leading apostrophe, numbers never are; and every CSV file the
portal writes goes through it."""

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from portal.csv_export import CsvLineWriter, csv_cell

ROOT = Path(__file__).resolve().parents[2]
APPS = ("portal", "catalog", "subscriptions", "overage", "billing")
# Writers that are not exports: the usage import's COPY buffer goes to PostgreSQL, never to a person.
NOT_EXPORTS = {"billing/services/usage_write.py"}


@pytest.mark.parametrize(
    "value",
    ['=HYPERLINK("http://evil","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r=1+1", "-", "+"],
)
def test_a_text_cell_a_spreadsheet_would_run_gets_a_leading_apostrophe(value):
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize(
    "value",
    ["-12.50", "-5", "+7", "0.000001", "-1E+2", "12.50", "Contoso", "", "a=b", " =1", "2026-10-01", '["AddOn"]'],
)
def test_numbers_and_harmless_text_stay_unchanged(value):
    assert csv_cell(value) == value


@pytest.mark.parametrize("value", [-5, Decimal("-12.50"), 3.5, None, True])
def test_non_text_values_stay_unchanged(value):
    assert csv_cell(value) == value


def test_the_line_writer_neutralises_each_cell_and_keeps_the_csv_quoting():
    writer = CsvLineWriter(lineterminator="\n")
    assert writer.writerow(["=1+1", "-12.50", 'a "b"', -3]) == "'=1+1,-12.50,\"a \"\"b\"\"\",-3\n"


def test_every_csv_the_portal_writes_goes_through_the_cell_rule():
    """A new export that calls ``csv.writer`` itself would skip the rule: use ``CsvLineWriter``."""
    offenders = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if "migrations" in path.parts or relative in NOT_EXPORTS or relative == "portal/csv_export.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Attribute) and node.attr in {"writer", "DictWriter"}:
                    if isinstance(node.value, ast.Name) and node.value.id == "csv":
                        offenders.append(f"{relative}:{node.lineno}")
    assert offenders == []
