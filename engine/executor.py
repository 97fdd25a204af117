"""The one command path: every change to a running instance goes through :class:`CommandExecutor`.

Start, claim, complete, message, timer fire, suspend, resume, cancel: each is a :class:`Command` that names
the instance (or the task, or the definition to start) and says what to do once the instance is locked and
loaded. The executor runs the same sequence for all of them: open a transaction, lock the instance row, load
its workflow, apply the change, save the state and its projections, commit, and only then tell the listeners
(the scheduler). One code path is what makes "nothing lost, nothing done twice" checkable in one place
(Camunda 7's CommandExecutor is the model).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from .db import Database
from .errors import NotFound
from .models import Instance, ProcessDefinition, Task
from .queries import task_not_open
from .scripting import SafeScriptEngine
from .unit_of_work import CommandResult, Listener, UnitOfWork, WorkEnvironment

# Session.info key: instance rows locked by lock_all and not yet taken by a command.
LOCKED = "petitionflow.locked_instances"


@dataclass(frozen=True)
class Command:
    """One change to one instance, run by :meth:`CommandExecutor.execute`.

    The instance is found by ``instance_id`` or through an open task (``task_id``); ``create`` instead builds
    the unit of work of a new instance (start). ``load=False`` skips decoding the workflow for commands that
    touch only rows (claim, suspend). ``wanted`` is asked under the lock whether there is anything to do at
    all (a timer fire): when it says no, nothing is written and the result is None.
    """

    name: str
    apply: Callable[[UnitOfWork], None]
    instance_id: str | None = None
    task_id: str | None = None
    load: bool = True
    create: Callable[[Session], UnitOfWork] | None = None
    wanted: Callable[[Instance], bool] | None = None


class CommandExecutor:
    """Runs commands: transaction, lock, load, apply, save, commit, notify."""

    def __init__(self, db: Database, environment: WorkEnvironment, script_engine: SafeScriptEngine) -> None:
        self.db = db
        self.environment = environment
        self.script_engine = script_engine
        self.listeners: list[Listener] = []

    def execute(self, command: Command) -> CommandResult | None:
        """Run a command in a transaction of its own and tell the listeners once it committed."""
        with self.db.transaction() as session:
            result = self.execute_in(session, command)
        if result is not None:
            self.notify(result)
        return result

    def execute_in(self, session: Session, command: Command) -> CommandResult | None:
        """Run a command inside the caller's transaction (the caller commits, then calls ``notify``)."""
        if command.create is not None:
            work = command.create(session)
        else:
            task = None
            if command.task_id is not None:
                row, task = self.lock_task(session, command.task_id)
            else:
                row = self.lock(session, command.instance_id or "")
            if command.wanted is not None and not command.wanted(row):
                return None
            workflow = self.load(session, row) if command.load else None
            work = UnitOfWork(self.environment, session, row, workflow, task=task)
        command.apply(work)
        return work.save()

    def notify(self, result: CommandResult) -> None:
        for listener in self.listeners:
            listener(result)

    # -- locking and loading -----------------------------------------------------------------------------------
    def lock_all(self, session: Session, instance_ids: Sequence[str]) -> None:
        """Lock several instances with one statement (in id order, as any two batches lock them), for commands
        run one after another in this transaction: each command's :meth:`lock` takes its row from here."""
        query = select(Instance).where(Instance.id.in_(list(instance_ids))).order_by(Instance.id)
        if not self.db.is_sqlite:
            query = query.with_for_update()
        session.info[LOCKED] = {row.id: row for row in session.scalars(query)}

    def lock(self, session: Session, instance_id: str) -> Instance:
        held = session.info.get(LOCKED)
        if held is not None and instance_id in held:
            return held.pop(instance_id)
        query = select(Instance).where(Instance.id == instance_id)
        if not self.db.is_sqlite:
            query = query.with_for_update()
        row = session.scalars(query).first()
        if row is None:
            raise NotFound(f"no process instance '{instance_id}'", {"instance": instance_id})
        return row

    def lock_task(self, session: Session, task_id: str) -> tuple[Instance, Task]:
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

    def specs(self, session: Session, definition_id: str) -> tuple[Any, dict[str, Any]]:
        codec = self.environment.codec
        cached = codec.cached_specs(definition_id)
        if cached is not None:
            return cached
        spec_json = session.scalar(
            select(ProcessDefinition.spec_json).where(ProcessDefinition.id == definition_id)
        )
        if spec_json is None:
            raise NotFound(f"no process definition '{definition_id}'")
        return codec.specs_for(definition_id, spec_json)

    def load(self, session: Session, row: Instance) -> BpmnWorkflow:
        spec, subprocess_specs = self.specs(session, row.definition_id)
        workflow = self.environment.codec.decode_state(row.state_json, spec, subprocess_specs)
        workflow.script_engine = self.script_engine
        return workflow
