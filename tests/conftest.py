"""Shared fixtures: every engine test runs on SQLite, and on PostgreSQL whenever PG_URL answers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from engine.clock import Clock, FrozenClock, install
from engine.config import Settings
from engine.definitions import read_files
from engine.runtime import Engine
from engine.testing import load_fixture_org

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
PG_URL = os.environ.get("PETITIONFLOW_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# A Monday morning in Beijing, far from holidays, so deadline arithmetic in scenarios is easy to follow.
START = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def _pg_available() -> bool:
    try:
        probe = create_engine(PG_URL, connect_args={"connect_timeout": 2})
        with probe.begin() as conn:
            # Every test's schema uses the database's one pg_trgm (migration 0012). Made here, under a lock, so
            # that the parallel workers of `pytest -n` do not race to create it on a new database.
            conn.execute(text("SELECT pg_advisory_xact_lock(2012)"))
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public"))
        probe.dispose()
        return True
    except Exception:
        return False


PG_AVAILABLE = _pg_available()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'petitionflow.db'}"
        return
    if not PG_AVAILABLE:
        where = make_url(PG_URL).render_as_string(hide_password=True)
        pytest.skip(f"PostgreSQL is not reachable at {where} (PETITIONFLOW_TEST_PG sets another URL)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    frozen = FrozenClock(START)
    yield frozen
    install(Clock())


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(instance_path=tmp_path / "instance", database_url=database_url)


@pytest.fixture
def engine(settings: Settings, clock: FrozenClock) -> Iterator[Engine]:
    eng = Engine(settings, clock=clock)
    eng.migrate()
    yield eng
    eng.db.dispose()


@pytest.fixture
def deployed(engine: Engine) -> Engine:
    """The engine with the shipped workflows/ and forms/ deployed, and the fixture organisation they route to."""
    engine.deploy(read_files([ROOT / "workflows", ROOT / "forms"]), name="shipped")
    load_fixture_org(engine)
    return engine
