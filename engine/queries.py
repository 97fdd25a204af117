"""Every read the adapters make (lists, paging, counts, lookups), answered from the projection and definition
tables; never deserialises a workflow. One paging helper (Page, paged, rows, count) serves every list."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, false, func, or_, select
from sqlalchemy.orm import Session, defer

from .errors import Conflict, NotFound, ProcessError
from .models import (
    AuditEvent,
    Deadline,
    Deployment,
    Escalation,
    FormVersion,
    Incident,
    Instance,
    OrgUnit,
    Petition,
    ProcessDefinition,
    Resource,
    SavedFilter,
    Task,
    TaskCandidate,
    Timer,
    User,
)
from .urgency import due_soon, has_overdue_step, has_step_due_soon, not_overdue, overdue

RUNNING = ("active", "suspended")
# The category of 检举控告 items, whose accuser's identity is kept from the accused unit (Art. 30 ¶3).
ACCUSATION = "accusation"


# -- one page of any list: the native API, the Camunda-compatible API, the pages and the CLI share it -------
@dataclass(frozen=True)
class Page:
    """Skip ``first`` rows, return at most ``limit``. ``sort`` names a read model's fields, each with
    ``descending``; it goes before the model's own order, which keeps pages stable."""

    first: int = 0
    limit: int = 100
    sort: Sequence[tuple[str, bool]] = ()


@dataclass(frozen=True)
class Criteria:
    """Filters by a read model's field names, so adapters never name a column: equal to a value (None: is
    empty), one of values, a LIKE pattern, before or after a moment."""

    equal: Sequence[tuple[str, Any]] = ()
    among: Sequence[tuple[str, Sequence[Any]]] = ()
    like: Sequence[tuple[str, str]] = ()
    before: Sequence[tuple[str, datetime]] = ()
    after: Sequence[tuple[str, datetime]] = ()


def _where(query: Select[Any], fields: Mapping[str, Any], c: Criteria) -> Select[Any]:
    for name, value in c.equal:
        query = query.where(fields[name] == value)
    for name, values in c.among:
        query = query.where(fields[name].in_(list(values)))
    for name, pattern in c.like:
        query = query.where(fields[name].like(pattern))
    for name, moment in c.before:
        query = query.where(fields[name] < moment)
    for name, moment in c.after:
        query = query.where(fields[name] > moment)
    return query


def paged(query: Select[Any], page: Page, fields: Mapping[str, Any], then: Sequence[Any]) -> Select[Any]:
    """The one paging helper: the requested sort (nulls last either way), then ``then``, then the page."""
    order: list[ColumnElement[Any]] = []
    for name, descending in page.sort:
        column = fields[name]
        # A column that is never empty sorts by itself alone, so that its index can answer the order.
        if getattr(getattr(column, "expression", column), "nullable", True):
            order.append(column.is_(None))
        order.append(column.desc() if descending else column.asc())
    return query.order_by(None).order_by(*order, *then).offset(page.first).limit(page.limit)


def rows(
    session: Session, query: Select[Any], page: Page, fields: Mapping[str, Any], then: Sequence[Any]
) -> list[Any]:
    if page.limit == 0:
        return []
    return list(session.execute(paged(query, page, fields, then)).all())


def count(session: Session, query: Select[Any]) -> int:
    unpaged = query.limit(None).offset(None).order_by(None)
    return session.scalar(select(func.count()).select_from(unpaged.subquery())) or 0


# -- jurisdiction: where a principal may look (engine/policy.py decides, these filters apply it) ------------
@dataclass(frozen=True)
class Jurisdiction:
    """A principal's part of the county: the tasks of ``units`` and the tasks given to them (assigned to
    ``user``, offered to them by name or to one of their ``groups``); a case (petition, instance) whose
    responsible unit is among ``units`` or one of whose open tasks is in it by these rules. The whole county
    is no Jurisdiction at all (None) and filters nothing."""

    units: frozenset[str]
    user: str
    groups: tuple[str, ...] = ()


def _candidate(kind: str, names: Sequence[str]) -> Any:
    return exists().where(
        TaskCandidate.task_id == Task.id, TaskCandidate.kind == kind, TaskCandidate.name.in_(names)
    )


def task_within(j: Jurisdiction) -> ColumnElement[bool]:
    """The open task lies in ``j``."""
    return or_(
        Task.unit_code.in_(sorted(j.units)),
        Task.assignee == j.user,
        _candidate("user", [j.user]),
        _candidate("group", list(j.groups)),
    )


