"""The unit of work: the state one command works on, and the projections written back with it.

A command's unit of work holds the locked instance row, its workflow and the session of the command's
transaction. Saving it writes the serialized state, the open-task rows, the timer rows, the deadlines and the
audit events, as statements in that one transaction; the projections are diffs against the workflow as it was
loaded, so a command that changes one task writes one task's rows. Nothing here opens or commits a
transaction: that is the command executor's job (:mod:`engine.executor`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from .context import current_work
from .errors import Conflict, InvalidState, ProcessError
from .events import is_timer, timer_due, timer_fired
from .expressions import ExpressionError
from .formstore import bound_version
from .inbox import task_notices
from .models import (
    AuditEvent,
    Deadline,
    Instance,
    Notification,
    Task,
    TaskCandidate,
    Timer,
    UnitMember,
)
from .organisation import unit_of_groups
from .parsing import is_expression
from .scripting import FunctionRegistry, evaluate
from .serialization import WorkflowCodec
from .urgency import Urgency

ACTIVE, SUSPENDED, COMPLETED, CANCELLED = "active", "suspended", "completed", "cancelled"


@dataclass
class CommandResult:
    """What a command did, for callers and for after-commit listeners."""

    instance_id: str
    state: str
    business_key: str | None = None
    next_timer_at: datetime | None = None
    created_tasks: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    # The command went through but the fire of timers that followed it failed (a resume): the instance's
    # incident that keeps the failure.
    incident: int | None = None


Listener = Callable[[CommandResult], None]


class DeadlineSync(Protocol):
    """What saving needs of the statutory clock: bring the instance's deadline rows in line with its work,
    and the deadline (name, due time) governing a step that has just opened."""

    urgency: Urgency

    def sync(self, work: UnitOfWork) -> None: ...

    def task_due(self, work: UnitOfWork, task: Any) -> tuple[str | None, datetime | None]: ...


@dataclass
class WorkEnvironment:
    """What every unit of work needs from the composition root; handed in, so that this module (and the
    domain services that take a unit of work) never reach for the Engine."""

    codec: WorkflowCodec
    functions: FunctionRegistry
    now: Callable[[], datetime]
    deadlines: DeadlineSync
    # Called inside the command's transaction when an instance ends, with its unit of work.
    end_hooks: list[Callable[[UnitOfWork], None]] = field(default_factory=list)


def _split_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(v) for v in value]


def parse_due(value: Any, created: datetime) -> datetime | None:
    """A due/follow-up value: an ISO duration from creation, an ISO date(time), or nothing."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    if text.startswith("P"):
        parsed = TimerEventDefinition.parse_iso_duration(text)
        return created + TimerEventDefinition.get_timedelta_from_start(parsed, created)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class UnitOfWork:
    """The state one command works on, and the code that writes it all back."""

    def __init__(
        self,
        environment: WorkEnvironment,
        session: Session,
        row: Instance,
        workflow: BpmnWorkflow | None,
        *,
        new: bool = False,
        task: Task | None = None,
    ) -> None:
        self.environment = environment
        self.session = session
        self.row = row
        self.workflow = workflow
        self.started = time.time()
        self.now = environment.now()
        self.deadlines: dict[str, Deadline | None] = {}
        self.deadlines_loaded = False  # the instance's records are read once, on first need
        self.completed_by_command: set[str] = set()
        self.pending_audit: list[dict[str, Any]] = []
        self._snapshot: list[Any] | None = None
        self.fired_noted = False
        # The row of the task the command acts on (read with the lock); the other open tasks' rows are not read.
        self.task_row = task
        # The task and timer rows are projections of the workflow, written in the same transaction as its state:
        # the workflow as loaded says which rows exist (open tasks: id -> element; timers: id -> due), so saving
        # needs no query to read them back.
        self.open_before: dict[str, str] = {}
        self.timers_before: dict[str, datetime] = {}
        for t in workflow.get_tasks() if workflow is not None and not new else ():
            if t.state == TaskState.READY and t.task_spec.manual:
                self.open_before[str(t.id)] = t.task_spec.bpmn_id
            elif t.state == TaskState.WAITING and is_timer(t) and (due := timer_due(t)) is not None:
                self.timers_before[str(t.id)] = due
        # Projection writes as Core statements, run after the instance row is flushed (a new instance's rows
        # reference it) and before the audit events.
        self._writes: list[tuple[Any, list[dict[str, Any]] | None]] = []
        self.initial_state = row.state
        if not new and row.state in (COMPLETED, CANCELLED):
            raise InvalidState(f"instance is {row.state}", {"instance": row.id, "state": row.state})

    def require_active(self) -> None:
        if self.row.state != ACTIVE:
            raise InvalidState(
                f"instance is {self.row.state}", {"instance": self.row.id, "state": self.row.state}
            )

    def run(self, step: Callable[[], Any]) -> None:
        """Apply a change and run the engine; a diagram error leaves the instance untouched."""
        assert self.workflow is not None
        # Timer expressions that call deadline() reach this instance's deadlines through the context.
        token = current_work.set(self)
        try:
            step()
            self.workflow.refresh_timers()
            self.workflow.do_engine_steps()
        except SpiffWorkflowException as error:
            task = getattr(error, "task", None)
            element = task.task_spec.bpmn_id if task is not None else None
            raise ProcessError(
                f"the diagram failed at {element or 'an element'}: {error}",
                {"element": element, "instance": self.row.id},
            ) from error
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as error:
            # SpiffWorkflow's own slips on data the diagram did not expect (a multi-instance collection that
            # is not a list): the step fails as an incident and the instance stays as it was.
            raise ProcessError(
                f"the diagram failed: {type(error).__name__}: {error}",
                {"element": None, "instance": self.row.id},
            ) from error
        finally:
            current_work.reset(token)

    def open_task(self, task_id: str) -> Task:
        task = self.task_row
        if task is None or task.id != task_id:
            raise Conflict("the task is no longer open: it was completed or cancelled", {"task": task_id})
        self.require_active()
        return task

    def audit(
        self,
        kind: str,
        *,
        actor: str | None = None,
        task: Task | None = None,
        element: str | None = None,
        data: dict[str, Any] | None = None,
        task_id: str | None = None,
    ) -> None:
        """Queue an event; all of a command's events are written by one INSERT when it saves."""
        self.pending_audit.append(
            {
                "instance_id": self.row.id,
                "business_key": self.row.business_key,
                "kind": kind,
                "actor": actor,
                "at": self.now,
                "data": data,
                "task_id": task.id if task else task_id,
                "element_id": task.element_id if task else element,
            }
        )

    def all_tasks(self) -> list[Any]:
        """Every task of the workflow, subprocesses included, walked once per save."""
        assert self.workflow is not None
        if self._snapshot is None:
            return self.workflow.get_tasks()
        return self._snapshot

    def changed_tasks(self) -> list[Any]:
        return [t for t in self.all_tasks() if t.last_state_change >= self.started]

    def waiting_timers(self) -> list[Any]:
        return [t for t in self.all_tasks() if t.state == TaskState.WAITING and is_timer(t)]

    def note_fired_timers(self) -> None:
        self.fired_noted = True
        for task in self.changed_tasks():
            if timer_fired(task):
                self.audit("timer.fired", element=task.task_spec.bpmn_id)

    # -- saving ------------------------------------------------------------------------------------------------
    def save(self) -> CommandResult:
        row, workflow = self.row, self.workflow
        result = CommandResult(row.id, row.state, row.business_key)
        if workflow is not None:
            self._snapshot = workflow.get_tasks()
            self._record_activities(workflow)
            self.environment.deadlines.sync(self)
            finished = workflow.completed and row.state == ACTIVE
            if finished:
                row.state = COMPLETED
            if row.state in (COMPLETED, CANCELLED):
                row.ended_at = self.now
            # Task creation evaluates input mappings into task data, so it comes before the state is encoded;
            # its expressions (unitGroup(...)) read the organisation through this unit of work.
            token = current_work.set(self)
            try:
                result.created_tasks = self._project_tasks(workflow)
            finally:
                current_work.reset(token)
            if finished:
                self.audit("instance.completed")
            if row.state in (COMPLETED, CANCELLED):
                for hook in self.environment.end_hooks:
                    hook(self)
            row.next_timer_at = self._project_timers(workflow)
            row.state_json = self.environment.codec.encode_state(workflow)
            row.active_elements = (
                sorted(
                    {
                        t.task_spec.bpmn_id
                        for t in self.all_tasks()
                        if t.has_state(TaskState.READY | TaskState.WAITING | TaskState.STARTED)
                        and t.task_spec.bpmn_id
                        and not t.task_spec.__class__.__name__.endswith("Join")
                    }
                )
                if row.state in (ACTIVE, SUSPENDED)
                else []
            )
        suspended = row.state == SUSPENDED
        if suspended != (self.initial_state == SUSPENDED):
            table = Task.__table__
            self._writes.append(
                (update(table).where(table.c.instance_id == row.id).values(suspended=suspended), None)
            )
        row.updated_at = self.now
        # Written even when nothing else of the row changed, so that every command moves the version on: that is
        # how a task row read before a lock wait is known to be stale (CommandExecutor.lock_task).
        flag_modified(row, "updated_at")
        try:
            self.session.flush()
        except StaleDataError as error:
            raise Conflict(
                "the instance was changed by someone else; try again", {"instance": row.id}
            ) from error
        self._write_rows()
        result.state = row.state
        result.next_timer_at = row.next_timer_at if row.state == ACTIVE else None
        result.events = [e["kind"] for e in self.pending_audit]
        return result

    def write(self, statement: Any) -> None:
        """Run a projection statement with the others when the command saves."""
        self._writes.append((statement, None))

    def _write_rows(self) -> None:
        """The projection's rows and the audit events, as Core statements after the instance row's flush, on
        the session's connection (they need nothing of the ORM's statement handling)."""
        connection = self.session.connection()
        for statement, rows in self._writes:
            connection.execute(statement, rows)
        if self.pending_audit:
            # One statement for all events (Core, not the ORM's bulk insert, which splits the rows by which
            # columns are null); nothing reads the events' ids back.
            connection.execute(insert(AuditEvent.__table__), self.pending_audit)

    def _record_activities(self, workflow: BpmnWorkflow) -> None:
        """An audit event for every BPMN element the engine finished during this command (the path taken)."""
        finished = [
            t
            for t in self.changed_tasks()
            if t.state == TaskState.COMPLETED
            and t.task_spec.bpmn_id
            and str(t.id) not in self.completed_by_command
            and not timer_fired(t)
        ]
        # A timer that fired inside another command (already due when it was reached) is a firing too.
        if not self.fired_noted:
            self.note_fired_timers()
        for task in sorted(finished, key=lambda t: t.last_state_change):
            spec = task.task_spec
            self.audit(
                "activity.completed",
                element=spec.bpmn_id,
                data={"name": spec.bpmn_name, "type": type(spec).__name__}
                if spec.bpmn_name
                else {"type": type(spec).__name__},
            )

    def _project_tasks(self, workflow: BpmnWorkflow) -> list[str]:
        """Bring the open-task rows in line with the workflow's ready manual tasks: delete the rows of tasks
        that are gone, insert rows for new ones; a task that stays open keeps its row and its claim."""
        ready = {str(t.id): t for t in self.all_tasks() if t.state == TaskState.READY and t.task_spec.manual}
        if self.row.state in (COMPLETED, CANCELLED):
            ready = {}
        table = Task.__table__
        gone = {task_id: element for task_id, element in self.open_before.items() if task_id not in ready}
        if gone:
            # By instance rather than by the ids loaded, so no row outlives its task; candidate rows go with
            # their task (ON DELETE CASCADE).
            self._writes.append(
                (
                    delete(table).where(table.c.instance_id == self.row.id, table.c.id.not_in(list(ready))),
                    None,
                )
            )
        for task_id, element_id in gone.items():
            if task_id not in self.completed_by_command and self.row.state != CANCELLED:
                self.audit("task.cancelled", task_id=task_id, element=element_id)
        created = [task_id for task_id in ready if task_id not in self.open_before]
        if created:
            rows, candidates = [], []
            for task_id in created:
                row, names = self._new_task(ready[task_id])
                rows.append(row)
                candidates += names
            # One statement per table: the rows are not read back in this command.
            self._writes.append((insert(table), rows))
            if candidates:
                self._writes.append((insert(TaskCandidate.__table__), candidates))
            # The addressees' inbox entries (engine/inbox.py), one statement for all of them.
            notices = task_notices(rows, self.now)
            if notices:
                self._writes.append((insert(Notification.__table__), notices))
        return created

    def _new_task(self, spiff_task: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The row of a task that has just become ready, and its candidate rows."""
        spec = spiff_task.task_spec
        ext = getattr(spec, "extensions", None) or {}
        functions = self.environment.functions
        data = spiff_task.data

        def value(raw: Any) -> Any:
            if not is_expression(raw):
                return raw
            try:
                return evaluate(raw, data, functions)
            except ExpressionError as error:
                # An assignee or a unit role the data cannot resolve (a variable not set, a unit the
                # organisation does not have): the command changes nothing, as a failing gateway does.
                raise ProcessError(
                    f"the diagram failed at {spec.bpmn_id}: {error}",
                    {"element": spec.bpmn_id, "instance": self.row.id},
                ) from error

        for name, raw in (ext.get("inputs") or {}).items():
            data[name] = value(raw)
        groups = _split_list(value(ext.get("candidateGroups")))
        users = _split_list(value(ext.get("candidateUsers")))
        assignee = value(ext.get("assignee")) or None
        # A lane names the performers only of a step that names none itself: the shipped diagrams' lanes
        # (tools/layout.py) show who acts, they do not add a group to a step assigned to one person.
        if not groups and not users and assignee is None and spec.lane:
            groups = [spec.lane]
        form_ref = ext.get("formRef")
        task_id = str(spiff_task.id)
        deadlines = self.environment.deadlines
        # A due date typed into the diagram wins; otherwise the statutory deadline of the step's stage.
        due = parse_due(value(ext.get("dueDate")), self.now)
        deadline_name = None
        if due is None:
            deadline_name, due = deadlines.task_due(self, spiff_task)
        row = {
            "id": task_id,
            "instance_id": self.row.id,
            "definition_id": self.row.definition_id,
            "definition_key": self.row.definition_key,
            "element_id": spec.bpmn_id,
            "name": spec.bpmn_name,
            "description": getattr(spec, "documentation", None),
            "business_key": self.row.business_key,
            "assignee": assignee,
            "candidate_users": users,
            "candidate_groups": groups,
            "form_ref": form_ref,
            "form_version": bound_version(self.session, ext, self.row.definition_id) if form_ref else None,
            "form_key": ext.get("formKey"),
            "due_at": due,
            "deadline_name": deadline_name,
            "warn_at": deadlines.urgency.warn_at(due),
            "follow_up_at": parse_due(value(ext.get("followUpDate")), self.now),
            "priority": int(value(ext.get("priority")) or 50),
            "created_at": self.now,
            "suspended": self.row.state == SUSPENDED,
            "unit_code": unit_of_groups(groups) or self._unit_of(assignee),
        }
        candidates = [{"task_id": task_id, "kind": "group", "name": g} for g in dict.fromkeys(groups)] + [
            {"task_id": task_id, "kind": "user", "name": u} for u in dict.fromkeys(users)
        ]
        self.audit(
            "task.created",
            task_id=task_id,
            element=spec.bpmn_id,
            data={"name": spec.bpmn_name, "candidateGroups": groups} if groups else None,
        )
        return row, candidates

    def _unit_of(self, login: str | None) -> str | None:
        """The unit of a task given to one person (the chosen leader): their first membership's."""
        if login is None:
            return None
        query = select(UnitMember.unit_code).where(UnitMember.login == login)
        with self.session.no_autoflush:
            return self.session.scalar(query.order_by(UnitMember.unit_code).limit(1))

    def _project_timers(self, workflow: BpmnWorkflow) -> datetime | None:
        """Bring the timer rows in line with the waiting timers; returns the next due time."""
        due: dict[str, tuple[str, datetime]] = {}
        if self.row.state in (ACTIVE, SUSPENDED):
            for task in self.waiting_timers():
                at = timer_due(task)
                if at is not None:
                    due[str(task.id)] = (task.task_spec.bpmn_id, at)
        table = Timer.__table__
        before = self.timers_before
        if any(timer_id not in due for timer_id in before):
            # By instance rather than by the ids loaded, so no row outlives its timer.
            self._writes.append(
                (delete(table).where(table.c.instance_id == self.row.id, table.c.id.not_in(list(due))), None)
            )
        for timer_id, (_, at) in due.items():
            if timer_id in before and before[timer_id] != at:
                self._writes.append((update(table).where(table.c.id == timer_id).values(due_at=at), None))
        added = [
            {"id": timer_id, "instance_id": self.row.id, "element_id": element, "due_at": at}
            for timer_id, (element, at) in due.items()
            if timer_id not in before
        ]
        if added:
            self._writes.append((insert(table), added))
        return min((at for _, at in due.values()), default=None)
