"""The page views without a browser: shells, sign-in redirects, role checks, the vendor whitelist, the page-view
JSON (deployed form schema, cases waiting per element, bpmnlint) and the headers every page carries."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from engine import bpmnlint
from engine.queries import TaskFilter, list_tasks
from engine.runtime import Engine
from engine.testing import FORM_DATA
from tests.test_petitions import REGISTRATION
from webapi import create_app

DATA = Path(__file__).parent / "data"


@pytest.fixture
def app(deployed: Engine) -> Any:
    deployed.accounts.seed_demo()
    return create_app(deployed)


@pytest.fixture
def client(app: Any) -> Iterator[FlaskClient]:
    with app.test_client() as client:
        # As a browser does on every POST of the pages' own scripts: the cookie alone proves no origin (CSRF).
        client.environ_base["HTTP_ORIGIN"] = "http://localhost"
        yield client


def open_tasks(engine: Engine) -> list[Any]:
    with engine.db.reading() as session:
        return list_tasks(session, TaskFilter())


def sign_in(client: FlaskClient, username: str) -> None:
    response = client.post("/api/session", json={"username": username, "password": username})
    assert response.status_code == 200, response.json


def test_pages_send_strangers_to_the_login_and_back(client: FlaskClient) -> None:
    response = client.get("/tasks?overdue=true")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/tasks?overdue%3Dtrue"
    login = client.get("/login?next=/tasks")
    assert login.status_code == 200 and 'data-next="/tasks"' in login.text
    # Only paths on this site: no open redirect through the login.
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        assert 'data-next=""' in client.get("/login", query_string={"next": target}).text
    assert client.get("/").headers["Location"] == "/login"


def test_each_role_lands_on_its_page_and_sees_its_navigation(client: FlaskClient) -> None:
    for username, landing in (
        ("registrar", "/register"),
        ("office", "/tasks"),
        ("supervisor", "/cockpit"),
        ("designer", "/designer"),
        ("admin", "/cockpit"),
    ):
        sign_in(client, username)
        assert client.get("/").headers["Location"] == landing, username
        assert client.get("/login").headers["Location"] == landing
    sign_in(client, "office")
    html = client.get("/tasks").text
    assert "我的待办" in html and "流程设计" not in html and "监控中心" not in html
    assert 'lang="zh-CN"' in html


def test_a_page_for_another_role_is_refused_with_a_page_saying_which(client: FlaskClient) -> None:
    sign_in(client, "office")
    response = client.get("/designer")
    assert response.status_code == 403
    assert "无权访问" in response.text and "流程设计" in response.text
    assert "js/forbidden.js" in response.text and "js/designer.js" not in response.text


def page_context(html: str) -> dict[str, Any]:
    """The JSON the server hands each page's script (who is signed in, the engine's clock, the page's ids)."""
    found = re.search(r'<script type="application/json" id="pf-context">(.*?)</script>', html, re.DOTALL)
    assert found, "the page carries no pf-context"
    return json.loads(found.group(1))


