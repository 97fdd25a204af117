"""The web room knows no SQL: nothing under webapi/ imports sqlalchemy or engine.models (reads go through
engine/services.py and engine/queries.py), /engine-rest borrows no private helper of /api (what both
need lives in engine/policy.py and engine/services.py), no adapter runs an Engine command itself: it calls
the service that checks the principal first, and none builds the timer service (engine/bootstrap.py does). Read from the source, so a lazy import inside a function counts
too."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from pathlib import Path

from engine.runtime import Engine

WEBAPI = Path(__file__).resolve().parent.parent / "webapi"
FORBIDDEN = ("sqlalchemy", "engine.models")
# Every public method of the Engine but reading its clock and bringing the schema up to date (what the command
# line does before anything else): a command or a read of instance state an adapter reaches through a service.
COMMANDS = {
    name
    for name, member in vars(Engine).items()
    if inspect.isfunction(member) and not name.startswith("_") and name not in ("now", "migrate")
}
# What hands an adapter the engine: webapi.auth's engine(), the command line's _engine() and Engine() itself.
ENGINE_FACTORIES = ("engine", "_engine", "Engine")


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


def _makes_engine(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ENGINE_FACTORIES


def engine_commands(source: str, module: str) -> list[str]:
    """Calls of an Engine command on the engine object: ``engine().suspend(...)``, ``engine.start(...)``, or
    on a name bound to ``engine()``/``Engine()`` or annotated ``Engine``."""
    tree = ast.parse(source)
    names = {"engine"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _makes_engine(node.value):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.arg) and isinstance(node.annotation, ast.Name | ast.Constant):
            annotation = node.annotation
            if getattr(annotation, "id", None) == "Engine" or getattr(annotation, "value", None) == "Engine":
                names.add(node.arg)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        on_engine = _makes_engine(owner) or (isinstance(owner, ast.Name) and owner.id in names)
        if on_engine and node.func.attr in COMMANDS:
            found.append(f"{module}:{node.lineno} calls Engine.{node.func.attr} past engine/services.py")
    return found


def builds_timers(source: str, module: str) -> list[str]:
    """``TimerService(...)`` or ``scheduler.TimerService(...)``: the entry points ask bootstrap.build_timers."""
    return [
        f"{module}:{node.lineno} builds the timer service instead of engine/bootstrap.py"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) == "TimerService"
    ]


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


def test_the_command_checker_sees_each_spelling_of_a_direct_call() -> None:
    assert {"start", "suspend", "resume", "cancel", "deploy", "variables", "deliver_message"} <= COMMANDS
    planted = (
        "def f():\n    return engine().suspend(instance_id, actor=current().username)\n",
        "def f():\n    engine = _engine()\n    engine.deploy(files)\n",
        "def f(eng: Engine):\n    eng.start('intake')\n",
        "def f():\n    e = Engine()\n    e.deliver_message('m', instance_id=i)\n",
        "x = contact_fields(p, engine().variables(instance_id))\n",
    )
    for source in planted:
        assert engine_commands(source, "webapi.api.instances"), source
    # Reading the clock, migrating, a service call and a domain service are not Engine commands.
    clean = (
        "def f():\n    engine = _engine()\n    engine.migrate()\n    engine().now()\n"
        "    services.suspend(engine(), current(), i)\n    engine().accounts.get(u)\n"
    )
    assert engine_commands(clean, "webapi.cli") == []


def test_adapters_reach_engine_commands_only_through_services() -> None:
    found = [p for module, source in web_modules(WEBAPI) for p in engine_commands(source, module)]
    assert found == []


def test_entry_points_ask_bootstrap_for_the_timer_service() -> None:
    for planted in ("timers = TimerService(engine)\n", "t = scheduler.TimerService(_engine(), workers=2)\n"):
        assert builds_timers(planted, "webapi.cli"), planted
    assert builds_timers("timers = build_timers(engine)\n", "webapi.cli") == []
    found = [p for module, source in web_modules(WEBAPI) for p in builds_timers(source, module)]
    assert found == []
