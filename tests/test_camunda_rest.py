"""The Camunda 7 REST API under /engine-rest: what Camunda Modeler sends on deploy and start, what the pycamunda
client sends over real HTTP, and the native API's permissions applied to both."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pycamunda
import pycamunda.base
import pycamunda.deployment
import pycamunda.processdef
import pycamunda.processinst
import pycamunda.task
import pycamunda.version
import pytest
from flask import Flask
from flask.testing import FlaskClient
from requests.auth import HTTPBasicAuth
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

import engine.accounts
from engine.runtime import Engine
from webapi import create_app
from webapi.camunda.common import format_date, parse_date
from webapi.camunda.variables import from_typed, typed

MODELER = Path(__file__).resolve().parent / "data" / "modeler"
DIAGRAM, FORM, BROKEN = "modeler_demo.bpmn", "modeler_demo_review.form", "modeler_broken.bpmn"
BASE = "/engine-rest"
DEFINITION_KEYS = {
    "id",
    "key",
    "category",
    "description",
    "name",
    "version",
    "resource",
    "deploymentId",
    "diagram",
    "suspended",
    "tenantId",
    "versionTag",
    "historyTimeToLive",
    "startableInTasklist",
}
DEPLOYMENT_KEYS = {
    "id",
    "name",
    "source",
    "deploymentTime",
    "tenantId",
    "links",
    "deployedProcessDefinitions",
    "deployedCaseDefinitions",
    "deployedDecisionDefinitions",
    "deployedDecisionRequirementsDefinitions",
}
INSTANCE_KEYS = {
    "id",
    "definitionId",
    "businessKey",
    "caseInstanceId",
    "tenantId",
    "ended",
    "suspended",
    "links",
}
TASK_KEYS = {
    "id",
    "name",
    "assignee",
    "owner",
    "created",
    "due",
    "followUp",
    "lastUpdated",
    "delegationState",
    "description",
    "executionId",
    "parentTaskId",
    "priority",
    "processDefinitionId",
    "processInstanceId",
    "taskDefinitionKey",
    "caseDefinitionId",
    "caseExecutionId",
    "caseInstanceId",
    "formKey",
    "camundaFormRef",
    "suspended",
    "tenantId",
}
CAMUNDA_DATE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$"
VALID_REVIEW = {
    "summary": {"value": "请求已核实", "type": "String"},
    "amount": {"value": 1200, "type": "Long"},
    "approved": {"value": True, "type": "Boolean"},
    "visitDate": {"value": "2026-11-05T10:00:00.000+0800", "type": "Date"},
    "phone": {"value": "13800138000", "type": "String"},
}


def basic(user: str, password: str | None = None) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password if password is not None else user}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def camunda_app(deployed: Engine, monkeypatch: pytest.MonkeyPatch) -> Flask:
    # Every request hashes its Basic password; the production scrypt cost would dominate the run time.
    monkeypatch.setattr(engine.accounts, "SCRYPT", {"n": 2**4, "r": 8, "p": 1})
    app = create_app(deployed)
    app.testing = True
    deployed.accounts.seed_demo()
    return app


@pytest.fixture
def client(camunda_app: Flask) -> FlaskClient:
    return camunda_app.test_client()


def call(client: FlaskClient, method: str, path: str, user: str | None = None, **kwargs: Any) -> TestResponse:
    headers = {**(basic(user) if user else {}), **kwargs.pop("headers", {})}
    return client.open(BASE + path, method=method, headers=headers, **kwargs)


def ok(client: FlaskClient, method: str, path: str, user: str, status: int = 200, **kwargs: Any) -> Any:
    response = call(client, method, path, user, **kwargs)
    assert response.status_code == status, (
        method,
        path,
        response.status_code,
        response.get_data(as_text=True),
    )
    return response.get_json()


def camunda_error(response: TestResponse, status: int, type_: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert {"type", "message"} <= set(body), body
    assert body["type"].endswith("Exception") and isinstance(body["message"], str) and body["message"]
    if type_ is not None:
        assert body["type"] == type_, body
    return body


def modeler_form(*names: str, **fields: str) -> dict[str, Any]:
    """The multipart body Camunda Modeler builds: its fields, then one part per file named by its file name."""
    data: dict[str, Any] = {
        "deployment-name": "modeler_demo",
        "deployment-source": "Camunda Modeler",
        "enable-duplicate-filtering": "true",
        **fields,
    }
    for name in names:
        data[name] = ((MODELER / name).open("rb"), name)
    return data


def deploy(client: FlaskClient, *names: str, user: str = "designer", **fields: str) -> TestResponse:
    return call(
        client,
        "POST",
        "/deployment/create",
        user,
        data=modeler_form(*names, **fields),
        content_type="multipart/form-data",
        headers={"Accept": "application/json", "Origin": "null"},
    )


def start(
    client: FlaskClient, key: str = "modeler_demo", user: str = "designer", **body: Any
) -> dict[str, Any]:
    return ok(client, "POST", f"/process-definition/key/{key}/start", user, json=body)


def review_task(client: FlaskClient, instance_id: str, user: str = "office") -> dict[str, Any]:
    [task] = ok(client, "GET", "/task", user, query_string={"processInstanceId": instance_id})
    return task


# -- Camunda Modeler -----------------------------------------------------------------------------------------------
def test_modeler_deploy_and_start_sequence(client: FlaskClient) -> None:
    # CORS preflight from the desktop app (file://, so Origin: null).
    preflight = client.options(
        BASE + "/deployment/create",
        headers={
            "Origin": "null",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code in (200, 204)
    assert preflight.headers["Access-Control-Allow-Origin"] == "null"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in preflight.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed

    # Connection check: first without credentials (401 makes Modeler ask for them), then with.
    anonymous = call(
        client, "GET", "/deployment?maxResults=0", headers={"Origin": "null", "Accept": "application/json"}
    )
    camunda_error(anonymous, 401)
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    assert anonymous.headers["Access-Control-Allow-Origin"] == "null"
    wrong = call(client, "GET", "/deployment?maxResults=0", headers=basic("designer", "wrong"))
    camunda_error(wrong, 401)
    checked = call(client, "GET", "/deployment?maxResults=0", "designer", headers={"Origin": "null"})
    assert checked.status_code == 200 and checked.get_json() == []
    assert checked.headers["Access-Control-Allow-Origin"] == "null"

    assert ok(client, "GET", "/version", "designer") == {"version": "7.24.0"}

    deployed = deploy(client, DIAGRAM, FORM)
    assert deployed.status_code == 200, deployed.get_data(as_text=True)
    assert deployed.headers["Access-Control-Allow-Origin"] == "null"
    body = deployed.get_json()
    assert set(body) == DEPLOYMENT_KEYS
    assert body["name"] == "modeler_demo" and body["source"] == "Camunda Modeler" and body["tenantId"] is None
    assert body["links"] == []
    assert body["deployedCaseDefinitions"] is None and body["deployedDecisionDefinitions"] is None
    assert body["deployedDecisionRequirementsDefinitions"] is None
    assert pycamunda.base.from_isoformat(body["deploymentTime"]).tzinfo is not None
    [(definition_id, definition)] = body["deployedProcessDefinitions"].items()
    assert set(definition) == DEFINITION_KEYS
    assert definition["id"] == definition_id
    assert definition["key"] == "modeler_demo" and definition["version"] == 1
    assert definition["name"] == "Modeler demo" and definition["resource"] == DIAGRAM
    assert definition["deploymentId"] == body["id"]
    assert definition["historyTimeToLive"] == 180 and definition["versionTag"] == "v1"
    assert definition["suspended"] is False and definition["startableInTasklist"] is True

    # The deployment is listed now.
    [listed] = ok(client, "GET", "/deployment", "designer", query_string={"name": "modeler_demo"})
    assert listed["id"] == body["id"] and listed["source"] == "Camunda Modeler"

    # "Start instance" from Modeler: the deployed definition by id, with a business key.
    started = call(
        client,
        "POST",
        f"/process-definition/{definition_id}/start",
        "designer",
        json={"businessKey": "default", "variables": {}},
        headers={"Origin": "null", "Accept": "application/json"},
    )
    assert started.status_code == 200, started.get_data(as_text=True)
    instance = started.get_json()
    assert set(instance) == INSTANCE_KEYS
    assert instance["definitionId"] == definition_id and instance["businessKey"] == "default"
    assert instance["caseInstanceId"] is None and instance["tenantId"] is None
    assert instance["ended"] is False and instance["suspended"] is False
    [link] = instance["links"]
    assert link["method"] == "GET" and link["rel"] == "self"
    assert link["href"].endswith(f"/engine-rest/process-instance/{instance['id']}")

    # Deploying the unchanged diagram again with duplicate filtering deploys nothing new.
    again = deploy(client, DIAGRAM, FORM)
    assert again.status_code == 200
    repeated = again.get_json()
    assert set(repeated) == DEPLOYMENT_KEYS
    assert not repeated["deployedProcessDefinitions"]
    assert repeated["id"] == body["id"]
    [latest] = ok(client, "GET", "/process-definition", "designer", query_string={"key": "modeler_demo"})
    assert latest["id"] == definition_id and latest["version"] == 1

    # A changed diagram is version 2; the first version stays.
    changed = (MODELER / DIAGRAM).read_text().replace("Notify petitioner", "Tell the petitioner")
    response = call(
        client,
        "POST",
        "/deployment/create",
        "designer",
        data={
            "deployment-name": "modeler_demo",
            "deployment-source": "Camunda Modeler",
            "enable-duplicate-filtering": "true",
            DIAGRAM: (io.BytesIO(changed.encode()), DIAGRAM),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    [second] = response.get_json()["deployedProcessDefinitions"].values()
    assert second["version"] == 2
    versions = ok(client, "GET", "/process-definition", "designer", query_string={"key": "modeler_demo"})
    assert [d["version"] for d in versions] == [1, 2]
    [newest] = ok(
        client,
        "GET",
        "/process-definition",
        "designer",
        query_string={"key": "modeler_demo", "latestVersion": "true"},
    )
    assert newest["id"] == second["id"]


def test_deploy_without_duplicate_filtering_makes_a_new_version(client: FlaskClient) -> None:
    assert deploy(client, DIAGRAM, FORM).status_code == 200
    again = deploy(client, DIAGRAM, FORM, **{"enable-duplicate-filtering": "false"})
    assert again.status_code == 200
    [definition] = again.get_json()["deployedProcessDefinitions"].values()
    assert definition["version"] == 2


def test_broken_diagram_is_a_parse_error_naming_the_element(client: FlaskClient) -> None:
    response = deploy(client, BROKEN, FORM)
    body = camunda_error(response, 400, "ParseException")
    assert body["message"].startswith("ENGINE-09005 Could not parse BPMN process.")
    assert "Task_review" in body["message"] and BROKEN in body["message"]
    [error] = body["details"][BROKEN]["errors"]
    assert error["mainElementId"] == "Task_review" and error["line"] == 9
    assert response.headers["Access-Control-Allow-Origin"] == "null"
    # Nothing was deployed.
    assert ok(client, "GET", "/process-definition", "designer", query_string={"key": "modeler_demo"}) == []


def test_deploy_needs_a_designer_and_files(client: FlaskClient) -> None:
    camunda_error(deploy(client, DIAGRAM, FORM, user="office"), 403, "AuthorizationException")
    camunda_error(deploy(client, DIAGRAM, FORM, user="supervisor"), 403)
    camunda_error(call(client, "POST", "/deployment/create", "designer", data={"deployment-name": "x"}), 400)
    not_bpmn = call(
        client,
        "POST",
        "/deployment/create",
        "designer",
        data={"notes.txt": (io.BytesIO(b"hello"), "notes.txt")},
        content_type="multipart/form-data",
    )
    assert camunda_error(not_bpmn, 400)["message"].startswith("ENGINE-09005")
    assert deploy(client, DIAGRAM, FORM, user="admin").status_code == 200


def test_cors_answers_preflight_anywhere_under_engine_rest_only(client: FlaskClient) -> None:
    preflight = client.options(
        BASE + "/task/some-id/complete",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    assert "Access-Control-Allow-Origin" not in client.get("/healthz", headers={"Origin": "null"}).headers


# -- pycamunda over HTTP ---------------------------------------------------------------------------------------
@pytest.fixture
def server(camunda_app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The real app on a free port, as pycamunda (requests) talks to it."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    http = make_server("127.0.0.1", 0, camunda_app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}/engine-rest"
    finally:
        http.shutdown()
        thread.join(timeout=10)


def as_user(request: Any, user: str, password: str | None = None) -> Any:
    request.auth = HTTPBasicAuth(user, password if password is not None else user)
    return request


def test_pycamunda_start_work_and_read(server: str) -> None:
    url = server
    assert as_user(pycamunda.version.Get(url), "designer")() == "7.24.0"
    with pytest.raises(pycamunda.Unauthorized):
        pycamunda.version.Get(url)()
    with pytest.raises(pycamunda.Unauthorized):
        as_user(pycamunda.version.Get(url), "designer", "wrong")()

    # Deploy with pycamunda's own request (fields resource-N, file names from the file objects).
    create = as_user(
        pycamunda.deployment.Create(url, name="demo", source="pycamunda", enable_duplicate_filtering=True),
        "designer",
    )
    with (MODELER / DIAGRAM).open("rb") as diagram, (MODELER / FORM).open("rb") as form:
        create.add_resource(diagram)
        create.add_resource(form)
        deployment = create()
    [definition] = deployment.deployed_process_definitions.values()
    assert definition.key == "modeler_demo" and definition.version == 1 and definition.resource == DIAGRAM
    assert deployment.deployment_time is not None

    fetched = as_user(pycamunda.processdef.Get(url, key="modeler_demo"), "office")()
    assert fetched.id_ == definition.id_ and fetched.history_time_to_live == 180
    xml = as_user(pycamunda.processdef.GetXML(url, id_=definition.id_), "office")()
    assert 'id="modeler_demo"' in xml
    assert [d.id_ for d in as_user(pycamunda.processdef.GetList(url, key="modeler_demo"), "office")()] == [
        definition.id_
    ]

    # Start by key with typed variables (one untyped) and a business key.
    begin = as_user(
        pycamunda.processdef.StartInstance(
            url, key="modeler_demo", business_key="PF-2026-0001", with_variables_in_return=True
        ),
        "designer",
    )
    begin.add_variable("applicant", "张三", "String")
    begin.add_variable("copies", 2, "Integer")
    begin.add_variable("urgent", True)
    begin.add_variable("meta", json.dumps({"channel": "letter"}), "Json")
    begin.add_variable(
        "receivedAt", pycamunda.base.isoformat(datetime(2026, 11, 2, 9, 30, tzinfo=UTC)), "Date"
    )
    instance = begin()
    assert instance.business_key == "PF-2026-0001" and instance.definition_id == definition.id_
    assert instance.suspended is False and instance.case_instance_id is None
    assert instance.links[0].rel == "self"
    assert instance.variables["copies"].type_ == "Integer" and instance.variables["copies"].value == 2
    assert instance.variables["urgent"].type_ == "Boolean" and instance.variables["urgent"].value is True
    assert instance.variables["meta"].type_ == "Json"
    assert json.loads(instance.variables["meta"].value) == {"channel": "letter"}
    assert instance.variables["receivedAt"].type_ == "Date"
    assert instance.variables["receivedAt"].value == "2026-11-02T09:30:00.000+0000"

    # The office lists its tasks, by instance and by candidate group.
    [task] = as_user(pycamunda.task.GetList(url, process_instance_id=instance.id_), "office")()
    assert task.name == "Review request" and task.task_definition_key == "Task_review"
    assert task.assignee is None and task.priority == 60
    assert task.created == datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    assert task.due == datetime(2026, 11, 7, 1, 0, tzinfo=UTC)
    by_group = as_user(
        pycamunda.task.GetList(
            url, candidate_group="petition_office", process_definition_key="modeler_demo", sort_by="created"
        ),
        "office",
    )()
    assert [t.id_ for t in by_group] == [task.id_]
    assert as_user(pycamunda.task.GetList(url, process_instance_id=instance.id_), "registrar")() == ()
    with pytest.raises(pycamunda.Forbidden):
        as_user(pycamunda.task.Get(url, id_=task.id_), "registrar")()

    as_user(pycamunda.task.Claim(url, id_=task.id_, user_id="office"), "office")()
    claimed = as_user(pycamunda.task.Get(url, id_=task.id_), "office")()
    assert claimed.assignee == "office"
    assert [t.id_ for t in as_user(pycamunda.task.GetList(url, assignee="office"), "office")()] == [task.id_]

    # The task's form is enforced: every invalid field named in the message.
    incomplete = as_user(pycamunda.task.Complete(url, id_=task.id_), "office")
    incomplete.add_variable("amount", -5, "Long")
    with pytest.raises(pycamunda.BadRequest) as refused:
        incomplete()
    assert "summary" in str(refused.value) and "amount" in str(refused.value)

    done = as_user(pycamunda.task.Complete(url, id_=task.id_, with_variables_in_return=True), "office")
    for name, variable in VALID_REVIEW.items():
        done.add_variable(name, variable["value"], variable["type"])
    returned = done()
    assert returned["summary"].value == "请求已核实" and returned["amount"].value == 1200
    assert returned["approved"].value is True
    assert returned["visitDate"].value == "2026-11-05"  # a Date sent for a date field keeps the caller's date
    assert returned["applicant"].value == "张三"

    # The instance goes on to the next task; its handler may read it and its variables.
    read = as_user(pycamunda.processinst.Get(url, id_=instance.id_), "office")()
    assert read.business_key == "PF-2026-0001" and read.suspended is False
    variables = as_user(
        pycamunda.processinst.VariablesGetList(url, process_instance_id=instance.id_), "office"
    )()
    assert variables["summary"].type_ == "String" and variables["amount"].type_ == "Integer"
    assert variables["receivedAt"].type_ == "Date" and variables["phone"].value == "13800138000"
    masked = as_user(
        pycamunda.processinst.VariablesGetList(url, process_instance_id=instance.id_), "supervisor"
    )()
    assert masked["phone"].value == "138****8000"
    listed = as_user(pycamunda.processinst.GetList(url, business_key="PF-2026-0001"), "supervisor")()
    assert [i.id_ for i in listed] == [instance.id_]
    with pytest.raises(pycamunda.Forbidden):
        as_user(pycamunda.processinst.GetList(url), "office")()
    [notify] = as_user(pycamunda.task.GetList(url, process_instance_id=instance.id_), "office")()
    assert notify.task_definition_key == "Task_notify"

    # A client may also let the task go again.
    as_user(pycamunda.task.Claim(url, id_=notify.id_, user_id="office"), "office")()
    as_user(pycamunda.task.Unclaim(url, id_=notify.id_), "office")()
    assert as_user(pycamunda.task.Get(url, id_=notify.id_), "office")().assignee is None


# -- tasks: the native API's permissions and Camunda's queries -------------------------------------------------
@pytest.fixture
def demo(client: FlaskClient) -> dict[str, Any]:
    assert deploy(client, DIAGRAM, FORM).status_code == 200
    instance = start(client, businessKey="PF-1")
    return {"instance": instance, "task": review_task(client, instance["id"])}


def test_task_shape_and_visibility(client: FlaskClient, demo: dict[str, Any]) -> None:
    task = demo["task"]
    assert set(task) == TASK_KEYS
    assert task["processInstanceId"] == demo["instance"]["id"]
    assert task["taskDefinitionKey"] == "Task_review" and task["priority"] == 60
    assert task["camundaFormRef"] == {"key": "modeler_demo_review", "binding": "deployment", "version": None}
    for field in ("created", "due"):
        assert re.match(CAMUNDA_DATE, task[field]), task[field]
    assert task["followUp"] is None and task["suspended"] is False
    assert ok(client, "GET", f"/task/{task['id']}", "office") == task
    assert ok(client, "GET", f"/task/{task['id']}", "supervisor") == task  # supervisors read
    # Outside the handler's jurisdiction the task is as unknown as an id never issued.
    camunda_error(call(client, "GET", f"/task/{task['id']}", "handler"), 404, "InvalidRequestException")
    camunda_error(call(client, "GET", "/task/00000000-0000-4000-8000-000000000000", "office"), 404)
    camunda_error(call(client, "GET", "/task"), 401)
    assert (
        ok(client, "GET", "/task", "handler", query_string={"processInstanceId": demo["instance"]["id"]})
        == []
    )
    camunda_error(
        call(client, "GET", "/task", "handler", query_string={"candidateGroup": "petition_office"}), 403
    )
    camunda_error(call(client, "GET", "/task", "handler", query_string={"candidateUser": "office"}), 403)


def test_claim_assign_and_complete_follow_the_native_rules(client: FlaskClient, demo: dict[str, Any]) -> None:
    task_id = demo["task"]["id"]
    path = f"/task/{task_id}"
    camunda_error(call(client, "POST", path + "/claim", "supervisor", json={"userId": "supervisor"}), 403)
    camunda_error(call(client, "POST", path + "/claim", "handler", json={"userId": "handler"}), 404)
    camunda_error(call(client, "POST", path + "/claim", "office", json={"userId": "registrar"}), 403)
    camunda_error(call(client, "POST", path + "/claim", "office", json={}), 400)
    camunda_error(
        call(client, "POST", path + "/complete", "office", json={"variables": {}}), 409
    )  # claim first
    assert call(client, "POST", path + "/claim", "office", json={"userId": "office"}).status_code == 204
    # A colleague in the same group finds it taken.
    client.application.extensions["petitionflow"].accounts.create(
        "office2", "office2", roles=["handler"], groups=["petition_office"], demo=True
    )
    taken = call(client, "POST", path + "/claim", "office2", json={"userId": "office2"})
    assert camunda_error(taken, 409, "TaskAlreadyClaimedException")["message"]
    camunda_error(call(client, "POST", path + "/unclaim", "office2"), 403)
    # Only supervisors and admins set the assignee.
    camunda_error(call(client, "POST", path + "/assignee", "office", json={"userId": "office2"}), 403)
    assert (
        call(client, "POST", path + "/assignee", "supervisor", json={"userId": "office2"}).status_code == 204
    )
    assert ok(client, "GET", path, "office2")["assignee"] == "office2"
    camunda_error(
        call(client, "POST", path + "/complete", "office", json={"variables": VALID_REVIEW}), 409
    )  # it is office2's now

    # Variables are checked against their declared types before the form sees them.
    bad_type = call(
        client,
        "POST",
        path + "/complete",
        "office2",
        json={"variables": {"amount": {"value": "x", "type": "Integer"}}},
    )
    assert "amount" in camunda_error(bad_type, 400, "InvalidRequestException")["message"]
    too_long = {**VALID_REVIEW, "summary": {"value": "x" * 201, "type": "String"}}
    refused = camunda_error(
        call(client, "POST", path + "/complete", "office2", json={"variables": too_long}),
        400,
        "FormFieldValidationException",
    )
    assert (
        refused["message"].startswith(f"Cannot submit task form {task_id}")
        and "summary" in refused["message"]
    )
    assert set(refused["details"]["fields"]) == {"summary"}

    completed = call(client, "POST", path + "/complete", "office2", json={"variables": VALID_REVIEW})
    assert completed.status_code == 204 and completed.get_data() == b""
    camunda_error(call(client, "GET", path, "office2"), 404)
    [notify] = ok(
        client, "GET", "/task", "office2", query_string={"processInstanceId": demo["instance"]["id"]}
    )
    assert notify["taskDefinitionKey"] == "Task_notify"


def test_task_queries(client: FlaskClient, demo: dict[str, Any]) -> None:
    client.application.extensions["petitionflow"].clock.advance(minutes=5)
    second = start(client, businessKey="PF-2")
    other = review_task(client, second["id"])
    first = demo["task"]
    ok(client, "POST", f"/task/{other['id']}/claim", "office", 204, json={"userId": "office"})

    def ids(method: str = "GET", **query: Any) -> list[str]:
        if method == "POST":
            return [t["id"] for t in ok(client, "POST", "/task", "office", json=query)]
        return [t["id"] for t in ok(client, "GET", "/task", "office", query_string=query)]

    key = {"processDefinitionKey": "modeler_demo"}
    assert set(ids(**key)) == {first["id"], other["id"]}
    assert ids(**key, unassigned="true") == [first["id"]]
    assert ids(**key, assignee="office") == [other["id"]]
    assert ids(**key, candidateUser="office") == [first["id"]]
    assert ids(**key, candidateGroup="petition_office", sortBy="created", sortOrder="asc", maxResults=1) == [
        first["id"]
    ]
    assert ids(**key, sortBy="created", sortOrder="desc") == [other["id"], first["id"]]
    assert ids(**key, sortBy="created", sortOrder="asc", firstResult=1) == [other["id"]]
    assert ids(**key, processInstanceBusinessKey="PF-2") == [other["id"]]
    assert ids(**key, processDefinitionId=first["processDefinitionId"], taskDefinitionKey="Task_review") != []
    assert ids(**key, taskDefinitionKey="Task_notify") == []
    assert ids(**key, sortBy="name", sortOrder="desc", firstResult=1, maxResults=5) != []
    assert ids("POST", processDefinitionKey="modeler_demo", unassigned=True) == [first["id"]]
    assert ids(
        "POST",
        processDefinitionKey="modeler_demo",
        sorting=[{"sortBy": "dueDate", "sortOrder": "asc"}, {"sortBy": "priority", "sortOrder": "desc"}],
    )
    assert ok(client, "GET", "/task/count", "office", query_string=key) == {"count": 2}
    assert ok(client, "POST", "/task/count", "office", json={**key, "assignee": "office"}) == {"count": 1}
    assert ok(client, "GET", "/task/count", "handler", query_string=key) == {"count": 0}
    assert ok(client, "GET", "/task/count", "supervisor", query_string=key) == {"count": 2}
    assert ok(client, "GET", "/task", "office", query_string={**key, "maxResults": 0}) == []
    camunda_error(call(client, "GET", "/task", "office", query_string={"sortBy": "colour"}), 400)
    camunda_error(call(client, "GET", "/task", "office", query_string={"maxResults": "many"}), 400)
    camunda_error(call(client, "GET", "/task", "office", query_string={"maxResults": 5000}), 400)
    camunda_error(call(client, "GET", "/task", "office", query_string={"unassigned": "perhaps"}), 400)


def test_form_variables_and_variables_in_return(client: FlaskClient, demo: dict[str, Any]) -> None:
    task_id = demo["task"]["id"]
    form = ok(client, "GET", f"/task/{task_id}/form-variables", "office")
    assert set(form) == {"summary", "amount", "approved", "visitDate", "phone"}
    assert form["summary"] == {"type": "String", "value": None, "valueInfo": {}}
    assert form["approved"]["type"] == "Boolean" and form["amount"]["type"] == "Double"
    assert set(
        ok(client, "GET", f"/task/{task_id}/form-variables?variableNames=summary,phone", "office")
    ) == {
        "summary",
        "phone",
    }
    assert ok(client, "GET", f"/task/{task_id}/deployed-form", "office")["id"] == "modeler_demo_review"
    ok(client, "POST", f"/task/{task_id}/claim", "office", 204, json={"userId": "office"})
    returned = ok(
        client,
        "POST",
        f"/task/{task_id}/complete",
        "office",
        json={"variables": VALID_REVIEW, "withVariablesInReturn": True},
    )
    assert returned["amount"] == {"type": "Integer", "value": 1200, "valueInfo": {}}
    assert returned["approved"]["value"] is True and returned["visitDate"]["value"] == "2026-11-05"


def test_process_instances(client: FlaskClient, demo: dict[str, Any]) -> None:
    instance_id = demo["instance"]["id"]
    listed = ok(
        client,
        "GET",
        "/process-instance",
        "supervisor",
        query_string={"processDefinitionKey": "modeler_demo"},
    )
    assert [i["id"] for i in listed] == [instance_id]
    assert set(listed[0]) == INSTANCE_KEYS
    assert ok(
        client,
        "GET",
        "/process-instance",
        "supervisor",
        query_string={"businessKey": "PF-1", "active": "true"},
    )
    assert (
        ok(
            client,
            "GET",
            "/process-instance",
            "supervisor",
            query_string={"businessKey": "PF-1", "suspended": "true"},
        )
        == []
    )
    assert ok(client, "GET", "/process-instance/count", "designer", query_string={"businessKey": "PF-1"}) == {
        "count": 1
    }
    assert ok(client, "POST", "/process-instance", "supervisor", json={"processInstanceIds": [instance_id]})
    camunda_error(call(client, "GET", "/process-instance", "office"), 403)
    assert ok(client, "GET", f"/process-instance/{instance_id}", "office")["businessKey"] == "PF-1"
    camunda_error(call(client, "GET", f"/process-instance/{instance_id}", "handler"), 404)
    camunda_error(call(client, "GET", "/process-instance/nope", "supervisor"), 404)

    client.application.extensions["petitionflow"].suspend(instance_id)
    suspended = ok(client, "GET", "/process-instance", "supervisor", query_string={"suspended": "true"})
    assert [i["id"] for i in suspended] == [instance_id] and suspended[0]["suspended"] is True
    assert review_task(client, instance_id)["suspended"] is True


def test_start_rules_and_typed_start_variables(client: FlaskClient) -> None:
    assert deploy(client, DIAGRAM, FORM).status_code == 200
    camunda_error(call(client, "POST", "/process-definition/key/modeler_demo/start", "office", json={}), 403)
    camunda_error(call(client, "POST", "/process-definition/key/nothing/start", "designer", json={}), 404)
    bad = call(
        client,
        "POST",
        "/process-definition/key/modeler_demo/start",
        "designer",
        json={
            "variables": {"n": {"value": 2**40, "type": "Integer"}, "d": {"value": "soon", "type": "Date"}}
        },
    )
    assert set(camunda_error(bad, 400)["details"]["fields"]) == {"n", "d"}
    started = start(
        client,
        businessKey="PF-9",
        withVariablesInReturn=True,
        variables={
            "big": {"value": 2**40, "type": "Long"},
            "ratio": {"value": "0.5", "type": "Double"},
            "flag": {"value": "true", "type": "Boolean"},
            "nothing": {"value": None, "type": "Null"},
            "obj": {
                "value": '{"a": [1, 2]}',
                "type": "Object",
                "valueInfo": {"serializationDataFormat": "application/json"},
            },
            "plain": {"value": ["x"], "type": None},
        },
    )
    got = started["variables"]
    assert got["big"] == {"type": "Long", "value": 2**40, "valueInfo": {}}
    assert got["ratio"]["type"] == "Double" and got["ratio"]["value"] == 0.5
    assert got["flag"]["value"] is True and got["nothing"]["type"] == "Null"
    assert json.loads(got["obj"]["value"]) == {"a": [1, 2]} and got["obj"]["type"] == "Json"
    assert got["plain"]["type"] == "Json"
    assert (
        ok(client, "GET", f"/process-instance/{started['id']}/variables/big", "supervisor")["value"] == 2**40
    )
    camunda_error(
        call(client, "GET", f"/process-instance/{started['id']}/variables/absent", "supervisor"), 404
    )


def test_definitions_and_xml_by_id_and_key(client: FlaskClient) -> None:
    body = deploy(client, DIAGRAM, FORM, **{"tenant-id": "district"}).get_json()
    [definition_id] = body["deployedProcessDefinitions"]
    assert body["tenantId"] == "district"
    by_id = ok(client, "GET", f"/process-definition/{definition_id}", "handler")
    assert by_id["tenantId"] == "district" and set(by_id) == DEFINITION_KEYS
    assert ok(client, "GET", "/process-definition/key/modeler_demo", "handler") == by_id
    assert ok(client, "GET", "/process-definition/key/modeler_demo/tenant-id/district", "handler") == by_id
    camunda_error(call(client, "GET", "/process-definition/key/modeler_demo/tenant-id/other", "handler"), 404)
    xml = ok(client, "GET", f"/process-definition/{definition_id}/xml", "handler")
    assert xml["id"] == definition_id and xml["bpmn20Xml"] == (MODELER / DIAGRAM).read_text()
    assert ok(client, "GET", "/process-definition/key/modeler_demo/xml", "handler") == xml
    camunda_error(call(client, "GET", "/process-definition/nope", "handler"), 404, "InvalidRequestException")
    assert ok(
        client, "GET", "/process-definition/count", "handler", query_string={"key": "modeler_demo"}
    ) == {"count": 1}
    shipped = ok(
        client,
        "GET",
        "/process-definition",
        "handler",
        query_string={"latestVersion": "true", "sortBy": "key", "sortOrder": "desc"},
    )
    keys = [d["key"] for d in shipped]
    assert keys == sorted(keys, reverse=True) and "modeler_demo" in keys
    camunda_error(call(client, "GET", "/no/such/resource", "handler"), 404)


def test_bearer_tokens_work_and_sessions_do_not(client: FlaskClient) -> None:
    token = client.application.extensions["petitionflow"].accounts.issue_token("designer")
    assert ok(client, "GET", "/version", "designer") == {"version": "7.24.0"}
    response = client.get(BASE + "/version", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    camunda_error(client.get(BASE + "/version", headers={"Authorization": "Bearer nope"}), 401)
    # A signed-in browser session is not enough here: cross-site requests must not ride on its cookie.
    signed_in = client.post("/api/session", json={"username": "designer", "password": "designer"})
    assert signed_in.status_code == 200, signed_in.get_data(as_text=True)
    camunda_error(client.get(BASE + "/version"), 401)


# -- typed variables and dates, without a server ---------------------------------------------------------------
def test_typed_variables_both_ways() -> None:
    values, types = from_typed(
        {
            "s": {"value": "x", "type": "String"},
            "n": {"value": "42", "type": "integer"},
            "d": {"value": "2024-05-01T10:00:00.000+0000", "type": "Date"},
            "j": {"value": '[1, {"a": null}]', "type": "Json"},
            "u": {"value": 1.5},
            "z": {"value": None, "type": None, "valueInfo": None},
        }
    )
    assert values == {
        "s": "x",
        "n": 42,
        "d": "2024-05-01T10:00:00.000+0000",
        "j": [1, {"a": None}],
        "u": 1.5,
        "z": None,
    }
    assert types == {"s": "string", "n": "integer", "d": "date", "j": "json"}
    assert typed("2024-05-01T10:00:00.000+0000")["type"] == "Date"
    assert typed("2024-05-01")["type"] == "String"
    assert typed(datetime(2024, 5, 1, 18, tzinfo=UTC))["value"] == "2024-05-01T18:00:00.000+0000"
    assert typed(2**31)["type"] == "Long" and typed(2**31 - 1)["type"] == "Integer"
    assert typed({"a": 1}) == {"type": "Json", "value": '{"a": 1}', "valueInfo": {}}
    for bad in (
        {"v": {"value": "1.5", "type": "Integer"}},
        {"v": {"value": True, "type": "Long"}},
        {"v": {"value": "maybe", "type": "Boolean"}},
        {"v": {"value": "{", "type": "Json"}},
        {"v": {"value": "AAAA", "type": "Bytes"}},
        {
            "v": {
                "value": "rO0AB",
                "type": "Object",
                "valueInfo": {"serializationDataFormat": "application/x-java-serialized-object"},
            }
        },
        {"v": {"value": 1, "type": "Null"}},
        {"v": {"value": 1, "type": "Colour"}},
        {"v": "not an object"},
    ):
        with pytest.raises(engine.errors.InvalidInput):
            from_typed(bad)


def test_camunda_dates() -> None:
    moment = parse_date("2024-05-01T18:00:00.000+0800")
    assert format_date(moment) == "2024-05-01T10:00:00.000+0000"
    assert parse_date("2024-05-01T10:00:00Z") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_date("2024-05-01T10:00:00") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert pycamunda.base.from_isoformat(
        format_date(datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)) or ""
    )
    with pytest.raises(engine.errors.InvalidInput):
        parse_date("yesterday")
