"""The engine: every change to a running instance is one command in one unit of work.

A command opens a write transaction, locks the instance row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` serialises writers), loads the workflow, applies the change, runs engine steps, and saves
the serialized state, the open-task projection, the pending timers and the audit events before it commits.
Only after the commit are listeners (the scheduler) told, so nothing outside the database ever runs ahead of
it. The instance row carries a version column checked on every write, so a lost update is impossible even if
a lock were skipped.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from .accounts import Accounts
from .calendar import StatutoryCalendar, load_operator_years
from .clock import CalendarFunctions, Clock, install
from .config import Settings
from .db import Database
from .deadlines import DeadlineKeeper, current_work, load_rules
from .definitions import DefinitionStore, DeployFile, DeploymentResult, latest_definition
from .errors import Conflict, InvalidInput, InvalidState, NotFound, ProcessError, ValidationFailed
from .escalation import EscalationLadder
from .events import is_timer, message_names, timer_due, timer_fired
from .forms import FormDefinition, FormValidationError
from .formstore import FormStore
from .models import AuditEvent, Deadline, FormVersion, Instance, ProcessDefinition, Task, TaskCandidate, Timer
from .parsing import is_expression
from .petitions import PetitionRegistry
from .queries import task_not_open
from .scripting import FunctionRegistry, SafeScriptEngine, default_functions, evaluate
from .serialization import WorkflowCodec

VARIABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
ACTIVE, SUSPENDED, COMPLETED, CANCELLED = "active", "suspended", "completed", "cancelled"
JSON_SCALARS = (str, int, float, bool, type(None))


@dataclass
class CommandResult:
    """What a command did, for callers and for after-commit listeners."""

    instance_id: str
    state: str
    business_key: str | None = None
    next_timer_at: datetime | None = None
    created_tasks: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)


Listener = Callable[[CommandResult], None]


def load_calendar(settings: Settings) -> StatutoryCalendar:
    """The statutory calendar: package data plus every year file the operator put in instance/calendar/."""
    calendar = StatutoryCalendar()
    load_operator_years(calendar, settings.instance_path / "calendar")
    return calendar


def check_variables(variables: Mapping[str, Any] | None, where: str = "variables") -> dict[str, Any]:
    """Refuse names expressions could not read (or that start with '_') and values JSON cannot hold."""
    if variables is None:
        return {}
    if not isinstance(variables, Mapping):
        raise InvalidInput(f"{where} must be an object of name -> value")
    problems: dict[str, str] = {}

    def json_safe(value: Any, depth: int = 0) -> bool:
        if depth > 20:
            return False
        if isinstance(value, JSON_SCALARS):
            return not (isinstance(value, float) and value != value)
        if isinstance(value, list):
            return all(json_safe(v, depth + 1) for v in value)
        if isinstance(value, dict):
            return all(isinstance(k, str) and json_safe(v, depth + 1) for k, v in value.items())
        return False

    for name, value in variables.items():
        if not isinstance(name, str) or not VARIABLE_NAME.match(name):
            problems[str(name)] = "a variable name starts with a letter and has only letters, digits and _"
        elif not json_safe(value):
            problems[name] = "a value must be text, a number, true/false, null, a list or an object"
    if problems:
        raise InvalidInput(f"invalid {where}", {"fields": problems})
    return dict(variables)


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


class Engine:
    """Deploys definitions and runs instances; the one entry point the web layer and the CLI use."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        database: Database | None = None,
        functions: FunctionRegistry | None = None,
        clock: Clock | None = None,
        calendar: StatutoryCalendar | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self.db = database or Database.from_settings(self.settings)
        self.functions = functions or default_functions()
        self.clock = clock or Clock()
        install(self.clock)
        self.calendar = calendar or load_calendar(self.settings)
        self.deadlines = DeadlineKeeper(
            self.calendar, load_rules(self.settings.instance_path / "deadlines.json")
        )
        periods = CalendarFunctions(self.calendar)
        self.functions.register("working_days", periods.working_days)
        self.functions.register("calendar_days", periods.calendar_days)
        self.functions.register("deadline", self.deadlines.deadline)
        self.codec = WorkflowCodec()
        self.script_engine = SafeScriptEngine(self.functions, allow_scripts=self.settings.allow_scripts)
        self.listeners: list[Listener] = []
        # Called inside the command's transaction when an instance ends, with its unit of work.
        self.end_hooks: list[Callable[[_UnitOfWork], None]] = []
        # Called inside the transaction after a task was completed, with the cleaned form data.
        self.complete_hooks: list[Callable[[_UnitOfWork, Task, dict[str, Any]], None]] = []
        self.petitions = PetitionRegistry(self)
        self.escalations = EscalationLadder(self)
        self.accounts = Accounts(self)
        self.forms = FormStore(self.db)

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def definitions(self) -> DefinitionStore:
        # Built on demand: functions registered after start-up (the clock's) must be allowed at deploy.
        return DefinitionStore(self.codec, self.functions.names, allow_scripts=self.settings.allow_scripts)

    # -- schema ------------------------------------------------------------------------------------------------
    def migrate(self) -> None:
        """Bring the database schema to the current version (Alembic)."""
        from .migrations import upgrade

        upgrade(self.db.engine)

    # -- definitions -------------------------------------------------------------------------------------------
    def validate(self, files: Sequence[DeployFile]) -> list[Any]:
        with self.db.reading() as session:
            return self.definitions.check(session if self.db.is_initialised() else None, files)[1]

    def deploy(self, files: Sequence[DeployFile], **options: Any) -> DeploymentResult:
        with self.db.transaction() as session:
            return self.definitions.deploy(session, files, **options)

    # -- unit of work ------------------------------------------------------------------------------------------
    def _lock(self, session: Session, instance_id: str) -> Instance:
        query = select(Instance).where(Instance.id == instance_id)
        if not self.db.is_sqlite:
            query = query.with_for_update()
        row = session.scalars(query).first()
        if row is None:
            raise NotFound(f"no process instance '{instance_id}'", {"instance": instance_id})
        return row

    def _specs(self, session: Session, definition_id: str) -> tuple[Any, dict[str, Any]]:
        cached = self.codec.cached_specs(definition_id)
        if cached is not None:
            return cached
        spec_json = session.scalar(
            select(ProcessDefinition.spec_json).where(ProcessDefinition.id == definition_id)
        )
        if spec_json is None:
            raise NotFound(f"no process definition '{definition_id}'")
        return self.codec.specs_for(definition_id, spec_json)

    def _load(self, session: Session, row: Instance) -> BpmnWorkflow:
        spec, subprocess_specs = self._specs(session, row.definition_id)
        workflow = self.codec.decode_state(row.state_json, spec, subprocess_specs)
        workflow.script_engine = self.script_engine
        return workflow

    def _lock_task(self, session: Session, task_id: str) -> tuple[Instance, Task]:
        """Lock the instance an open task belongs to, found through the task in the same transaction, and read
        the task's row as it is under the lock."""
        try:
            uuid.UUID(task_id)
        except (ValueError, TypeError, AttributeError):
            raise NotFound(f"no task '{task_id}'", {"task": task_id}) from None
        query = select(Instance, Task).join(Task, Task.instance_id == Instance.id).where(Task.id == task_id)
        if self.db.is_sqlite:
            # BEGIN IMMEDIATE already holds the write lock: the rows read are the current ones.
            found = session.execute(query).first()
            row, task = found if found is not None else (None, None)
        else:
            # After waiting for the row lock PostgreSQL returns the instance row as it is now, but the joined
            # task row as it was before the wait (perhaps completed or claimed meanwhile). Every command that
            # changes a task row moves the instance's version on, and a subquery is read as of the statement's
            # start: when that version is not the current one, the task is read again under the lock.
            before = aliased(Instance)
            version_read = select(before.version).where(before.id == Task.instance_id).scalar_subquery()
            found = session.execute(query.add_columns(version_read).with_for_update(of=Instance)).first()
            row, task, version = found if found is not None else (None, None, None)
            if row is not None and row.version != version:
                task = session.get(Task, task_id, populate_existing=True)
        if row is None or task is None:
            raise task_not_open(session, task_id)
        return row, task

    @contextmanager
    def _command(
        self, instance_id: str | None = None, *, task_id: str | None = None, load: bool = True
    ) -> Iterator[_UnitOfWork]:
        """Lock, load, let the caller change, then save everything and commit as one transaction."""
        with self.db.transaction() as session:
            task = None
            if task_id:
                row, task = self._lock_task(session, task_id)
            else:
                row = self._lock(session, instance_id or "")
            work = _UnitOfWork(self, session, row, self._load(session, row) if load else None, task=task)
            yield work
            result = work.save()
        self.notify(result)
        work.result = result

    def _run_engine(self, work: _UnitOfWork, step: Callable[[], Any]) -> None:
        """Apply a change and run the engine; a diagram error leaves the instance untouched."""
        token = current_work.set(work)
        try:
            step()
            work.workflow.refresh_timers()
            work.workflow.do_engine_steps()
        except SpiffWorkflowException as error:
            task = getattr(error, "task", None)
            element = task.task_spec.bpmn_id if task is not None else None
            raise ProcessError(
                f"the diagram failed at {element or 'an element'}: {error}",
                {"element": element, "instance": work.row.id},
            ) from error
        finally:
            current_work.reset(token)

    # -- commands ----------------------------------------------------------------------------------------------
    def start(
        self,
        key: str,
        *,
        business_key: str | None = None,
        variables: Mapping[str, Any] | None = None,
        actor: str | None = None,
        definition_id: str | None = None,
    ) -> CommandResult:
        variables = check_variables(variables)
        with self.db.transaction() as session:
            result = self.start_in(
                session,
                key,
                business_key=business_key,
                variables=variables,
                actor=actor,
                definition_id=definition_id,
            )
        self.notify(result)
        return result

    def start_in(
        self,
        session: Session,
        key: str,
        *,
        business_key: str | None,
        variables: dict[str, Any],
        actor: str | None,
        definition_id: str | None = None,
    ) -> CommandResult:
        """Start an instance inside the caller's transaction (the caller commits, then calls ``notify``)."""
        if definition_id is not None:
            definition = session.get(ProcessDefinition, definition_id)
        else:
            definition = latest_definition(session, key)
        if definition is None:
            raise NotFound(f"no process definition '{definition_id or key}' is deployed", {"key": key})
        spec, subprocess_specs = self._specs(session, definition.id)
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=self.script_engine)
        workflow.task_tree.data.update(variables)
        now = self.now()
        row = Instance(
            id=str(uuid.uuid4()),
            definition_id=definition.id,
            definition_key=definition.key,
            business_key=business_key,
            state=ACTIVE,
            state_json="",
            started_at=now,
            started_by=actor,
            updated_at=now,
            active_elements=[],
        )
        session.add(row)
        work = _UnitOfWork(self, session, row, workflow, new=True)
        work.audit("instance.started", actor=actor, data={"variables": variables} if variables else None)
        self._run_engine(work, lambda: None)
        return work.save()

    def notify(self, result: CommandResult) -> None:
        for listener in self.listeners:
            listener(result)

    def record_failure(self, instance_id: str, kind: str, error: Exception) -> None:
        """Put a failure that changed nothing (a timer's fire hit a diagram error) in the instance's history,
        where supervisors look, in a transaction of its own."""
        details = getattr(error, "details", None) or {}
        with self.db.transaction() as session:
            business_key = session.scalar(select(Instance.business_key).where(Instance.id == instance_id))
            session.execute(
                insert(AuditEvent),
                [
                    {
                        "instance_id": instance_id,
                        "business_key": business_key,
                        "kind": kind,
                        "at": self.now(),
                        "element_id": details.get("element"),
                        "data": {"error": str(error)[:2000]},
                    }
                ],
            )

    def claim(self, task_id: str, user: str, *, actor: str | None = None) -> CommandResult:
        with self._command(task_id=task_id, load=False) as work:
            task = work.open_task(task_id)
            if task.assignee is not None and task.assignee != user:
                raise Conflict(
                    f"task is already claimed by {task.assignee}",
                    {"task": task_id, "assignee": task.assignee},
                )
            task.assignee = user
            work.audit("task.claimed", actor=actor or user, task=task, data={"assignee": user})
        return work.result

    def unclaim(self, task_id: str, *, actor: str | None = None) -> CommandResult:
        with self._command(task_id=task_id, load=False) as work:
            task = work.open_task(task_id)
            previous, task.assignee = task.assignee, None
            work.audit("task.unclaimed", actor=actor, task=task, data={"previous": previous})
        return work.result

    def assign(self, task_id: str, user: str | None, *, actor: str | None = None) -> CommandResult:
        with self._command(task_id=task_id, load=False) as work:
            task = work.open_task(task_id)
            previous, task.assignee = task.assignee, user
            work.audit("task.assigned", actor=actor, task=task, data={"assignee": user, "previous": previous})
        return work.result

    def complete(
        self,
        task_id: str,
        variables: Mapping[str, Any] | None = None,
        *,
        actor: str | None = None,
        require_claim: bool = False,
    ) -> CommandResult:
        """Complete a human task with its form data; invalid data changes nothing."""
        variables = check_variables(variables)
        with self._command(task_id=task_id) as work:
            task = work.open_task(task_id)
            if task.assignee is not None and actor is not None and task.assignee != actor:
                raise Conflict(
                    f"task is claimed by {task.assignee}", {"task": task_id, "assignee": task.assignee}
                )
            if require_claim and task.assignee is None:
                raise Conflict("claim the task before completing it", {"task": task_id, "assignee": None})
            spiff_task = work.workflow.get_task_from_id(uuid.UUID(task_id))
            clean = self.validate_submission(work.session, task, variables)
            extends = (spiff_task.task_spec.extensions.get("properties") or {}).get("extendsDeadline")
            if extends and clean.get("extensionApproved", True) and clean.get("extensionDays"):
                self.deadlines.extend(work, extends, int(clean["extensionDays"]), actor)
            spiff_task.data.update(clean)

            def run() -> None:
                spiff_task.run()

            self._run_engine(work, run)
            work.completed_by_command.add(task_id)
            work.audit("task.completed", actor=actor, task=task, data=clean)
            for hook in self.complete_hooks:
                hook(work, task, clean)
        return work.result

    def comment(self, task_id: str, text: str, *, actor: str | None = None) -> CommandResult:
        """A note on an open task, kept in the instance's history."""
        if not isinstance(text, str) or not text.strip() or len(text) > 4000:
            raise InvalidInput(
                "a comment is 1 to 4000 characters", {"fields": {"text": ["1 to 4000 characters"]}}
            )
        with self._command(task_id=task_id, load=False) as work:
            task = work.open_task(task_id)
            work.audit("task.comment", actor=actor, task=task, data={"text": text.strip()})
        return work.result

    def validate_submission(self, session: Session, task: Task, variables: dict[str, Any]) -> dict[str, Any]:
        form = self.form_for(session, task)
        if form is None:
            return variables
        try:
            return form.validate(variables)
        except FormValidationError as error:
            raise ValidationFailed(
                f"{len(error.errors)} field(s) are invalid", {"form": form.id, "fields": error.errors}
            ) from error

    def form_for(self, session: Session, task: Task) -> FormDefinition | None:
        if task.form_ref is None or task.form_version is None:
            return None
        form = self.forms.get(task.form_ref, task.form_version, session)
        if form is None:
            raise NotFound(f"form '{task.form_ref}' version {task.form_version} is not deployed")
        return form.definition

    def deliver_message(
        self,
        name: str,
        *,
        instance_id: str | None = None,
        business_key: str | None = None,
        payload: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> CommandResult:
        """Deliver a message to the one instance waiting for it (by id, or by business key)."""
        payload = check_variables(payload, "payload")
        if instance_id is None:
            if business_key is None:
                raise InvalidInput("name the instance or the business key the message is for")
            instance_id = self._waiting_instance(business_key, name)
        with self._command(instance_id) as work:
            work.require_active()
            catchers = [
                t for t in work.all_tasks() if t.state == TaskState.WAITING and name in message_names(t)
            ]
            if not catchers:
                waiting = sorted(
                    {m for t in work.all_tasks() if t.state == TaskState.WAITING for m in message_names(t)}
                )
                raise Conflict(f"the instance is not waiting for message '{name}'", {"waiting": waiting})
            # Like Camunda's correlation, the payload's variables become process variables (and stay available
            # under the message's name too).
            for task in catchers:
                task.data.update(payload)
            event = BpmnEvent(MessageEventDefinition(name), payload={"payload": payload, "result_var": name})
            self._run_engine(work, lambda: work.workflow.catch(event))
            work.audit("message.delivered", actor=actor, data={"message": name, "payload": payload})
        return work.result

    def fire_timers(self, instance_id: str) -> CommandResult | None:
        """Fire whatever timers of the instance are due; None when nothing was due (nothing is written).

        Idempotent: a second call for the same due time, from this or another scheduler, finds the timer
        already fired under the instance lock and does nothing.
        """
        with self.db.transaction() as session:
            row = self._lock(session, instance_id)
            # A suspended instance keeps its due timers; resume fires them.
            if row.state != ACTIVE or row.next_timer_at is None or row.next_timer_at > self.now():
                return None
            work = _UnitOfWork(self, session, row, self._load(session, row))
            self._run_engine(work, lambda: None)
            work.note_fired_timers()
            result = work.save()
        self.notify(result)
        return result

    def suspend(self, instance_id: str, *, actor: str | None = None) -> CommandResult:
        with self._command(instance_id, load=False) as work:
            work.require_active()
            work.row.state = SUSPENDED
            work.audit("instance.suspended", actor=actor)
        return work.result

    def resume(self, instance_id: str, *, actor: str | None = None) -> CommandResult:
        with self._command(instance_id) as work:
            if work.row.state != SUSPENDED:
                raise InvalidState(f"instance is {work.row.state}, not suspended")
            work.row.state = ACTIVE
            work.audit("instance.resumed", actor=actor)
            # Timers that came due while suspended fire now.
            self._run_engine(work, lambda: None)
            work.note_fired_timers()
        return work.result

    def cancel(
        self, instance_id: str, *, actor: str | None = None, reason: str | None = None
    ) -> CommandResult:
        with self._command(instance_id) as work:
            if work.row.state in (COMPLETED, CANCELLED):
                raise InvalidState(f"instance is already {work.row.state}")
            work.workflow.cancel()
            work.row.state = CANCELLED
            work.audit("instance.cancelled", actor=actor, data={"reason": reason} if reason else None)
        return work.result

    # -- reading state -----------------------------------------------------------------------------------------
    def variables(self, instance_id: str, task_id: str | None = None) -> dict[str, Any]:
        """The variables a task sees, or the instance's latest ones; read-only, nothing is written."""
        with self.db.reading() as session:
            row = session.get(Instance, instance_id)
            if row is None:
                raise NotFound(f"no process instance '{instance_id}'", {"instance": instance_id})
            workflow = self._load(session, row)
        if task_id is not None:
            task = workflow.get_task_from_id(uuid.UUID(task_id))
            if task is None:
                raise NotFound(f"no task '{task_id}' in instance '{instance_id}'")
            return dict(task.data)
        if workflow.completed:
            return dict(workflow.data)
        latest = workflow.last_task or workflow.task_tree
        return dict(latest.data)

    # -- lookups used by commands ------------------------------------------------------------------------------
    def _waiting_instance(self, business_key: str, message: str) -> str:
        with self.db.reading() as session:
            ids = list(
                session.scalars(
                    select(Instance.id).where(Instance.business_key == business_key, Instance.state == ACTIVE)
                )
            )
        if not ids:
            raise NotFound(f"no active instance with business key '{business_key}'")
        if len(ids) > 1:
            raise Conflict(
                f"{len(ids)} active instances have business key '{business_key}'; name one",
                {"instances": ids},
            )
        return ids[0]


class _UnitOfWork:
    """The state one command works on, and the code that writes it all back."""

    def __init__(
        self,
        engine: Engine,
        session: Session,
        row: Instance,
        workflow: BpmnWorkflow | None,
        *,
        new: bool = False,
        task: Task | None = None,
    ) -> None:
        self.engine = engine
        self.session = session
        self.row = row
        self.workflow = workflow
        self.started = time.time()
        self.now = engine.now()
        self.deadlines: dict[str, Deadline | None] = {}
        self.completed_by_command: set[str] = set()
        self.pending_audit: list[dict[str, Any]] = []
        self._snapshot: list[Any] | None = None
        self.fired_noted = False
        self.result: CommandResult | None = None
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
            self.engine.deadlines.sync(self)
            finished = workflow.completed and row.state == ACTIVE
            if finished:
                row.state = COMPLETED
            if row.state in (COMPLETED, CANCELLED):
                row.ended_at = self.now
            # Task creation evaluates input mappings into task data, so it comes before the state is encoded.
            result.created_tasks = self._project_tasks(workflow)
            if finished:
                self.audit("instance.completed")
            if row.state in (COMPLETED, CANCELLED):
                for hook in self.engine.end_hooks:
                    hook(self)
            row.next_timer_at = self._project_timers(workflow)
            row.state_json = self.engine.codec.encode_state(workflow)
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
        # how a task row read before a lock wait is known to be stale (Engine._lock_task).
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
        return created

    def _new_task(self, spiff_task: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The row of a task that has just become ready, and its candidate rows."""
        spec = spiff_task.task_spec
        ext = getattr(spec, "extensions", None) or {}
        engine = self.engine
        data = spiff_task.data

        def value(raw: Any) -> Any:
            return evaluate(raw, data, engine.functions) if is_expression(raw) else raw

        for name, raw in (ext.get("inputs") or {}).items():
            data[name] = value(raw)
        groups = _split_list(value(ext.get("candidateGroups")))
        if not groups and spec.lane:
            groups = [spec.lane]
        users = _split_list(value(ext.get("candidateUsers")))
        form_ref = ext.get("formRef")
        task_id = str(spiff_task.id)
        row = {
            "id": task_id,
            "instance_id": self.row.id,
            "definition_id": self.row.definition_id,
            "definition_key": self.row.definition_key,
            "element_id": spec.bpmn_id,
            "name": spec.bpmn_name,
            "description": getattr(spec, "documentation", None),
            "business_key": self.row.business_key,
            "assignee": value(ext.get("assignee")) or None,
            "candidate_users": users,
            "candidate_groups": groups,
            "form_ref": form_ref,
            "form_version": self._form_version(form_ref, ext) if form_ref else None,
            "form_key": ext.get("formKey"),
            "due_at": parse_due(value(ext.get("dueDate")), self.now),
            "follow_up_at": parse_due(value(ext.get("followUpDate")), self.now),
            "priority": int(value(ext.get("priority")) or 50),
            "created_at": self.now,
            "suspended": self.row.state == SUSPENDED,
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

    def _form_version(self, form_ref: str, ext: Mapping[str, Any]) -> int | None:
        binding = ext.get("formRefBinding", "latest")
        if binding == "version" and ext.get("formRefVersion"):
            return int(ext["formRefVersion"])
        query = select(FormVersion.version).where(FormVersion.form_key == form_ref)
        # Form versions never depend on this command's pending changes: flushing the instance here would
        # only write its row twice.
        with self.session.no_autoflush:
            if binding == "deployment":
                deployment = select(ProcessDefinition.deployment_id).where(
                    ProcessDefinition.id == self.row.definition_id
                )
                found = self.session.scalar(
                    query.where(FormVersion.deployment_id == deployment.scalar_subquery())
                )
                if found is not None:
                    return found
            return self.session.scalar(query.order_by(FormVersion.version.desc()).limit(1))

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
