"""The REST API endpoint by endpoint: what each answers, and who may call it (engine/policy.py).

Every test runs on a fresh deployed engine (SQLite and PostgreSQL) with the demo office; requests sign in
with HTTP Basic unless they test another way of signing in.
"""

from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from engine.runtime import Engine
from tests.api_helpers import MISSING_TASK, Api, assert_error, basic
from tests.test_petitions import REGISTRATION
from webapi import secret_key

pytest_plugins = ("tests.api_helpers",)

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
FULL_ID, FULL_PHONE = REGISTRATION["idNumber"], REGISTRATION["phone"]
MASKED_ID, MASKED_PHONE = "500***********1238", "138****8000"


@pytest.fixture
def reviewing(api: Api) -> dict[str, Any]:
    """A registered petition whose registration check is done: the acceptance review is open for the office."""
    number = api.register()["number"]
    api.as_("registrar").do(number, "register_check")
    task = api.as_("office").task_at(number, "acceptance_review")
    return {"number": number, "task": task["id"], "instance": task["instanceId"]}


# -- signing in --------------------------------------------------------------------------------------------------


def test_me_names_the_caller_with_roles_and_groups(api: Api) -> None:
    me = api.as_("office").ok("GET", "/api/me")
    assert me == {
        "username": "office",
        "displayName": "信访局 李强",
        "roles": ["handler"],
        # Their county-wide group and the unit role they hold in the organisation.
        "groups": ["petition_office", "unit:county.xfj:petition_officer"],
        "unit": "区信访局",
        "units": ["county.xfj"],
        "positions": [{"unit": "county.xfj", "position": "petition_officer"}],
    }


def test_wrong_password_and_garbled_basic_header_are_401(api: Api) -> None:
    response = api.anonymous.get("/api/me", headers=basic("office", "wrong"))
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert_error(api.anonymous.get("/api/me", headers={"Authorization": "Basic %%%"}), 401)
    assert_error(api.anonymous.get("/api/me", headers=basic("nobody")), 401)


def test_session_cookie_signs_in_and_out(api: Api) -> None:
    client: FlaskClient = api.app.test_client()
    assert_error(client.post("/api/session", json={"username": "leader", "password": "nope"}), 401)
    signed_in = client.post("/api/session", json={"username": "leader", "password": "leader"})
    assert signed_in.status_code == 200 and signed_in.get_json()["roles"] == ["leader"]
    assert client.get("/api/me").get_json()["username"] == "leader"
    assert client.delete("/api/session").get_json() == {"ok": True}
    assert_error(client.get("/api/me"), 401)


