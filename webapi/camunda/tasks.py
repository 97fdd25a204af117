"""/engine-rest/task: list, read, claim, unclaim, assign and complete human tasks.

Who sees and does what is the native API's (webapi/api/tasks.py): its task filter, visibility check and
commands are reused, so a handler sees and acts on their own and their groups' tasks, supervisors read.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from flask import Response
from sqlalchemy import Select, func, select

from engine.errors import Forbidden, InvalidInput, NotFound, ValidationFailed
from engine.models import Task
from engine.queries import TaskFilter, task_query

from ..api.tasks import _task, _visible_filter, assign_task, claim_task, complete_task, unclaim_task
from ..auth import current, engine
from ..policy import contact_fields
from .common import Params, authenticated, blp, format_date, json_body, paging, parse_date, sorting
from .variables import from_typed, to_typed, typed

SORT_COLUMNS = {
    "id": Task.id,
    "name": Task.name,
    "nameCaseInsensitive": func.lower(Task.name),
    "description": Task.description,
    "priority": Task.priority,
    "created": Task.created_at,
    "dueDate": Task.due_at,
    "followUpDate": Task.follow_up_at,
    "assignee": Task.assignee,
    "instanceId": Task.instance_id,
    "processInstanceId": Task.instance_id,
    "executionId": Task.instance_id,
    "taskDefinitionKey": Task.element_id,
}
# The Camunda type a form field's empty value is reported as.
FIELD_TYPES = {"number": "Double", "checkbox": "Boolean", "checklist": "Json", "taglist": "Json"}


def task_dto(task: Task) -> dict[str, Any]:
    form_ref = (
        {"key": task.form_ref, "binding": "version", "version": task.form_version} if task.form_ref else None
    )
    return {
        "id": task.id,
        "name": task.name,
        "assignee": task.assignee,
        "owner": None,
        "created": format_date(task.created_at),
        "due": format_date(task.due_at),
        "followUp": format_date(task.follow_up_at),
        "lastUpdated": None,
        "delegationState": None,
        "description": task.description,
        "executionId": task.instance_id,
        "parentTaskId": None,
        "priority": task.priority,
        "processDefinitionId": task.definition_id,
        "processInstanceId": task.instance_id,
        "taskDefinitionKey": task.element_id,
        "caseDefinitionId": None,
        "caseExecutionId": None,
        "caseInstanceId": None,
        "formKey": task.form_key,
        "camundaFormRef": form_ref,
        "suspended": task.suspended,
        "tenantId": None,
    }


def _task_filter(params: Params, first: int, limit: int) -> TaskFilter:
    """The native list's filter (and so its visibility rules) for Camunda's query parameters."""
    principal = current()
    unassigned = None
    if params.boolean("unassigned"):
        unassigned = True
    elif params.boolean("assigned"):
        unassigned = False
    f = _visible_filter(
        {
            "assignee": params.string("assignee"),
            "candidateGroup": params.string("candidateGroup"),
            "unassigned": unassigned,
            "businessKey": params.string("processInstanceBusinessKey") or params.string("businessKey"),
            "instanceId": params.string("processInstanceId"),
            "definitionKey": params.string("processDefinitionKey"),
            "elementId": params.string("taskDefinitionKey"),
            "limit": limit,
            "offset": first,
        }
    )
    candidate = params.string("candidateUser")
    if candidate is not None:
        # Camunda: offered to that user or one of their groups, and not yet assigned.
        if candidate != principal.username and not principal.has("supervisor", "admin"):
            raise Forbidden("you can list only the tasks offered to you", {"candidateUser": candidate})
        if f.involved_user is None:
            person = principal if candidate == principal.username else engine().accounts.get(candidate)
            f = replace(f, involved_user=candidate, involved_groups=list(person.groups) if person else [])
        if not params.boolean("includeAssignedTasks"):
            f = replace(f, unassigned=True)
    return f


def _query(params: Params) -> tuple[Select[tuple[Task]], int]:
    first, limit = paging(params)
    query = task_query(_task_filter(params, first, limit))
    for name, column in (
        ("processDefinitionId", Task.definition_id),
        ("name", Task.name),
        ("taskId", Task.id),
    ):
        value = params.string(name)
        if value is not None:
            query = query.where(column == value)
    for name, column in (
        ("processInstanceIdIn", Task.instance_id),
        ("processDefinitionKeyIn", Task.definition_key),
        ("taskDefinitionKeyIn", Task.element_id),
        ("taskIdIn", Task.id),
    ):
        values = params.strings(name)
        if values:
            query = query.where(column.in_(values))
    if params.string("nameLike") is not None:
        query = query.where(Task.name.like(params.string("nameLike") or ""))
    if params.boolean("active"):
        query = query.where(Task.suspended.is_(False))
    if params.boolean("suspended"):
        query = query.where(Task.suspended.is_(True))
    for name, compare in (
        ("dueBefore", lambda d: Task.due_at < d),
        ("dueAfter", lambda d: Task.due_at > d),
        ("createdBefore", lambda d: Task.created_at < d),
        ("createdAfter", lambda d: Task.created_at > d),
    ):
        value = params.string(name)
        if value is not None:
            query = query.where(compare(parse_date(value, name)))
    order = sorting(params, SORT_COLUMNS)
    if order:
        query = query.order_by(None).order_by(*order, Task.id)
    return query, limit


def _list(params: Params) -> list[dict[str, Any]]:
    query, limit = _query(params)
    if limit == 0:
        return []
    with engine().db.reading() as session:
        return [task_dto(t) for t in session.scalars(query)]


def _count(params: Params) -> dict[str, int]:
    query, _ = _query(params)
    query = query.limit(None).offset(None).order_by(None)
    with engine().db.reading() as session:
        return {"count": session.scalar(select(func.count()).select_from(query.subquery())) or 0}


@blp.get("/task")
@authenticated()
def tasks() -> list[dict[str, Any]]:
    return _list(Params())


@blp.post("/task")
@authenticated()
def tasks_post() -> list[dict[str, Any]]:
    return _list(Params(json_body()))


@blp.get("/task/count")
@authenticated()
def task_count() -> dict[str, int]:
    return _count(Params())


@blp.post("/task/count")
@authenticated()
def task_count_post() -> dict[str, int]:
    return _count(Params(json_body()))


@blp.get("/task/<task_id>")
@authenticated()
def task(task_id: str) -> dict[str, Any]:
    return task_dto(_task(task_id, acting=False))


def _user_id(body: dict[str, Any], *, nullable: bool = False) -> str | None:
    user = body.get("userId")
    if user is None and nullable:
        return None
    if not isinstance(user, str) or not 1 <= len(user) <= 100:
        raise InvalidInput("userId must be a user name", {"fields": {"userId": ["required"]}})
    return user


@blp.post("/task/<task_id>/claim")
@authenticated()
def claim(task_id: str) -> tuple[str, int]:
    claim_task(task_id, _user_id(json_body()) or "")
    return "", 204


@blp.post("/task/<task_id>/unclaim")
@authenticated()
def unclaim(task_id: str) -> tuple[str, int]:
    unclaim_task(task_id)
    return "", 204


@blp.post("/task/<task_id>/assignee")
@authenticated("supervisor", "admin")
def set_assignee(task_id: str) -> tuple[str, int]:
    assign_task(task_id, _user_id(json_body(), nullable=True))
    return "", 204


def _fit_dates(task: Task, values: dict[str, Any], types: dict[str, str]) -> dict[str, Any]:
    """A Date sent for a form's date (or time) field becomes that field's own text: 2024-05-01 (10:00:00)."""
    if "date" not in types.values():
        return values
    with engine().db.reading() as session:
        form = engine().form_for(session, task)
    if form is None:
        return values
    subtypes = {f.path[0]: f.subtype for f in form.fields if f.type == "datetime" and len(f.path) == 1}
    fitted = dict(values)
    for name, kind in types.items():
        value = values.get(name)
        if kind != "date" or not isinstance(value, str):
            continue
        if subtypes.get(name) == "date":
            fitted[name] = value[:10]
        elif subtypes.get(name) == "time":
            fitted[name] = value[11:19]
    return fitted


@blp.post("/task/<task_id>/complete")
@authenticated()
def complete(task_id: str) -> Any:
    """Complete with typed variables, validated against the task's form; 204, or 200 with the variables."""
    body = json_body()
    values, types = from_typed(body.get("variables"))
    values = _fit_dates(_task(task_id), values, types)
    try:
        result = complete_task(task_id, values)
    except ValidationFailed as error:
        raise ValidationFailed(
            f"Cannot submit task form {task_id}: {error.message}", error.details
        ) from error
    if body.get("withVariablesInReturn") is True:
        return to_typed(contact_fields(current(), engine().variables(result.instance_id)))
    return "", 204


