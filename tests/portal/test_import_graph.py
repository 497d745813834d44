"""The project's modules import each other one way (issue 14, item 1): no import cycle between
any two modules, and no app imports a higher one, whether at module level or inside a function.

    portal <- catalog <- subscriptions <- overage <- billing <- (dashboard, demo) <- config

The graph is read from the source with ``ast`` (every ``import`` and ``from … import``
anywhere in a module, relative ones resolved), so a lazy import that hides a cycle from
Python's import system still counts. Migrations are left out (Django loads them by name).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Lower first; apps of one rank may not import each other either.
APP_RANK = {
    "portal": 0,
    "catalog": 1,
    "subscriptions": 2,
    "overage": 3,
    "billing": 4,
    "dashboard": 5,
    "demo": 5,
    "config": 6,
}


def project_modules():
    """Dotted module name → its file, for every app's module outside migrations."""
    modules = {}
    for app in APP_RANK:
        for path in sorted((ROOT / app).rglob("*.py")) if (ROOT / app).is_dir() else []:
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imported_names(module, path):
    """Every dotted name ``module`` imports, anywhere in its body (``from a import b`` names
    both ``a`` and ``a.b``, which may be a submodule)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return names


def import_graph():
    """Module → the project's modules it imports (the longest known prefix of each name)."""
    modules = project_modules()
    graph = {}
    for module, path in modules.items():
        targets = set()
        for name in imported_names(module, path):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_graph_sees_module_level_and_function_level_imports():
    graph = import_graph()
    assert {"portal.api", "config.api", "config.urls", "demo.loader"} <= set(graph)
    assert "subscriptions.api" in graph["config.api"]  # module level
    assert "portal.api" in graph["catalog.api"]
    # A relative import inside the demo package resolves to its module.
    assert "demo.catalog" in graph["demo.loader"]


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_the_projects_modules():
    assert cycles(import_graph()) == []


def test_no_app_imports_a_higher_app():
    wrong_way = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        for target in targets
        if (app := module.split(".")[0]) != (other := target.split(".")[0]) and APP_RANK[other] >= APP_RANK[app]
    )
    assert wrong_way == []