def test_bearer_token_acts_as_its_owner(api: Api) -> None:
    token = api.as_("handler").ok("POST", "/api/tokens", 201, json={"name": "script"})["token"]
    me = api.anonymous.ok("GET", "/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me["username"] == "handler"
    assert_error(api.anonymous.get("/api/me", headers={"Authorization": "Bearer not-a-token"}), 401)


# -- petitions ---------------------------------------------------------------------------------------------------


def test_registrar_registers_a_petition_and_its_intake_starts(api: Api) -> None:
    petition = api.register()
    assert petition["number"] == "XF2026-000001"
    assert (petition["status"], petition["registeredBy"], petition["petitionerName"]) == (
        "in_progress",
        "registrar",
        "张三",
    )
    assert petition["instanceId"] and len(petition["firstTasks"]) == 1
    task = api.as_("registrar").ok("GET", f"/api/tasks/{petition['firstTasks'][0]}")
    assert (task["elementId"], task["formRef"], task["businessKey"]) == (
        "register_check",
        "intake_check",
        "XF2026-000001",
    )


def test_invalid_registration_names_every_bad_field(api: Api) -> None:
    bad = {**REGISTRATION, "petitionerName": "", "phone": "12345", "channel": "pigeon", "category": "gossip"}
    body = assert_error(api.as_("registrar").post("/api/petitions", json=bad), 422, "validation_failed")
    assert set(body["details"]["fields"]) == {"petitionerName", "phone", "channel", "category"}
    assert api.as_("registrar").ok("GET", "/api/petitions") == []


def test_registration_check_warns_of_a_repeat_before_saving(api: Api) -> None:
    registrar = api.as_("registrar")
    fresh = registrar.ok("POST", "/api/petitions/check", json=REGISTRATION)
    assert (fresh["isRepeat"], fresh["warning"]) == (False, None)
    first = api.register()["number"]
    again = registrar.ok("POST", "/api/petitions/check", json=REGISTRATION)
    assert (again["isRepeat"], again["sameMatterPending"], again["previousNumber"]) == (True, True, first)
    assert again["warning"] == "同一事项正在办理期限内"
    assert len(registrar.ok("GET", "/api/petitions")) == 1  # checking stores nothing


def test_petition_search_filters_and_pages(api: Api) -> None:
    api.register()
    api.register(petitionerName="李四", idNumber="110101199003074514", subject="物业费收费标准不合理")
    leader = api.as_("leader")
    assert [p["petitionerName"] for p in leader.ok("GET", "/api/petitions?petitioner=李")] == ["李四"]
    assert len(leader.ok("GET", "/api/petitions?status=in_progress")) == 2
    assert leader.ok("GET", "/api/petitions?status=closed") == []
    assert [p["number"] for p in leader.ok("GET", "/api/petitions?limit=1")] == ["XF2026-000002"]
    assert [p["number"] for p in leader.ok("GET", "/api/petitions?limit=1&offset=1")] == ["XF2026-000001"]
    assert len(leader.ok("GET", "/api/petitions?involvedUnit=区住房城乡建委")) == 2
    assert leader.ok("GET", "/api/petitions?unit=county.zjw") == []  # no unit answers for them yet
    assert len(leader.ok("GET", "/api/petitions?number=XF2026-000001")) == 1
    assert_error(leader.get("/api/petitions?status=lost"), 422)


def test_petition_detail_has_its_procedure_deadlines_and_timeline(api: Api, reviewing: dict) -> None:
    detail = api.as_("registrar").ok("GET", f"/api/petitions/{reviewing['number']}")
    assert detail["number"] == reviewing["number"] and detail["registeredAt"].startswith("2026-11-02T01:00")
    assert [i["definitionKey"] for i in detail["instances"]] == ["petition_intake"]
    assert "acceptance_review" in detail["instances"][0]["activeElements"]
    assert "acceptance" in [d["name"] for d in detail["deadlines"]]
    done = [
        (e["kind"], e["elementId"], e["actor"]) for e in detail["timeline"] if e["kind"] == "task.completed"
    ]
    assert done == [("task.completed", "register_check", "registrar")]
    assert_error(api.as_("registrar").get("/api/petitions/XF1999-000999"), 404, "not_found")


def test_handler_sees_a_petition_only_while_it_has_a_task_of_theirs(api: Api) -> None:
    number = api.register()["number"]
    # Outside the handler's jurisdiction the petition is as unknown as a number never issued.
    assert_error(api.as_("handler").get(f"/api/petitions/{number}"), 404, "not_found")
    office = api.as_("office")
    api.as_("registrar").do(number, "register_check")
    office.ok("GET", f"/api/petitions/{number}")  # the acceptance review is offered to the office
    office.do(number, "acceptance_review", acceptanceDecision="accept", category="suggestion")
    office.do(number, "notice_acceptance")
    assert api.as_("handler").ok("GET", f"/api/petitions/{number}")["number"] == number


# -- masking -----------------------------------------------------------------------------------------------------


def test_roles_working_with_the_petitioner_see_id_and_phone_in_full(api: Api) -> None:
    number = api.register()["number"]
    for user in ("registrar", "leader", "admin"):
        caller = api.as_(user)
        [listed] = caller.ok("GET", "/api/petitions")
        detail = caller.ok("GET", f"/api/petitions/{number}")
        for petition in (listed, detail):
            assert (petition["idNumber"], petition["phone"]) == (FULL_ID, FULL_PHONE), user
        started = next(e for e in detail["timeline"] if e["kind"] == "instance.started")
        assert started["data"]["variables"]["idNumber"] == FULL_ID


def test_handler_sees_id_and_phone_in_full_on_their_task(api: Api) -> None:
    number = api.accepted_suggestion()
    handler = api.as_("handler")
    task = handler.ok("GET", f"/api/tasks/{handler.task_at(number, 'study_suggestion')['id']}")
    assert (task["variables"]["idNumber"], task["variables"]["phone"]) == (FULL_ID, FULL_PHONE)
    detail = handler.ok("GET", f"/api/petitions/{number}")
    assert (detail["idNumber"], detail["phone"]) == (FULL_ID, FULL_PHONE)


def test_supervisor_sees_id_and_phone_masked_everywhere(api: Api, reviewing: dict) -> None:
    supervisor = api.as_("supervisor")
    [listed] = supervisor.ok("GET", "/api/petitions")
    detail = supervisor.ok("GET", f"/api/petitions/{reviewing['number']}")
    for petition in (listed, detail):
        assert (petition["idNumber"], petition["phone"]) == (MASKED_ID, MASKED_PHONE)
    for event in detail["timeline"]:
        data = event["data"] or {}
        for values in (data, data.get("variables") or {}):
            assert FULL_ID not in str(values) and FULL_PHONE not in str(values), event
    task = supervisor.ok("GET", f"/api/tasks/{reviewing['task']}")
    assert (task["variables"]["idNumber"], task["variables"]["phone"]) == (MASKED_ID, MASKED_PHONE)
    instance = supervisor.ok("GET", f"/api/instances/{reviewing['instance']}")
    assert (instance["variables"]["idNumber"], instance["variables"]["phone"]) == (MASKED_ID, MASKED_PHONE)
    assert FULL_ID not in str(instance["history"]) and FULL_PHONE not in str(instance["history"])


def test_designer_sees_id_and_phone_masked_in_instances(api: Api, reviewing: dict) -> None:
    instance = api.as_("designer").ok("GET", f"/api/instances/{reviewing['instance']}")
    assert (instance["variables"]["idNumber"], instance["variables"]["phone"]) == (MASKED_ID, MASKED_PHONE)
    assert FULL_ID not in str(instance) and FULL_PHONE not in str(instance)


# -- tasks -------------------------------------------------------------------------------------------------------


def test_task_lists_show_each_user_their_own_and_their_groups_tasks(api: Api, reviewing: dict) -> None:
    number = reviewing["number"]
    assert [t["elementId"] for t in api.as_("office").tasks()] == ["acceptance_review"]
    assert api.as_("registrar").tasks() == [] and api.as_("handler").tasks() == []
    assert [t["id"] for t in api.as_("supervisor").tasks()] == [reviewing["task"]]
    assert [t["id"] for t in api.as_("office").tasks(candidateGroup="petition_office")] == [reviewing["task"]]
    assert api.as_("office").tasks(businessKey="XF1999-000001") == []
    assert [t["businessKey"] for t in api.as_("admin").tasks(businessKey=number)] == [number]
    assert api.as_("admin").tasks(mine="true") == []
    api.as_("office").claim(reviewing["task"])
    assert [t["assignee"] for t in api.as_("office").tasks(assignee="office")] == ["office"]
    assert api.as_("supervisor").tasks(unassigned="true") == []


def test_task_detail_has_its_form_and_variables(api: Api, reviewing: dict) -> None:
    task = api.as_("office").ok("GET", f"/api/tasks/{reviewing['task']}")
    assert (task["elementId"], task["formRef"], task["candidateGroups"]) == (
        "acceptance_review",
        "intake_acceptance",
        ["petition_office"],
    )
    assert task["form"]["id"] == "intake_acceptance" and task["form"]["components"]
    assert task["variables"]["petitionNumber"] == reviewing["number"]
    assert_error(api.as_("office").get(f"/api/tasks/{MISSING_TASK}"), 404, "not_found")


def test_handler_cannot_see_or_claim_another_groups_task(api: Api, reviewing: dict) -> None:
    handler, task = api.as_("handler"), reviewing["task"]
    assert reviewing["task"] not in [t["id"] for t in handler.tasks()]
    # Outside the handler's jurisdiction (the office's step, no unit of theirs) the task and its case are
    # answered as unknown ids (404); a list of another group's tasks is refused (403).
    assert_error(handler.get(f"/api/tasks/{task}"), 404, "not_found")
    assert_error(handler.post(f"/api/tasks/{task}/claim", json={"userId": "handler"}), 404)
    assert_error(handler.get("/api/tasks?candidateGroup=petition_office"), 403)
    assert_error(handler.get(f"/api/instances/{reviewing['instance']}"), 404)


def test_claim_unclaim_and_a_second_claimant(api: Api, reviewing: dict) -> None:
    office, task = api.as_("office"), reviewing["task"]
    assert_error(office.post(f"/api/tasks/{task}/claim", json={"userId": "registrar"}), 403)
    result = office.claim(task)
    assert result["instanceId"] == reviewing["instance"] and result["state"] == "active"
    office.claim(task)  # claiming again for yourself is harmless
    body = assert_error(api.as_("admin").post(f"/api/tasks/{task}/claim", json={"userId": "admin"}), 409)
    assert body["details"]["assignee"] == "office"
    assert_error(api.as_("registrar").post(f"/api/tasks/{task}/unclaim"), 403)
    office.ok("POST", f"/api/tasks/{task}/unclaim")
    assert office.ok("GET", f"/api/tasks/{task}")["assignee"] is None


def test_a_task_no_longer_open_answers_409_and_an_unknown_one_404(api: Api, reviewing: dict) -> None:
    office, task = api.as_("office"), reviewing["task"]
    office.claim(task)
    office.ok(
        "POST", f"/api/tasks/{task}/complete", json={"variables": office.form_data("intake_acceptance")}
    )
    # A colleague who claims or completes it a moment later is told it is done, not that it never existed.
    body = assert_error(api.as_("admin").post(f"/api/tasks/{task}/claim", json={"userId": "admin"}), 409)
    assert body["details"] == {"task": task} and body["message"] == "任务已办结或已撤销"
    assert_error(office.post(f"/api/tasks/{task}/complete", json={"variables": {}}), 409, "conflict")
    assert_error(office.get(f"/api/tasks/{task}"), 404, "not_found")  # reading it: there is no open task
    assert_error(office.post(f"/api/tasks/{MISSING_TASK}/claim", json={"userId": "office"}), 404, "not_found")
    assert_error(office.get("/api/tasks/not-a-task-id"), 404, "not_found")


def test_completing_a_task_you_have_not_claimed_is_refused(api: Api, reviewing: dict) -> None:
    office, task = api.as_("office"), reviewing["task"]
    data = {"variables": office.form_data("intake_acceptance")}
    body = assert_error(office.post(f"/api/tasks/{task}/complete", json=data), 409, "conflict")
    assert body["message"] == "请先认领此任务"
    api.as_("admin").ok("POST", f"/api/tasks/{task}/claim", json={"userId": "admin"})
    assert_error(office.post(f"/api/tasks/{task}/complete", json=data), 409, "conflict")
    assert office.ok("GET", f"/api/tasks/{task}")["id"] == task


def test_completing_with_bad_form_data_names_every_bad_field(api: Api, reviewing: dict) -> None:
    office, task = api.as_("office"), reviewing["task"]
    office.claim(task)
    # Missing, of the wrong type, and not a date: each named, all at once.
    bad = {"acceptanceDecision": "litigation", "transferTo": 5, "noticeDate": "2026-13-45"}
    body = assert_error(office.post(f"/api/tasks/{task}/complete", json={"variables": bad}), 422)
    assert body["error"] == "validation_failed" and body["details"]["form"] == "intake_acceptance"
    fields = body["details"]["fields"]
    assert set(fields) == {"decisionReason", "transferTo", "noticeDate"}
    assert all(isinstance(messages, list) and messages for messages in fields.values())
    office.complete(task, office.form_data("intake_acceptance", acceptanceDecision="litigation"))
    assert [t["elementId"] for t in office.tasks()] == ["transfer_political_legal"]


def test_bad_variable_names_are_refused_with_fields(api: Api, reviewing: dict) -> None:
    office, task = api.as_("office"), reviewing["task"]
    office.claim(task)
    body = assert_error(office.post(f"/api/tasks/{task}/complete", json={"variables": {"1bad": 1}}), 400)
    assert body["error"] == "invalid_input" and list(body["details"]["fields"]) == ["1bad"]


def test_supervisor_reads_every_task_but_cannot_act_on_others(api: Api, reviewing: dict) -> None:
    supervisor, task = api.as_("supervisor"), reviewing["task"]
    assert supervisor.ok("GET", f"/api/tasks/{task}")["elementId"] == "acceptance_review"
    assert supervisor.ok("GET", f"/api/instances/{reviewing['instance']}")["state"] == "active"
    assert_error(supervisor.post(f"/api/tasks/{task}/claim", json={"userId": "supervisor"}), 403)
    api.as_("office").claim(task)
    data = {"variables": supervisor.form_data("intake_acceptance")}
    assert_error(supervisor.post(f"/api/tasks/{task}/complete", json=data), 403, "forbidden")
    assert_error(supervisor.post(f"/api/tasks/{task}/comments", json={"text": "快办"}), 403)
    # ... but a supervisor may hand a task to someone else and release it.
    assigned = supervisor.ok("POST", f"/api/tasks/{task}/assign", json={"userId": "admin"})
    assert assigned["instanceId"] == reviewing["instance"]
    assert supervisor.ok("GET", f"/api/tasks/{task}")["assignee"] == "admin"
    supervisor.ok("POST", f"/api/tasks/{task}/assign", json={"userId": None})
    assert supervisor.ok("GET", f"/api/tasks/{task}")["assignee"] is None


def test_comments_are_kept_in_the_history(api: Api, reviewing: dict) -> None:
    office, task = api.as_("office"), reviewing["task"]
    office.ok("POST", f"/api/tasks/{task}/comments", json={"text": "已电话联系信访人"})
    assert_error(office.post(f"/api/tasks/{task}/comments", json={"text": ""}), 422)
    history = office.ok("GET", f"/api/instances/{reviewing['instance']}")["history"]
    [note] = [e for e in history if e["kind"] == "task.comment"]
    assert (note["actor"], note["data"]) == ("office", {"text": "已电话联系信访人"})


# -- instances ---------------------------------------------------------------------------------------------------


def test_instances_list_and_detail(api: Api, reviewing: dict) -> None:
    for user in ("supervisor", "designer", "admin"):
        [row] = api.as_(user).ok("GET", "/api/instances")
        assert (row["id"], row["businessKey"], row["state"]) == (
            reviewing["instance"],
            reviewing["number"],
            "active",
        )
    supervisor = api.as_("supervisor")
    assert supervisor.ok("GET", "/api/instances?state=completed") == []
    assert len(supervisor.ok("GET", "/api/instances?definitionKey=petition_intake")) == 1
    detail = api.as_("office").ok("GET", f"/api/instances/{reviewing['instance']}")
    assert [t["elementId"] for t in detail["tasks"]] == ["acceptance_review"]
    assert detail["variables"]["petitionNumber"] == reviewing["number"]
    assert detail["history"][0]["kind"] == "instance.started"
    assert_error(supervisor.get("/api/instances/no-such-instance"), 404, "not_found")


def test_supervisor_suspends_resumes_and_cancels(api: Api, reviewing: dict) -> None:
    supervisor, instance = api.as_("supervisor"), reviewing["instance"]
    assert supervisor.ok("POST", f"/api/instances/{instance}/suspend")["state"] == "suspended"
    assert_error(supervisor.post(f"/api/instances/{instance}/suspend"), 409, "invalid_state")
    assert supervisor.ok("POST", f"/api/instances/{instance}/resume")["state"] == "active"
    assert_error(supervisor.post(f"/api/instances/{instance}/resume"), 409)
    cancelled = supervisor.ok("POST", f"/api/instances/{instance}/cancel", json={"reason": "重复登记"})
    assert cancelled["state"] == "cancelled"
    assert_error(supervisor.post(f"/api/instances/{instance}/cancel", json={}), 409)
    assert supervisor.ok("GET", f"/api/petitions/{reviewing['number']}")["status"] == "cancelled"
    assert_error(supervisor.post("/api/instances/nope/suspend"), 404)


# -- definitions and deployments ---------------------------------------------------------------------------------


def upload(*files: tuple[str, bytes], name: str = "api test") -> dict[str, Any]:
    return {"files": [(io.BytesIO(content), filename) for filename, content in files], "name": name}


def shipped(*names: str) -> list[tuple[str, bytes]]:
    return [(name, (ROOT / "workflows" / name).read_bytes()) for name in names]


def test_definitions_their_versions_and_xml(api: Api) -> None:
    handler = api.as_("handler")
    definitions = handler.ok("GET", "/api/definitions")
    keys = {d["key"] for d in definitions}
    assert {"petition_intake", "ordinary_handling", "hearing", "three_tier_transfer"} <= keys
    intake = next(d for d in definitions if d["key"] == "petition_intake")
    assert (intake["version"], intake["latest"], intake["resource"]) == (1, True, "petition_intake.bpmn")
    assert "intake_check" in intake["formRefs"] and intake["deploymentId"]
    assert handler.ok("GET", f"/api/definitions/{intake['id']}") == intake
    xml = handler.get(f"/api/definitions/{intake['id']}/xml")
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    assert b'id="petition_intake"' in xml.data
    assert_error(handler.get("/api/definitions/nope"), 404)
    assert_error(handler.get("/api/definitions/nope/xml"), 404)


def test_designer_deploys_workflow_files(api: Api) -> None:
    designer = api.as_("designer")
    text = (ROOT / "workflows" / "supervision.bpmn").read_text(encoding="utf-8")
    changed = text.replace('name="超期督办"', 'name="超期督办（第二版）"')
    files = [*shipped("petition_intake.bpmn"), ("supervision.bpmn", changed.encode())]
    result = designer.ok(
        "POST", "/api/deployments", 201, data=upload(*files), content_type="multipart/form-data"
    )
    assert (result["name"], result["created"]) == ("api test", True)
    versions = {d["key"]: (d["version"], d["new"]) for d in result["definitions"]}
    assert versions["supervision"] == (2, True)
    assert versions["petition_intake"][1] is False  # unchanged: the deployed version is kept
    latest = {d["key"]: d["version"] for d in designer.ok("GET", "/api/definitions") if d["latest"]}
    assert latest["supervision"] == 2


def test_a_broken_diagram_is_refused_naming_file_line_and_element(api: Api) -> None:
    text = (ROOT / "workflows" / "petition_intake.bpmn").read_text(encoding="utf-8")
    broken = text.replace('camunda:formRef="intake_suggestion_reply"', 'camunda:formRef="no_such_form"')
    line = next(i for i, row in enumerate(broken.splitlines(), 1) if 'id="study_suggestion"' in row)
    files = upload(("petition_intake.bpmn", broken.encode()))
    response = api.as_("designer").post("/api/deployments", data=files, content_type="multipart/form-data")
    body = assert_error(response, 400, "deployment_invalid")
    [problem] = body["details"]["problems"]
    assert (problem["file"], problem["line"], problem["element"]) == (
        "petition_intake.bpmn",
        line,
        "study_suggestion",
    )
    assert "no_such_form" in problem["message"]
    checked = api.as_("designer").ok(
        "POST",
        "/api/deployments/validate",
        data=upload(("petition_intake.bpmn", broken.encode())),
        content_type="multipart/form-data",
    )
    assert checked == {"valid": False, "problems": [problem]}
    intake = [d for d in api.as_("designer").ok("GET", "/api/definitions") if d["key"] == "petition_intake"]
    assert [d["version"] for d in intake] == [1]


def test_deployment_uploads_are_checked(api: Api) -> None:
    designer = api.as_("designer")
    good = designer.ok(
        "POST",
        "/api/deployments/validate",
        data=upload(*shipped("hearing.bpmn")),
        content_type="multipart/form-data",
    )
    assert good == {"valid": True, "problems": []}
    empty = designer.post("/api/deployments", data={"name": "x"}, content_type="multipart/form-data")
    assert list(assert_error(empty, 422)["details"]["fields"]) == ["files"]
    other = designer.post(
        "/api/deployments", data=upload(("notes.txt", b"hello")), content_type="multipart/form-data"
    )
    [problem] = assert_error(other, 400, "deployment_invalid")["details"]["problems"]
    assert problem["file"] == "notes.txt"
    stray = {**upload(*shipped("hearing.bpmn")), "extra": "1"}
    assert (
        "extra"
        in assert_error(
            designer.post("/api/deployments", data=stray, content_type="multipart/form-data"), 400
        )["details"]["fields"]
    )


def test_a_deployment_of_forms_only_adds_a_form_version(api: Api) -> None:
    text = (ROOT / "forms" / "intake_notice.form").read_text(encoding="utf-8")
    changed = text.replace('"id": "intake_notice"', '"id": "intake_notice_v2"', 1)
    result = api.as_("designer").ok(
        "POST",
        "/api/deployments",
        201,
        data=upload(("intake_notice_v2.form", changed.encode())),
        content_type="multipart/form-data",
    )
    assert (result["created"], result["definitions"], result["forms"]) == (True, [], {"intake_notice_v2": 1})


# -- metrics, escalations, calendar ------------------------------------------------------------------------------


def test_metrics_count_registrations_per_unit_and_month(api: Api) -> None:
    api.register()
    [row] = api.as_("leader").ok("GET", "/api/metrics")
    # By the unit answering for the item (none yet while it is registered), not the unit complained about.
    assert (row["unit"], row["month"], row["registered"]) == ("(未指定)", "2026-11", 1)
    [row] = api.as_("leader").ok("GET", "/api/metrics?byInvolvedUnit=true&byUnit=false")
    assert (row["unit"], row["involvedUnit"], row["registered"]) == ("all", "区住房城乡建委", 1)
    assert api.as_("supervisor").ok("GET", "/api/metrics?since=2027-01-01") == []
    assert_error(api.as_("supervisor").get("/api/metrics?since=yesterday"), 422)


def test_escalations_list_and_filter(api: Api, reviewing: dict, deployed: Engine, clock) -> None:
    clock.advance(days=14)  # the acceptance deadline (15 days) is near: the ladder warns
    assert deployed.escalations.run()["warning"] == 1
    [warning] = api.as_("leader").ok("GET", "/api/escalations")
    assert (warning["kind"], warning["businessKey"], warning["deadline"]) == (
        "warning",
        reviewing["number"],
        "acceptance",
    )
    # Under the responsible unit (none before acceptance), the unit complained about in the details.
    assert warning["unit"] is None and warning["due"] and warning["reason"]
    assert warning["details"]["involvedUnit"] == "区住房城乡建委"
    supervisor = api.as_("supervisor")
    assert len(supervisor.ok("GET", f"/api/escalations?kind=warning&businessKey={reviewing['number']}")) == 1
    assert supervisor.ok("GET", "/api/escalations?kind=supervision") == []
    assert supervisor.ok("GET", "/api/escalations?unit=区城管局") == []
    assert_error(supervisor.get("/api/escalations?kind=scolding"), 422)


def test_calendar_years_and_an_operator_year(api: Api, deployed: Engine) -> None:
    handler = api.as_("handler")
    years = {y["year"]: y for y in handler.ok("GET", "/api/calendar/years")}
    assert 2026 in years and years[2026]["holidays"] > 0
    year = handler.ok("GET", "/api/calendar/years/2026")
    assert year["holidays"]["2026-10-01"] == "国庆节"
    assert_error(handler.get("/api/calendar/years/1900"), 404)
    schedule = {
        "year": 2099,
        "source": "国务院办公厅通知（测试）",
        "holidays": {"2099-01-01": "元旦"},
        "adjusted_workdays": {"2099-01-04": "元旦"},
    }
    assert_error(api.as_("admin").put("/api/calendar/years/2098", json=schedule), 400, "invalid_input")
    summary = api.as_("admin").ok("PUT", "/api/calendar/years/2099", json=schedule)
    assert (summary["year"], summary["holidays"], summary["adjustedWorkdays"]) == (2099, 1, 1)
    assert (deployed.settings.instance_path / "calendar" / "2099.json").exists()
    assert handler.ok("GET", "/api/calendar/years/2099")["holidays"] == {"2099-01-01": "元旦"}


# -- what each role must not do ----------------------------------------------------------------------------------

# (method, path, json): {number}, {task} and {instance} are the reviewing fixture's; the task is the office's.
DENIED: dict[str, list[tuple[str, str, Any]]] = {
    "registrar": [
        ("POST", "/api/tasks/{task}/claim", {"userId": "registrar"}),
        ("GET", "/api/tasks/{task}", None),
        ("GET", "/api/instances", None),
        ("POST", "/api/instances/{instance}/suspend", None),
        ("POST", "/api/tasks/{task}/assign", {"userId": "registrar"}),
        ("POST", "/api/deployments", None),
        ("GET", "/api/metrics", None),
        ("GET", "/api/escalations", None),
        ("PUT", "/api/calendar/years/2099", {"year": 2099}),
    ],
    "handler": [
        ("POST", "/api/petitions", REGISTRATION),
        ("POST", "/api/petitions/check", REGISTRATION),
        ("POST", "/api/escalations/supervisions", {"businessKey": "{number}", "reason": "long_unresolved"}),
        ("POST", "/api/instances/{instance}/cancel", {}),
        ("POST", "/api/deployments", None),
        ("GET", "/api/metrics", None),
    ],
    "leader": [
        ("POST", "/api/petitions", REGISTRATION),
        ("POST", "/api/tasks/{task}/claim", {"userId": "leader"}),
        ("GET", "/api/instances", None),
        ("POST", "/api/instances/{instance}/suspend", None),
        ("POST", "/api/tasks/{task}/assign", {"userId": "leader"}),
        ("POST", "/api/deployments/validate", None),
    ],
    "supervisor": [
        ("POST", "/api/petitions", REGISTRATION),
        ("POST", "/api/tasks/{task}/claim", {"userId": "supervisor"}),
        ("POST", "/api/tasks/{task}/complete", {"variables": {}}),
        ("POST", "/api/tasks/{task}/comments", {"text": "督办"}),
        ("POST", "/api/deployments", None),
        ("PUT", "/api/calendar/years/2099", {"year": 2099}),
    ],
    "designer": [
        ("GET", "/api/petitions", None),
        ("GET", "/api/petitions/{number}", None),
        ("POST", "/api/petitions", REGISTRATION),
        ("GET", "/api/tasks/{task}", None),
        ("POST", "/api/tasks/{task}/claim", {"userId": "designer"}),
        ("POST", "/api/instances/{instance}/cancel", {}),
        ("GET", "/api/metrics", None),
        ("GET", "/api/escalations", None),
        ("PUT", "/api/calendar/years/2099", {"year": 2099}),
    ],
}


# What lies outside a role's jurisdiction is answered as unknown (404), not refused (docs/security.md).
UNKNOWN: dict[str, list[tuple[str, str, Any]]] = {
    "handler": [
        ("GET", "/api/petitions/{number}", None),
        ("GET", "/api/tasks/{task}", None),
        ("POST", "/api/tasks/{task}/claim", {"userId": "handler"}),
        ("POST", "/api/tasks/{task}/complete", {"variables": {}}),
        ("GET", "/api/instances/{instance}", None),
    ],
}


@pytest.mark.parametrize("role", sorted(DENIED))
def test_each_role_is_refused_what_it_must_not_do(api: Api, reviewing: dict, role: str) -> None:
    caller = api.as_(role)
    for method, template, body in UNKNOWN.get(role, []):
        assert_error(caller.open(method, template.format(**reviewing), json=body), 404, "not_found")
    for method, template, body in DENIED[role]:
        path = template.format(**reviewing)
        kwargs: dict[str, Any] = {"json": body} if body is not None else {}
        if path.startswith("/api/deployments"):
            kwargs = {"data": upload(*shipped("hearing.bpmn")), "content_type": "multipart/form-data"}
        response = caller.open(method, path, **kwargs)
        assert response.status_code == 403, f"{role} {method} {path}: {response.status_code}"
        assert_error(response, 403, "forbidden")
    # Nothing of it happened.
    assert api.as_("admin").ok("GET", f"/api/tasks/{reviewing['task']}")["assignee"] is None
    assert api.as_("admin").ok("GET", f"/api/instances/{reviewing['instance']}")["state"] == "active"
    assert len(api.as_("admin").ok("GET", "/api/petitions")) == 1


def test_admin_may_do_everything_but_take_or_finish_someone_elses_task(api: Api, reviewing: dict) -> None:
    admin, task = api.as_("admin"), reviewing["task"]
    data = {"variables": admin.form_data("intake_acceptance")}
    assert_error(admin.post(f"/api/tasks/{task}/complete", json=data), 409)  # not claimed
    api.as_("office").claim(task)
    assert_error(admin.post(f"/api/tasks/{task}/claim", json={"userId": "admin"}), 409)
    assert_error(admin.post(f"/api/tasks/{task}/complete", json=data), 409)
    invalid = {**REGISTRATION, "idType": "passport_of_atlantis"}
    assert_error(admin.post("/api/petitions", json=invalid), 422)
    assert admin.ok("GET", f"/api/tasks/{task}")["assignee"] == "office"


# Every operation the document does not declare public; path parameters as the document names them.
PROTECTED = [
    ("GET", "/api/me"),
    ("PUT", "/api/me/password"),
    ("POST", "/api/tokens"),
    ("GET", "/api/tokens"),
    ("DELETE", "/api/tokens/{token_handle}"),
    ("GET", "/api/petitions"),
    ("POST", "/api/petitions"),
    ("POST", "/api/petitions/check"),
    ("GET", "/api/petitions/{number}"),
    ("POST", "/api/petitions/{number}/evaluation"),
    ("POST", "/api/petitions/{number}/review-requests"),
    ("POST", "/api/petitions/{number}/withdrawal"),
    ("POST", "/api/petitions/{number}/extension-requests"),
    ("POST", "/api/petitions/{number}/links"),
    ("POST", "/api/petitions/{number}/merge"),
    ("POST", "/api/petitions/{number}/split"),
    ("GET", "/api/tasks"),
    ("GET", "/api/tasks/{task_id}"),
    ("POST", "/api/tasks/{task_id}/claim"),
    ("POST", "/api/tasks/{task_id}/unclaim"),
    ("POST", "/api/tasks/{task_id}/assign"),
    ("POST", "/api/tasks/{task_id}/complete"),
    ("POST", "/api/tasks/{task_id}/comments"),
    ("GET", "/api/instances"),
    ("GET", "/api/instances/{instance_id}"),
    ("POST", "/api/instances/{instance_id}/suspend"),
    ("POST", "/api/instances/{instance_id}/resume"),
    ("POST", "/api/instances/{instance_id}/cancel"),
    ("GET", "/api/definitions"),
    ("GET", "/api/definitions/{definition_id}"),
    ("GET", "/api/definitions/{definition_id}/xml"),
    ("DELETE", "/api/definitions/{definition_id}"),
    ("POST", "/api/definitions/{definition_id}/dry-run"),
    ("POST", "/api/deployments"),
    ("POST", "/api/deployments/validate"),
    ("GET", "/api/metrics"),
    ("GET", "/api/escalations"),
    ("POST", "/api/escalations/supervisions"),
    ("GET", "/api/filters"),
    ("POST", "/api/filters"),
    ("DELETE", "/api/filters/{filter_id}"),
    ("GET", "/api/calendar/status"),
    ("GET", "/api/calendar/years"),
    ("GET", "/api/calendar/years/{year}"),
    ("PUT", "/api/calendar/years/{year}"),
    ("GET", "/api/vocabulary"),
    ("GET", "/api/units"),
    ("POST", "/api/units"),
    ("GET", "/api/units/{code}"),
    ("PUT", "/api/units/{code}"),
    ("GET", "/api/units/{code}/staff"),
    ("POST", "/api/units/{code}/members"),
    ("DELETE", "/api/units/{code}/members/{login}/{position}"),
    ("GET", "/api/users"),
    ("POST", "/api/users"),
    ("GET", "/api/users/{login}"),
    ("PUT", "/api/users/{login}"),
    ("GET", "/api/petitions/export"),
    ("GET", "/api/petitions/{number}/attachments"),
    ("POST", "/api/petitions/{number}/attachments"),
    ("GET", "/api/petitions/{number}/attachments/{attachment_id}/content"),
    ("GET", "/api/petitions/{number}/documents"),
    ("POST", "/api/petitions/{number}/documents"),
    ("GET", "/api/petitions/{number}/documents/{document_id}/content"),
    ("POST", "/api/petitions/{number}/documents/{document_id}/service"),
    ("GET", "/api/petitions/{number}/case-file"),
    ("GET", "/api/tasks/export"),
    ("POST", "/api/tasks/{task_id}/complete-with-files"),
    ("GET", "/api/metrics/export"),
    ("GET", "/api/admin/outbox"),
    ("POST", "/api/admin/outbox/{message_id}"),
    ("GET", "/api/incidents"),
    ("POST", "/api/incidents/retry"),
    ("POST", "/api/incidents/{incident_id}/retry"),
    ("POST", "/api/instances/{instance_id}/modification"),
    ("POST", "/api/instances/{instance_id}/move-back"),
    ("GET", "/api/migrations"),
    ("POST", "/api/migrations"),
    ("GET", "/api/migrations/{batch_id}"),
    ("GET", "/api/notifications"),
    ("GET", "/api/notifications/count"),
    ("POST", "/api/notifications/read"),
    ("GET", "/api/notifications/email"),
    ("PUT", "/api/notifications/email"),
]


def test_anonymous_callers_get_401_everywhere(api: Api, reviewing: dict) -> None:
    paths = api.anonymous.ok("GET", "/api/openapi.json")["paths"]
    documented = {
        (method.upper(), path)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if method in ("get", "post", "put", "delete", "patch") and operation.get("security") != []
    }
    assert documented == set(PROTECTED)
    definition = api.as_("admin").ok("GET", "/api/definitions")[0]["id"]
    values = {
        "number": reviewing["number"],
        "task_id": reviewing["task"],
        "instance_id": reviewing["instance"],
        "definition_id": definition,
        "year": "2026",
        "token_handle": "0123456789abcdef",
        "code": "county.zjw",
        "login": "handler",
        "position": "handler",
        "attachment_id": 1,
        "document_id": 1,
        "message_id": "1",
        "incident_id": 1,
        "filter_id": 1,
        "batch_id": "1",
    }
    for method, template in PROTECTED:
        response = api.anonymous.open(method, template.format(**values), json={})
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == 'Basic realm="petitionflow"'
    for path in ("/healthz", "/api/openapi.json"):
        assert api.anonymous.get(path).status_code == 200


def test_the_generated_secret_key_is_one_whole_key_for_every_process(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: secret_key(tmp_path), range(32)))
    assert len(keys) == 1 and re.fullmatch(r"[0-9a-f]{64}", keys.pop())
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]
