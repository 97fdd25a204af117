"""Read-only questions about instances and tasks, answered from the projection tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session, defer

from .errors import Conflict, NotFound, ProcessError
from .models import AuditEvent, Deadline, Instance, Petition, Task, TaskCandidate


@dataclass(frozen=True)
class TaskFilter:
    assignee: str | None = None
    candidate_user: str | None = None
    candidate_groups: Sequence[str] = ()
    # "Mine or my groups'": assigned to this user, or offered to the user or to one of ``involved_groups``.
    involved_user: str | None = None
    involved_groups: Sequence[str] = ()
    unassigned: bool | None = None
    instance_id: str | None = None
    business_key: str | None = None
    definition_key: str | None = None
    element_id: str | None = None
    overdue: bool | None = None
    limit: int = 100
    offset: int = 0


def task_query(f: TaskFilter, now: datetime | None = None) -> Select[tuple[Task]]:
    now = now or datetime.now(UTC)
    query = select(Task)

    def candidate(kind: str, names: Sequence[str]) -> Any:
        return exists().where(
            TaskCandidate.task_id == Task.id, TaskCandidate.kind == kind, TaskCandidate.name.in_(names)
        )

    if f.assignee is not None:
        query = query.where(Task.assignee == f.assignee)
    if f.unassigned is True:
        query = query.where(Task.assignee.is_(None))
    elif f.unassigned is False:
        query = query.where(Task.assignee.is_not(None))
    if f.candidate_user is not None:
        query = query.where(candidate("user", [f.candidate_user]))
    if f.candidate_groups:
        query = query.where(candidate("group", list(f.candidate_groups)))
    if f.involved_user is not None:
        offered = [candidate("user", [f.involved_user])]
        if f.involved_groups:
            offered.append(candidate("group", list(f.involved_groups)))
        query = query.where(or_(Task.assignee == f.involved_user, *offered))
    for column, value in (
        (Task.instance_id, f.instance_id),
        (Task.business_key, f.business_key),
        (Task.definition_key, f.definition_key),
        (Task.element_id, f.element_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if f.overdue is True:
        query = query.where(Task.due_at < now)
    elif f.overdue is False:
        query = query.where(or_(Task.due_at.is_(None), Task.due_at >= now))
    # Overdue and soonest-due first: what a handler must do next.
    return (
        query.order_by(Task.due_at.is_(None), Task.due_at, Task.created_at, Task.id)
        .limit(f.limit)
        .offset(f.offset)
    )


def list_tasks(session: Session, f: TaskFilter, now: datetime | None = None) -> list[Task]:
    """``now`` is the engine's clock; overdue means due before it."""
    return list(session.scalars(task_query(f, now)))


def get_task(session: Session, task_id: str, *, acting: bool = False) -> Task:
    """The open task, or NotFound. To act on a task that was open once and is no more raises Conflict (409):
    a colleague was quicker."""
    task = session.get(Task, task_id)
    if task is None:
        raise (
            task_not_open(session, task_id)
            if acting
            else NotFound(f"no open task '{task_id}'", {"task": task_id})
        )
    return task


def task_not_open(session: Session, task_id: str) -> ProcessError:
    """Why there is no open task ``task_id``: it was completed or cancelled (its audit events say it existed),
    or it never existed."""
    if session.scalar(select(AuditEvent.id).where(AuditEvent.task_id == task_id).limit(1)) is None:
        return NotFound(f"no task '{task_id}'", {"task": task_id})
    return Conflict("the task is no longer open: it was completed or cancelled", {"task": task_id})


@dataclass(frozen=True)
class InstanceFilter:
    definition_key: str | None = None
    state: str | None = None
    business_key: str | None = None
    overdue: bool | None = None
    assignee: str | None = None
    limit: int = 100
    offset: int = 0


def list_instances(session: Session, f: InstanceFilter, now: datetime | None = None) -> list[Instance]:
    # The cockpit lists never need the serialized workflow: leave it in the database.
    query = select(Instance).options(defer(Instance.state_json))
    for column, value in (
        (Instance.definition_key, f.definition_key),
        (Instance.state, f.state),
        (Instance.business_key, f.business_key),
    ):
        if value is not None:
            query = query.where(column == value)
    if f.overdue is True:
        late = exists().where(Task.instance_id == Instance.id, Task.due_at < (now or datetime.now(UTC)))
        query = query.where(late)
    if f.assignee is not None:
        query = query.where(exists().where(Task.instance_id == Instance.id, Task.assignee == f.assignee))
    return list(
        session.scalars(
            query.order_by(Instance.started_at.desc(), Instance.id).limit(f.limit).offset(f.offset)
        )
    )


def get_instance(session: Session, instance_id: str) -> Instance:
    row = session.get(Instance, instance_id)
    if row is None:
        raise NotFound(f"no process instance '{instance_id}'", {"instance": instance_id})
    return row


def history(session: Session, instance_id: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id)
        )
    )


@dataclass(frozen=True)
class PetitionFilter:
    number: str | None = None
    petitioner: str | None = None
    status: str | None = None
    unit: str | None = None
    overdue: bool | None = None
    limit: int = 50
    offset: int = 0


def list_petitions(session: Session, f: PetitionFilter, now: datetime | None = None) -> list[Petition]:
    now = now or datetime.now(UTC)
    query = select(Petition)
    if f.number:
        query = query.where(Petition.number == f.number)
    if f.petitioner:
        query = query.where(Petition.petitioner_name.startswith(f.petitioner, autoescape=True))
    if f.status:
        query = query.where(Petition.status == f.status)
    if f.unit:
        query = query.where(Petition.involved_unit == f.unit)
    if f.overdue is not None:
        late = exists().where(
            Deadline.business_key == Petition.number,
            ((Deadline.outcome.is_(None)) & (Deadline.due_at < now)) | (Deadline.outcome == "overdue"),
        )
        query = query.where(late if f.overdue else ~late)
    return list(
        session.scalars(
            query.order_by(Petition.registered_at.desc(), Petition.id.desc()).limit(f.limit).offset(f.offset)
        )
    )


def petition_timeline(
    session: Session, number: str
) -> tuple[list[Instance], list[AuditEvent], list[Deadline]]:
    """Everything that happened to a petition, across all its process instances."""
    instances = list(
        session.scalars(select(Instance).where(Instance.business_key == number).order_by(Instance.started_at))
    )
    events = list(
        session.scalars(select(AuditEvent).where(AuditEvent.business_key == number).order_by(AuditEvent.id))
    )
    deadlines = list(
        session.scalars(select(Deadline).where(Deadline.business_key == number).order_by(Deadline.started_at))
    )
    return instances, events, deadlines
