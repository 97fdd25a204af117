"""/engine-rest/task: list, read, claim, unclaim, assign and complete human tasks.

Who sees and does what is the native API's (engine/policy.py, engine/services.py): the same task filter,
visibility check and commands, so a handler sees and acts on their own and their groups' tasks, supervisors
read.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response

from engine import policy, queries, services
from engine.errors import InvalidInput, NotFound, ValidationFailed
from engine.queries import Criteria, TaskFilter

from ..auth import current, engine
from .common import Params, authenticated, blp, criteria, format_date, json_body, page
from .variables import from_typed, to_typed, typed, typed_form_fields

# Camunda's sortBy names for the task read model's fields (engine/queries.py TASK_FIELDS).
SORTS = {
    "id": "id",
    "name": "name",
    "nameCaseInsensitive": "nameLower",
    "description": "description",
    "priority": "priority",
    "created": "created",
    "dueDate": "due",
    "followUpDate": "followUp",
    "assignee": "assignee",
    "instanceId": "instanceId",
    "processInstanceId": "instanceId",
    "executionId": "instanceId",
    "taskDefinitionKey": "elementId",
}


def task_dto(task: Any) -> dict[str, Any]:
    # The link as the diagram wrote it (binding latest, deployment or version); the version shown is in
    # formVersion of /api.
    form_ref = services.form_link(engine(), task.definition_id, task.element_id) if task.form_ref else None
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


def _task_filter(params: Params) -> TaskFilter:
    """The native list's filter (and so its visibility rules) for Camunda's query parameters."""
    principal = current()
    unassigned = None
    if params.boolean("unassigned"):
        unassigned = True
    elif params.boolean("assigned"):
        unassigned = False
    f = services.task_filter(
        engine(),
        principal,
        candidate_group=params.string("candidateGroup"),
        assignee=params.string("assignee"),
        unassigned=unassigned,
        business_key=params.string("processInstanceBusinessKey") or params.string("businessKey"),
        instance_id=params.string("processInstanceId"),
        definition_key=params.string("processDefinitionKey"),
        element_id=params.string("taskDefinitionKey"),
    )
    candidate = params.string("candidateUser")
    if candidate is None:
        return f
    person = principal if candidate == principal.username else engine().accounts.get(candidate)
    return policy.offered_filter(
        principal,
        f,
        candidate,
        person.groups if person else [],
        include_assigned=bool(params.boolean("includeAssignedTasks")),
    )


def _criteria(params: Params) -> Criteria:
    suspended = []
    if params.boolean("active"):
        suspended.append(("suspended", False))
    if params.boolean("suspended"):
        suspended.append(("suspended", True))
    return criteria(
        params,
        equal={"processDefinitionId": "definitionId", "name": "name", "taskId": "id"},
        among={
            "processInstanceIdIn": "instanceId",
            "processDefinitionKeyIn": "definitionKey",
            "taskDefinitionKeyIn": "elementId",
            "taskIdIn": "id",
        },
        like={"nameLike": "name"},
        before={"dueBefore": "due", "createdBefore": "created"},
        after={"dueAfter": "due", "createdAfter": "created"},
        flags=suspended,
    )


def _list(params: Params) -> list[dict[str, Any]]:
    wanted = page(params, SORTS)
    f, where = _task_filter(params), _criteria(params)
    return [task_dto(t) for t in services.read(engine(), queries.task_page, f, where, wanted)]


def _count(params: Params) -> dict[str, int]:
    page(params, SORTS)  # refused as the list refuses it, though a count has no page
    f, where = _task_filter(params), _criteria(params)
    return {"count": services.read(engine(), queries.task_count, f, where)}


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
    return task_dto(_readable(task_id, acting=False))


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
    services.claim(engine(), current(), task_id, _user_id(json_body()) or "")
    return "", 204


@blp.post("/task/<task_id>/unclaim")
@authenticated()
def unclaim(task_id: str) -> tuple[str, int]:
    services.unclaim(engine(), current(), task_id)
    return "", 204


@blp.post("/task/<task_id>/assignee")
@authenticated("supervisor", "admin")
def set_assignee(task_id: str) -> tuple[str, int]:
    services.assign(engine(), current(), task_id, _user_id(json_body(), nullable=True))
    return "", 204


def _fit_dates(task: Any, values: dict[str, Any], types: dict[str, str]) -> dict[str, Any]:
    """A Date sent for a form's date (or time) field becomes that field's own text: 2024-05-01 (10:00:00)."""
    if "date" not in types.values():
        return values
    form = services.task_form(engine(), task)
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
@blp.post("/task/<task_id>/submit-form")
@authenticated()
def complete(task_id: str) -> Any:
    """Complete (or submit the form of: the same here, every task's form is validated) with typed variables;
    204, or 200 with the variables."""
    body = json_body()
    values, types = from_typed(body.get("variables"))
    values = _fit_dates(_readable(task_id), values, types)
    try:
        result = services.complete(engine(), current(), task_id, values)
    except ValidationFailed as error:
        raise ValidationFailed(
            f"Cannot submit task form {task_id}: {error.message}", error.details
        ) from error
    if body.get("withVariablesInReturn") is True:
        return to_typed(services.result_variables(engine(), current(), result.instance_id))
    return "", 204


def _readable(task_id: str, *, acting: bool = True) -> Any:
    return services.readable_task(engine(), current(), task_id, acting=acting)


def _task_variables(task: Any) -> dict[str, Any]:
    return services.task_variables(engine(), current(), task)


@blp.get("/task/<task_id>/variables")
@authenticated()
def task_variables(task_id: str) -> dict[str, Any]:
    names = Params().strings("variableNames")
    return to_typed(_task_variables(_readable(task_id, acting=False)), names or None)


@blp.get("/task/<task_id>/variables/<name>")
@authenticated()
def task_variable(task_id: str, name: str) -> dict[str, Any]:
    variables = _task_variables(_readable(task_id, acting=False))
    if name not in variables:
        raise NotFound(f"task variable with name {name} does not exist")
    return typed(variables[name])


@blp.get("/task/<task_id>/form-variables")
@authenticated()
def form_variables(task_id: str) -> dict[str, Any]:
    """The form's fields with their current values as typed variables (all variables for a task without one)."""
    task = _readable(task_id, acting=False)
    names = Params().strings("variableNames")
    values = _task_variables(task)
    form = services.task_form(engine(), task)
    if form is None:
        return to_typed(values, names or None)
    return typed_form_fields(form, values, names)


@blp.get("/task/<task_id>/form")
@authenticated()
def task_form(task_id: str) -> dict[str, Any]:
    dto = task_dto(_readable(task_id, acting=False))
    return {"key": dto["formKey"], "contextPath": None, "camundaFormRef": dto["camundaFormRef"]}


@blp.get("/task/<task_id>/deployed-form")
@authenticated()
def deployed_form(task_id: str) -> Response:
    """The Camunda Form (form-js JSON) the task shows."""
    schema = services.task_form_schema(engine(), _readable(task_id, acting=False))
    if schema is None:
        raise NotFound(f"task {task_id} has no deployed form")
    return Response(json.dumps(schema, ensure_ascii=False), mimetype="application/json")


@blp.post("/task/<task_id>/bpmnError")
@authenticated()
def bpmn_error(task_id: str) -> tuple[str, int]:
    """{errorCode, errorMessage, variables}: the error boundary event on the task that catches the code takes
    over (204); with none, refused (400) and the task stays open (Camunda would end the execution)."""
    body = json_body()
    code = body.get("errorCode")
    if not isinstance(code, str) or not 1 <= len(code) <= 200:
        raise InvalidInput("errorCode is required", {"fields": {"errorCode": ["required"]}})
    message = body.get("errorMessage")
    if message is not None and (not isinstance(message, str) or len(message) > 4000):
        raise InvalidInput("errorMessage must be text", {"fields": {"errorMessage": ["text"]}})
    variables, _ = from_typed(body.get("variables"))
    services.throw_error(engine(), current(), task_id, code, message, variables)
    return "", 204
