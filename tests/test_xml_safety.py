"""XML the service reads and serves: no DOCTYPE anywhere, one parser for uploads and stored rows, and stored
files served so that nothing in them can run in a user's browser."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from sqlalchemy import select, update

from engine.definitions import DeployFile
from engine.errors import DeploymentInvalid, NotFound
from engine.models import ProcessDefinition, Resource
from engine.runtime import Engine
from tests.api_helpers import Api, assert_error, basic
from tests.helpers import DATA, with_text

CHILD = (DATA / "child.bpmn").read_text()
PARENT = (DATA / "parent.bpmn").read_text()
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
# Each a line of its own after the XML declaration, so the problem must name line 2.
HOSTILE_PROLOGS = {
    "external parameter entity": '<!DOCTYPE d [<!ENTITY % q SYSTEM "http://127.0.0.1:9/x.dtd"> %q;]>',
    "external DTD": '<!DOCTYPE bpmn:definitions SYSTEM "file:///etc/passwd">',
    "entity expansion": '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    "stylesheet": '<?xml-stylesheet type="text/xsl" href="http://127.0.0.1:9/run.xsl"?>',
}
MODELER = DATA / "modeler"
# bpmn:documentation may hold any element (BPMN 2.0 XSD); browsers run an XHTML script element in any XML file.
SCRIPT_IN_DOCUMENTATION = (
    (MODELER / "modeler_demo.bpmn")
    .read_text()
    .replace(
        "<bpmn:documentation>",
        '<bpmn:documentation><x:script xmlns:x="http://www.w3.org/1999/xhtml">'
        'document.documentElement.setAttribute("data-script-ran", "yes"); fetch("/healthz?script-ran")</x:script>',
        1,
    )
)


def with_script_in_documentation(name: str) -> list[DeployFile]:
    """The Modeler example with a script in its documentation, deployed as ``name``, and its form."""
    form = "modeler_demo_review.form"
    return [with_text(name, SCRIPT_IN_DOCUMENTATION), DeployFile(form, (MODELER / form).read_bytes())]


pytest_plugins = ("tests.api_helpers",)

# The database plays no part in what these check; the stored-row test runs on both.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def hostile(text: str, prolog: str) -> str:
    assert text.startswith(DECLARATION)
    return DECLARATION + prolog + "\n" + text[len(DECLARATION) :]


def stored_before_the_fix(engine: Engine, key: str, content: str) -> None:
    """What a row deployed by an earlier release looks like: the content its laxer parser accepted."""
    with engine.db.transaction() as session:
        resource_id = session.scalar(
            select(ProcessDefinition.resource_id).where(ProcessDefinition.key == key)
        )
        session.execute(update(Resource).where(Resource.id == resource_id).values(content=content))


@SQLITE_ONLY
@pytest.mark.parametrize("prolog", list(HOSTILE_PROLOGS.values()), ids=list(HOSTILE_PROLOGS))
def test_validate_and_deploy_refuse_a_doctype_or_stylesheet_naming_the_line(
    engine: Engine, prolog: str
) -> None:
    files = [with_text("child.bpmn", hostile(CHILD, prolog))]
    [problem] = engine.validate(files)
    assert (problem.file, problem.line) == ("child.bpmn", 2)
    assert ("DOCTYPE" if "DOCTYPE" in prolog else "xml-stylesheet") in problem.message
    assert str(problem).startswith("child.bpmn:2: ")
    with pytest.raises(DeploymentInvalid):
        engine.deploy(files)
    with pytest.raises(NotFound):
        engine.start("child")


def test_a_stored_diagram_the_parser_refuses_is_skipped_and_never_stops_a_deploy(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    engine.deploy([with_text("child.bpmn", CHILD)])
    stored_before_the_fix(engine, "child", hostile(CHILD, HOSTILE_PROLOGS["external parameter entity"]))
    caplog.set_level(logging.WARNING, logger="petitionflow.definitions")
    simple = [DeployFile("simple.bpmn", (DATA / "simple.bpmn").read_bytes())]
    simple.append(DeployFile("f.form", (DATA / "simple_register.form").read_bytes()))
    assert [d.key for d in engine.deploy(simple).definitions] == ["simple"]
    assert any("child.bpmn" in r.getMessage() and "child" in r.getMessage() for r in caplog.records)
    # A diagram calling the unreadable process is told why, instead of deploying against a file nobody can read.
    [problem] = engine.validate([with_text("parent.bpmn", PARENT)])
    assert problem.element_id == "call_child" and "无法读取" in problem.message
    # Redeploying the process mends it.
    engine.deploy([with_text("child.bpmn", CHILD.replace('name="Child task"', 'name="Child task 2"'))])
    assert [d.key for d in engine.deploy([with_text("parent.bpmn", PARENT)]).definitions] == ["parent"]


# -- over HTTP ---------------------------------------------------------------------------------------------------
@pytest.fixture
def deployed(engine: Engine) -> Engine:
    """These tests deploy what they need: the app of tests/api_helpers over an engine with nothing deployed."""
    return engine


def upload(name: str, text: str) -> dict[str, Any]:
    return {"files": [(io.BytesIO(text.encode()), name)]}


@SQLITE_ONLY
def test_the_api_and_engine_rest_refuse_a_doctype_with_a_400(api: Api, engine: Engine) -> None:
    text = hostile(CHILD, HOSTILE_PROLOGS["external parameter entity"])
    designer = api.as_("designer")
    checked = designer.ok("POST", "/api/deployments/validate", data=upload("child.bpmn", text))
    assert not checked["valid"] and checked["problems"][0]["line"] == 2
    body = assert_error(designer.post("/api/deployments", data=upload("child.bpmn", text)), 400)
    [problem] = body["details"]["problems"]
    assert (problem["file"], problem["line"]) == ("child.bpmn", 2) and "DOCTYPE" in problem["message"]
    modeler = api.client.post(
        "/engine-rest/deployment/create",
        headers=basic("designer"),
        data={"deployment-name": "d", "child.bpmn": (io.BytesIO(text.encode()), "child.bpmn")},
    )
    assert modeler.status_code == 400 and "DOCTYPE" in modeler.get_json()["message"]
    with pytest.raises(NotFound):
        engine.start("child")


@SQLITE_ONLY
def test_engine_rest_lists_a_stored_row_its_parser_refuses(api: Api, engine: Engine) -> None:
    engine.deploy([with_text("child.bpmn", CHILD)])
    stored_before_the_fix(engine, "child", hostile(CHILD, HOSTILE_PROLOGS["entity expansion"]))
    response = api.client.get("/engine-rest/process-definition/key/child", headers=basic("designer"))
    assert response.status_code == 200 and response.get_json()["key"] == "child"


@SQLITE_ONLY
def test_a_stored_diagram_is_served_as_a_download_that_cannot_run(api: Api, engine: Engine) -> None:
    [deployed] = engine.deploy(with_script_in_documentation("受理 modeler_demo.bpmn")).definitions
    response = api.as_("handler").get(f"/api/definitions/{deployed.id}/xml")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert response.get_data(as_text=True) == SCRIPT_IN_DOCUMENTATION
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''%E5%8F%97%E7%90%86" in disposition
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy.split(";")[-1]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@SQLITE_ONLY
def test_every_response_carries_the_security_headers(api: Api) -> None:
    for caller, path in (
        (api.anonymous, "/healthz"),
        (api.anonymous, "/login"),
        (api.anonymous, "/api/tasks"),  # 401
        (api.as_("admin"), "/api/definitions"),
        (api.as_("admin"), "/api/no-such-endpoint"),  # 404 from the router
        (api.as_("admin"), "/engine-rest/version"),
        (api.anonymous, "/static/js/login.js"),
    ):
        response = caller.get(path)
        headers = response.headers
        assert "frame-ancestors 'none'" in headers.get("Content-Security-Policy", ""), path
        assert headers.get("X-Content-Type-Options") == "nosniff", path
        assert headers.get("X-Frame-Options") == "DENY", path
        assert headers.get("Referrer-Policy") == "same-origin", path
        script_src = "script-src 'self'" if response.mimetype == "text/html" else "default-src 'none'"
        assert script_src in headers["Content-Security-Policy"], path
        response.close()