def case_within(j: Jurisdiction, business_key: Any, instance_id: Any | None = None) -> ColumnElement[bool]:
    """The case with ``business_key`` (a column or value; for an instance without one, its ``instance_id``)
    lies in ``j``: its responsible unit is in it, or one of its open tasks is."""
    answered_for = select(Petition.number).where(Petition.responsible_unit.in_(sorted(j.units)))
    responsible = business_key.in_(answered_for.scalar_subquery())
    same_case = Task.business_key == business_key
    if instance_id is not None:
        same_case = or_(same_case, and_(business_key.is_(None), Task.instance_id == instance_id))
    return or_(responsible, exists().where(same_case, task_within(j)))


def unit_kinds(session: Session, codes: Iterable[str]) -> dict[str, tuple[str, str]]:
    """(kind, level) of each of ``codes`` that names a unit."""
    found = session.execute(
        select(OrgUnit.code, OrgUnit.kind, OrgUnit.level).where(OrgUnit.code.in_(sorted(codes)))
    )
    return {code: (kind, level) for code, kind, level in found}


def unit_names(session: Session, codes: Iterable[str]) -> set[str]:
    return set(session.scalars(select(OrgUnit.name).where(OrgUnit.code.in_(sorted(codes)))))


def units_below(session: Session, codes: Iterable[str]) -> frozenset[str]:
    """``codes`` and every unit below them, by a recursive query that reads only that part of the tree."""
    roots = sorted(codes)
    if not roots:
        return frozenset()
    tree = select(OrgUnit.code).where(OrgUnit.code.in_(roots)).cte("below", recursive=True)
    tree = tree.union(select(OrgUnit.code).join(tree, OrgUnit.parent_code == tree.c.code))
    return frozenset(session.scalars(select(tree.c.code)))


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
    within: Jurisdiction | None = None
    due_soon: bool | None = None
    limit: int = 100
    offset: int = 0
    # A requested order (TASK_FIELDS names, each descending or not) before the handler's own.
    sort: Sequence[tuple[str, bool]] = ()
    # Words of the subject or content of the task's petition.
    text: str | None = None


TASK_FIELDS: dict[str, Any] = {
    "id": Task.id,
    "name": Task.name,
    "nameLower": func.lower(Task.name),
    "description": Task.description,
    "priority": Task.priority,
    "created": Task.created_at,
    "due": Task.due_at,
    "warnAt": Task.warn_at,
    "followUp": Task.follow_up_at,
    "assignee": Task.assignee,
    "instanceId": Task.instance_id,
    "definitionId": Task.definition_id,
    "definitionKey": Task.definition_key,
    "elementId": Task.element_id,
    "suspended": Task.suspended,
    "businessKey": Task.business_key,
}
# Overdue and soonest-due first: what a handler must do next.
TASK_ORDER = (Task.due_at.is_(None), Task.due_at, Task.created_at, Task.id)


def words(text: str) -> ColumnElement[bool]:
    """A petition whose subject or content holds ``text`` (a substring: Chinese has no spaces between words).
    On PostgreSQL the trigram indexes of both columns answer it for three characters or more."""
    return or_(
        Petition.subject.contains(text, autoescape=True), Petition.content.contains(text, autoescape=True)
    )


