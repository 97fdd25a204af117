"""Property-based checks of the whole REST API against its own OpenAPI document (schemathesis).

Every operation of /api/openapi.json is called in-process through the WSGI app with generated valid and
invalid input, signed in as admin (who may do everything, so the handlers run rather than stop at 403), on
a deployed engine holding a few registered petitions. No answer may be a 500, and every answer must match the
status codes, content types, headers and schemas the document declares.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    negative_data_rejection,
    positive_data_acceptance,
)

from engine.runtime import Engine
from tests.api_helpers import Api, basic

pytest_plugins = ("tests.api_helpers",)

# Per operation (plus the coverage phase's systematic cases): about 20 s of CPU per backend.
MAX_EXAMPLES = 8


@pytest.fixture
def known(api: Api, deployed: Engine) -> dict[str, str]:
    """Ids that exist: generated path parameters are swapped for these every other case, so handlers run."""
    numbers = [
        api.register(subject=subject)["number"]
        for subject in ("小区夜间施工噪声扰民", "物业费收费标准不合理", "道路积水无人处理")
    ]
    task = api.as_("admin").task_at(numbers[0], "register_check")
    api.as_("admin").claim(task["id"])  # so generated form data reaches the form's validation
    definition = api.as_("admin").ok("GET", "/api/definitions")[0]
    return {
        "number": numbers[0],
        "task_id": task["id"],
        "instance_id": task["instanceId"],
        "definition_id": definition["id"],
        "year": "2026",
    }


def lift_login_limits(engine: Engine) -> None:
    """Generated sign-ins are wrong passwords from one address: throttling would answer everything after a
    few with 429 (tests/test_auth.py checks it); a generated test needs every operation to reach its handler."""
    engine.accounts.policy = replace(engine.accounts.policy, login_attempts=10**6, address_attempts=10**6)


@pytest.fixture
def api_schema(app: Flask, known: dict[str, str], deployed: Engine) -> schemathesis.BaseSchema:
    lift_login_limits(deployed)
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")
turns = itertools.count()


def use_known_ids(case: schemathesis.Case, known: dict[str, Any]) -> None:
    """Every other case with valid path parameters addresses a real petition, task, instance or definition."""
    path = case.meta.components.get(ParameterLocation.PATH) if case.meta else None
    if not case.path_parameters or (path is not None and path.mode != schemathesis.GenerationMode.POSITIVE):
        return
    if next(turns) % 2 == 0:
        for name in case.path_parameters:
            if name in known:
                case.path_parameters[name] = known[name]


@schema.parametrize()
# Derandomized: the same cases every run, so a failure reproduces and the suite does not flake.
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_every_generated_request_as_documented(
    case: schemathesis.Case, known: dict[str, str]
) -> None:
    use_known_ids(case, known)
    # Whether a schema-valid registration or form submission is accepted depends on the designers' forms,
    # which the document cannot express (the body is any object): a 422 for it is right, not a failure.
    excluded = [positive_data_acceptance]
    if case.operation.path == "/api/petitions/check":
        # Its URL is also /api/petitions/{number} with number "check", so Allow rightly lists GET as well.
        excluded.append(allow_header_conformance)
    if case.media_type == "multipart/form-data":
        # Every multipart value is text: a "name" made an integer (470230) arrives as the text "470230".
        excluded.append(negative_data_rejection)
    case.call_and_validate(headers=basic("admin"), excluded_checks=excluded)
