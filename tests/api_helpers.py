"""Fixtures and helpers the REST API tests share (loaded with ``pytest_plugins`` by each tests/test_api*.py).

The app is built once per test on the ``deployed`` engine (shipped workflows/ and forms/, frozen clock,
SQLite and PostgreSQL) with the demo office seeded; every request signs in with HTTP Basic as one of the demo
users, whose password is their user name.

The test modules import helpers from here before pytest loads it as a plugin, so it is not assert-rewritten
(PYTEST_DONT_REWRITE): its assertions carry their own messages.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

import engine.accounts
from engine.errors import HAN
from engine.runtime import Engine
from engine.testing import FORM_DATA, TODAY
from tests.test_petitions import REGISTRATION
from tests.test_scenarios_intake import BEIJING
from webapi import create_app

ERROR_KEYS = {"error", "message", "details"}
MISSING_TASK = "00000000-0000-4000-8000-000000000000"


def basic(user: str, password: str | None = None) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password if password is not None else user}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def assert_error(response: TestResponse, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is our one error shape with ``status`` (and ``code``); returns its body."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    body = response.get_json()
    assert isinstance(body, dict) and set(body) == ERROR_KEYS, body
    assert isinstance(body["error"], str) and isinstance(body["message"], str)
    assert HAN.search(body["message"]), f"officials read this message: {body}"
    assert isinstance(body["details"], dict)
    if code is not None:
        assert body["error"] == code, body
    return body


class Caller:
    """One signed-in user's view of the API: ``api.as_("office").get("/api/tasks")``."""

    def __init__(self, client: FlaskClient, user: str | None) -> None:
        self.client = client
        self.user = user
        self.headers = basic(user) if user else {}

    def open(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.open("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.open("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> TestResponse:
        return self.open("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.open("DELETE", path, **kwargs)

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        """Call and insist on ``status``; returns the JSON body."""
        response = self.open(method, path, **kwargs)
        assert response.status_code == status, (
            f"{self.user} {method} {path}: {response.status_code} {response.get_data(as_text=True)[:800]}"
        )
        return response.get_json()

    # -- the task vocabulary -----------------------------------------------------------------------------------
    def tasks(self, **query: Any) -> list[dict[str, Any]]:
        return self.ok("GET", "/api/tasks", query_string=query)

    def task_at(self, number: str, element: str) -> dict[str, Any]:
        """The one open task of petition ``number`` at ``element`` that this user can see."""
        found = [t for t in self.tasks(businessKey=number) if t["elementId"] == element]
        assert len(found) == 1, f"{self.user} sees {[t['elementId'] for t in self.tasks(businessKey=number)]}"
        return found[0]

    def claim(self, task_id: str) -> Any:
        return self.ok("POST", f"/api/tasks/{task_id}/claim", json={"userId": self.user})

    def complete(self, task_id: str, variables: Mapping[str, Any]) -> Any:
        return self.ok("POST", f"/api/tasks/{task_id}/complete", json={"variables": dict(variables)})

    def do(self, number: str, element: str, **overrides: Any) -> dict[str, Any]:
        """Find, claim and complete the task at ``element`` with valid data for its form."""
        task = self.task_at(number, element)
        self.claim(task["id"])
        return self.complete(task["id"], self.form_data(task["formRef"], **overrides))

    def form_data(self, form_ref: str | None, **overrides: Any) -> dict[str, Any]:
        engine: Engine = self.client.application.extensions["petitionflow"]
        return form_data(form_ref, engine.now().astimezone(BEIJING).date().isoformat(), **overrides)


class Api:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client = app.test_client()

    def as_(self, user: str | None) -> Caller:
        return Caller(self.client, user)

    @property
    def anonymous(self) -> Caller:
        return Caller(self.client, None)

    def register(self, **overrides: Any) -> dict[str, Any]:
        """A petition registered by the registrar; its registration check is open."""
        return self.as_("registrar").ok("POST", "/api/petitions", 201, json={**REGISTRATION, **overrides})

    def accepted_suggestion(self) -> str:
        """A registered suggestion, checked and accepted, its notice served: study_suggestion is open."""
        number = self.register()["number"]
        self.as_("registrar").do(number, "register_check")
        office = self.as_("office")
        office.do(number, "acceptance_review", acceptanceDecision="accept", category="suggestion")
        office.do(number, "notice_acceptance")
        return number


def form_data(form_ref: str | None, today: str, **overrides: Any) -> dict[str, Any]:
    """Valid data for a shipped form (tests/test_scenarios_intake.FORM_DATA) submitted on ``today``."""
    data = {**FORM_DATA.get(form_ref or "", {}), **overrides}
    return {k: today if v is TODAY else v for k, v in data.items()}


@pytest.fixture
def app(deployed: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    # Every request hashes its Basic password; the production scrypt cost would dominate the run time.
    monkeypatch.setattr(engine.accounts, "SCRYPT", {"n": 2**4, "r": 8, "p": 1})
    flask_app = create_app(deployed)
    flask_app.testing = True
    deployed.accounts.seed_demo()
    yield flask_app


@pytest.fixture
def api(app: Flask) -> Api:
    return Api(app)
