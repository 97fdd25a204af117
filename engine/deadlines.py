"""Statutory deadlines: the rules, the per-instance records, pauses and the one extension.

A diagram asks for a deadline by name (``${deadline('handling')}`` in a timer). The first time, the record is
started from the rule's anchor variable and stored with its legal basis; after that every timer that asks
gets the same due time. A hearing pauses the clock (the sub-process carries ``pausesDeadline``), an approved
extension (a user task carrying ``extendsDeadline``) moves it once, and whenever a deadline moves the
waiting timers bound to it move with it. Whether the deadline was met is recorded for audits and metrics.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from .calendar import StatutoryCalendar
from .clock import as_date
from .context import current_data, current_work
from .errors import Conflict, InvalidInput, ProcessError
from .events import timer_definitions, timer_fired
from .models import Deadline

if TYPE_CHECKING:
    from .unit_of_work import UnitOfWork

DEADLINE_CALL = re.compile(r"deadline\(\s*['\"]([A-Za-z0-9_]+)['\"]\s*\)")
CALENDAR, WORKING = "calendar", "working"


@dataclass(frozen=True)
class DeadlineRule:
    name: str
    length: int
    unit: str  # calendar | working
    anchor: str  # the variable holding the date the period runs from
    basis: str  # legal basis, stored with every record for audits
    max_extension_days: int = 0
    configurable: bool = False  # GK: not fixed by a source; operators are expected to set it
    # A window the petitioner may use (to ask for review, to rate) binds no office: its lapse is not overdue
    # work, so the escalation ladder leaves it alone.
    petitioner_window: bool = False
    title: str = ""  # what supervisors read (受理期限); the name is the diagrams' key

    @property
    def label(self) -> str:
        return self.title or self.name


DEFAULT_RULES: tuple[DeadlineRule, ...] = (
    DeadlineRule(
        "acceptance", 15, CALENDAR, "receivedAt", "《信访工作条例》第22条、第23条", title="受理期限"
    ),
    DeadlineRule(
        "transfer_objection",
        5,
        WORKING,
        "transferReceivedAt",
        "《信访工作条例》第23条第3款",
        title="转送异议期限",
    ),
    DeadlineRule(
        "simple_decision",
        3,
        WORKING,
        "receivedAt",
        "《信访事项简易办理办法》",
        configurable=True,
        title="简易办理决定期限",
    ),
    DeadlineRule(
        "simple_answer",
        10,
        WORKING,
        "acceptedAt",
        "《信访事项简易办理办法》",
        configurable=True,
        title="简易办理答复期限",
    ),
    DeadlineRule(
        "handling",
        60,
        CALENDAR,
        "acceptedAt",
        "《信访工作条例》第34条",
        max_extension_days=30,
        title="办理期限",
    ),
    DeadlineRule(
        "assignment_feedback",
        30,
        CALENDAR,
        "assignedAt",
        "《信访工作条例》第22条第3项（期限为本地设定）",
        configurable=True,
        title="交办反馈期限",
    ),
    DeadlineRule(
        "evaluation",
        7,
        CALENDAR,
        "replyServedAt",
        "满意度评价办法（评价期限为本地设定）",
        configurable=True,
        petitioner_window=True,
        title="满意度评价期限",
    ),
    DeadlineRule(
        "review_request",
        30,
        CALENDAR,
        "replyServedAt",
        "《信访工作条例》第35条",
        petitioner_window=True,
        title="申请复查期限",
    ),
    DeadlineRule("review", 30, CALENDAR, "reviewRequestedAt", "《信访工作条例》第35条", title="复查期限"),
    # A redo order starts a new handling period for the original organ, from the day of the order.
    DeadlineRule(
        "rehandling",
        60,
        CALENDAR,
        "reviewDecidedAt",
        "《信访工作条例》第34条、第35条（复查责令重新办理）",
        title="重新办理期限",
    ),
    DeadlineRule(
        "recheck_request",
        30,
        CALENDAR,
        "reviewServedAt",
        "《信访工作条例》第36条",
        petitioner_window=True,
        title="申请复核期限",
    ),
    DeadlineRule(
        "recheck",
        30,
        CALENDAR,
        "recheckRequestedAt",
        "《信访工作条例》第36条（听证时间不计入）",
        title="复核期限",
    ),
    DeadlineRule(
        "recheck_rehandling",
        60,
        CALENDAR,
        "recheckDecidedAt",
        "《信访工作条例》第34条、第36条（复核责令重新办理）",
        title="重新办理期限",
    ),
    DeadlineRule(
        "hearing_application",
        5,
        WORKING,
        "hearingOfferedAt",
        "本地信访听证规定",
        configurable=True,
        petitioner_window=True,
        title="听证申请期限",
    ),
    DeadlineRule(
        "hearing_decision",
        5,
        WORKING,
        "hearingAppliedAt",
        "本地信访听证规定",
        configurable=True,
        title="听证决定期限",
    ),
    DeadlineRule(
        "hearing_held",
        30,
        CALENDAR,
        "hearingDecidedAt",
        "本地信访听证规定",
        configurable=True,
        title="举行听证期限",
    ),
    DeadlineRule(
        "package_confirmation",
        90,
        CALENDAR,
        "resolvedAt",
        "包案化解确认期（本地设定）",
        configurable=True,
        petitioner_window=True,
        title="包案化解确认期",
    ),
)


def load_rules(path: Path | None) -> dict[str, DeadlineRule]:
    """The default rules, with an operator's overrides from ``path`` (JSON: name -> {length, unit, ...})."""
    rules = {r.name: r for r in DEFAULT_RULES}
    if path is None or not path.exists():
        return rules
    try:
        overrides = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InvalidInput(f"{path}: not valid JSON: {error}") from error
    for name, fields in overrides.items():
        base = rules.get(name) or DeadlineRule(name, 0, CALENDAR, "", "", configurable=True)
        known = {"length", "unit", "anchor", "basis", "max_extension_days", "title"}
        unknown = set(fields) - known
        if unknown:
            raise InvalidInput(f"{path}: deadline '{name}': unknown fields {sorted(unknown)}")
        rule = replace(base, **fields)
        if rule.unit not in (CALENDAR, WORKING) or rule.length <= 0 or not rule.anchor:
            raise InvalidInput(
                f"{path}: deadline '{name}' needs a positive length, unit calendar|working, anchor"
            )
        rules[name] = rule
    return rules


