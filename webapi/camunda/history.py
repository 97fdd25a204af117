"""/engine-rest/history: Camunda's history of instances, activities, tasks and variables, read from the
instance table and the audit events every command writes (engine/unit_of_work.py)."""

from __future__ import annotations

import fnmatch
from dataclasses import replace
from datetime import datetime
from typing import Any

from engine import services
from engine.errors import InvalidInput, NotFound
from engine.policy import INSTANCE_READERS
from engine.queries import Criteria, Page, instance_count, instance_page, task_events

from ..auth import current, engine
from .common import Params, authenticated, blp, criteria, format_date, page, paging
from .variables import typed

STATES = {
    "active": "ACTIVE",
    "suspended": "SUSPENDED",
    "completed": "COMPLETED",
    "cancelled": "EXTERNALLY_TERMINATED",
}
# Camunda's activityType for the engine's element classes.
ACTIVITY_TYPES = {
    "UserTask": "userTask",
    "ManualTask": "manualTask",
    "NoneTask": "task",
    "ScriptTask": "scriptTask",
    "CallActivity": "callActivity",
    "SubWorkflowTask": "subProcess",
    "TransactionSubprocess": "transaction",
    "ExclusiveGateway": "exclusiveGateway",
    "ParallelGateway": "parallelGateway",
    "InclusiveGateway": "inclusiveGateway",
    "EventBasedGateway": "eventBasedGateway",
    "StartEvent": "startEvent",
    "EndEvent": "noneEndEvent",
    "IntermediateCatchEvent": "intermediateCatchEvent",
    "IntermediateThrowEvent": "intermediateThrowEvent",
    "BoundaryEvent": "boundaryEvent",
}
ACTIVITY_KINDS = ("task.created", "activity.completed")
TASK_ENDS = ("task.completed", "task.cancelled")


def activity_type(spec_class: str | None) -> str:
    return ACTIVITY_TYPES.get(
        spec_class or "", (spec_class or "task")[:1].lower() + (spec_class or "task")[1:]
    )


def _duration(start: datetime | None, end: datetime | None) -> int | None:
    return int((end - start).total_seconds() * 1000) if start and end else None


def _version(definition_id: str) -> int | None:
    part = definition_id.split(":")
    return int(part[1]) if len(part) > 2 and part[1].isdigit() else None


# -- process instances -------------------------------------------------------------------------------------------
INSTANCE_SORTS = {
    "instanceId": "id",
    "definitionKey": "definitionKey",
    "definitionId": "definitionId",
    "businessKey": "businessKey",
    "startTime": "startedAt",
    "endTime": "endedAt",
    "tenantId": "tenantId",
}


def _instance_criteria(params: Params) -> Criteria:
    where = criteria(
        params,
        equal={
            "processInstanceId": "id",
            "processDefinitionKey": "definitionKey",
            "processDefinitionId": "definitionId",
            "processInstanceBusinessKey": "businessKey",
            "startedBy": "startedBy",
            "deploymentId": "deploymentId",
        },
        among={
            "processInstanceIds": "id",
            "processDefinitionKeyIn": "definitionKey",
            "tenantIdIn": "tenantId",
        },
        like={"processInstanceBusinessKeyLike": "businessKey"},
        before={"startedBefore": "startedAt", "finishedBefore": "endedAt"},
        after={"startedAfter": "startedAt", "finishedAfter": "endedAt"},
    )
    states = {"active", "suspended", "completed", "cancelled"}
    if params.boolean("finished"):
        states &= {"completed", "cancelled"}
    if params.boolean("unfinished"):
        states &= {"active", "suspended"}
    if params.boolean("completed"):
        states &= {"completed"}
    if params.boolean("externallyTerminated"):
        states &= {"cancelled"}
    if params.boolean("active"):
        states &= {"active"}
    if params.boolean("suspended"):
        states &= {"suspended"}
    return replace(where, among=[*where.among, ("state", sorted(states))])


def _instance_dto(row: Any, tenant: str | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "businessKey": row.business_key,
        "processDefinitionId": row.definition_id,
        "processDefinitionKey": row.definition_key,
        "processDefinitionName": None,
        "processDefinitionVersion": _version(row.definition_id),
        "startTime": format_date(row.started_at),
        "endTime": format_date(row.ended_at),
        "removalTime": None,
        "durationInMillis": _duration(row.started_at, row.ended_at),
        "startUserId": row.started_by,
        "startActivityId": None,
        "deleteReason": "cancelled" if row.state == "cancelled" else None,
        "rootProcessInstanceId": row.id,
        "superProcessInstanceId": None,
        "superCaseInstanceId": None,
        "caseInstanceId": None,
        "tenantId": tenant,
        "state": STATES.get(row.state, row.state.upper()),
    }


