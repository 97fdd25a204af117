"""/engine-rest/version, /deployment and /process-definition: what Camunda Modeler and clients deploy and start."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import Any

from flask import Response, request

from engine import policy, queries, services
from engine.definitions import DeployFile, DeploymentResult
from engine.errors import DeploymentInvalid, InvalidInput, NotFound
from engine.parsing import XmlRefused, parse_xml
from engine.queries import Criteria, DefinitionRow

from ..api.definitions import MAX_BYTES, MAX_FILES
from ..auth import current, engine
from .common import VERSION, Params, authenticated, blp, criteria, format_date, json_body, page
from .instances import instance_dto
from .variables import from_typed, to_typed, typed_form_fields

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
_attributes: dict[tuple[str, str], dict[str, Any]] = {}
_attributes_lock = threading.Lock()


@blp.get("/version")
@authenticated()
def version() -> dict[str, str]:
    return {"version": VERSION}


# -- deployments -----------------------------------------------------------------------------------------------
def deployment_dto(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "source": row.source,
        "deploymentTime": format_date(row.deployed_at),
        "tenantId": row.tenant_id,
        "links": [],
    }


def _deployments(params: Params) -> Criteria:
    return criteria(
        params,
        equal={"id": "id", "name": "name", "source": "source"},
        like={"nameLike": "name"},
        among={"tenantIdIn": "tenantId"},
        flags=[("tenantId", None)] if params.boolean("withoutTenantId") else (),
    )


@blp.get("/deployment")
@authenticated()
def deployments() -> Any:
    params = Params()
    wanted = page(
        params, {"id": "id", "name": "name", "deploymentTime": "deployedAt", "tenantId": "tenantId"}
    )
    rows = services.read(engine(), queries.deployment_page, _deployments(params), wanted)
    return [deployment_dto(row) for row in rows]


@blp.get("/deployment/count")
@authenticated()
def deployment_count() -> dict[str, int]:
    return {"count": services.read(engine(), queries.deployment_count, _deployments(Params()))}


@blp.get("/deployment/<deployment_id>")
@authenticated()
def deployment(deployment_id: str) -> dict[str, Any]:
    row = services.read(engine(), queries.get_deployment, deployment_id)
    if row is None:
        raise NotFound(f"Deployment with id '{deployment_id}' does not exist")
    return deployment_dto(row)


@blp.delete("/deployment/<deployment_id>")
@authenticated(*policy.DEPLOYERS)
def delete_deployment(deployment_id: str) -> tuple[str, int]:
    """Camunda's delete without cascade: refused while any instance ran on it (cascade=true is refused too:
    instances and their history are never deleted here)."""
    if Params().boolean("cascade"):
        raise InvalidInput("cascade=true is not supported: instances and their history are kept")
    services.undeploy(engine(), current(), deployment_id=deployment_id)
    return "", 204


def _flag(name: str) -> bool:
    value = request.form.get(name)
    if value is None or value == "":
        return False
    if value.lower() not in ("true", "false"):
        raise InvalidInput(f"{name} must be true or false, not '{value}'")
    return value.lower() == "true"


def _uploads() -> list[DeployFile]:
    """Every file part, named by its file name (Modeler also names the part so; pycamunda: resource-N)."""
    parts = list(request.files.items(multi=True))
    if not parts:
        raise InvalidInput("No deployment resources contained in the form upload.")
    if len(parts) > MAX_FILES:
        raise InvalidInput(f"at most {MAX_FILES} files per deployment")
    files = []
    for field, upload in parts:
        name = upload.filename or field
        content = upload.read(MAX_BYTES + 1)
        if len(content) > MAX_BYTES:
            raise InvalidInput(f"{name}: larger than {MAX_BYTES // (1024 * 1024)} MiB")
        files.append(DeployFile(name, content))
    problems = services.unsupported_files(files)
    if problems:
        raise DeploymentInvalid(f"{len(problems)} file(s) cannot be deployed", {"problems": problems})
    return files


@blp.post("/deployment/create")
@authenticated(*policy.DEPLOYERS)
def create_deployment() -> dict[str, Any]:
    """Modeler's multipart deploy: deployment-name, deployment-source, enable-duplicate-filtering,
    deploy-changed-only, tenant-id and one part per .bpmn/.form file."""
    files = _uploads()
    # Camunda redeploys unchanged resources unless asked not to; the engine filters per definition, which is
    # what deploy-changed-only asks for and what enable-duplicate-filtering amounts to for unchanged files.
    filtering = _flag("enable-duplicate-filtering") or _flag("deploy-changed-only")
    name = request.form.get("deployment-name") or "deployment"
    source = request.form.get("deployment-source") or None
    tenant_id = request.form.get("tenant-id") or None
    for field, value, longest in (
        ("deployment-name", name, 200),
        ("deployment-source", source, 200),
        ("tenant-id", tenant_id, 64),
    ):
        if value is not None and len(value) > longest:
            raise InvalidInput(f"{field} is longer than {longest} characters")
    result = services.deploy(
        engine(),
        current(),
        files,
        name=name,
        source=source,
        tenant_id=tenant_id,
        duplicate_filtering=filtering,
    )
    contents = {f.name.rsplit("/", 1)[-1]: f.content for f in files}
    return _deployment_answer(result, contents)


def _deployment_answer(result: DeploymentResult, contents: dict[str, bytes]) -> dict[str, Any]:
    new = [d for d in result.definitions if d.new]
    head: dict[str, Any] = {
        "id": result.id,
        "name": result.name,
        "source": result.source,
        "deploymentTime": format_date(result.deployed_at),
        "tenantId": result.tenant_id,
    }
    if not result.created and result.definitions:
        # Nothing new: like Camunda, answer with the deployment that already holds these definitions.
        previous = services.read(
            engine(), queries.newest_deployment, {d.deployment_id for d in result.definitions}
        )
        if previous is not None:
            head = deployment_dto(previous)
            head.pop("links")
    definitions = {
        d.id: _definition_dto(
            id=d.id,
            key=d.key,
            name=d.name,
            version=d.version,
            resource=d.resource,
            deployment_id=d.deployment_id,
            tenant_id=result.tenant_id,
            attributes=_xml_attributes(contents.get(d.resource), d.key),
        )
        for d in new
    }
    return {
        **head,
        "links": [],
        "deployedProcessDefinitions": definitions or None,
        "deployedCaseDefinitions": None,
        "deployedDecisionDefinitions": None,
        "deployedDecisionRequirementsDefinitions": None,
    }


# -- process definitions ---------------------------------------------------------------------------------------
def _xml_attributes(content: bytes | str | None, key: str) -> dict[str, Any]:
    """Category (target namespace), description, history time to live, version tag, startable in tasklist."""
    attributes: dict[str, Any] = {
        "category": None,
        "description": None,
        "historyTimeToLive": None,
        "versionTag": None,
        "startableInTasklist": True,
    }
    if content is None:
        return attributes
    try:
        root = parse_xml(content.encode() if isinstance(content, str) else content)
    except XmlRefused:  # a row stored before DOCTYPEs were refused: the definition still lists, bare
        return attributes
    attributes["category"] = root.get("targetNamespace")
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        if process.get("id") != key:
            continue
        ttl = process.get(f"{{{CAMUNDA_NS}}}historyTimeToLive")
        attributes["historyTimeToLive"] = int(ttl) if ttl and ttl.isdigit() else None
        attributes["versionTag"] = process.get(f"{{{CAMUNDA_NS}}}versionTag")
        attributes["startableInTasklist"] = process.get(f"{{{CAMUNDA_NS}}}isStartableInTasklist") != "false"
        doc = process.find(f"{{{BPMN_NS}}}documentation")
        attributes["description"] = doc.text.strip() if doc is not None and doc.text else None
    return attributes


def _stored_attributes(resource_id: int, checksum: str, key: str) -> dict[str, Any]:
    """The XML attributes of a stored resource; resources never change, so they are parsed once."""
    with _attributes_lock:
        found = _attributes.get((checksum, key))
    if found is None:
        content = services.read(engine(), queries.resource_content, resource_id)
        found = _xml_attributes(content, key)
        with _attributes_lock:
            if len(_attributes) > 2000:
                _attributes.clear()
            _attributes[(checksum, key)] = found
    return found


def _definition_dto(
    *,
    id: str,
    key: str,
    name: str | None,
    version: int,
    resource: str,
    deployment_id: str,
    tenant_id: str | None,
    attributes: dict[str, Any],
) -> dict[str, Any]:
    return {
        "id": id,
        "key": key,
        "category": attributes["category"],
        "description": attributes["description"],
        "name": name,
        "version": version,
        "resource": resource,
        "deploymentId": deployment_id,
        "diagram": None,
        "suspended": False,
        "tenantId": tenant_id,
        "versionTag": attributes["versionTag"],
        "historyTimeToLive": attributes["historyTimeToLive"],
        "startableInTasklist": attributes["startableInTasklist"],
    }


def _dtos(rows: list[DefinitionRow]) -> list[dict[str, Any]]:
    return [
        _definition_dto(
            id=row.definition.id,
            key=row.definition.key,
            name=row.definition.name,
            version=row.definition.version,
            resource=row.resource_name,
            deployment_id=row.definition.deployment_id,
            tenant_id=row.tenant_id,
            attributes=_stored_attributes(row.resource_id, row.checksum, row.definition.key),
        )
        for row in rows
    ]


def _filtered(params: Params) -> tuple[Criteria, dict[str, bool]]:
    """The filters, and the two that are not a field's value: latest versions only, and "suspended" (which
    no definition is here)."""
    where = criteria(
        params,
        equal={
            "processDefinitionId": "id",
            "key": "key",
            "name": "name",
            "deploymentId": "deploymentId",
            "resourceName": "resourceName",
        },
        among={"processDefinitionIdIn": "id", "keysIn": "key", "tenantIdIn": "tenantId"},
        like={"nameLike": "name", "keyLike": "key"},
    )
    version = params.integer("version", minimum=1)
    flags = [("version", version)] if version is not None else []
    if params.boolean("withoutTenantId"):
        flags.append(("tenantId", None))
    options = {
        "none": bool(params.boolean("suspended")),
        "latest_only": bool(params.boolean("latestVersion")),
    }
    return replace(where, equal=[*where.equal, *flags]), options


@blp.get("/process-definition")
@authenticated()
def process_definitions() -> Any:
    params = Params()
    wanted = page(
        params,
        {
            "id": "id",
            "key": "key",
            "name": "name",
            "version": "version",
            "deploymentId": "deploymentId",
            "tenantId": "tenantId",
        },
    )
    where, options = _filtered(params)
    return _dtos(services.read(engine(), queries.definition_page, where, wanted, **options))


@blp.get("/process-definition/count")
@authenticated()
def process_definition_count() -> dict[str, int]:
    where, options = _filtered(Params())
    return {"count": services.read(engine(), queries.definition_count, where, **options)}


def _one(definition_id: str | None, key: str | None, tenant_id: str | None = None) -> dict[str, Any]:
    found = services.read(engine(), queries.find_definition, definition_id, key, tenant_id)
    if found is None:
        if definition_id is not None:
            raise NotFound(f"No matching definition with id {definition_id}")
        tenant = f"tenant-id {tenant_id}" if tenant_id else "no tenant-id"
        raise NotFound(f"No matching process definition with key: {key} and {tenant}")
    return _dtos([found])[0]


def _xml(found: dict[str, Any]) -> dict[str, Any]:
    source = services.read(engine(), queries.definition_source, found["id"])
    return {"id": found["id"], "bpmn20Xml": source[0] if source else None}


def _start(found: dict[str, Any]) -> dict[str, Any]:
    """Start an instance with typed variables and a business key (Modeler's "Start instance", clients, and
    submit-form: the start form, if any, is validated either way)."""
    body = json_body()
    if body.get("startInstructions"):
        raise InvalidInput("startInstructions are not supported: an instance starts at its start event")
    business_key = body.get("businessKey")
    if business_key is not None and (not isinstance(business_key, str) or len(business_key) > 100):
        raise InvalidInput("businessKey must be text of at most 100 characters")
    variables, _ = from_typed(body.get("variables"))
    principal = current()
    result = services.start(
        engine(),
        principal,
        found["key"],
        business_key=business_key or None,
        variables=variables,
        definition_id=found["id"],
    )
    answer = instance_dto(
        result.instance_id,
        definition_id=found["id"],
        business_key=result.business_key,
        state=result.state,
        tenant_id=found["tenantId"],
        self_link=True,
    )
    if body.get("withVariablesInReturn") is True:
        answer["variables"] = to_typed(services.result_variables(engine(), principal, result.instance_id))
    return answer


@blp.get("/process-definition/<definition_id>")
@authenticated()
def definition_by_id(definition_id: str) -> dict[str, Any]:
    return _one(definition_id, None)


@blp.get("/process-definition/key/<key>")
@authenticated()
def definition_by_key(key: str) -> dict[str, Any]:
    return _one(None, key)


@blp.get("/process-definition/key/<key>/tenant-id/<tenant_id>")
@authenticated()
def definition_by_key_tenant(key: str, tenant_id: str) -> dict[str, Any]:
    return _one(None, key, tenant_id)


@blp.get("/process-definition/<definition_id>/xml")
@authenticated()
def xml_by_id(definition_id: str) -> dict[str, Any]:
    return _xml(_one(definition_id, None))


@blp.get("/process-definition/key/<key>/xml")
@authenticated()
def xml_by_key(key: str) -> dict[str, Any]:
    return _xml(_one(None, key))


@blp.get("/process-definition/key/<key>/tenant-id/<tenant_id>/xml")
@authenticated()
def xml_by_key_tenant(key: str, tenant_id: str) -> dict[str, Any]:
    return _xml(_one(None, key, tenant_id))


@blp.post("/process-definition/<definition_id>/start")
@authenticated(*policy.STARTERS)
def start_by_id(definition_id: str) -> dict[str, Any]:
    return _start(_one(definition_id, None))


@blp.post("/process-definition/key/<key>/start")
@authenticated(*policy.STARTERS)
def start_by_key(key: str) -> dict[str, Any]:
    return _start(_one(None, key))


@blp.post("/process-definition/key/<key>/tenant-id/<tenant_id>/start")
@authenticated(*policy.STARTERS)
def start_by_key_tenant(key: str, tenant_id: str) -> dict[str, Any]:
    return _start(_one(None, key, tenant_id))


@blp.post("/process-definition/<definition_id>/submit-form")
@authenticated(*policy.STARTERS)
def submit_start_form_by_id(definition_id: str) -> dict[str, Any]:
    return _start(_one(definition_id, None))


@blp.post("/process-definition/key/<key>/submit-form")
@authenticated(*policy.STARTERS)
def submit_start_form_by_key(key: str) -> dict[str, Any]:
    return _start(_one(None, key))


def _start_form_link(found: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": None,
        "contextPath": None,
        "camundaFormRef": services.start_form_link(engine(), found["id"]),
    }


@blp.get("/process-definition/<definition_id>/startForm")
@authenticated()
def start_form_by_id(definition_id: str) -> dict[str, Any]:
    return _start_form_link(_one(definition_id, None))


@blp.get("/process-definition/key/<key>/startForm")
@authenticated()
def start_form_by_key(key: str) -> dict[str, Any]:
    return _start_form_link(_one(None, key))


def _deployed_start_form(found: dict[str, Any]) -> Response:
    form = services.start_form(engine(), found["id"])
    if form is None:
        raise NotFound(f"The form for process definition '{found['id']}' has no Camunda Form linked")
    return Response(json.dumps(form.schema, ensure_ascii=False), mimetype="application/json")


@blp.get("/process-definition/<definition_id>/deployed-start-form")
@authenticated()
def deployed_start_form_by_id(definition_id: str) -> Response:
    return _deployed_start_form(_one(definition_id, None))


@blp.get("/process-definition/key/<key>/deployed-start-form")
@authenticated()
def deployed_start_form_by_key(key: str) -> Response:
    return _deployed_start_form(_one(None, key))


def _start_form_variables(found: dict[str, Any]) -> dict[str, Any]:
    """The start form's fields, empty and typed (Camunda answers {} for a Camunda Form; the fields say more)."""
    form = services.start_form(engine(), found["id"])
    if form is None:
        return {}
    return typed_form_fields(form.definition, {}, Params().strings("variableNames") or None)


@blp.get("/process-definition/<definition_id>/form-variables")
@authenticated()
def start_form_variables_by_id(definition_id: str) -> dict[str, Any]:
    return _start_form_variables(_one(definition_id, None))


@blp.get("/process-definition/key/<key>/form-variables")
@authenticated()
def start_form_variables_by_key(key: str) -> dict[str, Any]:
    return _start_form_variables(_one(None, key))
