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

import dataclasses
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from . import batches, repair
from .bootstrap import build_core, build_services
from .calendar import StatutoryCalendar
from .clock import Clock
from .config import Settings
from .db import Database
from .definitions import DefinitionStore, DeployFile, DeploymentResult, latest_definition, undeploy
from .errors import (
    Conflict,
    InvalidInput,
    InvalidState,
    NotFound,
    ProcessError,
    ValidationFailed,
    chinese_message,
)
from .events import message_names
from .executor import Command
from .forms import FormDefinition, FormValidationError
from .formstore import DeployedForm, bound_version
from .models import AuditEvent, Deadline, Incident, Instance, ProcessDefinition, Task
from .organisation import named_problems
from .procedures import refuse_repeated_opinion
from .queries import latest_versions
from .scripting import FunctionRegistry
from .unit_of_work import (
    ACTIVE,
    CANCELLED,
    COMPLETED,
    SUSPENDED,
    CommandResult,
    UnitOfWork,
)

log = logging.getLogger("petitionflow.calendar")

__all__ = ["ACTIVE", "CANCELLED", "COMPLETED", "SUSPENDED", "CommandResult", "Engine", "check_variables"]

VARIABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
JSON_SCALARS = (str, int, float, bool, type(None))
_MISSING = object()


def message_start_names(spec: Any) -> set[str]:
    """The messages a process's start events wait for (its top-level start events only)."""
    names = set()
    for start in spec.start.outputs:
        definition = getattr(start, "event_definition", None)
        if isinstance(definition, MessageEventDefinition):
            names.add(definition.name)
    return names


