"""engine/ has no import circle: the modules are walked as written (imports made only for type checking and
imports inside functions count too, because a circle there is still two modules that need each other)."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "engine"


def module_name(path: Path, root: Path) -> str:
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(root: Path) -> dict[str, set[str]]:
    """Every module of the package under ``root`` and the modules of the same package it imports."""
    modules = {module_name(path, root): path for path in root.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")
                base = base[: len(base) - node.level + 1] if node.level else []
                stem = ".".join([*base, node.module] if node.module else base)
                # `from . import x` and `from .pkg import mod` name modules; `from .mod import f` names the module.
                targets = [f"{stem}.{alias.name}" for alias in node.names] + [stem]
            else:
                continue
            for target in targets:
                # A name inside a module counts as its module (`a.b.c` -> `a.b` when `a.b` is the module).
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted: every one is a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_engine_has_no_import_circle() -> None:
    graph = imports(ENGINE)
    # The walk sees the engine as it is: the command module builds on the composition root, which builds on
    # the domain services.
    assert "engine.bootstrap" in graph["engine.runtime"]
    assert {"engine.petitions", "engine.escalation", "engine.accounts"} <= graph["engine.bootstrap"]
    assert circles(graph) == []


def test_the_walk_finds_a_circle_through_type_checking_and_relative_imports(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from .sub.b import thing\n")
    (package / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .. import c\nthing = 1\n"
    )
    (package / "c.py").write_text("def late():\n    from pkg import a\n")
    (package / "d.py").write_text("from .a import thing\n")
    assert circles(imports(package)) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
