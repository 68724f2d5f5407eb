"""The shape of the code: the math packages import no Django and none of the apps."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = {"civic", "surveys", "analytics", "negotiation", "exports", "api", "studio"}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_math_packages_import_no_django():
    for package in ("analytics/measures", "negotiation/bargaining"):
        for path in (ROOT / package).rglob("*.py"):
            if "tests" in path.parts:
                continue
            bad = {m for m in _imports(path) if m.split(".")[0] in {"django", "rest_framework"} | APPS}
            assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
