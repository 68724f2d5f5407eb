"""The shape of the code: apps import each other without cycles, and the math packages import no
Django and none of the apps."""

from __future__ import annotations

import ast
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent


def _our_packages() -> list[str]:
    names = {config.name.split(".")[0] for config in apps.get_app_configs()} | {"civic"}
    return sorted(name for name in names if (ROOT / name / "__init__.py").exists())


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _app_graph() -> dict[str, dict[str, set[str]]]:
    """{package: {package it imports: {files importing it}}}, from the source (tests and migrations
    aside), over the project package and every app of ours."""
    packages = _our_packages()
    graph: dict[str, dict[str, set[str]]] = {name: {} for name in packages}
    for name in packages:
        for path in (ROOT / name).rglob("*.py"):
            parts = path.relative_to(ROOT).parts
            if "tests" in parts or "migrations" in parts:
                continue
            for module in _imports(path):
                top = module.split(".")[0]
                if top in graph and top != name:
                    graph[name].setdefault(top, set()).add("/".join(parts))
    return graph


def _find_cycle(graph: dict[str, dict[str, set[str]]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle():
    assert _find_cycle({"a": {"b": {"x"}}, "b": {"a": {"y"}}}) == ["a", "b", "a"]
    assert _find_cycle({"a": {"b": {"x"}}, "b": {}}) is None


def test_the_apps_import_each_other_without_a_cycle():
    graph = _app_graph()
    cycle = _find_cycle(graph)
    where = [f"{a} -> {b}: {sorted(graph[a][b])}" for a, b in zip(cycle or [], (cycle or [])[1:], strict=False)]
    assert cycle is None, "import cycle between apps:\n" + "\n".join(where)


def test_core_imports_none_of_the_apps():
    assert not _app_graph()["core"]


def test_the_math_packages_import_no_django():
    ours = set(_our_packages())
    for package in ("analytics/measures", "negotiation/bargaining"):
        for path in (ROOT / package).rglob("*.py"):
            if "tests" in path.parts:
                continue
            bad = {m for m in _imports(path) if m.split(".")[0] in {"django", "rest_framework"} | ours}
            assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
