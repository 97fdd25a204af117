"""Signing in, hardened: server-side sessions, same-origin checks (CSRF), the proxy, expiring and revocable API
tokens, login throttling and the password policy (webapi/auth.py, engine/accounts.py).

Every test runs on a fresh engine (SQLite and PostgreSQL) holding the demo office, with a frozen clock;
time passes by moving the clock, never by sleeping.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import accounts
from engine.clock import FrozenClock
from engine.config import Settings
from engine.errors import InvalidInput
from engine.runtime import Engine
from tests.api_helpers import Api, assert_error, basic
from webapi import create_app
from webapi.cli import main

pytest_plugins = ("tests.api_helpers",)

HERE = "http://localhost"  # the Flask test client's own origin
# Tests whose logic is all in the web layer run on SQLite only; those that query sessions, tokens and failure
# counts run on PostgreSQL too (tests/conftest.py's default).
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def app(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The app over an engine with the demo office and no workflows: signing in needs no diagrams."""
    # Every Basic request hashes its password; the production scrypt cost would dominate the run time.
    monkeypatch.setattr(accounts, "SCRYPT", {"n": 2**4, "r": 8, "p": 1})
    flask_app = create_app(engine)
    flask_app.testing = True
    engine.accounts.seed_demo()
    return flask_app


