"""Camunda Modeler's way of linking Camunda Forms, end to end through /engine-rest: deploy in Modeler's
multipart shape, start through the start form, complete through the task form, correlate messages, read the
history back."""

from __future__ import annotations

import io
from typing import Any

from flask.testing import FlaskClient

from tests import test_camunda_rest as rest
from tests.helpers import DATA
from tests.test_camunda_rest import call, camunda_error, ok

camunda_app = rest.camunda_app  # the fixtures: the app on the deployed engine with the demo users
client = rest.client

FORMS = DATA / "camunda_forms"
GOOD_START = {
    "peopleCount": {"value": 3, "type": "Integer"},
    "request": {"value": "协调停车位", "type": "String"},
}
MESSAGES = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs_msg" targetNamespace="http://petitionflow/test">
  <bpmn:message id="m_start" name="visitBooked"/>
  <bpmn:message id="m_arrived" name="visitorArrived"/>
  <bpmn:process id="visit_booking" name="来访预约" isExecutable="true" camunda:historyTimeToLive="180">
    <bpmn:startEvent id="booked" name="预约到达"><bpmn:messageEventDefinition messageRef="m_start"/></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="booked" targetRef="wait_arrival"/>
    <bpmn:intermediateCatchEvent id="wait_arrival" name="来访人到达">
      <bpmn:messageEventDefinition messageRef="m_arrived"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait_arrival" targetRef="receive"/>
    <bpmn:userTask id="receive" name="接待" camunda:candidateGroups="petition_office"/>
    <bpmn:sequenceFlow id="f3" sourceRef="receive" targetRef="done"/>
    <bpmn:endEvent id="done" name="接待完毕"/>
  </bpmn:process>
</bpmn:definitions>
"""


def modeler_deploy(client: FlaskClient, files: dict[str, bytes]) -> Any:
    """What Modeler sends on "Deploy": its fields, then one part per file named by its file name."""
    data: dict[str, Any] = {
        "deployment-name": "visit_request",
        "deployment-source": "Camunda Modeler",
        "enable-duplicate-filtering": "true",
    }
    for name, content in files.items():
        data[name] = (io.BytesIO(content), name)
    return call(
        client,
        "POST",
        "/deployment/create",
        "designer",
        data=data,
        content_type="multipart/form-data",
        headers={"Accept": "application/json", "Origin": "null"},
    )


def message(client: FlaskClient, status: int = 200, **body: Any) -> Any:
    """POST /message as the designer (an integration's role), insisting on ``status``."""
    return ok(client, "POST", "/message", "designer", status=status, json=body)


def request_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(FORMS.iterdir())}