def task_select(f: TaskFilter, now: datetime | None = None) -> Select[tuple[Task]]:
    now = now or datetime.now(UTC)
    query = select(Task)
    if f.assignee is not None:
        query = query.where(Task.assignee == f.assignee)
    if f.unassigned is True:
        query = query.where(Task.assignee.is_(None))
    elif f.unassigned is False:
        query = query.where(Task.assignee.is_not(None))
    if f.candidate_user is not None:
        query = query.where(_candidate("user", [f.candidate_user]))
    if f.candidate_groups:
        query = query.where(_candidate("group", list(f.candidate_groups)))
    if f.involved_user is not None:
        offered = [_candidate("user", [f.involved_user])]
        if f.involved_groups:
            offered.append(_candidate("group", list(f.involved_groups)))
        query = query.where(or_(Task.assignee == f.involved_user, *offered))
    for column, value in (
        (Task.instance_id, f.instance_id),
        (Task.business_key, f.business_key),
        (Task.definition_key, f.definition_key),
        (Task.element_id, f.element_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if f.overdue is not None:
        query = query.where(overdue(Task.due_at, now) if f.overdue else not_overdue(Task.due_at, now))
    if f.due_soon is not None:
        soon = due_soon(Task.due_at, Task.warn_at, now)
        query = query.where(soon if f.due_soon else ~soon)
    if f.within is not None:
        query = query.where(task_within(f.within))
    if f.text:
        query = query.where(Task.business_key.in_(select(Petition.number).where(words(f.text))))
    return query


def task_query(f: TaskFilter, now: datetime | None = None) -> Select[tuple[Task]]:
    return paged(task_select(f, now), Page(f.offset, f.limit, f.sort), TASK_FIELDS, TASK_ORDER)


def count_tasks(session: Session, f: TaskFilter, now: datetime | None = None) -> int:
    """How many open tasks ``f`` finds over all its pages."""
    return count(session, task_select(f, now))


def task_page(session: Session, f: TaskFilter, c: Criteria, page: Page) -> list[Task]:
    """A visible-task filter narrowed by ``c``; a requested sort replaces the handler's order."""
    query = _where(task_select(f), TASK_FIELDS, c)
    return [row[0] for row in rows(session, query, page, TASK_FIELDS, [Task.id] if page.sort else TASK_ORDER)]


def task_count(session: Session, f: TaskFilter, c: Criteria) -> int:
    return count(session, _where(task_select(f), TASK_FIELDS, c))


def list_tasks(session: Session, f: TaskFilter, now: datetime | None = None) -> list[Task]:
    """``now`` is the engine's clock; overdue means due before it."""
    return list(session.scalars(task_query(f, now)))


def get_task(session: Session, task_id: str, *, acting: bool = False) -> Task:
    """The open task, or NotFound. To act on a task that was open once and is no more raises Conflict (409):
    a colleague was quicker."""
    task = session.get(Task, task_id)
    if task is None:
        raise task_not_open(session, task_id) if acting else unknown_task(task_id)
    return task


def unknown_task(task_id: str) -> NotFound:
    """The answer for a task id that names nothing, or nothing the caller may know of (engine/policy.py)."""
    return NotFound(f"no task '{task_id}'", {"task": task_id})


def unknown_case(what: str, ident: str) -> NotFound:
    """The answer for a petition number or instance id (``what``: petition, instance) that names nothing, or
    nothing the caller may know of."""
    return NotFound(f"no {'process instance' if what == 'instance' else what} '{ident}'", {what: ident})


def task_not_open(session: Session, task_id: str) -> ProcessError:
    """Why there is no open task ``task_id``: it was completed or cancelled (its audit events say it existed),
    or it never existed."""
    if session.scalar(select(AuditEvent.id).where(AuditEvent.task_id == task_id).limit(1)) is None:
        return unknown_task(task_id)
    return Conflict("the task is no longer open: it was completed or cancelled", {"task": task_id})


@dataclass(frozen=True)
class InstanceFilter:
    definition_key: str | None = None
    state: str | None = None
    business_key: str | None = None
    overdue: bool | None = None
    due_soon: bool | None = None
    assignee: str | None = None
    within: Jurisdiction | None = None
    limit: int = 100
    offset: int = 0
    # The cases of a responsible unit (its code), by the petition registered under their business key.
    unit: str | None = None
    sort: Sequence[tuple[str, bool]] = ()


def _soonest_due(instance_id: Any) -> Any:
    """The soonest due time of an instance's open steps (read through the task table's instance index)."""
    return (
        select(func.min(Task.due_at))
        .where(Task.instance_id == instance_id)
        .correlate_except(Task)
        .scalar_subquery()
    )


# The instance list's orders (?sort=): the soonest due step first is the cockpit's own.
INSTANCE_SORTS: dict[str, Any] = {
    "due": _soonest_due(Instance.id),
    "startedAt": Instance.started_at,
    "businessKey": Instance.business_key,
    "definitionKey": Instance.definition_key,
    "state": Instance.state,
}


def instance_select(f: InstanceFilter, now: datetime | None = None) -> Select[tuple[Instance]]:
    # The cockpit lists never need the serialized workflow: leave it in the database.
    query = select(Instance).options(defer(Instance.state_json))
    for column, value in (
        (Instance.definition_key, f.definition_key),
        (Instance.state, f.state),
        (Instance.business_key, f.business_key),
    ):
        if value is not None:
            query = query.where(column == value)
    query = _urgent(query, Task.instance_id == Instance.id, f.overdue, f.due_soon, now or datetime.now(UTC))
    if f.assignee is not None:
        query = query.where(exists().where(Task.instance_id == Instance.id, Task.assignee == f.assignee))
    if f.within is not None:
        query = query.where(case_within(f.within, Instance.business_key, Instance.id))
    if f.unit is not None:
        answered_for = select(Petition.number).where(Petition.responsible_unit == f.unit)
        query = query.where(Instance.business_key.in_(answered_for.scalar_subquery()))
    return query


def list_instances(session: Session, f: InstanceFilter, now: datetime | None = None) -> list[Instance]:
    newest = (Instance.started_at.desc(), Instance.id)
    page = Page(f.offset, f.limit, f.sort)
    return list(session.scalars(paged(instance_select(f, now), page, INSTANCE_SORTS, newest)))


def count_instances(session: Session, f: InstanceFilter, now: datetime | None = None) -> int:
    return count(session, instance_select(f, now))


def get_instance(session: Session, instance_id: str) -> Instance:
    row = session.get(Instance, instance_id)
    if row is None:
        raise unknown_case("instance", instance_id)
    return row


@dataclass(frozen=True)
class IncidentFilter:
    within: Jurisdiction | None = None
    instance_id: str | None = None
    limit: int = 50
    offset: int = 0


def list_incidents(session: Session, f: IncidentFilter) -> list[tuple[Incident, str, str]]:
    """The incidents of running cases within the jurisdiction, the latest failure first, each with its
    instance's definition id and key."""
    query = (
        select(Incident, Instance.definition_id, Instance.definition_key)
        .join(Instance, Instance.id == Incident.instance_id)
        .where(Instance.state.in_(RUNNING))
    )
    if f.instance_id is not None:
        query = query.where(Incident.instance_id == f.instance_id)
    if f.within is not None:
        query = query.where(case_within(f.within, Incident.business_key, Incident.instance_id))
    query = query.order_by(Incident.failed_at.desc(), Incident.id.desc()).limit(f.limit).offset(f.offset)
    return [(row[0], row[1], row[2]) for row in session.execute(query)]


def get_incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"no incident '{incident_id}'", {"incident": incident_id})
    return incident


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
    involved_unit: str | None = None
    overdue: bool | None = None
    within: Jurisdiction | None = None
    # A search by the petitioner's name never finds the accusations against these units (codes and names):
    # their accuser's identity is not theirs to learn (Art. 30 ¶3).
    accused: frozenset[str] = frozenset()
    due_soon: bool | None = None
    limit: int = 50
    offset: int = 0
    # Words of the subject or the content (a Chinese substring; three characters or more use the trigram
    # index on PostgreSQL), the petitioner's phone (its beginning) and identity number (exactly).
    text: str | None = None
    phone: str | None = None
    id_number: str | None = None
    sort: Sequence[tuple[str, bool]] = ()

    def by_identity(self) -> bool:
        """Whether the search asks for a person: their name, phone or identity number."""
        return bool(self.petitioner or self.phone or self.id_number)


# The petition list's orders (?sort=); the newest registration first is its own.
PETITION_SORTS: dict[str, Any] = {
    "number": Petition.number,
    "receivedAt": Petition.received_at,
    "registeredAt": Petition.registered_at,
    "petitionerName": Petition.petitioner_name,
    "subject": Petition.subject,
    "status": Petition.status,
}


def petition_select(f: PetitionFilter, now: datetime | None = None) -> Select[tuple[Petition]]:
    now = now or datetime.now(UTC)
    query = select(Petition)
    if f.number:
        query = query.where(Petition.number == f.number)
    if f.petitioner:
        query = query.where(Petition.petitioner_name.startswith(f.petitioner, autoescape=True))
    if f.phone:
        query = query.where(Petition.phone.startswith(f.phone, autoescape=True))
    if f.id_number:
        query = query.where(Petition.id_number == f.id_number.upper())
    if f.text:
        query = query.where(words(f.text))
    if f.status:
        query = query.where(Petition.status == f.status)
    if f.unit:
        query = query.where(Petition.responsible_unit == f.unit)
    if f.involved_unit:
        query = query.where(Petition.involved_unit == f.involved_unit)
    if f.within is not None:
        query = query.where(case_within(f.within, Petition.number))
    if f.by_identity() and f.accused:
        against_them = and_(Petition.category == ACCUSATION, Petition.involved_unit.in_(sorted(f.accused)))
        query = query.where(~against_them)
    return _urgent(query, Task.business_key == Petition.number, f.overdue, f.due_soon, now)


def list_petitions(session: Session, f: PetitionFilter, now: datetime | None = None) -> list[Petition]:
    newest = (Petition.registered_at.desc(), Petition.id.desc())
    page = Page(f.offset, f.limit, f.sort)
    return list(session.scalars(paged(petition_select(f, now), page, PETITION_SORTS, newest)))


def count_petitions(session: Session, f: PetitionFilter, now: datetime | None = None) -> int:
    return count(session, petition_select(f, now))


def _urgent(
    query: Select[Any], match: ColumnElement[bool], late: bool | None, soon: bool | None, now: datetime
) -> Select[Any]:
    """Narrow a list of cases to those with (or without) an overdue step, or a step due soon: the one
    definition of engine/urgency.py, for instances, petitions and escalations alike."""
    if late is not None:
        test = has_overdue_step(match, now)
        query = query.where(test if late else ~test)
    if soon is not None:
        test = has_step_due_soon(match, now)
        query = query.where(test if soon else ~test)
    return query


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


def closed_task_case(session: Session, task_id: str) -> tuple[str, str | None] | None:
    """(instance id, business key) of a task that is no longer open, from its audit events."""
    found = session.execute(
        select(AuditEvent.instance_id, AuditEvent.business_key).where(AuditEvent.task_id == task_id).limit(1)
    ).first()
    return (found[0], found[1]) if found else None


@dataclass(frozen=True)
class CaseFacts:
    """What the rules on a case read of its petition: the unit answering for it, the unit complained about
    and its category."""

    responsible_unit: str | None = None
    involved_unit: str | None = None
    category: str | None = None


def find_petition(session: Session, number: str | None) -> Petition | None:
    if number is None:
        return None
    return session.scalars(select(Petition).where(Petition.number == number)).first()


def case_tasks(session: Session, business_key: str | None, instance_id: str) -> list[Task]:
    """The open tasks of a case: every task under its business key, or the instance's own without one."""
    column, value = (Task.business_key, business_key) if business_key else (Task.instance_id, instance_id)
    return list(session.scalars(select(Task).where(column == value)))


def find_task(session: Session, task_id: str) -> Task | None:
    return session.get(Task, task_id)


def instance_tasks(session: Session, instance_id: str) -> list[Task]:
    return list(session.scalars(select(Task).where(Task.instance_id == instance_id)))


def petition_tasks(session: Session, number: str) -> list[Task]:
    return list(session.scalars(select(Task).where(Task.business_key == number)))


# -- running instances as Camunda's runtime query sees them, with their deployment's tenant --------------------
INSTANCE_FIELDS: dict[str, Any] = {
    "id": Instance.id,
    "state": Instance.state,
    "definitionKey": Instance.definition_key,
    "definitionId": Instance.definition_id,
    "businessKey": Instance.business_key,
    "deploymentId": ProcessDefinition.deployment_id,
    "tenantId": Deployment.tenant_id,
    "startedAt": Instance.started_at,
    "endedAt": Instance.ended_at,
    "startedBy": Instance.started_by,
}


def _instances_with_tenant(c: Criteria, within: Jurisdiction | None) -> Select[Any]:
    query = (
        select(Instance, Deployment.tenant_id)
        .options(defer(Instance.state_json))
        .join(ProcessDefinition, ProcessDefinition.id == Instance.definition_id)
        .join(Deployment, Deployment.id == ProcessDefinition.deployment_id)
    )
    if within is not None:
        query = query.where(case_within(within, Instance.business_key, Instance.id))
    return _where(query, INSTANCE_FIELDS, c)


def instance_page(
    session: Session, c: Criteria, page: Page, within: Jurisdiction | None = None
) -> list[tuple[Instance, str | None]]:
    found = rows(
        session, _instances_with_tenant(c, within), page, INSTANCE_FIELDS, (Instance.started_at, Instance.id)
    )
    return [(instance, tenant) for instance, tenant in found]


def instance_count(session: Session, c: Criteria, within: Jurisdiction | None = None) -> int:
    return count(session, _instances_with_tenant(c, within))


def definition_tenant(session: Session, definition_id: str) -> str | None:
    return session.scalar(
        select(Deployment.tenant_id)
        .join(ProcessDefinition, ProcessDefinition.deployment_id == Deployment.id)
        .where(ProcessDefinition.id == definition_id)
    )


# -- deployments and definitions ------------------------------------------------------------------------------
DEPLOYMENT_FIELDS: dict[str, Any] = {
    "id": Deployment.id,
    "name": Deployment.name,
    "source": Deployment.source,
    "deployedAt": Deployment.deployed_at,
    "tenantId": Deployment.tenant_id,
}


def deployment_page(session: Session, c: Criteria, page: Page) -> list[Deployment]:
    query = _where(select(Deployment), DEPLOYMENT_FIELDS, c)
    found = rows(session, query, page, DEPLOYMENT_FIELDS, (Deployment.deployed_at, Deployment.id))
    return [row[0] for row in found]


def deployment_count(session: Session, c: Criteria) -> int:
    return count(session, _where(select(Deployment), DEPLOYMENT_FIELDS, c))


def get_deployment(session: Session, deployment_id: str) -> Deployment | None:
    return session.get(Deployment, deployment_id)


def newest_deployment(session: Session, deployment_ids: Iterable[str]) -> Deployment | None:
    return session.scalars(
        select(Deployment)
        .where(Deployment.id.in_(set(deployment_ids)))
        .order_by(Deployment.deployed_at.desc())
    ).first()


def deployment_form_keys(session: Session, deployment_id: str) -> set[str]:
    """The forms a deployment stored a new version of."""
    return set(
        session.scalars(select(FormVersion.form_key).where(FormVersion.deployment_id == deployment_id))
    )


DEFINITION_FIELDS: dict[str, Any] = {
    "id": ProcessDefinition.id,
    "key": ProcessDefinition.key,
    "name": ProcessDefinition.name,
    "version": ProcessDefinition.version,
    "deploymentId": ProcessDefinition.deployment_id,
    "resourceName": Resource.name,
    "tenantId": Deployment.tenant_id,
}


@dataclass(frozen=True)
class DefinitionRow:
    definition: ProcessDefinition
    resource_id: int
    resource_name: str
    checksum: str
    tenant_id: str | None


def _definitions(c: Criteria, *, latest_only: bool) -> Select[Any]:
    query = (
        select(ProcessDefinition, Resource.id, Resource.name, Resource.checksum, Deployment.tenant_id)
        .join(Resource, Resource.id == ProcessDefinition.resource_id)
        .join(Deployment, Deployment.id == ProcessDefinition.deployment_id)
    )
    if latest_only:
        latest = (
            select(ProcessDefinition.key.label("key"), func.max(ProcessDefinition.version).label("v"))
            .group_by(ProcessDefinition.key)
            .subquery()
        )
        query = query.join(
            latest, (latest.c.key == ProcessDefinition.key) & (latest.c.v == ProcessDefinition.version)
        )
    return _where(query, DEFINITION_FIELDS, c)


def definition_page(
    session: Session, c: Criteria, page: Page, *, latest_only: bool = False, none: bool = False
) -> list[DefinitionRow]:
    """``none``: a filter no definition matches (they are never suspended), checked like any other."""
    query = _definitions(c, latest_only=latest_only)
    if none:
        query = query.where(false())
    then = (ProcessDefinition.key, ProcessDefinition.version)
    return [DefinitionRow(*row) for row in rows(session, query, page, DEFINITION_FIELDS, then)]


def definition_count(session: Session, c: Criteria, *, latest_only: bool = False, none: bool = False) -> int:
    query = _definitions(c, latest_only=latest_only)
    return count(session, query.where(false()) if none else query)


def find_definition(
    session: Session, definition_id: str | None, key: str | None, tenant_id: str | None = None
) -> DefinitionRow | None:
    """By id, or the latest version of a key (within a tenant, if one is named)."""
    if definition_id is not None:
        c = Criteria(equal=[("id", definition_id)])
    else:
        c = Criteria(equal=[("key", key), *([("tenantId", tenant_id)] if tenant_id is not None else [])])
    query = _definitions(c, latest_only=False).order_by(ProcessDefinition.version.desc()).limit(1)
    found = session.execute(query).first()
    return DefinitionRow(*found) if found is not None else None


def definitions_overview(
    session: Session, definition_id: str | None = None
) -> list[tuple[ProcessDefinition, str, int, bool]]:
    """Every version of every process, newest first: its resource's name, how many instances still run on
    it, and whether it is its key's latest version."""
    running = dict(
        session.execute(
            select(Instance.definition_id, func.count())
            .where(Instance.state.in_(RUNNING))
            .group_by(Instance.definition_id)
        ).all()
    )
    latest = dict(
        session.execute(
            select(ProcessDefinition.key, func.max(ProcessDefinition.version)).group_by(ProcessDefinition.key)
        ).all()
    )
    query = select(ProcessDefinition, Resource.name).join(
        Resource, Resource.id == ProcessDefinition.resource_id
    )
    if definition_id is not None:
        query = query.where(ProcessDefinition.id == definition_id)
    found = session.execute(query.order_by(ProcessDefinition.key, ProcessDefinition.version.desc())).all()
    return [(d, name, running.get(d.id, 0), latest.get(d.key) == d.version) for d, name in found]


def definition_source(session: Session, definition_id: str) -> tuple[str, str] | None:
    """The BPMN XML a definition was deployed from, and its file name."""
    found = session.execute(
        select(Resource.content, Resource.name)
        .join(ProcessDefinition, ProcessDefinition.resource_id == Resource.id)
        .where(ProcessDefinition.id == definition_id)
    ).first()
    return (found.content, found.name) if found is not None else None


def resource_content(session: Session, resource_id: int) -> str | None:
    return session.scalar(select(Resource.content).where(Resource.id == resource_id))


# -- forms --------------------------------------------------------------------------------------------------------
# -- escalations and the cockpit's waiting counts -----------------------------------------------------------
@dataclass(frozen=True)
class EscalationFilter:
    kind: str | None = None
    unit: str | None = None
    business_key: str | None = None
    within: Jurisdiction | None = None
    limit: int = 100
    offset: int = 0
    # Steps of cases overdue (or due soon) now, by the open steps' due times: the board's 仅看超期.
    overdue: bool | None = None
    due_soon: bool | None = None
    sort: Sequence[tuple[str, bool]] = ()


# The escalation board's orders (?sort=); the newest step first is its own.
ESCALATION_SORTS: dict[str, Any] = {
    "createdAt": Escalation.created_at,
    "due": Escalation.due_at,
    "kind": Escalation.kind,
    "businessKey": Escalation.business_key,
    "unit": Escalation.unit,
}


def escalation_select(f: EscalationFilter, now: datetime | None = None) -> Select[tuple[Escalation]]:
    """By responsible unit (``unit``); the involved unit is in each step's details."""
    query = _urgent(
        select(Escalation),
        Task.business_key == Escalation.business_key,
        f.overdue,
        f.due_soon,
        now or datetime.now(UTC),
    )
    if f.within is not None:
        of_case = and_(Escalation.business_key.is_not(None), case_within(f.within, Escalation.business_key))
        query = query.where(or_(Escalation.unit.in_(sorted(f.within.units)), of_case))
    for column, value in (
        (Escalation.kind, f.kind),
        (Escalation.unit, f.unit),
        (Escalation.business_key, f.business_key),
    ):
        if value:
            query = query.where(column == value)
    return query


def list_escalations(session: Session, f: EscalationFilter, now: datetime | None = None) -> list[Escalation]:
    newest = (Escalation.created_at.desc(), Escalation.id.desc())
    page = Page(f.offset, f.limit, f.sort)
    return list(session.scalars(paged(escalation_select(f, now), page, ESCALATION_SORTS, newest)))


def count_escalations(session: Session, f: EscalationFilter, now: datetime | None = None) -> int:
    return count(session, escalation_select(f, now))


def waiting_counts(
    session: Session, now: datetime, definition_id: str | None = None, within: Jurisdiction | None = None
) -> dict[tuple[str, str], dict[str, Any]]:
    """How many cases wait at each (definition, element): open tasks (overdue, unclaimed) from the task
    table, pending timers from the timer table, instances parked there from their active elements; only
    those ``within`` a principal's jurisdiction when given."""
    counts: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"tasks": 0, "overdue": 0, "unclaimed": 0, "timers": 0, "nextTimer": None, "instances": 0}
    )
    task_query = select(
        Task.definition_id,
        Task.element_id,
        func.count(),
        func.sum(case((overdue(Task.due_at, now), 1), else_=0)),
        func.sum(case((Task.assignee.is_(None), 1), else_=0)),
    ).group_by(Task.definition_id, Task.element_id)
    timer_query = (
        select(Instance.definition_id, Timer.element_id, func.count(), func.min(Timer.due_at))
        .join(Instance, Instance.id == Timer.instance_id)
        .where(Instance.state.in_(RUNNING))
        .group_by(Instance.definition_id, Timer.element_id)
    )
    instance_query = select(Instance.definition_id, Instance.active_elements).where(
        Instance.state.in_(RUNNING)
    )
    if definition_id:
        task_query = task_query.where(Task.definition_id == definition_id)
        timer_query = timer_query.where(Instance.definition_id == definition_id)
        instance_query = instance_query.where(Instance.definition_id == definition_id)
    if within is not None:
        task_query = task_query.where(task_within(within))
        visible = case_within(within, Instance.business_key, Instance.id)
        timer_query = timer_query.where(visible)
        instance_query = instance_query.where(visible)
    for definition, element, total, late, unclaimed in session.execute(task_query):
        counts[(definition, element)].update(
            tasks=total, overdue=int(late or 0), unclaimed=int(unclaimed or 0)
        )
    for definition, element, total, next_due in session.execute(timer_query):
        counts[(definition, element)].update(
            timers=total, nextTimer=next_due.isoformat() if next_due else None
        )
    for definition, elements in session.execute(instance_query):
        for element in set(elements or ()):
            counts[(definition, element)]["instances"] += 1
    return counts


