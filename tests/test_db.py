"""The embedded database holds petitioners' names, ID and phone numbers: only its owner may read it."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.config import Settings
from engine.db import Database


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
