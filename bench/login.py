"""What signing in costs, at the production scrypt cost, on a fresh SQLite file (in-process WSGI calls).

    python -m bench.login [--runs N] [--flood-seconds S]     # from the repository root

Prints: a wrong password for an existing user name against an unknown one (they must take the same time, so
the answer does not tell which names exist); a request signed in by the session cookie, by a bearer token and
by HTTP Basic; and another user's bearer requests alone and while two threads flood wrong Basic logins (after
a few the flood is answered 429 before any hashing, so it should barely slow anyone).
"""

from __future__ import annotations

import argparse
import base64
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import delete

from engine.config import Settings
from engine.models import LoginFailure
from engine.runtime import Engine
from webapi import create_app


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def timed(call: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def row(label: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"| {label} | {len(times)} | {statistics.median(times):.2f} | {p95:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--flood-seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = Engine(Settings(instance_path=Path(folder), database_url=f"sqlite:///{folder}/bench.db"))
        engine.migrate()
        engine.accounts.seed_demo()
        app = create_app(engine)
        client: FlaskClient = app.test_client()
        rows = ["| request | n | p50 ms | p95 ms |", "|---|---|---|---|"]

        # Timing of wrong passwords, with the throttle out of the way so every attempt is hashed.
        policy = engine.accounts.policy
        engine.accounts.policy = replace(policy, login_attempts=10**6, address_attempts=10**6)
        existing = timed(lambda: client.get("/api/me", headers=basic("leader", "wrong")), args.runs)
        unknown = timed(lambda: client.get("/api/me", headers=basic("no-such-user", "wrong")), args.runs)
        rows += [row("wrong password, existing name", existing), row("wrong password, unknown name", unknown)]
        engine.accounts.policy = policy
        with engine.db.transaction() as session:  # those wrong passwords would lock the address now
            session.execute(delete(LoginFailure))

        browser = app.test_client()
        signed_in = browser.post("/api/session", json={"username": "office", "password": "office"})
        assert signed_in.status_code == 200
        token = engine.accounts.issue_token("handler")
        bearer = {"Authorization": f"Bearer {token}"}
        rows.append(row("GET /api/me, session cookie", timed(lambda: browser.get("/api/me"), args.runs)))
        rows.append(
            row("GET /api/me, bearer token", timed(lambda: client.get("/api/me", headers=bearer), args.runs))
        )
        rows.append(
            row(
                "GET /api/me, HTTP Basic",
                timed(lambda: client.get("/api/me", headers=basic("office", "office")), 10),
            )
        )

        alone = timed(lambda: client.get("/api/me", headers=bearer), args.runs)
        stop = threading.Event()
        answers: dict[int, int] = {}

        def flood() -> None:
            attacker = app.test_client()
            while not stop.is_set():
                status = attacker.get("/api/me", headers=basic("leader", "guess")).status_code
                answers[status] = answers.get(status, 0) + 1

        threads = [threading.Thread(target=flood) for _ in range(2)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + args.flood_seconds
        during: list[float] = []
        while time.monotonic() < deadline:
            during += timed(lambda: client.get("/api/me", headers=bearer), 5)
        stop.set()
        for thread in threads:
            thread.join()
        rows += [
            row("another user's bearer GET, alone", alone),
            row("the same during a wrong-login flood", during),
        ]
        print("\n".join(rows))
        print(f"\nflood answers by status: {dict(sorted(answers.items()))}")
        engine.db.dispose()


if __name__ == "__main__":
    main()