def test_start_and_task_forms_linked_by_app_keys_work_end_to_end(client: FlaskClient) -> None:
    deployed = modeler_deploy(client, request_files())
    assert deployed.status_code == 200, deployed.get_data(as_text=True)
    [definition] = deployed.get_json()["deployedProcessDefinitions"].values()
    key = definition["key"]
    assert key == "visit_request"

    # The start form as Tasklist reads it.
    link = ok(client, "GET", f"/process-definition/key/{key}/startForm", "designer")
    assert link["camundaFormRef"] == {"key": "request_apply", "binding": "latest", "version": None}
    schema = ok(client, "GET", f"/process-definition/key/{key}/deployed-start-form", "designer")
    assert schema["id"] == "request_apply"
    fields = ok(client, "GET", f"/process-definition/{definition['id']}/form-variables", "designer")
    assert fields["peopleCount"] == {"type": "Double", "value": None, "valueInfo": {}}

    # A bad start value is refused naming the field; nothing starts.
    bad = call(
        client,
        "POST",
        f"/process-definition/key/{key}/submit-form",
        "designer",
        json={"variables": {**GOOD_START, "peopleCount": {"value": 0, "type": "Integer"}}},
    )
    body = camunda_error(bad, 400, "FormFieldValidationException")
    assert "peopleCount" in body["message"] and set(body["details"]["fields"]) == {"peopleCount"}
    assert ok(
        client, "GET", "/history/process-instance/count", "admin", query_string={"processDefinitionKey": key}
    ) == {"count": 0}
    started = ok(
        client,
        "POST",
        f"/process-definition/key/{key}/submit-form",
        "designer",
        json={"variables": GOOD_START, "businessKey": "LF-1"},
    )
    assert started["businessKey"] == "LF-1" and started["ended"] is False
    instance_id = started["id"]

    [task] = ok(client, "GET", "/task", "office", query_string={"processInstanceId": instance_id})
    assert task["formKey"] == "camunda-forms:app:forms/request_review.form"
    assert task["camundaFormRef"] == {"key": "request_review", "binding": "latest", "version": None}
    assert ok(client, "GET", f"/task/{task['id']}/deployed-form", "office")["id"] == "request_review"
    ok(client, "POST", f"/task/{task['id']}/claim", "office", status=204, json={"userId": "office"})
    bad = call(
        client,
        "POST",
        f"/task/{task['id']}/submit-form",
        "office",
        json={"variables": {"decision": {"value": "maybe", "type": "String"}}},
    )
    body = camunda_error(bad, 400, "FormFieldValidationException")
    assert "decision" in body["message"]
    ok(
        client,
        "POST",
        f"/task/{task['id']}/submit-form",
        "office",
        status=204,
        json={"variables": {"decision": {"value": "approve", "type": "String"}}},
    )

    # History: the instance, its activities, its task and its variables.
    [instance] = ok(
        client, "GET", "/history/process-instance", "admin", query_string={"processInstanceId": instance_id}
    )
    assert (instance["state"], instance["businessKey"], instance["startUserId"]) == (
        "COMPLETED",
        "LF-1",
        "designer",
    )
    assert instance["endTime"] is not None and instance["durationInMillis"] >= 0
    activities = ok(
        client, "GET", "/history/activity-instance", "admin", query_string={"processInstanceId": instance_id}
    )
    assert [(a["activityId"], a["activityType"]) for a in activities] == [
        ("StartEvent_1", "startEvent"),
        ("Activity_review", "userTask"),
        ("Event_end", "noneEndEvent"),
    ]
    review = activities[1]
    assert (review["taskId"], review["assignee"], review["activityName"]) == (
        task["id"],
        "office",
        "审核申请",
    )
    assert review["endTime"] is not None and review["canceled"] is False
    count = ok(
        client,
        "GET",
        "/history/activity-instance/count",
        "admin",
        query_string={"processInstanceId": instance_id},
    )
    assert count == {"count": 3}
    [done] = ok(client, "GET", "/history/task", "admin", query_string={"processInstanceId": instance_id})
    assert (done["id"], done["taskDefinitionKey"], done["assignee"], done["taskState"]) == (
        task["id"],
        "Activity_review",
        "office",
        "Completed",
    )
    assert ok(
        client, "GET", "/history/task/count", "admin", query_string={"processInstanceId": instance_id}
    ) == {"count": 1}
    variables = ok(
        client, "GET", "/history/variable-instance", "admin", query_string={"processInstanceId": instance_id}
    )
    assert {v["name"]: (v["type"], v["value"]) for v in variables} == {
        "decision": ("String", "approve"),
        "peopleCount": ("Integer", 3),
        "request": ("String", "协调停车位"),
    }
    camunda_error(call(client, "GET", "/history/variable-instance", "admin"), 400)
    camunda_error(call(client, "GET", "/history/task", "office"), 403)


def test_deployment_binding_is_reported_as_deployment(client: FlaskClient) -> None:
    files = request_files()
    files["request.bpmn"] = files["request.bpmn"].replace(
        b'camunda:formKey="camunda-forms:app:forms/request_review.form"',
        b'camunda:formRef="request_review" camunda:formRefBinding="deployment"',
    )
    assert modeler_deploy(client, files).status_code == 200
    started = ok(
        client,
        "POST",
        "/process-definition/key/visit_request/start",
        "designer",
        json={"variables": GOOD_START},
    )
    [task] = ok(client, "GET", "/task", "office", query_string={"processInstanceId": started["id"]})
    assert task["camundaFormRef"] == {"key": "request_review", "binding": "deployment", "version": None}
    assert (
        ok(client, "GET", f"/task/{task['id']}/form", "office")["camundaFormRef"]["binding"] == "deployment"
    )


def test_an_embedded_form_key_is_refused_naming_the_task(client: FlaskClient) -> None:
    files = request_files()
    files["request.bpmn"] = files["request.bpmn"].replace(
        b"camunda-forms:app:forms/request_review.form", b"embedded:app:forms/review.html"
    )
    body = camunda_error(modeler_deploy(client, files), 400, "ParseException")
    assert body["message"].startswith("ENGINE-09005") and "Activity_review" in body["message"]
    assert body["details"]["request.bpmn"]["errors"][0]["mainElementId"] == "Activity_review"


def test_messages_start_and_reach_instances(client: FlaskClient) -> None:
    assert modeler_deploy(client, {"booking.bpmn": MESSAGES.encode()}).status_code == 200
    missing = call(client, "POST", "/message", "designer", json={"messageName": "visitorArrived"})
    assert "Cannot correlate" in camunda_error(missing, 400)["message"]
    started = message(
        client,
        messageName="visitBooked",
        businessKey="B-1",
        processVariables={"visitor": {"value": "王某", "type": "String"}},
        resultEnabled=True,
    )
    [result] = started
    assert result["resultType"] == "ProcessDefinition" and result["processInstance"]["businessKey"] == "B-1"
    instance_id = result["processInstance"]["id"]
    tree = ok(client, "GET", f"/process-instance/{instance_id}/activity-instances", "admin")
    assert [c["activityId"] for c in tree["childActivityInstances"]] == ["wait_arrival"]
    assert tree["activityType"] == "processDefinition" and tree["id"] == instance_id
    # A second booking: the arrival now needs narrowing, by business key or correlation keys.
    message(
        client,
        204,
        messageName="visitBooked",
        businessKey="B-2",
        processVariables={"visitor": {"value": "李某", "type": "String"}},
    )
    two = call(client, "POST", "/message", "designer", json={"messageName": "visitorArrived"})
    assert "2 executions" in camunda_error(two, 400)["message"]
    reached = message(
        client,
        messageName="visitorArrived",
        correlationKeys={"visitor": {"value": "王某", "type": "String"}},
        resultEnabled=True,
        variablesInResultEnabled=True,
    )
    assert [(r["resultType"], r["execution"]["processInstanceId"]) for r in reached] == [
        ("Execution", instance_id)
    ]
    assert reached[0]["variables"]["visitor"]["value"] == "王某"
    [task] = ok(client, "GET", "/task", "office", query_string={"processInstanceId": instance_id})
    assert task["taskDefinitionKey"] == "receive"
    message(client, 204, messageName="visitorArrived", businessKey="B-2")
    camunda_error(call(client, "POST", "/message", "office", json={"messageName": "visitBooked"}), 403)


