"""Where a case stands inside its procedures: the instance tree.

One instance runs its called procedures (call activities: 三级转交办, 普通程序办理, 调查核实并出具处理意见 …) inside
its own workflow, and its row keeps only the ids of its active elements. A definition's catalogue (its process and
every process it calls, each with its elements' names and kinds and the call activities that enter the others)
turns those ids into levels (the procedures a case is in, outermost first, each entered from a call activity of
the level above) and its innermost steps (the human steps and the events it waits for, named in Chinese)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Element kinds that stand for a step of their own; a boundary event counts only where nothing else waits.
STEP_KINDS = frozenset(
    {
        "UserTask",
        "ManualTask",
        "NoneTask",
        "ReceiveTask",
        "ServiceTask",
        "ScriptTask",
        "SendTask",
        "BusinessRuleTask",
        "IntermediateCatchEvent",
        "EventBasedGateway",
    }
)
CALL_KINDS = frozenset({"CallActivity", "SubWorkflowTask", "SubProcess", "TransactionSubprocess"})


@dataclass(frozen=True)
class Process:
    key: str
    name: str
    file: str | None
    # element id -> (kind, Chinese name or None)
    elements: Mapping[str, tuple[str, str | None]]
    # call activity id -> the key of the process it calls
    calls: Mapping[str, str]


@dataclass(frozen=True)
class Catalogue:
    """A definition's own process (``root``) and every process it may call, by key."""

    root: str
    processes: Mapping[str, Process]

    def element_name(self, process: str, element: str) -> str | None:
        found = self.processes.get(process)
        return found.elements.get(element, ("", None))[1] if found else None


@dataclass(frozen=True)
class Level:
    """One procedure a case is in: ``via`` is the call activity of ``parent`` that entered it."""

    process: str
    name: str
    file: str | None
    parent: str | None = None
    via: str | None = None


@dataclass(frozen=True)
class Step:
    """One innermost active step: the element, in which procedure, named in Chinese."""

    process: str
    process_name: str
    element: str
    name: str
    kind: str


@dataclass(frozen=True)
class Position:
    levels: list[Level] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)


def _process(spec: Any) -> Process:
    elements: dict[str, tuple[str, str | None]] = {}
    calls: dict[str, str] = {}
    for task_spec in spec.task_specs.values():
        bpmn_id = getattr(task_spec, "bpmn_id", None)
        if not bpmn_id:
            continue
        kind = type(task_spec).__name__
        elements[bpmn_id] = (kind, getattr(task_spec, "bpmn_name", None))
        called = getattr(task_spec, "spec", None)
        if kind in CALL_KINDS and isinstance(called, str):
            calls[bpmn_id] = called
    return Process(
        spec.name,
        getattr(spec, "description", None) or spec.name,
        getattr(spec, "file", None),
        elements,
        calls,
    )


def catalogue(spec: Any, subprocesses: Mapping[str, Any]) -> Catalogue:
    """The catalogue of a parsed definition (engine/serialization.py's specs_for)."""
    processes = {name: _process(sub) for name, sub in subprocesses.items()}
    root = _process(spec)
    processes[root.key] = root
    return Catalogue(root.key, processes)


def position(c: Catalogue, active: Iterable[str]) -> Position:
    """The levels a case is in and its innermost steps, from its active element ids. A level is entered by an
    active call activity of the level above; an id several processes use belongs to the active one."""
    active_ids = set(active)
    levels = [Level(c.root, c.processes[c.root].name, c.processes[c.root].file)]
    seen = {c.root}
    frontier = [c.root]
    while frontier:
        parent = frontier.pop(0)
        for via, called in sorted(c.processes[parent].calls.items()):
            if via in active_ids and called in c.processes and called not in seen:
                seen.add(called)
                frontier.append(called)
                process = c.processes[called]
                levels.append(Level(called, process.name, process.file, parent, via))
    steps: list[Step] = []
    for level in levels:
        elements = c.processes[level.process].elements
        here = [(e, *elements[e]) for e in sorted(active_ids) if e in elements]
        own = [s for s in here if s[1] in STEP_KINDS]
        for element, kind, name in own or [s for s in here if s[1] == "BoundaryEvent"]:
            steps.append(Step(level.process, level.name, element, name or element, kind))
    # The innermost steps: a step of a level that holds a deeper active level is still shown (a parallel
    # branch), so every step is kept; they come innermost first.
    depth = {level.process: i for i, level in enumerate(levels)}
    steps.sort(key=lambda s: -depth[s.process])
    return Position(levels, steps)
