"""Modules that each do one thing (issue 14, item 6), checked on the source with ``ast``:

- no module over ``MAX_MODULE_LINES`` lines and no function (or method) over
  ``MAX_FUNCTION_LINES`` lines, decorators and docstring included, in every ``.py`` file of
  the project outside migrations and tests. The ``bench/`` scripts are included: they are
  code the next person reads and changes (their figures stand in BENCHMARKS.md), so they
  keep the same shape;
- no selector module (``selectors.py``, ``*_selectors.py``, ``selectors_*.py``) imports a
  services module (``services.py`` or anything under ``services/``), at module level or
  inside a function: reads never reach into writes; what both need lives in a module both
  may import (``billing/reconciliation_format.py``, ``overage/rules.py``).

``SPLIT_IN_PROGRESS`` lists what is still over a limit, each with why; it only shrinks: an
entry that no longer breaks the rule fails the test until it is removed.
"""

import ast
from pathlib import Path

from tests.portal.test_import_graph import imported_names

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
SKIPPED_DIRS = {".venv", "venv", "node_modules", "migrations", "tests", ".git", "staticfiles", "var"}

# Path, or "path::function" (a method as "path::Class.method") -> why it is still over a limit.
SPLIT_IN_PROGRESS = {}  # none left
# Selector module -> why it still imports a services module (none left).
SELECTORS_IMPORTING_SERVICES = {}


def project_files():
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if SKIPPED_DIRS.intersection(relative.parts[:-1]):
            continue
        yield relative.as_posix(), path


def _functions(tree, prefix=""):
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield f"{prefix}{node.name}", node
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def _length(node):
    first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
    return node.end_lineno - first + 1


def oversized():
    """``{"path" or "path::function": lines}`` of everything over a limit."""
    found = {}
    for relative, path in project_files():
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            found[relative] = lines
        for name, node in _functions(ast.parse(text, filename=relative)):
            if _length(node) > MAX_FUNCTION_LINES:
                found[f"{relative}::{name}"] = _length(node)
    return found


def _is_selector_module(relative):
    name = relative.rsplit("/", 1)[-1]
    return name == "selectors.py" or name.endswith("_selectors.py") or name.startswith("selectors_")


def _is_services_module(dotted):
    parts = dotted.split(".")
    return "services" in parts


def selectors_importing_services():
    """``{selector module: [services modules it imports]}``."""
    found = {}
    for relative, path in project_files():
        if not _is_selector_module(relative):
            continue
        module = ".".join(Path(relative).with_suffix("").parts)
        imported = imported_names(module, path)
        services = sorted(name for name in imported if _is_services_module(name))
        if services:
            found[relative] = services
    return found


def test_no_module_over_400_lines_and_no_function_over_60_lines():
    found = oversized()
    over = {name: lines for name, lines in found.items() if name not in SPLIT_IN_PROGRESS}
    assert over == {}, (
        f"split these (modules at most {MAX_MODULE_LINES} lines, functions at most {MAX_FUNCTION_LINES}): {over}"
    )


def test_the_split_in_progress_list_only_shrinks():
    done = sorted(set(SPLIT_IN_PROGRESS) - set(oversized()))
    assert done == [], f"these are within the limits now: remove them from SPLIT_IN_PROGRESS: {done}"


def test_no_selector_module_imports_a_services_module():
    found = selectors_importing_services()
    wrong = {module: services for module, services in found.items() if module not in SELECTORS_IMPORTING_SERVICES}
    assert wrong == {}, f"selectors read; move what they share with the services to a module both import: {wrong}"
    done = sorted(set(SELECTORS_IMPORTING_SERVICES) - set(found))
    assert done == [], f"these import no services now: remove them from SELECTORS_IMPORTING_SERVICES: {done}"


def test_the_checks_see_what_they_are_about():
    files = {relative for relative, _path in project_files()}
    assert {"billing/services/usage_import.py", "bench/rating.py", "config/settings.py"} <= files
    assert not any("/migrations/" in name or name.startswith("tests/") for name in files)
    assert {"billing/selectors.py", "overage/selectors.py", "billing/usage_selectors.py"} <= {
        name for name in files if _is_selector_module(name)
    }
    assert _is_services_module("billing.services.rating") and _is_services_module("overage.services")
    assert not _is_services_module("billing.reconciliation_format")