def _task_variables(task: Task) -> dict[str, Any]:
    return contact_fields(current(), engine().variables(task.instance_id, task.id))


@blp.get("/task/<task_id>/variables")
@authenticated()
def task_variables(task_id: str) -> dict[str, Any]:
    names = Params().strings("variableNames")
    return to_typed(_task_variables(_task(task_id, acting=False)), names or None)


@blp.get("/task/<task_id>/variables/<name>")
@authenticated()
def task_variable(task_id: str, name: str) -> dict[str, Any]:
    variables = _task_variables(_task(task_id, acting=False))
    if name not in variables:
        raise NotFound(f"task variable with name {name} does not exist")
    return typed(variables[name])


@blp.get("/task/<task_id>/form-variables")
@authenticated()
def form_variables(task_id: str) -> dict[str, Any]:
    """The form's fields with their current values as typed variables (all variables for a task without one)."""
    task = _task(task_id, acting=False)
    names = Params().strings("variableNames")
    values = _task_variables(task)
    with engine().db.reading() as session:
        form = engine().form_for(session, task)
    if form is None:
        return to_typed(values, names or None)
    out: dict[str, Any] = {}
    for field in form.fields:
        key = field.path[0]
        if key in out or (names and key not in names):
            continue
        value = values.get(key)
        if value is None:
            kind = FIELD_TYPES.get(field.type, "String") if len(field.path) == 1 else "Json"
            out[key] = {"type": kind, "value": None, "valueInfo": {}}
        else:
            out[key] = typed(value)
    return out


@blp.get("/task/<task_id>/form")
@authenticated()
def task_form(task_id: str) -> dict[str, Any]:
    dto = task_dto(_task(task_id, acting=False))
    return {"key": dto["formKey"], "contextPath": None, "camundaFormRef": dto["camundaFormRef"]}


@blp.get("/task/<task_id>/deployed-form")
@authenticated()
def deployed_form(task_id: str) -> Response:
    """The Camunda Form (form-js JSON) the task shows."""
    task = _task(task_id, acting=False)
    deployed = engine().forms.get(task.form_ref, task.form_version) if task.form_version else None
    if deployed is None:
        raise NotFound(f"task {task_id} has no deployed form")
    return Response(json.dumps(deployed.schema, ensure_ascii=False), mimetype="application/json")
