"""The engine: the commands the web layer, the CLI and the scheduler call, each one run by the executor.

Every change to a running instance is a :class:`~engine.executor.Command` that the one
:class:`~engine.executor.CommandExecutor` runs in one unit of work: it opens a write transaction, locks the
instance row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers), loads
the workflow, applies the change, runs engine steps, and saves the serialized state, the open-task projection,
the pending timers and the audit events before it commits. Only after the commit are listeners (the scheduler)
told, so nothing outside the database ever runs ahead of it. The instance row carries a version column checked
on every write, so a lost update is impossible even if a lock were skipped. This module says what each command
does; :mod:`engine.bootstrap` builds the parts it runs on.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from .bootstrap import build_core, build_services
from .calendar import StatutoryCalendar
from .clock import Clock
from .config import Settings
from .db import Database
from .definitions import DefinitionStore, DeployFile, DeploymentResult, latest_definition
from .errors import Conflict, InvalidInput, InvalidState, NotFound, ValidationFailed
from .events import message_names
from .executor import Command
from .forms import FormDefinition, FormValidationError
from .models import AuditEvent, Instance, ProcessDefinition, Task
from .scripting import FunctionRegistry
from .unit_of_work import (
    ACTIVE,
    CANCELLED,
    COMPLETED,
    SUSPENDED,
    CommandResult,
    UnitOfWork,
)

__all__ = ["ACTIVE", "CANCELLED", "COMPLETED", "SUSPENDED", "CommandResult", "Engine", "check_variables"]

VARIABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
JSON_SCALARS = (str, int, float, bool, type(None))


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
        core = build_core(settings, database=database, functions=functions, clock=clock, calendar=calendar)
        self.settings = core.settings
        self.db = core.db
        self.functions = core.functions
        self.clock = core.clock
        self.calendar = core.calendar
        self.deadlines = core.deadlines
        self.codec = core.codec
        self.script_engine = core.script_engine
        self.executor = core.executor
        self.listeners = core.executor.listeners
        self.end_hooks = core.executor.environment.end_hooks
        self.complete_hooks = core.complete_hooks
        services = build_services(core, commands=self)
        self.petitions = services.petitions
        self.escalations = services.escalations
        self.accounts = services.accounts
        self.public = services.public
        self.outbox = services.outbox
        self.acts = services.acts
        self.forms = core.forms

    def now(self) -> datetime:
        return self.clock.now()

    def purge_attempts(self) -> int:
        """Forget attempt windows that have ended (the scheduler's morning pass)."""
        return self.public.limiter.purge()

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

    # -- commands ----------------------------------------------------------------------------------------------
    def _execute(self, command: Command) -> CommandResult:
        """Run a command that always writes (every command but a timer fire)."""
        result = self.executor.execute(command)
        assert result is not None
        return result

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
        return self._execute(self._start(key, business_key, variables, actor, definition_id))

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
        result = self.executor.execute_in(
            session, self._start(key, business_key, variables, actor, definition_id)
        )
        assert result is not None
        return result

    def _start(
        self,
        key: str,
        business_key: str | None,
        variables: dict[str, Any],
        actor: str | None,
        definition_id: str | None,
    ) -> Command:
        def create(session: Session) -> UnitOfWork:
            if definition_id is not None:
                definition = session.get(ProcessDefinition, definition_id)
            else:
                definition = latest_definition(session, key)
            if definition is None:
                raise NotFound(f"no process definition '{definition_id or key}' is deployed", {"key": key})
            spec, subprocess_specs = self.executor.specs(session, definition.id)
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
            return UnitOfWork(self.executor.environment, session, row, workflow, new=True)

        def apply(work: UnitOfWork) -> None:
            work.audit("instance.started", actor=actor, data={"variables": variables} if variables else None)
            work.run(lambda: None)

        return Command("start", apply, create=create)

    def notify(self, result: CommandResult) -> None:
        self.executor.notify(result)

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
        def apply(work: UnitOfWork) -> None:
            task = work.open_task(task_id)
            if task.assignee is not None and task.assignee != user:
                raise Conflict(
                    f"task is already claimed by {task.assignee}",
                    {"task": task_id, "assignee": task.assignee},
                )
            task.assignee = user
            work.audit("task.claimed", actor=actor or user, task=task, data={"assignee": user})

        return self._execute(Command("claim", apply, task_id=task_id, load=False))

    def unclaim(self, task_id: str, *, actor: str | None = None) -> CommandResult:
        def apply(work: UnitOfWork) -> None:
            task = work.open_task(task_id)
            previous, task.assignee = task.assignee, None
            work.audit("task.unclaimed", actor=actor, task=task, data={"previous": previous})

        return self._execute(Command("unclaim", apply, task_id=task_id, load=False))

    def assign(self, task_id: str, user: str | None, *, actor: str | None = None) -> CommandResult:
        def apply(work: UnitOfWork) -> None:
            task = work.open_task(task_id)
            previous, task.assignee = task.assignee, user
            work.audit("task.assigned", actor=actor, task=task, data={"assignee": user, "previous": previous})

        return self._execute(Command("assign", apply, task_id=task_id, load=False))

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

        def apply(work: UnitOfWork) -> None:
            task = work.open_task(task_id)
            if task.assignee is not None and actor is not None and task.assignee != actor:
                raise Conflict(
                    f"task is claimed by {task.assignee}", {"task": task_id, "assignee": task.assignee}
                )
            if require_claim and task.assignee is None:
                raise Conflict("claim the task before completing it", {"task": task_id, "assignee": None})
            assert work.workflow is not None
            spiff_task = work.workflow.get_task_from_id(uuid.UUID(task_id))
            clean = self.validate_submission(work.session, task, variables)
            extends = (spiff_task.task_spec.extensions.get("properties") or {}).get("extendsDeadline")
            if extends and clean.get("extensionApproved", True) and clean.get("extensionDays"):
                self.deadlines.extend(work, extends, int(clean["extensionDays"]), actor)
            spiff_task.data.update(clean)
            work.run(spiff_task.run)
            work.completed_by_command.add(task_id)
            work.audit("task.completed", actor=actor, task=task, data=clean)
            for hook in self.complete_hooks:
                hook(work, task, clean)

        return self._execute(Command("complete", apply, task_id=task_id))

    def comment(self, task_id: str, text: str, *, actor: str | None = None) -> CommandResult:
        """A note on an open task, kept in the instance's history."""
        if not isinstance(text, str) or not text.strip() or len(text) > 4000:
            raise InvalidInput(
                "a comment is 1 to 4000 characters", {"fields": {"text": ["1 to 4000 characters"]}}
            )

        def apply(work: UnitOfWork) -> None:
            task = work.open_task(task_id)
            work.audit("task.comment", actor=actor, task=task, data={"text": text.strip()})

        return self._execute(Command("comment", apply, task_id=task_id, load=False))

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

        def apply(work: UnitOfWork) -> None:
            work.require_active()
            assert work.workflow is not None
            workflow = work.workflow
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
            work.run(lambda: workflow.catch(event))
            work.audit("message.delivered", actor=actor, data={"message": name, "payload": payload})

        return self._execute(Command("message", apply, instance_id=instance_id))

    def fire_timers(self, instance_id: str) -> CommandResult | None:
        """Fire whatever timers of the instance are due; None when nothing was due (nothing is written).

        Idempotent: a second call for the same due time, from this or another scheduler, finds the timer
        already fired under the instance lock and does nothing.
        """

        def due(row: Instance) -> bool:
            # A suspended instance keeps its due timers; resume fires them.
            return row.state == ACTIVE and row.next_timer_at is not None and row.next_timer_at <= self.now()

        def apply(work: UnitOfWork) -> None:
            work.run(lambda: None)
            work.note_fired_timers()

        return self.executor.execute(Command("fire_timers", apply, instance_id=instance_id, wanted=due))

    def suspend(self, instance_id: str, *, actor: str | None = None) -> CommandResult:
        def apply(work: UnitOfWork) -> None:
            work.require_active()
            work.row.state = SUSPENDED
            work.audit("instance.suspended", actor=actor)

        return self._execute(Command("suspend", apply, instance_id=instance_id, load=False))

    def resume(self, instance_id: str, *, actor: str | None = None) -> CommandResult:
        def apply(work: UnitOfWork) -> None:
            if work.row.state != SUSPENDED:
                raise InvalidState(f"instance is {work.row.state}, not suspended")
            work.row.state = ACTIVE
            work.audit("instance.resumed", actor=actor)
            # Timers that came due while suspended fire now.
            work.run(lambda: None)
            work.note_fired_timers()

        return self._execute(Command("resume", apply, instance_id=instance_id))

    def cancel(
        self,
        instance_id: str,
        *,
        actor: str | None = None,
        reason: str | None = None,
        outcome: str | None = None,
    ) -> CommandResult:
        """End the instance where it stands; ``outcome`` says why for the petition (withdrawn, merged)."""

        def apply(work: UnitOfWork) -> None:
            if work.row.state in (COMPLETED, CANCELLED):
                raise InvalidState(f"instance is already {work.row.state}")
            assert work.workflow is not None
            work.workflow.cancel()
            work.row.state = CANCELLED
            data = {k: v for k, v in (("reason", reason), ("outcome", outcome)) if v}
            work.audit("instance.cancelled", actor=actor, data=data or None)

        return self._execute(Command("cancel", apply, instance_id=instance_id))

    # -- reading state -----------------------------------------------------------------------------------------
    def variables(self, instance_id: str, task_id: str | None = None) -> dict[str, Any]:
        """The variables a task sees, or the instance's latest ones; read-only, nothing is written."""
        with self.db.reading() as session:
            row = session.get(Instance, instance_id)
            if row is None:
                raise NotFound(f"no process instance '{instance_id}'", {"instance": instance_id})
            workflow = self.executor.load(session, row)
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
