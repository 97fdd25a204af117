"""/engine-rest/process-instance: running instances and their variables, with the native API's permissions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import url_for

from engine import queries, services
from engine.errors import NotFound
from engine.policy import INSTANCE_READERS, REPAIRERS
from engine.queries import Criteria

from ..auth import current, engine
from .common import Params, authenticated, blp, criteria, json_body, page
from .history import activity_type
from .variables import to_typed

ENDED = ("completed", "cancelled")
SORTS = {
    "instanceId": "id",
    "definitionKey": "definitionKey",
    "definitionId": "definitionId",
    "businessKey": "businessKey",
    "tenantId": "tenantId",
}


def instance_dto(
    instance_id: str,
    *,
    definition_id: str,
    business_key: str | None,
    state: str,
    tenant_id: str | None = None,
    self_link: bool = False,
) -> dict[str, Any]:
    links = []
    if self_link:
        href = url_for("camunda.process_instance", instance_id=instance_id, _external=True)
        links.append({"method": "GET", "href": href, "rel": "self"})
    return {
        "id": instance_id,
        "definitionId": definition_id,
        "businessKey": business_key,
        "caseInstanceId": None,
        "ended": state in ENDED,
        "suspended": state == "suspended",
        "tenantId": tenant_id,
        "links": links,
    }


def _criteria(params: Params) -> Criteria:
    """Like Camunda's runtime query: running (active or suspended) instances only."""
    states = {"active", "suspended"}
    if params.boolean("active"):
        states &= {"active"}
    if params.boolean("suspended"):
        states &= {"suspended"}
    where = criteria(
        params,
        equal={
            "processDefinitionKey": "definitionKey",
            "processDefinitionId": "definitionId",
            "businessKey": "businessKey",
            "deploymentId": "deploymentId",
        },
        among={
            "processInstanceIds": "id",
            "processDefinitionKeyIn": "definitionKey",
            "tenantIdIn": "tenantId",
        },
        like={"businessKeyLike": "businessKey"},
    )
    return replace(where, among=[*where.among, ("state", sorted(states))])


def _list(params: Params) -> list[dict[str, Any]]:
    wanted = page(params, SORTS)
    within = services.within(engine(), current())
    found = services.read(engine(), queries.instance_page, _criteria(params), wanted, within)
    return [
        instance_dto(
            row.id,
            definition_id=row.definition_id,
            business_key=row.business_key,
            state=row.state,
            tenant_id=tenant,
        )
        for row, tenant in found
    ]


def _count(params: Params) -> dict[str, int]:
    within = services.within(engine(), current())
    return {"count": services.read(engine(), queries.instance_count, _criteria(params), within)}


@blp.get("/process-instance")
@authenticated(*INSTANCE_READERS)
def process_instances() -> list[dict[str, Any]]:
    return _list(Params())


@blp.post("/process-instance")
@authenticated(*INSTANCE_READERS)
def process_instances_post() -> list[dict[str, Any]]:
    return _list(Params(json_body()))


@blp.get("/process-instance/count")
@authenticated(*INSTANCE_READERS)
def process_instance_count() -> dict[str, int]:
    return _count(Params())


@blp.post("/process-instance/count")
@authenticated(*INSTANCE_READERS)
def process_instance_count_post() -> dict[str, int]:
    return _count(Params(json_body()))


@blp.get("/process-instance/<instance_id>")
@authenticated()
def process_instance(instance_id: str) -> dict[str, Any]:
    """One instance (ended ones too, marked ``ended``), to whoever may read it in the native API."""
    row = services.readable_instance(engine(), current(), instance_id)
    tenant = services.read(engine(), queries.definition_tenant, row.definition_id)
    return instance_dto(
        row.id,
        definition_id=row.definition_id,
        business_key=row.business_key,
        state=row.state,
        tenant_id=tenant,
    )


def _variables(instance_id: str) -> dict[str, Any]:
    return services.instance_variables(engine(), current(), instance_id)


@blp.get("/process-instance/<instance_id>/variables")
@authenticated()
def process_instance_variables(instance_id: str) -> dict[str, Any]:
    names = Params().strings("variableNames")
    return to_typed(_variables(instance_id), names or None)


@blp.get("/process-instance/<instance_id>/variables/<name>")
@authenticated()
def process_instance_variable(instance_id: str, name: str) -> dict[str, Any]:
    variables = _variables(instance_id)
    if name not in variables:
        raise NotFound(f"process variable with name {name} does not exist")
    return to_typed(variables, [name])[name]


@blp.get("/process-instance/<instance_id>/activity-instances")
@authenticated()
def activity_instances(instance_id: str) -> dict[str, Any]:
    """The activity instance tree: the instance as its root, the elements it is at now as children (flat:
    steps inside a sub-process are listed directly under the root here)."""
    principal = current()
    row = services.readable_instance(engine(), principal, instance_id)
    children = [
        {
            "id": f"{a['element']}:{a['id']}",
            "parentActivityInstanceId": instance_id,
            "activityId": a["element"],
            "activityType": activity_type(a["type"]),
            "processInstanceId": instance_id,
            "processDefinitionId": row.definition_id,
            "childActivityInstances": [],
            "childTransitionInstances": [],
            "executionIds": [instance_id],
            "activityName": a["name"],
            "incidentIds": [],
            "incidents": [],
            "name": a["name"],
        }
        for a in services.instance_activities(engine(), principal, instance_id)
    ]
    return {
        "id": instance_id,
        "parentActivityInstanceId": None,
        "activityId": row.definition_id,
        "activityType": "processDefinition",
        "processInstanceId": instance_id,
        "processDefinitionId": row.definition_id,
        "childActivityInstances": children,
        "childTransitionInstances": [],
        "executionIds": [instance_id],
        "activityName": row.definition_key,
        "incidentIds": [],
        "incidents": [],
        "name": row.definition_key,
    }


@blp.post("/process-instance/<instance_id>/modification")
@authenticated(*REPAIRERS)
def process_instance_modification(instance_id: str) -> Any:
    """Camunda 7's modification (cancel, startBeforeActivity, startAfterActivity); its ``annotation`` is the
    reason kept in the case's history, and required here. 204 once applied."""
    body = json_body()
    services.modify(engine(), current(), instance_id, body.get("instructions"), body.get("annotation"))
    return "", 204
