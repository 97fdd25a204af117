"""How diagrams' expressions run: through the safe evaluator, never through SpiffWorkflow's bare eval.

SpiffWorkflow hands every gateway condition, timer expression and script to its script engine, which by
default calls Python's eval/exec with full builtins. We replace the environment so that expressions go
through :mod:`engine.expressions` (checked against an allow-list of syntax and registered functions) and
script tasks run only where the operator has switched them on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)

from .context import current_data
from .expressions import ExpressionError, ExpressionKind, compile_expression


class FunctionRegistry:
    """The functions diagrams may call, by name. Modules register theirs at start-up (the clock does)."""

    def __init__(self) -> None:
        self._functions: dict[str, Callable[..., Any]] = {}

    def register(self, name: str, function: Callable[..., Any]) -> None:
        self._functions[name] = function

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._functions)

    def as_mapping(self) -> Mapping[str, Any]:
        return self._functions


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _today() -> str:
    return date.today().isoformat()


def default_functions() -> FunctionRegistry:
    registry = FunctionRegistry()
    for name, function in {
        "now": _now,
        "today": _today,
        "len": len,
        "min": min,
        "max": max,
        "abs": abs,
        "round": round,
        "str": str,
        "int": int,
        "float": float,
        "bool": bool,
        "sum": sum,
        "sorted": sorted,
    }.items():
        registry.register(name, function)
    return registry


def evaluate(
    source: str,
    variables: Mapping[str, Any],
    functions: FunctionRegistry,
    kind: ExpressionKind = "value",
) -> Any:
    expression = compile_expression(source, functions.names, kind=kind)
    result = expression.evaluate(variables, functions.as_mapping())
    # SpiffWorkflow's timer code calls .upper() on what it gets: hand it ISO text, not a datetime.
    if kind == "timer" and isinstance(result, datetime):
        return result.isoformat()
    return result


def check_timer_value(definition: TimerEventDefinition, value: Any) -> None:
    """Refuse a timer value SpiffWorkflow would choke on later with a bare, element-less Exception."""
    if not isinstance(value, str):
        raise ValueError(f"a timer needs ISO 8601 text, got {type(value).__name__} {value!r}")
    try:
        if isinstance(definition, DurationTimerEventDefinition):
            TimerEventDefinition.parse_iso_duration(value)
        elif isinstance(definition, CycleTimerEventDefinition):
            TimerEventDefinition.parse_iso_recurring_interval(value)
        else:
            TimerEventDefinition.parse_time_or_duration(value)
    except Exception as error:
        raise ValueError(f"{value!r} is not a valid ISO 8601 timer value") from error


class SafeEnvironment(BasePythonScriptEngineEnvironment):
    def __init__(self, functions: FunctionRegistry, *, allow_scripts: bool) -> None:
        super().__init__({})
        self.functions = functions
        self.allow_scripts = allow_scripts
        self._scripts = TaskDataEnvironment(dict(functions.as_mapping()))

    def evaluate(self, expression: str, context: Mapping[str, Any], external_context: Any = None) -> Any:
        variables = {**(external_context or {}), **context}
        return evaluate(expression, variables, self.functions)

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        if not self.allow_scripts:
            # Deploy refuses script tasks already; this guards instances deployed before the switch was flipped.
            raise ExpressionError(script, "script tasks are disabled (set PETITIONFLOW_ALLOW_SCRIPTS=1)")
        return self._scripts.execute(script, context, external_context)

    def call_service(self, context: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("service tasks are completed from outside through the engine's commands")


class SafeScriptEngine(PythonScriptEngine):
    def __init__(self, functions: FunctionRegistry, *, allow_scripts: bool = False) -> None:
        super().__init__(environment=SafeEnvironment(functions, allow_scripts=allow_scripts))
        self.functions = functions

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        definition = getattr(task.task_spec, "event_definition", None)
        kind = "timer" if isinstance(definition, TimerEventDefinition) else "value"
        variables = {**(external_context or {}), **task.data}
        token = current_data.set(task.data)
        try:
            value = evaluate(expression, variables, self.functions, kind)
            if kind == "timer":
                check_timer_value(definition, value)
            return value
        except Exception as error:
            raise WorkflowTaskException(
                f"Error evaluating expression '{expression}': {error}", task=task, exception=error
            ) from error
        finally:
            current_data.reset(token)