# -- history as Camunda's /history sees it: built from the audit events -----------------------------------------
EVENT_FIELDS: dict[str, Any] = {
    "id": AuditEvent.id,
    "instanceId": AuditEvent.instance_id,
    "elementId": AuditEvent.element_id,
    "taskId": AuditEvent.task_id,
    "kind": AuditEvent.kind,
    "at": AuditEvent.at,
    "businessKey": AuditEvent.business_key,
    "definitionId": Instance.definition_id,
    "definitionKey": Instance.definition_key,
}


def _events(kinds: Sequence[str], c: Criteria) -> Select[Any]:
    query = (
        select(AuditEvent, Instance.definition_id, Instance.definition_key)
        .join(Instance, Instance.id == AuditEvent.instance_id)
        .where(AuditEvent.kind.in_(list(kinds)))
    )
    return _where(query, EVENT_FIELDS, c)


def event_page(
    session: Session, kinds: Sequence[str], c: Criteria, page: Page
) -> list[tuple[AuditEvent, str, str]]:
    """One page of the audit events of ``kinds`` with their instance's definition id and key, oldest first."""
    return [tuple(r) for r in rows(session, _events(kinds, c), page, EVENT_FIELDS, (AuditEvent.id,))]  # type: ignore[misc]


def event_count(session: Session, kinds: Sequence[str], c: Criteria) -> int:
    return count(session, _events(kinds, c))


