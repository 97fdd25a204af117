"""/engine-rest/message: Camunda's message correlation, through the one service that delivers messages."""

from __future__ import annotations

from typing import Any

from engine import services
from engine.errors import InvalidInput

from ..auth import current, engine
from .common import authenticated, blp, json_body
from .instances import instance_dto
from .variables import from_typed, to_typed


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise InvalidInput(f"No message name given: {name} is required", {"parameter": name})
        return None
    if not isinstance(value, str) or len(value) > 200:
        raise InvalidInput(f"{name} must be text of at most 200 characters", {"parameter": name})
    return value


@blp.post("/message")
@authenticated()
def correlate() -> Any:
    """{messageName, businessKey, processInstanceId, correlationKeys, processVariables, all, resultEnabled,
    variablesInResultEnabled}: 204, or 200 with one result per instance the message reached or started."""
    body = json_body()
    name = _text(body, "messageName", required=True)
    assert name is not None
    keys, _ = from_typed(body.get("correlationKeys"), "correlationKeys")
    variables, _ = from_typed(body.get("processVariables"), "processVariables")
    for unsupported in ("tenantId", "withoutTenantId", "localCorrelationKeys", "processVariablesLocal"):
        if body.get(unsupported):
            raise InvalidInput(f"{unsupported} is not supported here", {"parameter": unsupported})
    principal = current()
    results = services.correlate_message(
        engine(),
        principal,
        name,
        instance_id=_text(body, "processInstanceId"),
        business_key=_text(body, "businessKey"),
        correlation_keys=keys,
        variables=variables,
        every=body.get("all") is True,
    )
    if body.get("resultEnabled") is not True:
        return "", 204
    answer = []
    for kind, result in results:
        definition_id = services.readable_instance(engine(), principal, result.instance_id).definition_id
        item: dict[str, Any] = {
            "resultType": kind,
            "processInstance": instance_dto(
                result.instance_id,
                definition_id=definition_id,
                business_key=result.business_key,
                state=result.state,
            )
            if kind == "ProcessDefinition"
            else None,
            "execution": {
                "id": result.instance_id,
                "processInstanceId": result.instance_id,
                "ended": result.state in ("completed", "cancelled"),
                "tenantId": None,
            }
            if kind == "Execution"
            else None,
        }
        if body.get("variablesInResultEnabled") is True:
            item["variables"] = to_typed(services.result_variables(engine(), principal, result.instance_id))
        answer.append(item)
    return answer