def test_every_page_shell_renders_with_its_script_and_a_strict_policy(
    client: FlaskClient, deployed: Engine
) -> None:
    sign_in(client, "admin")
    for path, script, heading, ids in (
        ("/tasks", "tasks", "我的待办", {}),
        ("/tasks/some-task", "task", "任务办理", {"taskId": "some-task"}),
        ("/register", "register", "信访事项登记", {}),
        ("/petitions", "petitions", "信访事项查询", {}),
        ("/petitions/XF2026-000001", "petition", "信访事项 XF2026-000001", {"number": "XF2026-000001"}),
        ("/cockpit", "cockpit", "监控中心", {}),
        ("/cockpit/processes?id=intake:1", "processes", "流程监控", {"definitionId": "intake:1"}),
        ("/cockpit/escalations", "escalations", "预警督办", {}),
        ("/cockpit/metrics", "metrics", "统计分析", {}),
        ("/instances/some-instance", "instance", "流程实例", {"instanceId": "some-instance"}),
        ("/designer", "designer", "流程设计与部署", {}),
        ("/definitions/some-definition", "definition", "流程定义", {"definitionId": "some-definition"}),
        ("/admin/organisation", "organisation", "组织机构管理", {}),
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert f"/static/js/{script}.js" in response.text, path
        # Its own heading, and what the server told its script: this page, this user, the engine's clock, its ids.
        assert re.search(rf"<h1[^>]*>{heading}</h1>", response.text), path
        context = page_context(response.text)
        assert (context["page"], context["user"]["username"], context["now"]) == (
            script,
            "admin",
            deployed.now().isoformat(),
        ), path
        assert {key: context.get(key) for key in ids} == ids, path
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy, path
        assert "http" not in response.text.split("<body")[0].replace("http-equiv", ""), path


def test_vendor_files_come_from_node_modules_through_a_whitelist(client: FlaskClient) -> None:
    for path in (
        "/static/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js",
        "/static/vendor/bpmn-js/assets/diagram-js.css",
        "/static/vendor/bpmn-js/assets/bpmn-js.css",
        "/static/vendor/form-js/form-viewer.umd.js",
        "/static/vendor/form-js/assets/form-js.css",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"].startswith("public, max-age=")
        response.close()
    for path in (
        "/static/vendor/bpmn-js/bpmn-modeler.production.min.js",
        "/static/vendor/bpmn-js/../package.json",
        "/static/vendor/bpmn-js/%2e%2e/package.json",
        "/static/vendor/bpmnlint/bin/bpmnlint.js",
        "/static/vendor/form-js/assets/../../package.json",
    ):
        assert client.get(path).status_code == 404, path


def test_vendor_files_missing_say_how_to_install_them(app: Any, tmp_path: Path) -> None:
    app.config["NODE_MODULES"] = str(tmp_path)
    with app.test_client() as client:
        response = client.get("/static/vendor/form-js/form-viewer.umd.js")
    assert response.status_code == 404 and "make setup" in response.text


def test_the_deployed_registration_form_is_served_to_signed_in_users(client: FlaskClient) -> None:
    assert client.get("/ui/forms/intake_registration").status_code == 401
    sign_in(client, "registrar")
    body = client.get("/ui/forms/intake_registration").json
    assert (body["key"], body["version"], body["schema"]["id"]) == (
        "intake_registration",
        1,
        "intake_registration",
    )
    missing = client.get("/ui/forms/no_such_form")
    assert missing.status_code == 404 and missing.json["error"] == "not_found"


def test_a_page_fetch_gets_401_without_the_basic_challenge(client: FlaskClient) -> None:
    plain = client.get("/api/me")
    assert plain.status_code == 401 and plain.headers["WWW-Authenticate"].startswith("Basic")
    fetched = client.get("/api/me", headers={"X-Requested-With": "XMLHttpRequest"})
    assert fetched.status_code == 401 and "WWW-Authenticate" not in fetched.headers


def test_waiting_counts_tasks_timers_and_instances_per_element(client: FlaskClient, deployed: Engine) -> None:
    sign_in(client, "office")
    assert client.get("/ui/waiting").status_code == 403
    _, first = deployed.petitions.register(REGISTRATION, actor="registrar")
    deployed.petitions.register({**REGISTRATION, "subject": "物业费收费标准不合理"}, actor="registrar")
    (check,) = [t for t in open_tasks(deployed) if t.instance_id == first.instance_id]
    deployed.claim(check.id, "registrar")
    deployed.complete(check.id, FORM_DATA["intake_check"], actor="registrar")
    sign_in(client, "supervisor")
    body = client.get("/ui/waiting").json
    rows = {(r["definitionId"].split(":")[0], r["elementId"]): r for r in body["elements"]}
    counts = ("tasks", "unclaimed", "overdue", "timers", "instances")
    assert tuple(rows[("petition_intake", "register_check")][c] for c in counts) == (1, 1, 0, 0, 1)
    assert tuple(rows[("petition_intake", "acceptance_review")][c] for c in counts) == (1, 1, 0, 0, 1)
    (timer,) = [r for r in body["elements"] if r["timers"]]
    assert timer["timers"] == 1 and timer["nextTimer"].startswith("2026-11-1")
    definition = timer["definitionId"]
    only = client.get("/ui/waiting", query_string={"definitionId": definition}).json["elements"]
    assert only and {r["definitionId"] for r in only} == {definition}
    assert client.get("/ui/waiting", query_string={"definitionId": "nope"}).json["elements"] == []


def test_bpmnlint_reports_the_problems_of_an_uploaded_diagram(client: FlaskClient) -> None:
    sign_in(client, "registrar")
    assert client.post("/ui/lint", data={}).status_code == 403
    sign_in(client, "designer")
    content = (DATA / "broken_intake.bpmn").read_bytes()
    body = client.post(
        "/ui/lint",
        data={"files": [(BytesIO(content), "../../etc/broken.bpmn"), (BytesIO(b"{}"), "x.form")]},
        content_type="multipart/form-data",
    ).json
    if not body["available"]:
        pytest.skip(body["message"])
    (result,) = body["results"]
    assert result["file"] == "../../etc/broken.bpmn" and result["ok"] is False and result["message"] is None
    assert {(p["element"], p["rule"], p["severity"]) for p in result["problems"]} == {
        ("decide", "label-required", "error"),
        ("f_no", "label-required", "error"),
    }
    garbage = client.post(
        "/ui/lint", data={"files": [(BytesIO(b"not xml"), "bad.bpmn")]}, content_type="multipart/form-data"
    ).json["results"][0]
    assert garbage["ok"] is False and (garbage["message"] or garbage["problems"]), garbage


def test_bpmnlint_without_node_says_so(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bpmnlint.shutil, "which", lambda name: None)
    sign_in(client, "designer")
    body = client.post(
        "/ui/lint",
        data={"files": [(BytesIO(b"<x/>"), "a.bpmn")]},
        content_type="multipart/form-data",
    ).json
    assert body["available"] is False and "Node.js" in body["message"] and body["results"] == []


def test_bpmnlint_that_hangs_is_stopped(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def hang(*args: Any, **kwargs: Any) -> Any:
        raise bpmnlint.subprocess.TimeoutExpired(args[0], kwargs.get("timeout", 0))

    monkeypatch.setattr(bpmnlint.subprocess, "run", hang)
    monkeypatch.setattr(bpmnlint, "command", lambda node_modules: (["node", "bpmnlint.js"], None))
    sign_in(client, "designer")
    body = client.post(
        "/ui/lint", data={"files": [(BytesIO(b"<x/>"), "a.bpmn")]}, content_type="multipart/form-data"
    ).json
    assert body["available"] is True and "中止" in body["results"][0]["message"]
