"""/engine-rest/process-instance: running instances and their variables, with the native API's permissions."""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy import Select, func, select

from engine.errors import NotFound
from engine.models import Deployment, Instance, ProcessDefinition

from ..api.instances import _readable
from ..auth import current, engine
from ..policy import contact_fields
from .common import Params, authenticated, blp, json_body, paging, sorting
from .variables import to_typed

ENDED = ("completed", "cancelled")
READERS = ("supervisor", "admin", "designer")  # who may list instances (as GET /api/instances)


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


def _query(params: Params) -> Select[Any]:
    """Like Camunda's runtime query: running (active or suspended) instances only."""
    query = (
        select(Instance, Deployment.tenant_id)
        .join(ProcessDefinition, ProcessDefinition.id == Instance.definition_id)
        .join(Deployment, Deployment.id == ProcessDefinition.deployment_id)
    )
    states = {"active", "suspended"}
    if params.boolean("active"):
        states &= {"active"}
    if params.boolean("suspended"):
        states &= {"suspended"}
    query = query.where(Instance.state.in_(sorted(states)))
    for name, column in (
        ("processDefinitionKey", Instance.definition_key),
        ("processDefinitionId", Instance.definition_id),
        ("businessKey", Instance.business_key),
        ("deploymentId", ProcessDefinition.deployment_id),
    ):
        value = params.string(name)
        if value is not None:
            query = query.where(column == value)
    for name, column in (
        ("processInstanceIds", Instance.id),
        ("processDefinitionKeyIn", Instance.definition_key),
        ("tenantIdIn", Deployment.tenant_id),
    ):
        values = params.strings(name)
        if values:
            query = query.where(column.in_(values))
    if params.string("businessKeyLike") is not None:
        query = query.where(Instance.business_key.like(params.string("businessKeyLike") or ""))
    return query


def _list(params: Params) -> list[dict[str, Any]]:
    first, limit = paging(params)
    order = sorting(
        params,
        {
            "instanceId": Instance.id,
            "definitionKey": Instance.definition_key,
            "definitionId": Instance.definition_id,
            "businessKey": Instance.business_key,
            "tenantId": Deployment.tenant_id,
        },
    )
    if limit == 0:
        return []
    query = _query(params).order_by(*order, Instance.started_at, Instance.id).offset(first).limit(limit)
    with engine().db.reading() as session:
        rows = session.execute(query).all()
    return [
        instance_dto(
            row.id,
            definition_id=row.definition_id,
            business_key=row.business_key,
            state=row.state,
            tenant_id=tenant,
        )
        for row, tenant in rows
    ]


def _count(params: Params) -> dict[str, int]:
    with engine().db.reading() as session:
        return {"count": session.scalar(select(func.count()).select_from(_query(params).subquery())) or 0}


@blp.get("/process-instance")
@authenticated(*READERS)
def process_instances() -> list[dict[str, Any]]:
    return _list(Params())


@blp.post("/process-instance")
@authenticated(*READERS)
def process_instances_post() -> list[dict[str, Any]]:
    return _list(Params(json_body()))


@blp.get("/process-instance/count")
@authenticated(*READERS)
def process_instance_count() -> dict[str, int]:
    return _count(Params())


@blp.post("/process-instance/count")
@authenticated(*READERS)
def process_instance_count_post() -> dict[str, int]:
    return _count(Params(json_body()))


@blp.get("/process-instance/<instance_id>")
@authenticated()
def process_instance(instance_id: str) -> dict[str, Any]:
    """One instance (ended ones too, marked ``ended``), to whoever may read it in the native API."""
    row = _readable(instance_id)
    with engine().db.reading() as session:
        tenant = session.scalar(
            select(Deployment.tenant_id)
            .join(ProcessDefinition, ProcessDefinition.deployment_id == Deployment.id)
            .where(ProcessDefinition.id == row.definition_id)
        )
    return instance_dto(
        row.id,
        definition_id=row.definition_id,
        business_key=row.business_key,
        state=row.state,
        tenant_id=tenant,
    )


def _variables(instance_id: str) -> dict[str, Any]:
    _readable(instance_id)
    return contact_fields(current(), engine().variables(instance_id))


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
