"""The web room knows no SQL: nothing under webapi/ imports sqlalchemy or engine.models (reads go through
engine/services.py and engine/queries.py), and /engine-rest borrows no private helper of /api (what both
need lives in engine/policy.py and engine/services.py). Read from the source, so a lazy import inside a
function counts too."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

WEBAPI = Path(__file__).resolve().parent.parent / "webapi"
FORBIDDEN = ("sqlalchemy", "engine.models")


def imports(source: str, module: str) -> Iterator[tuple[int, str, list[str]]]:
    """(line, absolute module, names) for every import in ``source`` of the module named ``module``
    (``webapi.camunda.tasks``); ``from engine import models`` yields engine.models."""
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names = [alias.name for alias in node.names]
            yield node.lineno, base, names
            for name in names:  # from engine import models
                yield node.lineno, f"{base}.{name}", []


def problems(source: str, module: str) -> list[str]:
    found, seen = [], set()
    for line, name, names in imports(source, module):
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN) and line not in seen:
            seen.add(line)
            found.append(f"{module}:{line} imports {name}")
        private = [n for n in names if n.startswith("_")]
        if module.startswith("webapi.camunda.") and name.startswith("webapi.api") and private:
            found.append(f"{module}:{line} imports private {', '.join(private)} from {name}")
    return found


def web_modules(root: Path) -> Iterator[tuple[str, str]]:
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = (*parts[:-1], "__init__")
        yield ".".join(parts), path.read_text(encoding="utf-8")


def test_the_checker_sees_each_kind_of_leak() -> None:
    # The walk below passes only if the checker can see a leak at all: every spelling of one is caught.
    leaks = {
        "import sqlalchemy": "webapi.pages",
        "from sqlalchemy.orm import Session": "webapi.cli",
        "from engine.models import Task": "webapi.api.tasks",
        "from engine import models": "webapi.api.tasks",
        "def f():\n    from sqlalchemy import select\n": "webapi.pages",
        "from ..api.tasks import _task": "webapi.camunda.tasks",
        "from webapi.api.instances import _readable": "webapi.camunda.instances",
    }
    for source, module in leaks.items():
        assert problems(source, module), source
    clean = "from engine import queries, services\nfrom ..api.definitions import MAX_BYTES\n"
    assert problems(clean, "webapi.camunda.definitions") == []


def test_webapi_imports_no_sql_and_camunda_no_private_api_helper() -> None:
    modules = list(web_modules(WEBAPI))
    assert len(modules) > 20  # the walk found the web room
    found = [p for module, source in modules for p in problems(source, module)]
    assert found == []
