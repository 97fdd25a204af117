"""What the petitioner's side costs, on a fresh SQLite file (in-process WSGI calls), or on PostgreSQL with
``--database-url``.

    python -m bench.public [--runs N] [--database-url URL]     # from the repository root

Prints p50/p95 of: an online submission; a lookup with the right code; a wrong code for a real number against
a number that does not exist (they must take the same time); a lookup refused by the limit (no hashing); and
one attempt-limit check alone (the upsert every public request makes twice).
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from bench.login import row, timed
from engine.config import Settings
from engine.definitions import read_files
from engine.ratelimit import Limit
from engine.runtime import Engine
from tests.public_helpers import ONLINE, ORIGIN
from webapi import create_app

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.db"
        engine = Engine(Settings(instance_path=Path(folder), database_url=url))
        engine.migrate()
        engine.deploy(read_files([ROOT / "workflows", ROOT / "forms"]), name="shipped")
        app = create_app(engine)
        client = app.test_client()
        desk = engine.public
        wide = Limit("bench", 10**6, timedelta(hours=1))
        desk.limits = replace(desk.limits, per_address=wide, per_item=wide, submissions=wide)
        rows = ["| request | n | p50 ms | p95 ms |", "|---|---|---|---|"]

        def submit() -> dict:
            return client.post("/api/public/petitions", json=ONLINE, headers=ORIGIN).get_json()

        done = submit()
        number, code = done["number"], done["queryCode"]

        def lookup(n: str, c: str, address: str = "127.0.0.1") -> int:
            body = {"number": n, "code": c}
            environ = {"REMOTE_ADDR": address}
            return client.post(
                "/api/public/lookup", json=body, headers=ORIGIN, environ_base=environ
            ).status_code

        rows.append(row("POST /api/public/petitions (submit)", timed(submit, max(5, args.runs // 4))))
        rows.append(row("lookup, right code", timed(lambda: lookup(number, code), args.runs)))
        rows.append(row("lookup, wrong code", timed(lambda: lookup(number, "AAAAA-AAAAA"), args.runs)))
        rows.append(
            row("lookup, unknown number", timed(lambda: lookup("XF2026-999999", "AAAAA-AAAAA"), args.runs))
        )
        desk.limits = replace(desk.limits, per_address=Limit("bench-tight", 0, timedelta(hours=1)))
        rows.append(
            row(
                "lookup refused by the limit (429)",
                timed(lambda: lookup(number, code, "10.9.9.9"), args.runs),
            )
        )
        rows.append(row("one limit check (upsert)", timed(lambda: desk.limiter.hit(wide, "key"), args.runs)))
        print("\n".join(rows))
        engine.db.dispose()


if __name__ == "__main__":
    main()
