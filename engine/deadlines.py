"""Statutory deadlines: the rules, the per-instance records, pauses and the one extension.

A diagram asks for a deadline by name (``${deadline('handling')}`` in a timer). The first time, the record is
started from the rule's anchor variable and stored with its legal basis; after that every timer that asks
gets the same due time. A hearing pauses the clock (the sub-process carries ``pausesDeadline``), an approved
extension (a user task carrying ``extendsDeadline``) moves it once, and whenever a deadline moves the
waiting timers bound to it move with it. Whether the deadline was met is recorded for audits and metrics.

Every human step takes its due time from the deadline that governs its stage (engine/stages.py): the record
is found or started when the task opens, its due and warning moment go on the open-task row, and they move
with the record. A deadline with no timer closes when the last step bound to it is done.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.workflow import BpmnSubWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Update, select, update

from .calendar import StatutoryCalendar
from .clock import as_date
from .context import current_data, current_work
from .errors import Conflict, InvalidInput, ProcessError, ValidationFailed
from .events import timer_definitions, timer_fired
from .models import Deadline, Task
from .stages import stage_deadline
from .urgency import Urgency

if TYPE_CHECKING:
    from .unit_of_work import UnitOfWork

DEADLINE_CALL = re.compile(r"deadline\(\s*['\"]([A-Za-z0-9_]+)['\"]\s*\)")
CALENDAR, WORKING = "calendar", "working"
RECEIVED = "receivedAt"  # the day the office received the item: no start date lies before it


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
    # The period runs from the day its stage opened (anchor ""), or from its anchor but never before that
    # day: a step reached late (an item found simple after acceptance) does not start already overdue.
    not_before_opening: bool = False

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
        not_before_opening=True,
    ),
    DeadlineRule(
        "simple_answer",
        10,
        WORKING,
        "acceptedAt",
        "《信访事项简易办理办法》",
        configurable=True,
        title="简易办理答复期限",
        not_before_opening=True,
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
    DeadlineRule(
        "transfer_decision",
        15,
        CALENDAR,
        "",
        "《信访工作条例》第22条",
        title="转送交办期限",
        not_before_opening=True,
    ),
    DeadlineRule(
        "receipt_notice",
        15,
        CALENDAR,
        "",
        "《信访工作条例》第23条第3款",
        title="书面告知期限",
        not_before_opening=True,
    ),
    DeadlineRule(
        "review_acceptance",
        15,
        CALENDAR,
        "",
        "地方信访事项复查复核办法第8条",
        configurable=True,
        title="复查申请受理告知期限",
        not_before_opening=True,
    ),
    DeadlineRule(
        "recheck_acceptance",
        15,
        CALENDAR,
        "",
        "地方信访事项复查复核办法第8条",
        configurable=True,
        title="复核申请受理告知期限",
        not_before_opening=True,
    ),
    DeadlineRule(
        "discipline_feedback",
        90,
        CALENDAR,
        "acceptedAt",
        "《信访工作条例》第30条（反馈期限为本地设定）",
        configurable=True,
        title="纪检监察办理反馈期限",
    ),
    DeadlineRule(
        "supervision",
        30,
        CALENDAR,
        "",
        "《信访工作条例》第40条（答复期限参照原《信访条例》第36条）",
        configurable=True,
        title="督办答复期限",
        not_before_opening=True,
    ),
    DeadlineRule(
        "rectification",
        30,
        CALENDAR,
        "",
        "《信访工作条例》第39条第3款（整改期限为本地设定）",
        configurable=True,
        title="限期整改期限",
        not_before_opening=True,
    ),
    DeadlineRule(
        "accountability",
        15,
        CALENDAR,
        "",
        "《信访工作条例》第40条第3款、第43—45条（期限为本地设定）",
        configurable=True,
        title="追责建议期限",
        not_before_opening=True,
    ),
    DeadlineRule(
        "hearing_offer",
        5,
        WORKING,
        "",
        "信访事项听证办法（告知期限为本地设定）",
        configurable=True,
        title="听证告知期限",
        not_before_opening=True,
    ),
    DeadlineRule(
        "package",
        90,
        CALENDAR,
        "",
        "领导包案化解期限（本地设定，S002）",
        configurable=True,
        title="包案化解期限",
        not_before_opening=True,
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
        known = {"length", "unit", "anchor", "basis", "max_extension_days", "title", "not_before_opening"}
        unknown = set(fields) - known
        if unknown:
            raise InvalidInput(f"{path}: deadline '{name}': unknown fields {sorted(unknown)}")
        rule = replace(base, **fields)
        if (
            rule.unit not in (CALENDAR, WORKING)
            or rule.length <= 0
            or not (rule.anchor or rule.not_before_opening)
        ):
            raise InvalidInput(
                f"{path}: deadline '{name}' needs a positive length, unit calendar|working, anchor"
            )
        rules[name] = rule
    return rules


class DeadlineKeeper:
    """Computes, stores and moves deadlines inside the unit of work of a command."""

    def __init__(
        self, calendar: StatutoryCalendar, rules: Mapping[str, DeadlineRule], urgency: Urgency | None = None
    ) -> None:
        self.calendar = calendar
        self.rules = dict(rules)
        self.urgency = urgency or Urgency()

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
        if name not in cache and not work.deadlines_loaded:
            # Every record of the instance in one query: a command asks for a few names (the stage a task
            # closed, the one the next task opens in), and one round trip serves them all.
            work.deadlines_loaded = True
            found = work.session.scalars(
                select(Deadline).where(Deadline.instance_id == work.row.id).order_by(Deadline.period)
            )
            for record in found:  # by period: the latest of each name stays
                cache[record.name] = record
        cache.setdefault(name, None)
        if cache[name] is None and data is not None:
            cache[name] = self._start(work, name, data)
        return cache[name]

    def _start(self, work: UnitOfWork, name: str, data: Mapping[str, Any], period: int = 1) -> Deadline:
        anchor = self.anchor(name, data, work.now)
        if anchor is None:
            raise ProcessError(
                f"deadline '{name}' runs from variable '{self.rule(name).anchor}', which is not set"
            )
        rule = self.rule(name)
        record = Deadline(
            instance_id=work.row.id,
            business_key=work.row.business_key,
            name=name,
            basis=rule.basis,
            unit=rule.unit,
            length=rule.length,
            anchor=anchor,
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

    def anchor(self, name: str, data: Mapping[str, Any], now: datetime) -> date | None:
        """The day deadline ``name`` runs from: its anchor variable, or the day its stage opened (``now``)
        where the rule says so, whichever is later; None when the anchor variable is not set."""
        rule = self.rule(name)
        opened = now.astimezone(self.calendar.tz).date()
        raw = data.get(rule.anchor) if rule.anchor else None
        if raw is None:
            return opened if rule.not_before_opening and not rule.anchor else None
        day = as_date(raw)
        return max(day, opened) if rule.not_before_opening else day

    def base_due(self, record: Deadline) -> datetime:
        if record.unit == WORKING:
            last = self.calendar.add_working_days(record.anchor, record.length + record.extension_days)
        else:
            last = self.calendar.add_calendar_days(record.anchor, record.length + record.extension_days)
        return self.calendar.due_at(last)

    def effective_due(self, record: Deadline) -> datetime:
        return record.due_at + timedelta(seconds=record.paused_seconds)

    # -- start dates typed into forms -----------------------------------------------------------------------
    @property
    def start_fields(self) -> set[str]:
        """The variables periods run from (receivedAt, acceptedAt, transferReceivedAt, …): the rules' anchors."""
        return {rule.anchor for rule in self.rules.values()}

    def check_start_dates(
        self, work: UnitOfWork, before: Mapping[str, Any], submitted: Mapping[str, Any], actor: str | None
    ) -> None:
        """Refuse a start date in the future or before the item was received (ValidationFailed naming each
        field, nothing changed); record a changed one as a correction, and move the deadline it started."""
        today = work.now.astimezone(self.calendar.tz).date()
        received_raw = submitted.get(RECEIVED, before.get(RECEIVED))
        received = _date_or_none(received_raw)
        problems: dict[str, list[str]] = {}
        corrections: list[tuple[str, date, date]] = []
        for name in sorted(self.start_fields & set(submitted)):
            value = _date_or_none(submitted[name])
            if value is None:
                continue
            if value > today:
                problems[name] = [f"日期不能晚于今天（{today.isoformat()}）"]
            elif received is not None and name != RECEIVED and value < received:
                problems[name] = [f"日期不能早于收到信访事项的日期（{received.isoformat()}）"]
            old = _date_or_none(before.get(name))
            if old is not None and old != value:
                corrections.append((name, old, value))
        if problems:
            raise ValidationFailed(f"{len(problems)} field(s) are invalid", {"fields": problems})
        for name, old, new in corrections:
            work.audit(
                "start_date.changed",
                actor=actor,
                data={"field": name, "old": old.isoformat(), "new": new.isoformat()},
            )
            for rule in self.rules.values():
                if rule.anchor == name:
                    self._restart_from(work, rule.name, new, actor)

    def _restart_from(self, work: UnitOfWork, name: str, anchor: date, actor: str | None) -> None:
        """An open deadline running from a corrected date runs from the corrected one."""
        record = self.record(work, name)
        if record is None or record.outcome is not None or record.anchor == anchor:
            return
        old = self.effective_due(record)
        record.anchor = anchor
        record.due_at = self.base_due(record)
        work.audit(
            "deadline.restarted",
            actor=actor,
            data={
                "deadline": name,
                "anchor": anchor.isoformat(),
                "oldDue": old.astimezone(UTC).isoformat(),
                "newDue": self.effective_due(record).astimezone(UTC).isoformat(),
            },
        )
        self.move_timers(work, name, record)

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

    def moved_by_calendar(self, record: Deadline) -> bool:
        """Whether the calendar as it is now gives an open record another due day than the one stored."""
        return record.outcome is None and self.base_due(record) != record.due_at

    def recompute(self, work: UnitOfWork, generation: int) -> None:
        """Move every open deadline of the instance that a calendar change moved, and its waiting timers; each
        move is recorded with the old and the new due time."""
        records = work.session.scalars(
            select(Deadline).where(Deadline.instance_id == work.row.id, Deadline.outcome.is_(None))
        )
        for record in records:
            if not self.moved_by_calendar(record):
                continue
            old = self.effective_due(record)
            record.due_at = self.base_due(record)
            work.deadlines[record.name] = record
            work.audit(
                "deadline.recomputed",
                data={
                    "deadline": record.name,
                    "oldDue": old.astimezone(UTC).isoformat(),
                    "newDue": self.effective_due(record).astimezone(UTC).isoformat(),
                    "calendarGeneration": generation,
                },
            )
            self.move_timers(work, record.name, record)

    def move_timers(self, work: UnitOfWork, name: str, record: Deadline) -> None:
        """Rewrite the due time SpiffWorkflow stored in every waiting timer bound to this deadline, and the
        due and warning moment of the open tasks it governs."""
        due = self.effective_due(record)
        for task in work.waiting_timers():
            if deadline_name(task) == name:
                task.internal_data["event_value"] = due.isoformat()
        work.write(self.move_tasks(record))

    def move_tasks(self, record: Deadline) -> Update:
        """The statement that gives the open tasks governed by ``record`` its current due and warning moment
        (for whatever moves a deadline: an extension, a pause ending, a new calendar year)."""
        due = self.effective_due(record)
        table = Task.__table__
        return (
            update(table)
            .where(table.c.instance_id == record.instance_id, table.c.deadline_name == record.name)
            .values(due_at=due, warn_at=self.urgency.warn_at(due))
        )

    # -- the deadline of a human step --------------------------------------------------------------------------
    def task_due(self, work: UnitOfWork, task: Any) -> tuple[str | None, datetime | None]:
        """The deadline governing a task that has just opened (engine/stages.py), started if it had not
        begun, and its due time; (None, None) for a step outside any statutory period."""
        name = stage_deadline(process_of(task), task.task_spec.bpmn_id)
        if name is None:
            return None, None
        record = self.record(work, name)
        anchor = self.anchor(name, task.data, work.now)
        if record is None or (
            record.outcome is not None
            and anchor is not None
            and anchor != record.anchor
            # A lapsed period whose stage still has work open (a monthly report amid the duties) goes on.
            and name not in self._open_stages(work, besides=task)
        ):
            if anchor is None:
                return name, None
            record = self._start(work, name, task.data, period=record.period + 1 if record else 1)
            work.deadlines[name] = record
        elif record.outcome == "on_time":
            # The stage has work again on the same footing (a tier deciding anew the same day): it is open.
            record.outcome = None
            record.closed_at = None
        return name, self.effective_due(record)

    # -- after each command ----------------------------------------------------------------------------------
    def sync(self, work: UnitOfWork) -> None:
        """Pause or resume clocks for sub-processes that started or ended, and record met or lapsed deadlines:
        a deadline closes when its timer fires, or when the last step and timer bound to it are done."""
        finished: set[str] = set()
        for task in work.changed_tasks():
            spec = task.task_spec
            paused = (getattr(spec, "extensions", None) or {}).get("pausesDeadline")
            if paused and task.has_state(TaskState.STARTED | TaskState.READY | TaskState.WAITING):
                self.pause(work, paused, task.data)
            elif paused and task.has_state(TaskState.FINISHED_MASK):
                self.resume(work, paused)
            name = deadline_name(task)
            if name is None:
                if spec.manual and task.has_state(TaskState.CANCELLED | TaskState.COMPLETED):
                    name = stage_deadline(process_of(task), spec.bpmn_id)
                if name is not None:
                    finished.add(name)
                continue
            record = self.record(work, name)
            if record is None or record.outcome is not None:
                continue
            if timer_fired(task):
                record.outcome = "overdue"
                record.closed_at = work.now
                work.audit("deadline.lapsed", element=spec.bpmn_id, data={"deadline": name})
            elif task.has_state(TaskState.CANCELLED | TaskState.COMPLETED):
                finished.add(name)
        if finished:
            self._close(work, finished - self._open_stages(work))

    def _open_stages(self, work: UnitOfWork, besides: Any = None) -> set[str]:
        """The deadlines some ready step (other than ``besides``) or waiting timer of the instance is still
        bound to."""
        names: set[str | None] = set()
        for task in work.all_tasks():
            if task is besides:
                continue
            if task.state == TaskState.READY and task.task_spec.manual:
                names.add(stage_deadline(process_of(task), task.task_spec.bpmn_id))
            elif task.state == TaskState.WAITING:
                names.add(deadline_name(task))
        return {name for name in names if name}

    def _close(self, work: UnitOfWork, names: set[str]) -> None:
        for name in sorted(names):
            record = self.record(work, name)
            if record is None or record.outcome is not None or record.paused_at is not None:
                continue
            late = work.now > self.effective_due(record)
            record.outcome = "overdue" if late else "on_time"
            record.closed_at = work.now
            if late:
                work.audit("deadline.lapsed", data={"deadline": name})


def process_of(task: Any) -> str:
    """The id of the process a task belongs to: its diagram's, a called diagram's, never an embedded
    sub-process's own id."""
    workflow = task.workflow
    while isinstance(workflow, BpmnSubWorkflow):
        parent = workflow.top_workflow.get_task_from_id(workflow.parent_task_id)
        # SpiffWorkflow runs an embedded sub-process as a call of a process named after the element.
        if parent.task_spec.bpmn_id != workflow.spec.name:
            break
        workflow = parent.workflow
    return str(workflow.spec.name)


def _date_or_none(value: Any) -> date | None:
    try:
        return as_date(value) if value not in (None, "") else None
    except ValueError:  # the form's own rules judge what is not a date
        return None


def deadline_name(task: Any) -> str | None:
    for definition in timer_definitions(task):
        expression = getattr(definition, "expression", None)
        found = DEADLINE_CALL.search(expression) if isinstance(expression, str) else None
        if found:
            return found.group(1)
    return None
