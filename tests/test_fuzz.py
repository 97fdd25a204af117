"""Hostile input never answers 5xx: schemathesis with every check, and the hostile families on every field.

Two parts, both in-process through the WSGI app on a deployed engine with a few registered petitions:

- schemathesis generates requests for every operation of /api/openapi.json and runs its full set of checks,
  signed in as admin (who may do everything, so handlers run) and as nobody;
- the hostile families the "Hardening" issue found (deep nesting, 5,000-digit integers, ±1e308, NaN,
  lone surrogates, NUL, very long text, wrong types) go into every JSON field and query parameter of every
  documented /api operation and of every /engine-rest route and the pages' JSON under /ui, which have no
  OpenAPI document.

The sizes here keep the module under a minute; ``tools/fuzz.py`` runs the same with 20,000 cases and prints
the counts.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    negative_data_rejection,
    positive_data_acceptance,
)

from engine.runtime import Engine
from tests import test_api_schema
from tests.api_helpers import Api, basic, form_data
from tests.test_petitions import REGISTRATION

pytest_plugins = ("tests.api_helpers",)
# Petitions, a claimed task and ids that exist, as the schema test has them (a fixture).
known = test_api_schema.known

# JSON texts, not Python values: most of these cannot be written by json.dumps at all.
HOSTILE: dict[str, str] = {
    "deep list": "[" * 5000 + "]" * 5000,
    "deep object": '{"a":' * 200 + "1" + "}" * 200,
    "5,000-digit integer": "1" * 5000,
    "negative 5,000-digit integer": "-" + "9" * 5000,
    "1e308": "1e308",
    "-1e308": "-1e308",
    "1e999": "1e999",
    "NaN": "NaN",
    "-Infinity": "-Infinity",
    "NaN as text": '"NaN"',
    "Infinity as text": '"Infinity"',
    "1e308 as text": '"1e308"',
    "5,000 digits as text": json.dumps("9" * 5000),
    "lone surrogate": '"\\ud800"',
    "surrogate in a key": '{"\\udfff": 1}',
    "NUL": '"a\\u0000b"',
    "very long text": json.dumps("信" * 100_000),
    "list": '[1, "a", null]',
    "object": '{"a": {"b": []}}',
    "true": "true",
    "null": "null",
    "negative": "-1",
    "fraction": "0.5",
    "empty text": '""',
}
# What a query string or path can carry of the above.
HOSTILE_TEXT: dict[str, str] = {
    "NUL": "a\x00b",
    "5,000 digits": "9" * 5000,
    "1e308": "1e308",
    "NaN": "NaN",
    "very long text": "信" * 20_000,
    "negative": "-1",
    "replacement character": "\ufffd",
    "empty": "",
}
# The body fields and query parameters the /engine-rest views read (webapi/camunda).
CAMUNDA_FIELDS = [
    *("userId", "variables", "withVariablesInReturn", "businessKey", "startInstructions", "sorting"),
    *("assignee", "candidateGroup", "candidateUser", "processInstanceId", "processInstanceBusinessKey"),
    *("processDefinitionKey", "taskDefinitionKey", "businessKeyLike", "nameLike", "sortBy", "sortOrder"),
    *("tenantIdIn", "active", "suspended", "assigned", "unassigned", "includeAssignedTasks", "latestVersion"),
    *("withoutTenantId", "firstResult", "maxResults", "version"),
]
CAMUNDA_TYPES = ("String", "Integer", "Long", "Double", "Boolean", "Date", "Json", "Object", "Null")
# Calls that end what later calls work on (the claimed task, the instance): last, so the rest meet them live.
LAST = re.compile(r"/(cancel|suspend|resume|complete|session)\b")


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    target: str  # the field or parameter the hostile value went into
    family: str
    kwargs: dict[str, Any] = field(default_factory=dict, hash=False)


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _body(template: dict[str, Any], target: str, raw: str) -> str:
    """``template`` as JSON text with ``raw`` at the dotted ``target``."""
    body = json.loads(json.dumps(template))
    *outer, last = target.split(".")
    node = body
    for name in outer:
        node = node.setdefault(name, {})
    node[last] = "\x01RAW\x01"
    return json.dumps(body).replace('"\\u0001RAW\\u0001"', raw)


def _fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"[{<](?:\w+:)?(\w+)[}>]", lambda m: ids.get(m.group(1), "x"), path)


def _json_calls(method: str, path: str, fields: dict[str, dict[str, Any]]) -> Iterator[Call]:
    """Every hostile value into every field: ``fields`` maps a dotted field to the body it goes into."""
    for target, template in fields.items():
        for family, raw in HOSTILE.items():
            yield Call(
                method,
                path,
                target,
                family,
                {"data": _body(template, target, raw), "content_type": "application/json"},
            )


def _query_calls(method: str, path: str, names: list[str]) -> Iterator[Call]:
    for name in names:
        for family, text in HOSTILE_TEXT.items():
            yield Call(method, path, name, family, {"query_string": {name: text}})


def api_calls(spec: dict[str, Any], ids: dict[str, str], today: str) -> Iterator[Call]:
    """The documented /api operations: their JSON fields (a registration's and a form's as well, whose body
    the document leaves open), their query parameters and their path parameters."""
    form = form_data("intake_registration", today)
    for template, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            path = _fill(template, ids)
            query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
            yield from _query_calls(method.upper(), path, query)
            for p in (p for p in operation.get("parameters", []) if p["in"] == "path"):
                for family, text in HOSTILE_TEXT.items():
                    yield Call(method.upper(), _fill(template, {**ids, p["name"]: text}), p["name"], family)
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            schema = _resolve(spec, content["application/json"]["schema"])
            fields: dict[str, dict[str, Any]] = {name: {} for name in schema.get("properties", {})}
            if template.startswith("/api/petitions"):
                fields.update({name: REGISTRATION for name in REGISTRATION})
            if template.endswith("/complete"):
                fields.update({f"variables.{name}": {"variables": {}} for name in form})
            yield from _json_calls(method.upper(), path, fields or {"_": {}})


def undocumented_calls(app: Flask, ids: dict[str, str]) -> Iterator[Call]:
    """Every /engine-rest route and the pages' own JSON (/ui): JSON bodies for POST and PUT, query parameters
    for GET."""
    typed = {f"variables.{t.lower()}.value": {"variables": {t.lower(): {"type": t}}} for t in CAMUNDA_TYPES}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/engine-rest/", "/ui/")) or "<path:" in rule.rule:
            continue
        path = _fill(rule.rule, ids)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if method == "GET":
                yield from _query_calls(method, path, [*CAMUNDA_FIELDS, "definitionId"])
            elif not rule.rule.endswith("/deployment/create"):  # multipart: its own tests cover it
                fields = {name: {} for name in CAMUNDA_FIELDS}
                if rule.rule.endswith(("/start", "/complete")):
                    fields.update(typed)
                yield from _json_calls(method, path, fields)


def hostile_calls(app: Flask, api: Api, ids: dict[str, str]) -> list[Call]:
    """The whole matrix, destructive calls last."""
    spec = api.as_("admin").ok("GET", "/api/openapi.json")
    engine = app.extensions["petitionflow"]
    today = engine.now().astimezone(engine.calendar.tz).date().isoformat()
    calls = [*api_calls(spec, ids, today), *undocumented_calls(app, ids)]
    return sorted(calls, key=lambda c: bool(LAST.search(c.path)))


def server_errors(api: Api, calls: list[Call], user: str | None = "admin") -> list[str]:
    """Send each call; the ones that answered 5xx, described."""
    caller = api.as_(user)
    failed = []
    for call in calls:
        response = caller.open(call.method, call.path, **call.kwargs)
        if response.status_code >= 500:
            failed.append(
                f"{call.method} {call.path[:80]} {call.target} <- {call.family}: {response.status_code}"
            )
    return failed


@pytest.fixture(autouse=True)
def _unthrottled(deployed: Engine) -> None:
    test_api_schema.lift_login_limits(deployed)


@pytest.fixture
def ids(api: Api, known: dict[str, str]) -> dict[str, str]:
    """Path parameters under the names the /api document and the Flask routes use."""
    definition = api.as_("admin").ok("GET", "/api/definitions")[0]
    return {
        **known,
        "task": known["task_id"],
        "instance": known["instance_id"],
        "key": "petition_intake",
        "tenant_id": "district",
        "name": "facts",
        "deployment_id": definition["deploymentId"],
        "form_key": "intake_registration",
    }


# About this many calls of the matrix, every n-th, a different slice on each backend; tools/fuzz.py sends all.
CALLS = int(os.environ.get("PETITIONFLOW_FUZZ_CALLS", "300"))


def test_hostile_values_in_every_field_never_answer_5xx(app: Flask, api: Api, ids: dict[str, str]) -> None:
    # Every unexpected exception as the 500 a client would get, so that all of them are listed, not the first.
    app.config["PROPAGATE_EXCEPTIONS"] = False
    calls = hostile_calls(app, api, ids)
    families = {c.family for c in calls}
    assert families == set(HOSTILE) | set(HOSTILE_TEXT), families
    stride = max(1, len(calls) // CALLS)
    sample = calls[(0 if app.extensions["petitionflow"].db.is_sqlite else stride // 2) :: stride]
    assert server_errors(api, sample) == []
    # Strangers are mostly refused before the body is read, but not on signing in.
    assert server_errors(api, sample[::2], user=None) == []


# -- schemathesis ----------------------------------------------------------------------------------------------
@pytest.fixture
def fuzz_schema(app: Flask, known: dict[str, str]) -> schemathesis.BaseSchema:
    loaded = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    # No text may hold NUL (PostgreSQL cannot store it): a rule of the whole API that the document does not
    # repeat on every string. The hostile calls above send NUL to every field.
    loaded.config.generation.update(allow_x00=False)
    return loaded


schema = schemathesis.pytest.from_fixture("fuzz_schema")
load_all_checks()
ALL_CHECKS = CHECKS.get_all()
turns = itertools.count()
# Whether a schema-valid registration or form submission is accepted depends on the designers' forms, a
# deployment on its files (BPMN, form-js) and a calendar year on the operators' file format, none of which the
# document expresses (any object, any file): for these a 4xx for schema-valid data is right. So for attachments:
# whether a file is taken depends on its bytes (sniffed, never its name), and a service date on the notice's.
CONTENT_CHECKED = (
    "/api/petitions",
    "/api/petitions/check",
    "/api/tasks/{task_id}/complete",
    "/api/deployments",
    "/api/calendar/years/{year}",
    "/api/petitions/{number}/attachments",
    "/api/petitions/{number}/documents/{document_id}/service",
    "/api/tasks/{task_id}/complete-with-files",
    # A reason is required only with the rating 不满意: a rule across two fields the document does not state.
    "/api/petitions/{number}/evaluation",
    # A token's longest lifetime is the operator's PETITIONFLOW_TOKEN_MAX_DAYS, which the document cannot state
    # (the operations added above moved the derandomized cases so that one now asks for 39,916,799 days).
    "/api/tokens",
    # A migration's reason is required unless it is a dry run, and which step an instruction names depends on its
    # type (Camunda's rules): rules across fields again.
    "/api/migrations",
    "/api/instances/{instance_id}/modification",
)


def excluded_for(case: schemathesis.Case) -> list[Any]:
    excluded = []
    if case.operation.path in CONTENT_CHECKED:
        excluded.append(positive_data_acceptance)
    if case.operation.path == "/api/petitions/check":
        # Its URL is also /api/petitions/{number} with number "check", so Allow rightly lists GET as well.
        excluded.append(allow_header_conformance)
    if case.media_type == "multipart/form-data":
        # Every multipart value is text: a "name" made an integer (470230) arrives as the text "470230".
        excluded.append(negative_data_rejection)
    return excluded


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("PETITIONFLOW_FUZZ_EXAMPLES", "3")),
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_schemathesis_with_every_check(case: schemathesis.Case, known: dict[str, str]) -> None:
    test_api_schema.use_known_ids(case, known)
    headers = basic("admin") if next(turns) % 4 else {}  # one case in four from nobody
    case.call_and_validate(headers=headers, checks=ALL_CHECKS, excluded_checks=excluded_for(case))