class DeadlineKeeper:
    """Computes, stores and moves deadlines inside the unit of work of a command."""

    def __init__(self, calendar: StatutoryCalendar, rules: Mapping[str, DeadlineRule]) -> None:
        self.calendar = calendar
        self.rules = dict(rules)

    # -- the function diagrams call --------------------------------------------------------------------------
    def deadline(self, name: str) -> str:
        work: UnitOfWork | None = current_work.get()
        if work is None:
            raise ProcessError(f"deadline('{name}') can only be evaluated while the engine runs an instance")
        data = current_data.get() or {}
        record = self.record(work, name, data=data)
        assert record is not None
        if record.outcome is not None:
            # Asked again after the period closed (a reassigned unit, a new resolution, a second hearing):
            # a new period runs from the anchor as it is now; the closed one stays on record.
            record = self._start(work, name, data, period=record.period + 1)
            work.deadlines[name] = record
        return self.effective_due(record).isoformat()

    def rule(self, name: str) -> DeadlineRule:
        rule = self.rules.get(name)
        if rule is None:
            raise ProcessError(f"no deadline rule '{name}'; known: {', '.join(sorted(self.rules))}")
        return rule

    def record(
        self, work: UnitOfWork, name: str, *, data: Mapping[str, Any] | None = None
    ) -> Deadline | None:
        """The instance's record of deadline ``name``; started from ``data``'s anchor if given and not yet begun."""
        cache = work.deadlines
        if name not in cache:
            cache[name] = work.session.scalars(
                select(Deadline)
                .where(Deadline.instance_id == work.row.id, Deadline.name == name)
                .order_by(Deadline.period.desc())
            ).first()
        if cache[name] is None and data is not None:
            cache[name] = self._start(work, name, data)
        return cache[name]

    def _start(self, work: UnitOfWork, name: str, data: Mapping[str, Any], period: int = 1) -> Deadline:
        rule = self.rule(name)
        raw = data.get(rule.anchor)
        if raw is None:
            raise ProcessError(f"deadline '{name}' runs from variable '{rule.anchor}', which is not set")
        record = Deadline(
            instance_id=work.row.id,
            business_key=work.row.business_key,
            name=name,
            basis=rule.basis,
            unit=rule.unit,
            length=rule.length,
            anchor=as_date(raw),
            started_at=work.now,
            extension_days=0,
            paused_seconds=0,
            period=period,
        )
        record.due_at = self.base_due(record)
        work.session.add(record)
        work.audit(
            "deadline.started",
            element=None,
            data={"deadline": name, "due": record.due_at.isoformat(), "basis": rule.basis},
        )
        return record

    def base_due(self, record: Deadline) -> datetime:
        if record.unit == WORKING:
            last = self.calendar.add_working_days(record.anchor, record.length + record.extension_days)
        else:
            last = self.calendar.add_calendar_days(record.anchor, record.length + record.extension_days)
        return self.calendar.due_at(last)

    def effective_due(self, record: Deadline) -> datetime:
        return record.due_at + timedelta(seconds=record.paused_seconds)

    # -- moving a deadline -----------------------------------------------------------------------------------
    def pause(self, work: UnitOfWork, name: str, data: Mapping[str, Any]) -> None:
        # The clock may not have been asked for yet (its timer comes after the hearing): start it now.
        record = self.record(work, name, data=data if self.rule(name).anchor in data else None)
        if record is None or record.paused_at is not None or record.outcome is not None:
            return
        record.paused_at = work.now
        work.audit("deadline.paused", data={"deadline": name})

    def resume(self, work: UnitOfWork, name: str) -> None:
        record = self.record(work, name)
        if record is None or record.paused_at is None:
            return
        paused = work.now - record.paused_at
        record.paused_seconds += int(paused.total_seconds())
        record.paused_at = None
        work.audit(
            "deadline.resumed",
            data={
                "deadline": name,
                "pausedSeconds": int(paused.total_seconds()),
                "due": self.effective_due(record).isoformat(),
            },
        )
        self.move_timers(work, name, record)

    def extend(self, work: UnitOfWork, name: str, days: int, actor: str | None) -> None:
        rule = self.rule(name)
        record = self.record(work, name)
        if record is None:
            raise Conflict(f"deadline '{name}' has not started, so it cannot be extended")
        if record.extension_days:
            raise Conflict(
                f"deadline '{name}' was already extended once by {record.extension_days} days",
                {"deadline": name},
            )
        if not 1 <= days <= rule.max_extension_days:
            raise InvalidInput(
                f"an extension of '{name}' is 1 to {rule.max_extension_days} days, not {days}",
                {"fields": {"extensionDays": [f"1 to {rule.max_extension_days} days"]}},
            )
        record.extension_days = days
        record.extended_at = work.now
        record.due_at = self.base_due(record)
        record.outcome = None
        work.audit(
            "deadline.extended",
            actor=actor,
            data={"deadline": name, "days": days, "due": self.effective_due(record).isoformat()},
        )
        self.move_timers(work, name, record)

    def move_timers(self, work: UnitOfWork, name: str, record: Deadline) -> None:
        """Rewrite the due time SpiffWorkflow stored in every waiting timer bound to this deadline."""
        due = self.effective_due(record).isoformat()
        for task in work.waiting_timers():
            if deadline_name(task) == name:
                task.internal_data["event_value"] = due

    # -- after each command ----------------------------------------------------------------------------------
    def sync(self, work: UnitOfWork) -> None:
        """Pause or resume clocks for sub-processes that started or ended, and record met or lapsed deadlines."""
        for task in work.changed_tasks():
            spec = task.task_spec
            paused = (getattr(spec, "extensions", None) or {}).get("pausesDeadline")
            if paused and task.has_state(TaskState.STARTED | TaskState.READY | TaskState.WAITING):
                self.pause(work, paused, task.data)
            elif paused and task.has_state(TaskState.FINISHED_MASK):
                self.resume(work, paused)
            name = deadline_name(task)
            if name is None:
                continue
            record = self.record(work, name)
            if record is None or record.outcome is not None:
                continue
            if timer_fired(task):
                record.outcome = "overdue"
                record.closed_at = work.now
                work.audit("deadline.lapsed", element=spec.bpmn_id, data={"deadline": name})
            elif task.has_state(TaskState.CANCELLED | TaskState.COMPLETED) and work.now <= self.effective_due(
                record
            ):
                record.outcome = "on_time"
                record.closed_at = work.now


def deadline_name(task: Any) -> str | None:
    for definition in timer_definitions(task):
        expression = getattr(definition, "expression", None)
        found = DEADLINE_CALL.search(expression) if isinstance(expression, str) else None
        if found:
            return found.group(1)
    return None