@blp.get("/history/process-instance")
@authenticated(*INSTANCE_READERS)
def history_instances() -> list[dict[str, Any]]:
    params = Params()
    found = services.read(engine(), instance_page, _instance_criteria(params), page(params, INSTANCE_SORTS))
    return [_instance_dto(row, tenant) for row, tenant in found]


@blp.get("/history/process-instance/count")
@authenticated(*INSTANCE_READERS)
def history_instance_count() -> dict[str, int]:
    return {"count": services.read(engine(), instance_count, _instance_criteria(Params()))}


@blp.get("/history/process-instance/<instance_id>")
@authenticated(*INSTANCE_READERS)
def history_instance(instance_id: str) -> dict[str, Any]:
    found = services.read(engine(), instance_page, Criteria(equal=[("id", instance_id)]), Page(0, 1))
    if not found:
        raise NotFound(f"Historic process instance with id {instance_id} does not exist")
    return _instance_dto(*found[0])


# -- activities and tasks: the audit events ---------------------------------------------------------------------
EVENT_SORTS = {"occurrence": "id", "startTime": "at", "endTime": "at", "activityId": "elementId"}


def _event_criteria(params: Params, element: str) -> Criteria:
    return criteria(
        params,
        equal={
            "processInstanceId": "instanceId",
            "processDefinitionId": "definitionId",
            "processDefinitionKey": "definitionKey",
            element: "elementId",
            "taskId": "taskId",
        },
        among={"processInstanceIdIn": "instanceId"},
        before={"startedBefore": "at"},
        after={"startedAfter": "at"},
    )


