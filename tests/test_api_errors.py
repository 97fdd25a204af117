"""One error shape for every failure, and never a 500 for bad input.

Malformed JSON, bodies of the wrong kind, values of the wrong type, unknown or non-UUID ids, out-of-range
paging, unknown routes and methods: each is a 4xx in the shape ``{"error", "message", "details"}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from engine.clock import install
from engine.models import Instance
from engine.runtime import Engine
from engine.testing import FORM_DATA
from tests.api_helpers import MISSING_TASK, Api, assert_error, basic
from tests.test_petitions import REGISTRATION
from webapi.cli import main as cli

# The registration check with every item of the registration corrected: each of its fields is validated.
_CHECK = json.loads((Path(__file__).resolve().parents[1] / "forms" / "intake_check.form").read_text("utf-8"))
EVERYTHING_CORRECTED: dict[str, Any] = {
    **FORM_DATA["intake_registration"],
    "checkResult": "corrected",
    "correctedItems": [
        option["value"]
        for c in _CHECK["components"]
        if c.get("key") == "correctedItems"
        for option in c["values"]
    ],
}

pytest_plugins = ("tests.api_helpers",)

JSON_ENDPOINTS = [
    ("POST", "/api/session"),
    ("POST", "/api/tokens"),
    ("POST", "/api/petitions"),
    ("POST", "/api/petitions/check"),
    ("POST", "/api/tasks/{task}/claim"),
    ("POST", "/api/tasks/{task}/assign"),
    ("POST", "/api/tasks/{task}/complete"),
    ("POST", "/api/tasks/{task}/comments"),
    ("POST", "/api/instances/{instance}/cancel"),
    ("PUT", "/api/calendar/years/2099"),
]
ODD_IDS = [
    "not-a-uuid",
    MISSING_TASK,
    "00000000-0000-0000-0000-00000000000g",
    "x" * 5000,
    "%00",
    "'; drop table task; --",
    "信访",
    "..%2F..%2Fetc",
]
PAGED = ["/api/tasks", "/api/petitions", "/api/instances", "/api/escalations"]


@pytest.fixture
def ids(api: Api) -> dict[str, str]:
    number = api.register()["number"]
    task = api.as_("registrar").task_at(number, "register_check")
    api.as_("admin").claim(task["id"])
    return {"number": number, "task": task["id"], "instance": task["instanceId"]}


def test_malformed_json_is_400_on_every_json_endpoint(api: Api, ids: dict[str, str]) -> None:
    for method, template in JSON_ENDPOINTS:
        response = api.as_("admin").open(
            method, template.format(**ids), data="{not json", content_type="application/json"
        )
        body = assert_error(response, 400, "bad_request")
        assert "json" in body["details"]["fields"], (template, body)


def test_a_body_that_is_not_an_object_is_a_4xx(api: Api, ids: dict[str, str]) -> None:
    for payload in ([1, 2], "text", 42, None, True):
        for method, template in JSON_ENDPOINTS:
            if payload is None and template in ("/api/tokens", "/api/instances/{instance}/cancel"):
                continue  # a JSON null body is no body, and these take an optional one
            response = api.as_("admin").open(method, template.format(**ids), json=payload)
            assert response.status_code in (400, 422), (template, payload, response.status_code)
            assert_error(response, response.status_code)


WRONG_TYPES = [
    ("/api/tasks/{task}/claim", {"userId": 5}, "userId"),
    ("/api/tasks/{task}/claim", {"userId": ""}, "userId"),
    ("/api/tasks/{task}/claim", {}, "userId"),
    ("/api/tasks/{task}/assign", {"userId": ["a"]}, "userId"),
    ("/api/tasks/{task}/complete", {"variables": [1]}, "variables"),
    ("/api/tasks/{task}/complete", {"variables": "x"}, "variables"),
    ("/api/tasks/{task}/complete", {"variables": {}, "extra": 1}, "extra"),
    ("/api/tasks/{task}/comments", {"text": {"a": 1}}, "text"),
    ("/api/tasks/{task}/comments", {"text": "x" * 4001}, "text"),
    ("/api/instances/{instance}/cancel", {"reason": 7}, "reason"),
    ("/api/session", {"username": 1, "password": None}, "username"),
    ("/api/tokens", {"name": 1.5}, "name"),
]


def test_wrong_types_are_422_naming_the_field(api: Api, ids: dict[str, str]) -> None:
    for template, body, field in WRONG_TYPES:
        response = api.as_("admin").post(template.format(**ids), json=body)
        assert field in assert_error(response, 422)["details"]["fields"], (template, body)


ODD_VALUES = [None, 0, -1, 1.5, True, [], ["a"], {}, {"a": 1}, "", " ", "x" * 10_000, "\u0000", "😀"]


def test_a_registration_field_of_any_type_is_a_field_error_never_a_500(api: Api) -> None:
    registrar = api.as_("registrar")
    for field in sorted(REGISTRATION):
        for value in ODD_VALUES:
            response = registrar.post("/api/petitions", json={**REGISTRATION, field: value})
            assert response.status_code in (201, 422), (field, value, response.status_code)
            if response.status_code == 422:
                assert field in assert_error(response, 422, "validation_failed")["details"]["fields"]


def test_form_data_of_any_type_is_a_field_error_never_a_500(api: Api, ids: dict[str, str]) -> None:
    admin, task = api.as_("admin"), ids["task"]
    valid = admin.form_data("intake_check", **EVERYTHING_CORRECTED)
    for field in sorted(valid):
        for value in ODD_VALUES:
            response = admin.post(f"/api/tasks/{task}/complete", json={"variables": {**valid, field: value}})
            if response.status_code == 200:  # the form lets this value through: go on with a fresh task
                number = api.register()["number"]
                task = admin.task_at(number, "register_check")["id"]
                admin.claim(task)
                continue
            fields = assert_error(response, 422, "validation_failed")["details"]["fields"]
            # The odd value is named, or it changed which fields the form shows (hasAgent=0 shows the agent's).
            assert fields and all(isinstance(m, list) for m in fields.values()), (field, value, fields)


def test_unknown_and_malformed_ids_are_404(api: Api) -> None:
    admin = api.as_("admin")
    for odd in ODD_IDS:
        for method, path, body in [
            ("GET", f"/api/tasks/{odd}", None),
            ("POST", f"/api/tasks/{odd}/claim", {"userId": "admin"}),
            ("POST", f"/api/tasks/{odd}/unclaim", None),
            ("POST", f"/api/tasks/{odd}/assign", {"userId": "admin"}),
            ("POST", f"/api/tasks/{odd}/complete", {"variables": {}}),
            ("POST", f"/api/tasks/{odd}/comments", {"text": "hi"}),
            ("GET", f"/api/instances/{odd}", None),
            ("POST", f"/api/instances/{odd}/suspend", None),
            ("POST", f"/api/instances/{odd}/resume", None),
            ("POST", f"/api/instances/{odd}/cancel", {}),
            ("GET", f"/api/petitions/{odd}", None),
            ("GET", f"/api/definitions/{odd}", None),
            ("GET", f"/api/definitions/{odd}/xml", None),
        ]:
            response = admin.open(method, path, json=body)
            assert_error(response, 404)


def test_paging_out_of_range_or_not_a_number_is_422(api: Api) -> None:
    admin = api.as_("admin")
    for path in PAGED:
        for query in [
            "limit=0",
            "limit=-1",
            "limit=501",
            f"limit={10**30}",
            "limit=abc",
            "limit=1.5",
            "offset=-1",
        ]:
            body = assert_error(admin.get(f"{path}?{query}"), 422, "unprocessable_entity")
            assert set(body["details"]["fields"]) <= {"limit", "offset"}, body
        for query in ["limit=1", "limit=500", "offset=1000000"]:
            assert admin.ok("GET", f"{path}?{query}") is not None
        assert_error(admin.get(f"{path}?offset={10**30}"), 422)


def test_query_filters_of_the_wrong_type_are_422(api: Api) -> None:
    admin = api.as_("admin")
    for path in ["/api/tasks?overdue=maybe", "/api/tasks?mine=2", "/api/petitions?overdue=x"]:
        assert_error(admin.get(path), 422)
    for path in [
        "/api/instances?state=sleeping",
        "/api/metrics?until=31-12-2026",
        "/api/metrics?byUnit=perhaps",
    ]:
        assert_error(admin.get(path), 422)


def test_unknown_routes_and_methods_answer_in_the_error_shape(api: Api) -> None:
    assert_error(api.as_("admin").get("/api/nothing-here"), 404, "not_found")
    response = api.as_("admin").open("DELETE", "/api/tasks")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_a_body_over_the_size_limit_is_413_in_the_error_shape(api: Api) -> None:
    api.app.config["MAX_CONTENT_LENGTH"] = 1024
    response = api.as_("registrar").post("/api/petitions", json={**REGISTRATION, "facts": "x" * 4096})
    assert_error(response, 413)


def test_a_form_body_where_json_is_expected_is_a_field_error(api: Api, ids: dict[str, str]) -> None:
    response = api.as_("admin").post(f"/api/tasks/{ids['task']}/claim", data={"userId": "admin"})
    assert "userId" in assert_error(response, 422)["details"]["fields"]


def test_nul_characters_are_refused_before_they_reach_the_database(api: Api, ids: dict[str, str]) -> None:
    """PostgreSQL text cannot hold U+0000; it is a field error (or an unknown id), never a 500."""
    admin = api.as_("admin")
    body = assert_error(admin.post("/api/petitions", json={**REGISTRATION, "subject": "a\u0000b"}), 422)
    assert body["details"]["fields"] == {"subject": ["text may not contain NUL characters (U+0000)"]}
    nested = admin.post(f"/api/tasks/{ids['task']}/complete", json={"variables": {"facts": "\u0000"}})
    assert list(assert_error(nested, 422)["details"]["fields"]) == ["variables.facts"]
    assert "petitioner" in assert_error(admin.get("/api/petitions?petitioner=%00"), 422)["details"]["fields"]
    assert_error(admin.get("/api/petitions/XF2026-%00"), 404)
    login = api.anonymous.post("/api/session", json={"username": "\u0000", "password": "x"})
    assert "username" in assert_error(login, 422)["details"]["fields"]
    assert_error(api.anonymous.get("/api/me", headers=basic("\u0000admin", "admin")), 401)
    assert_error(api.anonymous.get("/api/petitions?petitioner=%00"), 401)  # strangers learn nothing more


# -- hostile input: each of these answered 500 ------------------------------------------------------------------
def json_text(template: dict[str, Any], raw: str) -> str:
    """``template`` as JSON with its "RAW" value replaced by ``raw``, JSON text no Python value dumps to."""
    return json.dumps(template).replace('"RAW"', raw)


def camunda_error(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    body = response.get_json()
    assert set(body) >= {"type", "message"} and body["type"].endswith("Exception"), body
    return body


def test_deeply_nested_json_is_400_even_before_signing_in(api: Api, ids: dict[str, str]) -> None:
    """The standard parser recursed once per bracket: 100,000 of them exhausted the stack (RecursionError)."""
    deep = "[" * 100_000 + "]" * 100_000
    body = assert_error(
        api.anonymous.post("/api/petitions", data=deep, content_type="application/json"), 400, "bad_request"
    )
    assert "嵌套超过 64 层" in body["message"] and body["details"]["fields"]["json"]
    response = api.as_("admin").post(
        "/engine-rest/task", data=json_text({"assignee": "RAW"}, deep), content_type="application/json"
    )
    assert "嵌套" in camunda_error(response, 400)["message"]
    # Nesting the interpreter could still parse (200 levels) is refused as well, at the place it starts.
    just_deeper = json_text({"variables": {"facts": "RAW"}}, "[" * 200 + "]" * 200)
    response = api.as_("admin").post(
        f"/api/tasks/{ids['task']}/complete", data=just_deeper, content_type="application/json"
    )
    assert "variables.facts" in assert_error(response, 400)["message"]


def test_integers_of_thousands_of_digits_are_400(api: Api, ids: dict[str, str]) -> None:
    """Python refuses to convert more than 4,300 digits to int (ValueError, not a JSON error)."""
    digits = "1" * 5000
    response = api.as_("admin").post(
        f"/api/tasks/{ids['task']}/claim",
        data=json_text({"userId": "RAW"}, digits),
        content_type="application/json",
    )
    assert "位数超过" in assert_error(response, 400, "bad_request")["message"]
    response = api.as_("supervisor").post(
        f"/engine-rest/task/{ids['task']}/assignee",
        data=json_text({"userId": "RAW"}, digits),
        content_type="application/json",
    )
    camunda_error(response, 400)


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
def test_numbers_json_has_no_room_for_are_400(api: Api, raw: str) -> None:
    response = api.as_("registrar").post(
        "/api/petitions",
        data=json_text({**REGISTRATION, "peopleCount": "RAW"}, raw),
        content_type="application/json",
    )
    assert raw.lstrip("-")[:3] in assert_error(response, 400, "bad_request")["message"]


def test_lone_surrogates_are_400_naming_the_field(api: Api, ids: dict[str, str]) -> None:
    """ "\\ud800" is valid JSON but no valid text: PostgreSQL and the UTF-8 response could not hold it."""
    response = api.as_("supervisor").post(
        f"/engine-rest/task/{ids['task']}/assignee",
        data=json.dumps({"userId": "a\ud800"}),
        content_type="application/json",
    )
    assert "userId" in camunda_error(response, 400)["message"]
    response = api.as_("registrar").post(
        "/api/petitions",
        data=json.dumps({**REGISTRATION, "subject": "\udfff"}),
        content_type="application/json",
    )
    assert "subject" in assert_error(response, 400, "bad_request")["message"]
    response = api.as_("admin").post(
        f"/api/tasks/{ids['task']}/complete",
        data=json.dumps({"variables": {"\ud800": 1}}),
        content_type="application/json",
    )
    assert "variables" in assert_error(response, 400)["message"]
    assert api.as_("admin").get(f"/api/tasks/{ids['task']}").get_json()["assignee"] == "admin"


def test_a_query_that_is_not_utf8_is_400(api: Api) -> None:
    """Werkzeug decodes the query strictly the first time a view reads it."""
    for path in ("/api/tasks", "/engine-rest/task"):
        response = api.as_("admin").get(path, environ_overrides={"QUERY_STRING": "assignee=\xed\xa0\x80"})
        assert response.status_code == 400, (path, response.status_code)


def test_nul_characters_under_engine_rest_and_ui_are_refused(api: Api) -> None:
    """PostgreSQL refuses NUL in text; the native API refused it up front, the Camunda one and the pages' JSON
    did not."""
    for path, query in [
        ("/engine-rest/task", {"assignee": "\x00"}),
        ("/engine-rest/process-instance", {"businessKey": "a\x00"}),
    ]:
        camunda_error(api.as_("admin").get(path, query_string=query), 400)
    response = api.as_("admin").post("/engine-rest/task", json={"assignee": "\x00"})
    camunda_error(response, 400)
    # The pages' own JSON reads the database too.
    assert_error(api.as_("admin").get("/ui/waiting", query_string={"definitionId": "\x00"}), 422)
    assert_error(api.as_("admin").get("/ui/forms/a%00b"), 404)


def test_overlong_text_in_camunda_queries_is_400(api: Api, ids: dict[str, str]) -> None:
    """SQLite refuses a LIKE pattern over 50,000 bytes with an error of its own (once there are rows)."""
    for path, name in [
        ("/engine-rest/task", "nameLike"),
        ("/engine-rest/process-instance", "businessKeyLike"),
        ("/engine-rest/deployment", "nameLike"),
    ]:
        body = camunda_error(api.as_("admin").get(path, query_string={name: "信" * 20_000}), 400)
        assert name in body["message"]
    response = api.as_("admin").post("/engine-rest/task", json={"nameLike": "%" * 60_000})
    camunda_error(response, 400)


HUGE_NUMBERS = [1e308, -1e308, 2**53, "1e308", "-1e308", "9" * 5000, "-" + "9" * 400]


def test_number_fields_out_of_range_are_a_field_error(api: Api, ids: dict[str, str]) -> None:
    """1e308 reached the form's increment check, where Decimal raised InvalidOperation; 5,000 digits as text
    reached int()."""
    for value in HUGE_NUMBERS:
        response = api.as_("registrar").post("/api/petitions", json={**REGISTRATION, "peopleCount": value})
        fields = assert_error(response, 422, "validation_failed")["details"]["fields"]
        # (A count that large also shows the representatives field, which is then missing.)
        assert "超出" in fields["peopleCount"][0], (value, fields)
    admin = api.as_("admin")
    valid = admin.form_data("intake_check", **EVERYTHING_CORRECTED)
    response = admin.post(
        f"/api/tasks/{ids['task']}/complete", json={"variables": {**valid, "peopleCount": 1e308}}
    )
    assert "peopleCount" in assert_error(response, 422)["details"]["fields"]


@pytest.mark.parametrize("received", ["0001-01-01", "1999-12-31"])
def test_a_receipt_date_before_2000_is_refused_naming_the_field(api: Api, received: str) -> None:
    response = api.as_("registrar").post("/api/petitions", json={**REGISTRATION, "receivedAt": received})
    fields = assert_error(response, 422, "validation_failed")["details"]["fields"]
    assert fields == {"receivedAt": ["收到日期不能早于 2000-01-01"]}
    assert api.as_("registrar").get("/api/petitions").get_json() == []
    assert api.register(receivedAt="2000-01-01")["number"] == "XF2000-000001"


def run_cli(deployed: Engine, monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    """The command line on the test's database; its engine installs the real clock, so ours comes back after."""
    monkeypatch.setenv("DATABASE_URL", deployed.settings.database_url)
    monkeypatch.setenv("PETITIONFLOW_INSTANCE", str(deployed.settings.instance_path))
    try:
        return cli(list(argv))
    finally:
        install(deployed.clock)


