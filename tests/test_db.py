"""The embedded database holds petitioners' names, ID and phone numbers: only its owner may read it."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from engine import db as db_module
from engine.config import Settings
from engine.db import SQLITE_BUSY_TIMEOUT_MS, Database
from tests.conftest import PG_AVAILABLE, PG_URL


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The common default umask, under which files come out world-readable unless made otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_instance_folder_and_the_database_files_are_the_owners_alone(
    tmp_path: Path, open_umask: None
) -> None:
    settings = Settings(instance_path=tmp_path / "instance")
    db = Database.from_settings(settings)
    try:
        with db.transaction() as session:
            session.execute(text("CREATE TABLE note (body TEXT)"))
            session.execute(text("INSERT INTO note VALUES ('张三 13800138000')"))
        with db.engine.connect():  # an open connection keeps the -wal and -shm files in place
            files = [settings.instance_path / f"petitionflow.db{suffix}" for suffix in ("", "-wal", "-shm")]
            assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
        assert mode(settings.instance_path) == 0o700
    finally:
        db.dispose()


def test_an_existing_database_keeps_the_permissions_its_operator_gave_it(
    tmp_path: Path, open_umask: None
) -> None:
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    db = Database(f"sqlite:///{path}")
    try:
        with db.transaction() as session:
            session.execute(text("CREATE TABLE note (body TEXT)"))
        assert mode(path) == 0o640
    finally:
        db.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_leaves_no_file_behind(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = Database(url)
    try:
        with db.transaction() as session:
            session.execute(text("CREATE TABLE note (body TEXT)"))
    finally:
        db.dispose()
    assert list(tmp_path.iterdir()) == []


def busy_timeout(session: Session) -> int:
    return int(session.execute(text("PRAGMA busy_timeout")).scalar_one())


def test_a_sqlite_writer_waits_by_asking_and_readers_keep_their_busy_timeout(tmp_path: Path) -> None:
    """A command's transaction asks for the write lock every millisecond (busy timeout off, set once on the
    connection, not around every BEGIN); a read transaction on the same connection has the timeout back."""
    db = Database(f"sqlite:///{tmp_path / 'pf.db'}")
    other = Database(f"sqlite:///{tmp_path / 'pf.db'}")
    try:
        with db.transaction() as session:
            session.execute(text("CREATE TABLE note (body TEXT)"))
            assert busy_timeout(session) == 0
        with db.reading() as session:
            assert busy_timeout(session) == SQLITE_BUSY_TIMEOUT_MS
        holding = threading.Event()

        def hold_the_lock() -> None:
            with other.transaction() as session:
                session.execute(text("INSERT INTO note VALUES ('first')"))
                holding.set()
                time.sleep(0.3)

        holder = threading.Thread(target=hold_the_lock)
        holder.start()
        assert holding.wait(10)
        # Busy timeout off, yet no "database is locked": the writer asks until the holder commits.
        with db.transaction() as session:
            session.execute(text("INSERT INTO note VALUES ('second')"))
        holder.join()
        with db.reading() as session:
            assert session.scalars(text("SELECT body FROM note ORDER BY rowid")).all() == ["first", "second"]
    finally:
        db.dispose()
        other.dispose()


@pytest.mark.skipif(not PG_AVAILABLE, reason="PostgreSQL is not reachable")
def test_a_pooled_postgresql_connection_closed_while_idle_is_replaced_before_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 0.0)
    db = Database(PG_URL)
    admin = create_engine(PG_URL)
    try:
        with db.reading() as session:
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin.begin() as connection:  # what a server restart does to the pooled connection
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        time.sleep(0.1)
        with db.reading() as session:
            assert session.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        db.dispose()
        admin.dispose()


@pytest.mark.skipif(not PG_AVAILABLE, reason="PostgreSQL is not reachable")
def test_postgresql_sessions_run_without_jit_and_keep_the_options_the_url_gives() -> None:
    db = Database(f"{PG_URL}?options=-csearch_path%3Dpg_catalog")
    try:
        with db.reading() as session:
            assert session.execute(text("SHOW jit")).scalar_one() == "off"
            assert session.execute(text("SHOW search_path")).scalar_one() == "pg_catalog"
    finally:
        db.dispose()