def sole_message_start(spec: Any) -> str | None:
    """The message of a process's only start event, when that event waits for a message."""
    names = message_start_names(spec)
    return next(iter(names)) if len(spec.start.outputs) == 1 and len(names) == 1 else None


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
        self.organisation = services.organisation
        self.orgadmin = services.orgadmin
        self.users = services.users
        self.documents = services.documents
        self.public = services.public
        self.outbox = services.outbox
        self.acts = services.acts
        self.inbox = services.inbox
        self.mailer = services.mailer
        self.forms = core.forms
        self.calendar_years = core.calendar_years

    def now(self) -> datetime:
        return self.clock.now()

    def purge_attempts(self) -> int:
        """Forget attempt windows that have ended (the scheduler's morning pass)."""
        return self.public.limiter.purge()

    def send_mail(self) -> dict[str, int]:
        """E-mail the inbox entries waiting for it (the scheduler's minute pass); nothing without SMTP."""
        return self.mailer.deliver() if self.mailer is not None else {}

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

    def undeploy(self, *, deployment_id: str | None = None, definition_id: str | None = None) -> list[str]:
        """Remove a definition version, or a deployment's, that no instance ever ran on (engine/definitions)."""
        with self.db.transaction() as session:
            return undeploy(session, deployment_id=deployment_id, definition_id=definition_id)

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

    def start_by_message(
        self,
        definition_id: str,
        message: str,
        *,
        business_key: str | None = None,
        variables: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> CommandResult:
        """Start an instance at its message start event ``message`` (Camunda's message correlation)."""
        variables = check_variables(variables, "processVariables")
        return self._execute(self._start("", business_key, variables, actor, definition_id, message=message))

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
        *,
        message: str | None = None,
    ) -> Command:
        def create(session: Session) -> UnitOfWork:
            if definition_id is not None:
                definition = session.get(ProcessDefinition, definition_id)
            else:
                definition = latest_definition(session, key)
            if definition is None:
                raise NotFound(f"no process definition '{definition_id or key}' is deployed", {"key": key})
            spec, subprocess_specs = self.executor.specs(session, definition.id)
            # A start form is enforced like a task's: the instance starts with what it accepted, or not at all.
            form = self.start_form(session, definition.id) if message is None else None
            if form is not None:
                variables.update(self._validated(form.definition, variables))
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
            assert work.workflow is not None
            workflow = work.workflow
            # Like Camunda: a process whose one start event waits for a message starts there when started
            # by hand too, instead of waiting for a message that starts instances, not continues them.
            name = message or sole_message_start(workflow.spec)
            if name is None:
                work.run(lambda: None)
                return

            def catch() -> None:
                workflow.do_engine_steps()
                starts = [
                    t for t in work.all_tasks() if t.state == TaskState.WAITING and name in message_names(t)
                ]
                if not starts:
                    raise InvalidInput(
                        f"process '{work.row.definition_key}' has no message start event '{name}'"
                    )
                payload = {"payload": variables, "result_var": name}
                workflow.catch(BpmnEvent(MessageEventDefinition(name), payload=payload))

            work.run(catch)

        return Command("start", apply, create=create)

    def notify(self, result: CommandResult) -> None:
        self.executor.notify(result)

    def record_failure(
        self, instance_id: str, kind: str, error: Exception, *, audit: bool = True
    ) -> int | None:
        """Keep a failure that changed nothing (a timer's fire hit a diagram error) as the instance's incident,
        one attempt more each time, and (``audit``) in its history, where supervisors look; in a transaction
        of its own. Returns the incident's id (None: no such instance)."""
        details = getattr(error, "details", None) or {}
        with self.db.transaction() as session:
            found = session.execute(
                select(Instance.business_key, Instance.definition_id).where(Instance.id == instance_id)
            ).first()
            if found is None:
                return None
            business_key, definition_id = found
            incident = repair.record_incident(session, instance_id, business_key, error, self.now()).id
            if not audit:
                return incident
            element = details.get("element")
            # The step's name goes with the event, as task and activity events carry theirs: the history names
            # it in Chinese even where the diagram cannot be drawn.
            name = self.element_names(definition_id).get(element) if element else None
            session.execute(
                insert(AuditEvent),
                [
                    {
                        "instance_id": instance_id,
                        "business_key": business_key,
                        "kind": kind,
                        "at": self.now(),
                        "element_id": element,
                        "data": {"error": str(error)[:2000], **({"name": name} if name else {})},
                    }
                ],
            )
        return incident

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
        attach: Callable[[UnitOfWork, Task], None] | None = None,
    ) -> CommandResult:
        """Complete a human task with its form data; invalid data changes nothing. ``attach`` stores the files
        sent with the form in the same transaction, so they are kept exactly when the completion is."""
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
            self.deadlines.check_start_dates(work, spiff_task.data, clean, actor)
            properties = spiff_task.task_spec.extensions.get("properties") or {}
            refuse_repeated_opinion(properties.get("differsFrom"), clean, spiff_task.data)
            extends = properties.get("extendsDeadline")
            if extends and clean.get("extensionApproved", True) and clean.get("extensionDays"):
                self.deadlines.extend(work, extends, int(clean["extensionDays"]), actor)
            spiff_task.data.update(clean)
            work.run(spiff_task.run)
            work.completed_by_command.add(task_id)
            work.audit("task.completed", actor=actor, task=task, data=clean)
            for hook in self.complete_hooks:
                hook(work, task, clean)
            if attach is not None:
                attach(work, task)

        return self._execute(Command("complete", apply, task_id=task_id))

    def throw_error(
        self,
        task_id: str,
        code: str,
        *,
        message: str | None = None,
        variables: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> CommandResult:
        """A human task reports a business error (Camunda's bpmnError): the error boundary event on the task
        that catches ``code`` takes over and the task is cancelled. No catcher: refused, nothing changes."""
        variables = check_variables(variables)

        def apply(work: UnitOfWork) -> None:
            task = work.open_task(task_id)
            if task.assignee is not None and actor is not None and task.assignee != actor:
                raise Conflict(
                    f"task is claimed by {task.assignee}", {"task": task_id, "assignee": task.assignee}
                )
            assert work.workflow is not None
            workflow = work.workflow
            spiff_task = workflow.get_task_from_id(uuid.UUID(task_id))
            catchers = [
                t
                for t in work.all_tasks()
                if t.state == TaskState.WAITING
                and t.parent is spiff_task.parent
                and isinstance(getattr(t.task_spec, "event_definition", None), ErrorEventDefinition)
                and t.task_spec.event_definition.code in (None, code)
            ]
            if not catchers:
                raise InvalidInput(
                    f"no error boundary event on task '{task.element_id}' catches error code '{code}'",
                    {"task": task_id, "errorCode": code},
                )
            spiff_task.data.update(variables)
            caught = catchers[0].task_spec.event_definition
            event = BpmnEvent(
                ErrorEventDefinition(caught.name, code=code),
                payload={"errorCode": code, "errorMessage": message},
            )
            work.run(lambda: workflow.catch(event))
            work.audit(
                "task.error", actor=actor, task=task, data={"errorCode": code, "errorMessage": message}
            )

        return self._execute(Command("bpmn_error", apply, task_id=task_id))

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

    def start_form(self, session: Session, definition_id: str) -> DeployedForm | None:
        """The form a process's start event links (its none start event directly in the process), if any."""
        spec, _ = self.executor.specs(session, definition_id)
        for start in spec.start.outputs:
            extensions = getattr(start, "extensions", None) or {}
            if extensions.get("formRef"):
                version = bound_version(session, extensions, definition_id)
                form = self.forms.get(extensions["formRef"], version, session) if version else None
                if form is None:
                    raise NotFound(f"start form '{extensions['formRef']}' is not deployed")
                return form
        return None

    def _specs(self, definition_id: str) -> tuple[Any, dict[str, Any]]:
        """A definition's specs, from the cache without touching the database once they are there."""
        cached = self.codec.cached_specs(definition_id)
        if cached is not None:
            return cached
        with self.db.reading() as session:
            return self.executor.specs(session, definition_id)

    def start_form_link(self, definition_id: str) -> dict[str, Any] | None:
        """The ``camundaFormRef`` of a process's start form, if it has one."""
        spec, _ = self._specs(definition_id)
        for start in spec.start.outputs:
            if (getattr(start, "extensions", None) or {}).get("formRef"):
                return self.form_link(definition_id, start.bpmn_id)
        return None

    def form_link(self, definition_id: str, element_id: str) -> dict[str, Any] | None:
        """Camunda's ``camundaFormRef`` of an element: ``{key, binding, version}`` (version only when fixed), as
        the diagram linked it; None without a Camunda Form. Read from the cached spec, no query once warm."""
        spec, subprocess_specs = self._specs(definition_id)
        for each in (spec, *subprocess_specs.values()):
            for task_spec in each.task_specs.values():
                if getattr(task_spec, "bpmn_id", None) != element_id:
                    continue
                extensions = getattr(task_spec, "extensions", None) or {}
                if not extensions.get("formRef"):
                    return None
                version = extensions.get("formRefVersion")
                return {
                    "key": extensions["formRef"],
                    "binding": extensions.get("formRefBinding") or "latest",
                    "version": int(version) if version else None,
                }
        return None

    def validate_submission(self, session: Session, task: Task, variables: dict[str, Any]) -> dict[str, Any]:
        form = self.form_for(session, task)
        if form is None:
            return variables
        clean = self._validated(form, variables)
        unknown = named_problems(session, task.unit_code, clean)
        if unknown:
            raise ValidationFailed(
                f"{len(unknown)} field(s) name a unit or person the organisation does not have",
                {"form": form.id, "fields": unknown},
            )
        return clean

    @staticmethod
    def _validated(form: FormDefinition, variables: dict[str, Any]) -> dict[str, Any]:
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

    def correlate(
        self,
        name: str,
        *,
        instance_id: str | None = None,
        business_key: str | None = None,
        correlation_keys: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
        every: bool = False,
        actor: str | None = None,
    ) -> list[tuple[str, CommandResult]]:
        """Camunda's message correlation: deliver ``name`` to the instances waiting for it that match the
        instance id, business key and correlation keys (process variables equal to these values); if none
        waits, start the latest process with a message start event of that name. Returns ("Execution" or
        "ProcessDefinition", result) per instance. Without ``every``, exactly one match is required."""
        variables = check_variables(variables, "processVariables")
        keys = dict(correlation_keys or {})
        waiting = self._waiting_for(name, instance_id, business_key, keys)
        starts = [] if waiting or instance_id is not None or keys else self._message_starts(name)
        matches = len(waiting) + len(starts)
        if matches == 0 and not every:
            raise InvalidInput(
                f"Cannot correlate message '{name}': No process definition or execution matches the parameters",
                {"message": name},
            )
        if matches > 1 and not every:
            raise InvalidInput(
                f"Cannot correlate a message with name '{name}' to a single execution. {matches} executions "
                "match the correlation keys",
                {"message": name, "matches": matches},
            )
        results = [
            ("Execution", self.deliver_message(name, instance_id=i, payload=variables, actor=actor))
            for i in waiting
        ]
        results += [
            (
                "ProcessDefinition",
                self.start_by_message(d, name, business_key=business_key, variables=variables, actor=actor),
            )
            for d in starts
        ]
        return results

    def _waiting_for(
        self, name: str, instance_id: str | None, business_key: str | None, keys: Mapping[str, Any]
    ) -> list[str]:
        """Active instances with a task waiting for ``name`` whose data match ``keys`` (read-only loads)."""
        with self.db.reading() as session:
            query = select(Instance).where(Instance.state == ACTIVE)
            if instance_id is not None:
                query = query.where(Instance.id == instance_id)
            if business_key is not None:
                query = query.where(Instance.business_key == business_key)
            candidates = list(session.scalars(query.order_by(Instance.started_at, Instance.id)))
            found = []
            for row in candidates:
                if not self._may_catch(session, row.definition_id, name):
                    continue
                workflow = self.executor.load(session, row)
                for task in workflow.get_tasks(state=TaskState.WAITING):
                    if name in message_names(task) and all(
                        task.data.get(k, _MISSING) == v for k, v in keys.items()
                    ):
                        found.append(row.id)
                        break
        return found

    def _may_catch(self, session: Session, definition_id: str, name: str) -> bool:
        """Whether any element of the definition catches message ``name`` (cached specs, no instance loaded)."""
        spec, subprocess_specs = self.executor.specs(session, definition_id)
        for each in (spec, *subprocess_specs.values()):
            for task_spec in each.task_specs.values():
                definition = getattr(task_spec, "event_definition", None)
                inner = getattr(definition, "event_definitions", None) or [definition]
                if any(isinstance(d, MessageEventDefinition) and d.name == name for d in inner):
                    return True
        return False

    def _message_starts(self, name: str) -> list[str]:
        """The latest definition of each key whose process starts with message ``name``."""
        with self.db.reading() as session:
            latest = latest_versions()
            ids = session.scalars(
                select(ProcessDefinition.id).join(
                    latest,
                    (latest.c.key == ProcessDefinition.key) & (latest.c.v == ProcessDefinition.version),
                )
            )
            return [d for d in ids if name in message_start_names(self.executor.specs(session, d)[0])]

    def active_activities(self, instance_id: str) -> list[dict[str, Any]]:
        """The elements an instance is at now (tasks open, events and call activities waiting): id, element,
        name and the spec's type; read-only."""
        with self.db.reading() as session:
            row = session.get(Instance, instance_id)
            if row is None:
                raise NotFound(f"no process instance '{instance_id}'", {"instance": instance_id})
            workflow = self.executor.load(session, row)
        return [
            {
                "id": str(task.id),
                "element": task.task_spec.bpmn_id,
                "name": task.task_spec.bpmn_name,
                "type": type(task.task_spec).__name__,
            }
            for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED)
            if task.task_spec.bpmn_id and not type(task.task_spec).__name__.endswith("Join")
        ]

    def element_names(self, definition_id: str) -> dict[str, str | None]:
        """Each element id of a definition and its name (cached specs)."""
        spec, subprocess_specs = self._specs(definition_id)
        return {
            t.bpmn_id: t.bpmn_name
            for each in (spec, *subprocess_specs.values())
            for t in each.task_specs.values()
            if getattr(t, "bpmn_id", None)
        }

    def _fire_command(self, instance_id: str, *, resolve: bool = True) -> Command:
        """Fire the instance's due timers; ``resolve``: end its incident with the fire (a batch ends its
        instances' incidents in one statement instead: ``fire_due``)."""

        def due(row: Instance) -> bool:
            # A suspended instance keeps its due timers; resume fires them.
            return row.state == ACTIVE and row.next_timer_at is not None and row.next_timer_at <= self.now()

        def apply(work: UnitOfWork) -> None:
            work.run(lambda: None)
            work.note_fired_timers()
            if resolve:
                repair.resolve_incident(work)

        return Command("fire_timers", apply, instance_id=instance_id, wanted=due)

    def fire_timers(self, instance_id: str) -> CommandResult | None:
        """Fire whatever timers of the instance are due; None when nothing was due (nothing is written).

        Idempotent: a second call for the same due time, from this or another scheduler, finds the timer
        already fired under the instance lock and does nothing.
        """
        return self.executor.execute(self._fire_command(instance_id))

    def fire_due(self, instance_ids: Sequence[str]) -> tuple[list[CommandResult], dict[str, Exception]]:
        """Fire the due timers of several instances in one transaction: a burst's commits shrink by the batch.

        Each instance is the same command as ``fire_timers`` under its own lock (the batch's rows are locked by
        one statement), so exactly once holds as for one instance. The batch is first fired as a whole; if
        any instance fails, that transaction is rolled back and the batch fired again with a savepoint per
        instance, so that the failing one is rolled back alone and returned with its error, and the others
        commit together. Listeners hear of each fire after the commit.
        """
        try:
            with self.db.transaction() as session:
                self.executor.lock_all(session, instance_ids)
                results = [
                    result
                    for instance_id in instance_ids
                    if (
                        result := self.executor.execute_in(
                            session, self._fire_command(instance_id, resolve=False)
                        )
                    )
                    is not None
                ]
                repair.resolve_incidents(session, [result.instance_id for result in results])
            failures: dict[str, Exception] = {}
        except Exception:
            results, failures = self._fire_each_in_savepoint(instance_ids)
        for result in results:
            self.executor.notify(result)
        return results, failures

    def _fire_each_in_savepoint(
        self, instance_ids: Sequence[str]
    ) -> tuple[list[CommandResult], dict[str, Exception]]:
        results: list[CommandResult] = []
        failures: dict[str, Exception] = {}
        with self.db.transaction() as session:
            self.executor.lock_all(session, instance_ids)
            for instance_id in instance_ids:
                try:
                    with session.begin_nested():
                        result = self.executor.execute_in(
                            session, self._fire_command(instance_id, resolve=False)
                        )
                except Exception as error:
                    failures[instance_id] = error
                    continue
                if result is not None:
                    results.append(result)
            repair.resolve_incidents(session, [result.instance_id for result in results])
        return results, failures

    def recompute_deadlines(self, instance_id: str, generation: int) -> CommandResult | None:
        """Move the instance's open deadlines (and their timers) to what the calendar gives now."""

        def open_instance(row: Instance) -> bool:
            return row.state in (ACTIVE, SUSPENDED)

        def apply(work: UnitOfWork) -> None:
            self.deadlines.recompute(work, generation)

        return self.executor.execute(
            Command("recompute_deadlines", apply, instance_id=instance_id, wanted=open_instance)
        )

    def follow_calendar(self) -> int:
        """Take in the calendar years saved by any process and, once per change, recompute the open deadlines
        it moves; returns how many instances moved. The scheduler calls it on every tick."""
        self.calendar_years.refresh(force=True)
        generation = self.calendar_years.unapplied()
        if generation is None:
            return 0
        with self.db.reading() as session:
            records = session.scalars(
                select(Deadline)
                .join(Instance, Instance.id == Deadline.instance_id)
                .where(Deadline.outcome.is_(None), Instance.state.in_((ACTIVE, SUSPENDED)))
            ).all()
        moved = sorted({r.instance_id for r in records if self.deadlines.moved_by_calendar(r)})
        for instance_id in moved:
            try:
                self.recompute_deadlines(instance_id, generation)
            except (
                Exception
            ):  # one broken instance must not hold back the others; its deadline stays as it was
                log.exception(
                    "recomputing the deadlines of instance %s for the new calendar failed", instance_id
                )
        self.calendar_years.mark_applied(generation)
        return len(moved)

    def suspend(self, instance_id: str, *, actor: str | None = None) -> CommandResult:
        def apply(work: UnitOfWork) -> None:
            work.require_active()
            work.row.state = SUSPENDED
            work.audit("instance.suspended", actor=actor)

        return self._execute(Command("suspend", apply, instance_id=instance_id, load=False))

    def resume(self, instance_id: str, *, actor: str | None = None) -> CommandResult:
        """End the suspension, then fire the timers that came due meanwhile: one transaction, one lock, so no
        scheduler fires them in between. The suspension ends even when that fire fails: the fire is rolled back
        alone (a savepoint, as in a batch of the scheduler's) and its failure kept as a scheduled fire's is
        (``record_failure``: the instance's incident, in its history); the result names the incident."""

        def apply(work: UnitOfWork) -> None:
            if work.row.state != SUSPENDED:
                raise InvalidState(f"instance is {work.row.state}, not suspended")
            work.row.state = ACTIVE
            work.audit("instance.resumed", actor=actor)

        failure: Exception | None = None
        with self.db.transaction() as session:
            result = self.executor.execute_in(
                session, Command("resume", apply, instance_id=instance_id, load=False)
            )
            assert result is not None
            try:
                with session.begin_nested():
                    fired = self.executor.execute_in(session, self._fire_command(instance_id))
            except Exception as error:
                failure = error
            else:
                if fired is not None:
                    result = dataclasses.replace(fired, events=[*result.events, *fired.events])
        if failure is not None:
            result.incident = self.record_failure(instance_id, "timer.failed", failure)
        self.executor.notify(result)
        return result

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

    # -- repair (engine/repair.py) -------------------------------------------------------------------------------
    def retry_incident(self, incident_id: int, *, actor: str | None = None) -> CommandResult:
        """Fire the timers of an incident's instance now. Success ends the incident; a failure leaves the
        instance as it was and the incident with one attempt more and the new message (ProcessError raised)."""
        with self.db.reading() as session:
            incident = session.get(Incident, incident_id)
            if incident is None:
                raise NotFound(f"no incident '{incident_id}'", {"incident": incident_id})
            instance_id, element, attempts = incident.instance_id, incident.element_id, incident.attempts

        def apply(work: UnitOfWork) -> None:
            if work.row.state == SUSPENDED:
                raise InvalidState(
                    "案件已挂起，请先恢复办理再重试（恢复时到期的定时器随即触发）",
                    {"instance": instance_id, "state": SUSPENDED},
                )
            work.run(lambda: None)
            work.note_fired_timers()
            repair.resolve_incident(work)
            work.audit("incident.retried", actor=actor, element=element, data={"attempts": attempts})

        try:
            return self._execute(Command("retry_incident", apply, instance_id=instance_id))
        except ProcessError as error:
            self.record_failure(instance_id, "timer.failed", error, audit=False)
            raise

    def modify(
        self,
        instance_id: str,
        instructions: Sequence[repair.Instruction],
        *,
        reason: str,
        actor: str | None = None,
    ) -> CommandResult:
        """Camunda's process instance modification: cancel steps, start before or after steps (engine/repair)."""
        return self._execute(
            Command(
                "modify",
                lambda work: repair.modify(work, instructions, reason, actor),
                instance_id=instance_id,
            )
        )

    def move_back(
        self, instance_id: str, *, reason: str, actor: str | None = None, task_id: str | None = None
    ) -> CommandResult:
        """退回上一环节: the case waits again at the human step before its current one (engine/repair)."""
        return self._execute(
            Command(
                "move_back",
                lambda work: repair.move_back(work, task_id, reason, actor),
                instance_id=instance_id,
            )
        )

    def migration_instances(
        self, plan: repair.MigrationPlan, instance_ids: Sequence[str] | None
    ) -> list[str]:
        """The running instances of the plan's source version (those named, when ``instance_ids`` is given)."""
        with self.db.reading() as session:
            query = select(Instance.id).where(
                Instance.definition_id == plan.source_id, Instance.state.in_((ACTIVE, SUSPENDED))
            )
            if instance_ids is not None:
                query = query.where(Instance.id.in_(list(instance_ids)))
            return list(session.scalars(query.order_by(Instance.started_at, Instance.id)))

    def _migration_target(
        self, plan: repair.MigrationPlan
    ) -> tuple[ProcessDefinition, tuple[Any, dict[str, Any]]]:
        with self.db.reading() as session:
            source = session.get(ProcessDefinition, plan.source_id)
            target = session.get(ProcessDefinition, plan.target_id)
            if source is None or target is None:
                missing = plan.source_id if source is None else plan.target_id
                raise NotFound(f"没有流程定义「{missing}」", {"definition": missing})
            if source.key != target.key:
                raise InvalidInput(
                    "只能迁移到同一流程的另一版本", {"source": source.key, "target": target.key}
                )
            if source.id == target.id:
                raise InvalidInput("原版本与目标版本相同", {"definition": source.id})
            specs = self.executor.specs(session, target.id)
            repair.check_mapping(plan, self.executor.specs(session, source.id), specs)
            session.expunge(target)
        return target, specs

    def dry_run_migration(
        self, plan: repair.MigrationPlan, instance_ids: Sequence[str] | None = None
    ) -> list[repair.InstanceMove]:
        """What each running instance of the source version would become, and which cannot move and why; reads
        only."""
        _, target = self._migration_target(plan)
        moves = []
        for instance_id in self.migration_instances(plan, instance_ids):
            with self.db.reading() as session:
                row = session.get(Instance, instance_id)
                assert row is not None
                workflow = self.executor.load(session, row)
                move = repair.InstanceMove(row.id, row.business_key)
            repair.plan_move(self.codec.registry, workflow, target, plan.mapping, move)
            moves.append(move)
        return moves

    def migrate_instance(
        self,
        plan: repair.MigrationPlan,
        instance_id: str,
        *,
        reason: str | None,
        actor: str | None = None,
        batch_id: str | None = None,
    ) -> CommandResult:
        """Move one instance to the plan's target version in a transaction of its own (engine/repair); a case
        of a batch is marked migrated in that same transaction."""
        definition, target = self._migration_target(plan)

        def apply(work: UnitOfWork) -> None:
            if batch_id is not None:
                batches.mark_migrated(work.session, batch_id, instance_id, work.now)
            repair.migrate(work, self.codec.registry, definition, target, plan, reason, actor)

        return self._execute(Command("migrate", apply, instance_id=instance_id))

    def migrate_case(
        self,
        plan: repair.MigrationPlan,
        instance_id: str,
        *,
        reason: str,
        actor: str | None,
        batch_id: str | None = None,
    ) -> str | None:
        """The migration of one case, as the synchronous mode and a batch both run it: None when it moved, else
        why not, in Chinese (a case of a batch has that reason recorded; the case is unchanged)."""
        try:
            self.migrate_instance(plan, instance_id, reason=reason, actor=actor, batch_id=batch_id)
        except (InvalidState, InvalidInput, NotFound, Conflict, ProcessError) as error:
            why = chinese_message(error.code, error.message, error.details)
            if batch_id is not None:
                with self.db.transaction() as session:
                    batches.mark_failed(session, batch_id, instance_id, why, self.now())
            return why
        return None

    def start_migration_batch(
        self,
        plan: repair.MigrationPlan,
        instance_ids: Sequence[str] | None,
        *,
        reason: str,
        actor: str | None,
        batch_size: int,
    ) -> str:
        """Record a migration to be worked off in the background (``work_migrations``); returns the batch's id.
        The plan is checked now; so is every case named, which must be running on the source version."""
        self._migration_target(plan)
        running = self.migration_instances(plan, instance_ids)
        if instance_ids is not None:
            others = [i for i in dict.fromkeys(instance_ids) if i not in set(running)]
            if others:
                raise InvalidInput(
                    f"{len(others)} 件案件不是原版本上办理中的案件，无法迁移",
                    {"fields": {"instanceIds": others}},
                )
        if not running:
            raise InvalidInput("原版本没有办理中的案件，无需迁移", {"definition": plan.source_id})
        with self.db.transaction() as session:
            rows = session.execute(select(Instance.id, Instance.business_key).where(Instance.id.in_(running)))
            keys = {instance_id: key for instance_id, key in rows}
            return batches.record(
                session,
                plan,
                [(i, keys.get(i)) for i in running],
                reason=reason,
                actor=actor,
                batch_size=batch_size,
                now=self.now(),
            )

    def work_migrations(self, stopping: Callable[[], bool] = lambda: False) -> int:
        """One tick of the background migrations: the next slice of the oldest running batch, each case in a
        transaction of its own; the batch completes once none is pending. Returns how many cases were worked."""
        with self.db.reading() as session:
            found = batches.next_slice(session)
        if found is None:
            return 0
        batch, cases = found
        plan = batches.plan_of(batch)
        worked = 0
        for instance_id in cases:
            if stopping():
                break
            self.migrate_case(plan, instance_id, reason=batch.reason, actor=batch.actor, batch_id=batch.id)
            worked += 1
        with self.db.transaction() as session:
            batches.complete_if_done(session, batch.id, self.now())
        return worked

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