def test_no_procedure_starts_under_an_item_number_from_outside_the_registry(
    api: Api, ids: dict[str, str], deployed: Engine, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """A designer's start under an item's number put a forged procedure and task in that petition's timeline."""
    designer = api.as_("designer")
    for key in (ids["number"], "XF2026-999999"):
        response = designer.post(
            "/engine-rest/process-definition/key/petition_intake/start", json={"businessKey": key}
        )
        assert camunda_error(response, 409)["message"].endswith(key)
    assert len(api.as_("admin").get(f"/api/petitions/{ids['number']}").get_json()["instances"]) == 1
    started = designer.post(
        "/engine-rest/process-definition/key/petition_intake/start", json={"businessKey": "试运行-1"}
    )
    assert started.status_code == 200, started.get_data(as_text=True)
    # The command line refuses it the same way.
    assert run_cli(deployed, monkeypatch, "start", "petition_intake", "--business-key", ids["number"]) == 1
    assert ids["number"] in capsys.readouterr().err
    with deployed.db.reading() as session:
        assert session.scalar(select(func.count()).where(Instance.business_key == ids["number"])) == 1


def test_tasks_go_only_to_user_names_that_exist(
    api: Api, ids: dict[str, str], deployed: Engine, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    admin, task = api.as_("admin"), ids["task"]
    for path, user in [("claim", "ghost"), ("assign", "nobody")]:
        body = assert_error(admin.post(f"/api/tasks/{task}/{path}", json={"userId": user}), 404, "not_found")
        assert body["details"] == {"user": user} and user in body["message"]
    for path in ("claim", "assignee"):
        response = admin.post(f"/engine-rest/task/{task}/{path}", json={"userId": "ghost"})
        assert "ghost" in camunda_error(response, 404)["message"]
    assert admin.get(f"/api/tasks/{task}").get_json()["assignee"] == "admin"
    admin.ok("POST", f"/api/tasks/{task}/assign", json={"userId": None})  # nobody at all is still fine
    assert run_cli(deployed, monkeypatch, "claim", task, "ghost") == 1
    assert "ghost" in capsys.readouterr().err
    assert admin.get(f"/api/tasks/{task}").get_json()["assignee"] is None