def task_events(session: Session, task_ids: Sequence[str]) -> list[AuditEvent]:
    """Every event of these tasks (claims, assignments, completion, cancellation), oldest first."""
    if not task_ids:
        return []
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.task_id.in_(list(task_ids))).order_by(AuditEvent.id)
        )
    )


def deployment_instance_count(session: Session, deployment_id: str) -> int:
    """How many instances (running or ended) were started on the deployment's definitions."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Instance)
            .join(ProcessDefinition, ProcessDefinition.id == Instance.definition_id)
            .where(ProcessDefinition.deployment_id == deployment_id)
        )
        or 0
    )


def latest_versions() -> Any:
    """A subquery of each process key with its newest version (``key``, ``v``), to join definitions to."""
    return (
        select(ProcessDefinition.key.label("key"), func.max(ProcessDefinition.version).label("v"))
        .group_by(ProcessDefinition.key)
        .subquery()
    )


# -- the instance tree, people and saved filters --------------------------------------------------------------
def definition_specs(session: Session, definition_ids: Iterable[str]) -> dict[str, str]:
    """The serialized spec of each definition version."""
    found = session.execute(
        select(ProcessDefinition.id, ProcessDefinition.spec_json).where(
            ProcessDefinition.id.in_(sorted(set(definition_ids)))
        )
    )
    return {definition_id: spec_json for definition_id, spec_json in found}


def active_elements(session: Session, instance_ids: Iterable[str]) -> dict[str, tuple[str, list[str]]]:
    """(definition id, active element ids) of each running instance among ``instance_ids``."""
    found = session.execute(
        select(Instance.id, Instance.definition_id, Instance.active_elements).where(
            Instance.id.in_(sorted(set(instance_ids))), Instance.state.in_(RUNNING)
        )
    )
    return {i: (d, list(elements or ())) for i, d, elements in found}


def file_definitions(session: Session, definition_id: str, files: Iterable[str]) -> dict[str, str]:
    """File name -> the id of a definition deployed from it: one of ``definition_id``'s deployment when it has
    one, else the newest version. What the instance page draws a called procedure with."""
    wanted = sorted(set(files))
    home = select(ProcessDefinition.deployment_id).where(ProcessDefinition.id == definition_id)
    found = session.execute(
        select(Resource.name, ProcessDefinition.id)
        .join(Resource, Resource.id == ProcessDefinition.resource_id)
        .where(Resource.name.in_(wanted))
        .order_by(
            (ProcessDefinition.deployment_id == home.scalar_subquery()).desc(),
            ProcessDefinition.version.desc(),
            ProcessDefinition.key,
        )
    )
    chosen: dict[str, str] = {}
    for name, found_id in found:
        chosen.setdefault(name, found_id)
    return chosen


def people(session: Session, usernames: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    """Login -> (display name, their unit by name: the organisation's name for its code, else as the account
    records it) of each account among ``usernames``."""
    found = session.execute(
        select(User.username, User.display_name, func.coalesce(OrgUnit.name, User.unit))
        .outerjoin(OrgUnit, OrgUnit.code == User.unit)
        .where(User.username.in_(sorted(set(usernames))))
    )
    return {login: (name, unit) for login, name, unit in found}


def case_overview(
    session: Session, instances: Sequence[Instance]
) -> tuple[dict[str, list[Task]], dict[str, dict[str, str | None]]]:
    """For a page of instances: each one's case's open tasks (by business key; without one, its own), and the
    involved and responsible units of each business key's petition."""
    keys = sorted({i.business_key for i in instances if i.business_key})
    bare = sorted(i.id for i in instances if not i.business_key)
    found = session.scalars(
        select(Task).where(or_(Task.business_key.in_(keys), Task.instance_id.in_(bare))).order_by(*TASK_ORDER)
    )
    by_case: dict[str, list[Task]] = defaultdict(list)
    for task in found:
        by_case[task.business_key or task.instance_id].append(task)
    tasks = {i.id: by_case.get(i.business_key or i.id, []) for i in instances}
    units = session.execute(
        select(Petition.number, Petition.involved_unit, Petition.responsible_unit).where(
            Petition.number.in_(keys)
        )
    )
    cases = {n: {"involvedUnit": inv, "responsibleUnit": resp} for n, inv, resp in units}
    return tasks, cases


def petitions_by_number(session: Session, numbers: Iterable[str]) -> dict[str, Petition]:
    found = session.scalars(select(Petition).where(Petition.number.in_(sorted(set(numbers)))))
    return {p.number: p for p in found}


def saved_filters(session: Session, username: str, list_name: str | None = None) -> list[SavedFilter]:
    query = select(SavedFilter).where(SavedFilter.username == username)
    if list_name is not None:
        query = query.where(SavedFilter.list_name == list_name)
    return list(session.scalars(query.order_by(SavedFilter.list_name, SavedFilter.name)))
