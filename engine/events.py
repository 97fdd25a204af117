"""What catching tasks wait for: timers and messages, also when an event-based gateway waits for several."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.util.task import TaskState


def event_definitions(task: Any) -> list[Any]:
    """The event definitions a catching task waits for; an event-based gateway waits for several at once."""
    spec = task.task_spec
    if not isinstance(spec, CatchingEvent):
        return []
    definition = spec.event_definition
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition]


def timer_definitions(task: Any) -> list[TimerEventDefinition]:
    return [d for d in event_definitions(task) if isinstance(d, TimerEventDefinition)]


def message_names(task: Any) -> set[str]:
    return {d.name for d in event_definitions(task) if isinstance(d, MessageEventDefinition)}


def is_timer(task: Any) -> bool:
    return bool(timer_definitions(task))


def timer_fired(task: Any) -> bool:
    """Whether a finished task finished because its timer fired (not, say, a message at an event gateway)."""
    if task.state != TaskState.COMPLETED or not is_timer(task):
        return False
    if isinstance(task.task_spec.event_definition, MultipleEventDefinition):
        seen = task.internal_data.get("seen_events") or []
        return any(isinstance(e.event_definition, TimerEventDefinition) for e in seen)
    return True


def timer_due(task: Any) -> datetime | None:
    """The absolute time a waiting timer task fires, as SpiffWorkflow stored it when the timer was reached."""
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):  # a cycle: its next occurrence
        value = value.get("next") if value.get("cycles", 0) != 0 else None
    if not isinstance(value, str):
        return None
    due = TimerEventDefinition.get_datetime(value)
    return due.astimezone(UTC) if due.tzinfo else due.replace(tzinfo=UTC)