def _task_lives(task_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Per task: its assignee as it ended (or is now), when it ended, and how (completed or cancelled)."""
    lives: dict[str, dict[str, Any]] = {t: {"assignee": None, "end": None, "how": None} for t in task_ids}
    for event in services.read(engine(), task_events, task_ids):
        life = lives[event.task_id]
        data = event.data or {}
        if event.kind in ("task.claimed", "task.assigned"):
            life["assignee"] = data.get("assignee")
        elif event.kind == "task.unclaimed":
            life["assignee"] = None
        elif event.kind in TASK_ENDS:
            life["end"], life["how"] = event.at, event.kind
            if event.kind == "task.completed" and event.actor and life["assignee"] is None:
                life["assignee"] = event.actor
    return lives


def _names(definition_id: str, cache: dict[str, dict[str, str | None]]) -> dict[str, str | None]:
    if definition_id not in cache:
        cache[definition_id] = services.element_names(engine(), definition_id)
    return cache[definition_id]


def _activities(params: Params) -> list[dict[str, Any]]:
    wanted = page(params, EVENT_SORTS)
    kind = params.string("activityType")
    kinds = ["task.created"] if kind == "userTask" else list(ACTIVITY_KINDS)
    found = services.history_events(engine(), current(), kinds, _event_criteria(params, "activityId"), wanted)
    lives = _task_lives([e.task_id for e, _, _ in found if e.kind == "task.created" and e.task_id])
    names: dict[str, dict[str, str | None]] = {}
    out = []
    for event, definition_id, definition_key in found:
        data = event.data or {}
        task = event.task_id if event.kind == "task.created" else None
        life = lives.get(task or "", {})
        end = life.get("end") if task else event.at
        item_type = "userTask" if task else activity_type(data.get("type"))
        if kind and item_type != kind:
            continue
        out.append(
            {
                "id": task or f"{event.element_id}:{event.id}",
                "parentActivityInstanceId": event.instance_id,
                "activityId": event.element_id,
                "activityName": data.get("name") or _names(definition_id, names).get(event.element_id or ""),
                "activityType": item_type,
                "processDefinitionKey": definition_key,
                "processDefinitionId": definition_id,
                "processInstanceId": event.instance_id,
                "executionId": event.instance_id,
                "taskId": task,
                "calledProcessInstanceId": None,
                "calledCaseInstanceId": None,
                "assignee": life.get("assignee"),
                "startTime": format_date(event.at),
                "endTime": format_date(end),
                "durationInMillis": _duration(event.at, end),
                "canceled": life.get("how") == "task.cancelled",
                "completeScope": item_type.endswith("EndEvent"),
                "tenantId": None,
                "removalTime": None,
                "rootProcessInstanceId": event.instance_id,
            }
        )
    return out


@blp.get("/history/activity-instance")
@authenticated(*INSTANCE_READERS)
def history_activities() -> list[dict[str, Any]]:
    return _activities(Params())


@blp.get("/history/activity-instance/count")
@authenticated(*INSTANCE_READERS)
def history_activity_count() -> dict[str, int]:
    params = Params()
    kinds = ["task.created"] if params.string("activityType") == "userTask" else list(ACTIVITY_KINDS)
    if params.string("activityType") not in (None, "userTask"):  # the type of other steps is in the event
        return {"count": len(_activities(params))}
    return {
        "count": services.history_count(engine(), current(), kinds, _event_criteria(params, "activityId"))
    }


def _tasks(params: Params) -> list[dict[str, Any]]:
    wanted = page(params, EVENT_SORTS)
    where = _event_criteria(params, "taskDefinitionKey")
    found = services.history_events(engine(), current(), ["task.created"], where, wanted)
    lives = _task_lives([e.task_id for e, _, _ in found if e.task_id])
    names: dict[str, dict[str, str | None]] = {}
    out = []
    for event, definition_id, definition_key in found:
        life = lives.get(event.task_id or "", {})
        end = life.get("end")
        state = {"task.completed": "Completed", "task.cancelled": "Deleted"}.get(
            life.get("how") or "", "Created"
        )
        out.append(
            {
                "id": event.task_id,
                "processDefinitionKey": definition_key,
                "processDefinitionId": definition_id,
                "processInstanceId": event.instance_id,
                "executionId": event.instance_id,
                "caseDefinitionKey": None,
                "caseDefinitionId": None,
                "caseInstanceId": None,
                "caseExecutionId": None,
                "activityInstanceId": event.task_id,
                "name": (event.data or {}).get("name")
                or _names(definition_id, names).get(event.element_id or ""),
                "description": None,
                "deleteReason": {"Completed": "completed", "Deleted": "deleted"}.get(state),
                "owner": None,
                "assignee": life.get("assignee"),
                "startTime": format_date(event.at),
                "endTime": format_date(end),
                "duration": _duration(event.at, end),
                "taskDefinitionKey": event.element_id,
                "priority": None,
                "due": None,
                "parentTaskId": None,
                "followUp": None,
                "tenantId": None,
                "removalTime": None,
                "rootProcessInstanceId": event.instance_id,
                "taskState": state,
            }
        )
    return out


@blp.get("/history/task")
@authenticated(*INSTANCE_READERS)
def history_tasks() -> list[dict[str, Any]]:
    return _tasks(Params())


@blp.get("/history/task/count")
@authenticated(*INSTANCE_READERS)
def history_task_count() -> dict[str, int]:
    where = _event_criteria(Params(), "taskDefinitionKey")
    return {"count": services.history_count(engine(), current(), ["task.created"], where)}


# -- variables ---------------------------------------------------------------------------------------------------
def _variables(params: Params) -> list[dict[str, Any]]:
    instance_id = params.string("processInstanceId")
    ids = [instance_id] if instance_id else params.strings("processInstanceIdIn")
    if not ids:
        raise InvalidInput(
            "name the instance: processInstanceId (or processInstanceIdIn) is required for variable history here",
            {"parameter": "processInstanceId"},
        )
    name = params.string("variableName")
    like = params.string("variableNameLike")
    out = []
    for each in ids:
        row = services.readable_instance(engine(), current(), each)
        for key, value in sorted(services.instance_variables(engine(), current(), each).items()):
            if (name and key != name) or (like and not _like(key, like)):
                continue
            out.append(
                {
                    "id": f"{each}:{key}",
                    "name": key,
                    **typed(value),
                    "processDefinitionKey": row.definition_key,
                    "processDefinitionId": row.definition_id,
                    "processInstanceId": each,
                    "executionId": each,
                    "activityInstanceId": each,
                    "caseDefinitionKey": None,
                    "caseDefinitionId": None,
                    "caseInstanceId": None,
                    "caseExecutionId": None,
                    "taskId": None,
                    "tenantId": None,
                    "errorMessage": None,
                    "state": "CREATED",
                    "createTime": format_date(row.started_at),
                    "removalTime": None,
                    "rootProcessInstanceId": each,
                }
            )
    first, limit = paging(params)
    return out[first : first + limit]


def _like(text: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(text, pattern.replace("%", "*").replace("_", "?"))


@blp.get("/history/variable-instance")
@authenticated(*INSTANCE_READERS)
def history_variables() -> list[dict[str, Any]]:
    return _variables(Params())


@blp.get("/history/variable-instance/count")
@authenticated(*INSTANCE_READERS)
def history_variable_count() -> dict[str, int]:
    return {"count": len(_variables(Params()))}