def test_a_version_nobody_ran_can_be_removed(client: FlaskClient) -> None:
    deployed = modeler_deploy(client, {"booking.bpmn": MESSAGES.encode()}).get_json()
    ok(client, "DELETE", f"/deployment/{deployed['id']}", "designer", status=204)
    camunda_error(call(client, "GET", f"/deployment/{deployed['id']}", "designer"), 404)
    camunda_error(call(client, "GET", "/process-definition/key/visit_booking", "designer"), 404)
    again = modeler_deploy(client, {"booking.bpmn": MESSAGES.encode()}).get_json()
    message(client, 204, messageName="visitBooked")
    refused = call(client, "DELETE", f"/deployment/{again['id']}", "designer")
    assert "without cascading" in camunda_error(refused, 409)["message"]
    camunda_error(call(client, "DELETE", f"/deployment/{again['id']}", "office"), 403)


ERRORS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs_err" targetNamespace="http://petitionflow/test">
  <bpmn:error id="e_wrong" name="不属本机关" errorCode="NOT_OURS"/>
  <bpmn:process id="check_scope" name="职责审查" isExecutable="true" camunda:historyTimeToLive="180">
    <bpmn:startEvent id="start" name="开始"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check"/>
    <bpmn:userTask id="check" name="审查职责" camunda:candidateGroups="petition_office"/>
    <bpmn:boundaryEvent id="not_ours" name="不属本机关" attachedToRef="check">
      <bpmn:errorEventDefinition errorRef="e_wrong"/>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="handled"/>
    <bpmn:endEvent id="handled" name="已办理"/>
    <bpmn:sequenceFlow id="f3" sourceRef="not_ours" targetRef="transfer"/>
    <bpmn:userTask id="transfer" name="转送有权机关" camunda:candidateGroups="petition_office"/>
    <bpmn:sequenceFlow id="f4" sourceRef="transfer" targetRef="moved"/>
    <bpmn:endEvent id="moved" name="已转送"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_bpmn_error_from_a_task_takes_its_boundary_path(client: FlaskClient) -> None:
    assert modeler_deploy(client, {"scope.bpmn": ERRORS.encode()}).status_code == 200
    started = ok(client, "POST", "/process-definition/key/check_scope/start", "designer", json={})
    [task] = ok(client, "GET", "/task", "office", query_string={"processInstanceId": started["id"]})
    wrong = call(client, "POST", f"/task/{task['id']}/bpmnError", "office", json={"errorCode": "OTHER"})
    assert "OTHER" in camunda_error(wrong, 400)["message"]
    camunda_error(call(client, "POST", f"/task/{task['id']}/bpmnError", "office", json={}), 400)
    ok(
        client,
        "POST",
        f"/task/{task['id']}/bpmnError",
        "office",
        status=204,
        json={"errorCode": "NOT_OURS", "errorMessage": "属于市场监管部门职责"},
    )
    [moved] = ok(client, "GET", "/task", "office", query_string={"processInstanceId": started["id"]})
    assert moved["taskDefinitionKey"] == "transfer"
    [old] = ok(
        client,
        "GET",
        "/history/task",
        "admin",
        query_string={"processInstanceId": started["id"], "taskDefinitionKey": "check"},
    )
    assert old["taskState"] == "Deleted"


def test_a_process_with_only_a_message_start_starts_there_when_started_by_hand(client: FlaskClient) -> None:
    assert modeler_deploy(client, {"booking.bpmn": MESSAGES.encode()}).status_code == 200
    started = ok(client, "POST", "/process-definition/key/visit_booking/start", "designer", json={})
    tree = ok(client, "GET", f"/process-instance/{started['id']}/activity-instances", "admin")
    assert [c["activityId"] for c in tree["childActivityInstances"]] == ["wait_arrival"]
    message(client, 204, messageName="visitorArrived", processInstanceId=started["id"])
    [task] = ok(client, "GET", "/task", "office", query_string={"processInstanceId": started["id"]})
    assert task["taskDefinitionKey"] == "receive"
