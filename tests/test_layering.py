"""The production code's import graph, read from source: no cycles, no import against the layering, no huge modules.

Layers: api → documents → keys → esign, and api → webhooks → esign. web (the pages) sits beside api, on
documents, keys, webhooks (the administration pages manage subscriptions) and esign; api/app.py installs it,
and web imports nothing of api, so a page never reaches into the API's routes or its error mapping. migrations
(the one schema history and its runner) sits above every package that owns tables and below api, which runs it.
Every import counts, wherever it is written (inside functions too, relative ones resolved), and a package's
``__init__`` re-exporting its submodules imports them. Imports under ``if TYPE_CHECKING:`` never run, so they
cannot close a cycle, but they still must respect the layering.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("esign", "keys", "documents", "webhooks", "api", "web", "migrations")
ALLOWED: dict[str, set[str]] = {
    "api": {"documents", "keys", "webhooks", "esign", "migrations", "web"},
    "web": {"documents", "keys", "webhooks", "esign"},
    "documents": {"keys", "esign"},
    "keys": {"esign"},
    "webhooks": {"esign"},
    "esign": set(),
    "migrations": {"esign", "keys", "documents", "webhooks"},
}
MAX_LINES = 500

Graph = Mapping[str, set[str]]


def modules() -> dict[str, Path]:
    """Every production module by dotted name (``pkg.sub`` for ``pkg/sub/__init__.py``)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _type_checking_only(tree: ast.Module) -> set[ast.AST]:
    skipped: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else None
            if name == "TYPE_CHECKING":
                for child in node.body:
                    skipped.update(ast.walk(child))
    return skipped


def _target(name: str, known: Mapping[str, Path]) -> str | None:
    """The module of ours that ``import name`` loads: the longest known prefix; None for third-party names."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in known:
            return ".".join(parts)
        parts.pop()
    return None


def imports_of(module: str, path: Path, known: Mapping[str, Path]) -> Iterator[tuple[str, bool]]:
    """(imported module of ours, whether the import runs) for every import statement of ``module``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    static = _type_checking_only(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        runs = node not in static
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (target := _target(alias.name, known)) is not None:
                    yield target, runs
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                # `from pkg import sub` imports the submodule when there is one, else a name of pkg.
                target = _target(f"{base}.{alias.name}", known) if alias.name != "*" else None
                if target is None or target == _target(base, known):
                    target = _target(base, known)
                if target is not None:
                    yield target, runs


def import_graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(every import, the imports that run), each as module -> modules it imports."""
    known = modules()
    every: dict[str, set[str]] = {name: set() for name in known}
    running: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for target, runs in imports_of(name, path, known):
            if target != name:
                every[name].add(target)
                if runs:
                    running[name].add(target)
    return every, running


def find_cycles(graph: Graph) -> list[list[str]]:
    """One cycle (as a path that returns to its start) for every strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan; the graphs are small enough for recursion
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_in(graph, set(group), group[0]) for group in groups]


def _cycle_in(graph: Graph, group: set[str], start: str) -> list[str]:
    """A shortest path from ``start`` back to itself inside ``group`` (breadth first)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for nxt in sorted(graph.get(node, ())):
                if nxt not in group or nxt in previous:
                    continue
                previous[nxt] = node
                if nxt == start:
                    path = [start]
                    while path[-1] != start or len(path) == 1:
                        path.append(previous[path[-1]])
                    return path[::-1]
                following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover - Tarjan's groups all have one


def violations(graph: Graph) -> list[str]:
    """Every import from one package into another that the layering does not allow."""
    found = []
    for module, targets in sorted(graph.items()):
        package = module.split(".")[0]
        for target in sorted(targets):
            other = target.split(".")[0]
            if other != package and other not in ALLOWED[package]:
                found.append(f"{module} imports {target} ({package} may use {sorted(ALLOWED[package]) or 'nothing'})")
    return found


def test_the_checker_catches_a_cycle_and_an_upward_import() -> None:
    graph = {
        "esign.a": {"esign.b"},
        "esign.b": {"esign.c"},
        "esign.c": {"esign.a"},
        "keys.x": {"esign.a", "api.cli"},
        "api.cli": {"keys.x", "documents.d"},
        "documents.d": set(),
    }
    cycles = find_cycles(graph)
    assert sorted(map(tuple, cycles)) == [
        ("api.cli", "keys.x", "api.cli"),
        ("esign.a", "esign.b", "esign.c", "esign.a"),
    ]
    assert violations(graph) == ["keys.x imports api.cli (keys may use ['esign'])"]
    assert find_cycles({"esign.a": {"esign.b"}, "esign.b": set()}) == []


def test_the_graph_is_read_from_source() -> None:
    every, running = import_graph()
    assert "esign.worker" in every and "esign.db" in every["esign.worker"], "a plain from-import"
    assert "api.cli" in every and "api.quiet" in every["api.cli"], "an import of a submodule"
    assert "migrations" in {m.split(".")[0] for m in every}
    assert all(running[m] <= every[m] for m in every)


def test_no_import_cycles() -> None:
    _, running = import_graph()
    cycles = find_cycles(running)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_imports_follow_the_layering() -> None:
    every, _ = import_graph()
    found = violations(every)
    assert not found, "imports against the layering:\n" + "\n".join(found)


def test_no_production_module_is_over_500_lines() -> None:
    """bench/ and tests/ are not production code."""
    long = {
        str(path.relative_to(ROOT)): lines
        for path in modules().values()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"