def signed_in(app: Flask, username: str, **headers: str) -> FlaskClient:
    """A browser-like client holding a session cookie of ``username``."""
    client = app.test_client()
    response = client.post("/api/session", json={"username": username, "password": username}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return client


def cookie_of(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def tokens_of(engine: Engine, username: str) -> int:
    return len(engine.accounts.tokens(username))


# -- sessions ----------------------------------------------------------------------------------------------------
def test_a_cookie_replayed_after_logout_is_refused(app: Flask) -> None:
    browser = signed_in(app, "leader")
    stolen = cookie_of(browser)
    assert browser.delete("/api/session").get_json() == {"ok": True}
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert_error(replay.get("/api/me"), 401, "unauthorized")


@SQLITE_ONLY
def test_sessions_end_when_idle_and_after_their_lifetime(
    app: Flask, engine: Engine, clock: FrozenClock
) -> None:
    engine.accounts.policy = replace(
        engine.accounts.policy, session_idle=timedelta(minutes=30), session_lifetime=timedelta(hours=2)
    )
    idle = signed_in(app, "leader")
    clock.advance(minutes=29)
    assert idle.get("/api/me").status_code == 200  # and this use keeps it alive for another 30 minutes
    clock.advance(minutes=29)
    assert idle.get("/api/me").status_code == 200
    clock.advance(minutes=31)
    assert_error(idle.get("/api/me"), 401)

    busy = signed_in(app, "leader")
    for _ in range(5):  # used every 20 minutes, yet over after two hours
        clock.advance(minutes=20)
        assert busy.get("/api/me").status_code == 200
    clock.advance(minutes=20)
    assert_error(busy.get("/api/me"), 401)


def test_a_password_change_or_a_disabled_account_ends_sessions_and_tokens(api: Api, engine: Engine) -> None:
    users = engine.accounts
    for name, end in (
        ("office", lambda: users.set_password("office", "a-new-long-password")),
        ("handler", lambda: users.disable("handler")),
    ):
        browser = signed_in(api.app, name)
        bearer = {"Authorization": f"Bearer {users.issue_token(name)}"}
        assert api.anonymous.get("/api/me", headers=bearer).status_code == 200
        end()
        assert_error(browser.get("/api/me"), 401)
        assert_error(api.anonymous.get("/api/me", headers=bearer), 401)
        assert all(t.revoked_at is not None for t in users.tokens(name))
    assert api.anonymous.get("/api/me", headers=basic("office", "a-new-long-password")).status_code == 200
    assert_error(api.anonymous.get("/api/me", headers=basic("handler")), 401)


# -- same origin (CSRF) ----------------------------------------------------------------------------------------
@SQLITE_ONLY
def test_a_foreign_origin_cannot_act_with_the_cookie(app: Flask, engine: Engine) -> None:
    supervisor = signed_in(app, "supervisor")
    # Any state-changing request signed in by the cookie; issuing a token is one.
    for origin in ("https://evil.example", "http://localhost:8080", "null", "http://localhost.evil.example"):
        body = assert_error(
            supervisor.post("/api/tokens", headers={"Origin": origin}), 403, "cross_site_request"
        )
        assert "跨站" in body["message"]
    # No Origin and a foreign Referer, or neither: nothing proves the page was ours.
    foreign_referer = {"Referer": "https://evil.example/x"}
    assert_error(supervisor.post("/api/tokens", headers=foreign_referer), 403, "cross_site_request")
    assert_error(supervisor.post("/api/tokens"), 403, "cross_site_request")
    assert tokens_of(engine, "supervisor") == 0

    assert supervisor.post("/api/tokens", headers={"Origin": HERE}).status_code == 201
    assert supervisor.post("/api/tokens", headers={"Referer": f"{HERE}/tasks"}).status_code == 201
    assert tokens_of(engine, "supervisor") == 2
    # Reading needs no proof: a foreign page cannot read the answer anyway.
    assert supervisor.get("/api/me", headers={"Origin": "https://evil.example"}).status_code == 200


@SQLITE_ONLY
def test_basic_and_bearer_callers_need_no_origin(api: Api, engine: Engine) -> None:
    token = api.as_("designer").ok("POST", "/api/tokens", 201)["token"]
    # Camunda Modeler runs from file:// and sends Origin: null with its credentials.
    again = api.anonymous.post("/api/tokens", headers={"Authorization": f"Bearer {token}", "Origin": "null"})
    assert again.status_code == 201 and tokens_of(engine, "designer") == 2


@SQLITE_ONLY
def test_a_foreign_page_cannot_sign_a_browser_in(app: Flask) -> None:
    client = app.test_client()
    login = client.post(
        "/api/session",
        json={"username": "leader", "password": "leader"},
        headers={"Origin": "https://evil.example"},
    )
    assert_error(login, 403, "cross_site_request")
    assert client.get_cookie("session") is None


# -- behind a TLS proxy -----------------------------------------------------------------------------------------
@SQLITE_ONLY
def test_behind_a_trusted_proxy_the_cookie_is_secure_and_the_origin_is_the_public_one(
    app: Flask, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    forwarded = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "xf.example.gov.cn",
        "X-Forwarded-For": "10.1.1.1",
    }
    # Without the setting the forwarded headers are a client's claims and are ignored.
    plain = signed_in(create_app(engine), "supervisor", **forwarded)
    cookie = plain.post("/api/session", json={"username": "leader", "password": "leader"}, headers=forwarded)
    assert "Secure" not in cookie.headers["Set-Cookie"]

    monkeypatch.setenv("PETITIONFLOW_TRUSTED_PROXIES", "1")
    proxied = create_app(engine)
    client = proxied.test_client()
    response = client.post(
        "/api/session", json={"username": "supervisor", "password": "supervisor"}, headers=forwarded
    )
    set_cookie = response.headers["Set-Cookie"]
    assert "; Secure" in set_cookie and "; HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    # The browser's origin is the public one; the address the app listens on is foreign to it.
    assert_error(client.post("/api/tokens", headers={**forwarded, "Origin": HERE}), 403, "cross_site_request")
    ours = client.post("/api/tokens", headers={**forwarded, "Origin": "https://xf.example.gov.cn"})
    assert ours.status_code == 201, ours.get_data(as_text=True)


@SQLITE_ONLY
def test_secure_cookies_can_be_forced(app: Flask, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PETITIONFLOW_SECURE_COOKIES", "1")
    response = (
        create_app(engine)
        .test_client()
        .post("/api/session", json={"username": "leader", "password": "leader"})
    )
    assert response.status_code == 200 and "; Secure" in response.headers["Set-Cookie"]


# -- API tokens ------------------------------------------------------------------------------------------------
def test_tokens_expire_and_their_lifetime_is_bounded(api: Api, engine: Engine, clock: FrozenClock) -> None:
    handler = api.as_("handler")
    short = handler.ok("POST", "/api/tokens", 201, json={"name": "nightly", "days": 2})
    default = handler.ok("POST", "/api/tokens", 201)
    bearer = {"Authorization": f"Bearer {short['token']}"}
    assert api.anonymous.get("/api/me", headers=bearer).status_code == 200
    clock.advance(days=2)
    assert_error(api.anonymous.get("/api/me", headers=bearer), 401)
    assert (
        api.anonymous.get("/api/me", headers={"Authorization": f"Bearer {default['token']}"}).status_code
        == 200
    )
    assert default["expiresAt"].startswith((clock.now() + timedelta(days=88)).date().isoformat())

    too_long = handler.post("/api/tokens", json={"days": engine.accounts.policy.token_max_days + 1})
    assert "days" in assert_error(too_long, 422)["details"]["fields"]
    assert "days" in assert_error(handler.post("/api/tokens", json={"days": 0}), 422)["details"]["fields"]


def test_tokens_are_listed_and_revoked_by_their_owner_or_an_admin(
    api: Api, engine: Engine, clock: FrozenClock
) -> None:
    handler = api.as_("handler")
    first = handler.ok("POST", "/api/tokens", 201, json={"name": "first"})
    clock.advance(seconds=1)
    second = handler.ok("POST", "/api/tokens", 201, json={"name": "second"})
    listed = handler.ok("GET", "/api/tokens")
    assert [(t["id"], t["name"], t["revokedAt"]) for t in listed] == [
        (second["id"], "second", None),
        (first["id"], "first", None),
    ]
    assert all("token" not in t for t in listed)
    # Only the hash is stored: the database holds nothing a caller could present.
    with engine.db.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT token_hash FROM api_token").scalars().all()
    assert first["token"] not in stored and hashlib.sha256(first["token"].encode()).hexdigest() in stored

    # Someone else's token is as unknown to a colleague as a made-up handle.
    assert_error(api.as_("office").delete(f"/api/tokens/{first['id']}"), 404)
    assert api.as_("office").ok("GET", "/api/tokens") == []
    assert handler.ok("DELETE", f"/api/tokens/{first['id']}") == {"ok": True}
    assert api.as_("admin").ok("DELETE", f"/api/tokens/{second['id']}") == {"ok": True}
    for token in (first, second):
        assert_error(api.anonymous.get("/api/me", headers={"Authorization": f"Bearer {token['token']}"}), 401)
    assert all(t["revokedAt"] for t in handler.ok("GET", "/api/tokens"))
    assert {t["username"] for t in api.as_("admin").ok("GET", "/api/tokens")} == {"handler"}
    assert_error(handler.delete("/api/tokens/0123456789abcdef"), 404)

    paths = api.anonymous.ok("GET", "/api/openapi.json")["paths"]
    assert {"get", "post"} <= set(paths["/api/tokens"]) and "delete" in paths["/api/tokens/{token_handle}"]


# -- login throttling ------------------------------------------------------------------------------------------
def session_login(api: Api, user: str, password: str) -> Any:
    return api.app.test_client().post("/api/session", json={"username": user, "password": password})


def api_basic(api: Api, user: str, password: str) -> Any:
    return api.anonymous.get("/api/me", headers=basic(user, password))


def camunda_basic(api: Api, user: str, password: str) -> Any:
    return api.anonymous.get("/engine-rest/version", headers=basic(user, password))


@pytest.mark.parametrize(
    ("route", "database_url"),
    [
        (session_login, "sqlite"),
        (session_login, "postgresql"),
        (api_basic, "sqlite"),
        (camunda_basic, "sqlite"),
    ],
    ids=["session", "session-postgresql", "basic", "engine-rest"],
    indirect=["database_url"],
)
def test_wrong_passwords_are_answered_429_after_a_few(
    api: Api, engine: Engine, clock: FrozenClock, route: Callable[[Api, str, str], Any]
) -> None:
    attempts = engine.accounts.policy.login_attempts
    for _ in range(attempts):
        assert route(api, "leader", "wrong").status_code == 401
    refused = route(api, "leader", "leader")  # even the right password, while the account is locked
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    body = refused.get_json()
    if route is camunda_basic:
        assert set(body) >= {"type", "message"} and body["type"].endswith("Exception")
    else:
        assert body["error"] == "too_many_attempts" and "稍后" in body["message"]
    # Other accounts are unaffected; the locked one opens again when the window has passed.
    assert route(api, "office", "office").status_code == 200
    clock.advance(minutes=15)
    assert route(api, "leader", "leader").status_code == 200


@SQLITE_ONLY
def test_a_success_resets_the_accounts_count(api: Api, engine: Engine) -> None:
    attempts = engine.accounts.policy.login_attempts
    for _ in range(2):
        for _ in range(attempts - 1):
            assert api_basic(api, "leader", "wrong").status_code == 401
        assert api_basic(api, "leader", "leader").status_code == 200


@SQLITE_ONLY
def test_one_address_guessing_many_accounts_is_stopped(api: Api, engine: Engine) -> None:
    engine.accounts.policy = replace(engine.accounts.policy, address_attempts=6)
    guessed = ("registrar", "office", "handler", "conference", "committee", "hearing")
    for name in guessed:
        assert api_basic(api, name, "wrong").status_code == 401
    assert api_basic(api, "leader", "leader").status_code == 429
    # Another client (its address from the trusted proxy) is not affected.
    proxied = create_app_with_proxy(engine)
    elsewhere = proxied.test_client().get(
        "/api/me", headers={**basic("leader"), "X-Forwarded-For": "10.9.9.9"}
    )
    assert elsewhere.status_code == 200


def create_app_with_proxy(engine: Engine) -> Flask:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PETITIONFLOW_TRUSTED_PROXIES", "1")
        return create_app(engine)


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, int]]:
    """The cost parameters of every password hash computed (hashlib's, watched, not replaced)."""
    calls: list[dict[str, int]] = []
    real = hashlib.scrypt

    def watched(password: bytes, **kwargs: Any) -> bytes:
        calls.append({k: kwargs[k] for k in ("n", "r", "p")})
        return real(password, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", watched)
    return calls


@SQLITE_ONLY
def test_a_locked_account_costs_no_hashing(
    api: Api, engine: Engine, scrypt_calls: list[dict[str, int]]
) -> None:
    for _ in range(engine.accounts.policy.login_attempts):
        api_basic(api, "leader", "wrong")
    hashed = len(scrypt_calls)
    for _ in range(50):
        assert api_basic(api, "leader", "wrong").status_code == 429
    assert len(scrypt_calls) == hashed


@SQLITE_ONLY
def test_unknown_and_existing_names_cost_the_same_hash(api: Api, scrypt_calls: list[dict[str, int]]) -> None:
    assert api_basic(api, "nobody", "wrong").status_code == 401  # the dummy hash is made once, on first need
    scrypt_calls.clear()
    assert api_basic(api, "leader", "wrong").status_code == 401
    existing = list(scrypt_calls)
    scrypt_calls.clear()
    assert api_basic(api, "no-such-user", "wrong").status_code == 401
    assert existing and scrypt_calls == existing


# -- passwords ---------------------------------------------------------------------------------------------------
@SQLITE_ONLY
def test_passwords_need_ten_characters(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "SCRYPT", {"n": 2**4, "r": 8, "p": 1})
    with pytest.raises(InvalidInput) as refused:
        engine.accounts.create("wang", "short-pw", roles=["registrar"])
    assert "密码（password）" in refused.value.message and "10" in refused.value.message
    assert refused.value.details == {"fields": {"password": ["至少需要 10 个字符"]}}
    assert not engine.accounts.any_user()
    # The demo office keeps its documented passwords (the user names) through its own path only.
    assert engine.accounts.seed_demo()
    assert engine.accounts.authenticate("registrar", "registrar") is not None
    with pytest.raises(InvalidInput):
        engine.accounts.set_password("registrar", "123456789")
    assert engine.accounts.authenticate("registrar", "registrar") is not None


def test_changing_ones_password_checks_the_old_one_and_the_policy(app: Flask, engine: Engine) -> None:
    browser = signed_in(app, "office", Origin=HERE)
    other = signed_in(app, "office")
    change = {"Origin": HERE}
    short = browser.put(
        "/api/me/password", json={"currentPassword": "office", "newPassword": "short"}, headers=change
    )
    body = assert_error(short, 400, "invalid_input")
    assert "newPassword" in body["message"] and body["details"]["fields"] == {
        "newPassword": ["至少需要 10 个字符"]
    }
    wrong = browser.put(
        "/api/me/password",
        json={"currentPassword": "guess", "newPassword": "a-long-new-password"},
        headers=change,
    )
    assert_error(wrong, 401)
    assert engine.accounts.authenticate("office", "office") is not None  # nothing changed so far

    done = browser.put(
        "/api/me/password",
        json={"currentPassword": "office", "newPassword": "a-long-new-password"},
        headers=change,
    )
    assert done.get_json() == {"ok": True}
    assert browser.get("/api/me").status_code == 200  # this browser goes on with a fresh session
    assert_error(other.get("/api/me"), 401)  # every other one is signed out
    assert engine.accounts.authenticate("office", "a-long-new-password") is not None


def test_the_cli_refuses_a_short_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PETITIONFLOW_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert main(["user", "li", "short", "--role", "registrar"]) == 1
    assert "密码（password）太短：至少需要 10 个字符" in capsys.readouterr().err
    assert main(["user", "li", "a-long-enough-password", "--role", "registrar"]) == 0
    engine = Engine(Settings.from_env())
    try:
        assert engine.accounts.authenticate("li", "a-long-enough-password") is not None
    finally:
        engine.db.dispose()
