"""Database connections and the two kinds of transaction the engine uses.

Commands open write transactions: on SQLite ``BEGIN IMMEDIATE`` takes the write lock up front (Python's
sqlite3 would start a deferred transaction and turn a race into a late "database is locked"), with a busy
timeout so writers queue instead of failing. Queries open ordinary read transactions, which under WAL never
wait for a writer.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, make_url
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .config import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
# A PostgreSQL connection idle in the pool this long is checked before it is used again.
PING_AFTER_IDLE_S = 2.0


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # Take transaction control away from the driver so "begin" below decides how each one starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        mode = cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # FULL: an acknowledged commit survives power loss too, not only a process crash.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # An in-memory database has no WAL (and no other connection to wait for).
        record.info["wal"] = str(mode).lower() == "wal"
        record.info["busy_timeout"] = SQLITE_BUSY_TIMEOUT_MS

    def busy_timeout(conn: Any, milliseconds: int) -> None:
        """Set the connection's busy timeout when it is not already that: a setting of the driver's connection,
        made on it directly, not a statement of the transaction (and, between two commands, not made again)."""
        info = conn.connection.info
        if info.get("busy_timeout") != milliseconds:
            conn.connection.driver_connection.execute(f"PRAGMA busy_timeout={milliseconds}")
            info["busy_timeout"] = milliseconds

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode != "IMMEDIATE" or not conn.connection.info.get("wal"):
            busy_timeout(conn, SQLITE_BUSY_TIMEOUT_MS)
            conn.exec_driver_sql(f"BEGIN {mode}")
            return
        # SQLite's own busy handler sleeps up to 100 ms between tries, so a writer that waits behind a busy
        # one (the scheduler draining a burst of timers) can miss every free moment for seconds. Asking again
        # every millisecond, it gets the lock within about one of its being free. The timeout stays off for
        # the whole write transaction: in WAL mode a connection holding the write lock never waits for another
        # (its reads see its snapshot, its commit appends to the log, the checkpoint after it is passive), and
        # the next read transaction on the connection sets it back.
        busy_timeout(conn, 0)
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as error:
                if "locked" not in str(error.orig) or time.monotonic() > deadline:
                    raise
            time.sleep(0.001)


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled PostgreSQL connection before use when it has lain idle (a server restart or an idle
    timeout may have closed it meanwhile), not on every checkout: a connection given back moments ago is
    alive, and asking costs a round trip per transaction. A dead one is replaced before anyone uses it."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return  # new, or back in the pool a moment ago
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_connection.rollback()
        except Exception as error:
            # The pool drops this connection and hands out a fresh one.
            raise DisconnectionError(f"a pooled connection was closed while idle: {error}") from error


def _create_private(path: Path) -> None:
    """The database holds petitioners' names, ID and phone numbers: its folder and file are the owner's alone.

    SQLite creates the -wal and -shm files with the main file's permissions, so creating that file 0600
    before the first connection covers all three; a folder made here is 0700.
    """
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # O_EXCL: an existing database keeps the permissions its operator gave it.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _without_jit(url: str) -> str:
    """The URL with JIT compilation switched off, after any server options it already sets (a search_path, say).

    The planner's cost estimates for the metrics' aggregations over every petition cross jit_above_cost, and
    compiling them took 0.8 s of a 1.2 s request at 100,000 petitions (bench/RESULTS.md, section 8), while no
    query of ours runs long enough to repay it.
    """
    parsed = make_url(url)
    given = parsed.query.get("options", "")
    options = " ".join([*([given] if isinstance(given, str) else given), "-c jit=off"]).strip()
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


class Database:
    """One database: its engine and the sessions commands and queries run in."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            # sqlite:// and sqlite:///:memory: are in-memory databases: no file to protect.
            path = make_url(url).database
            if path and path != ":memory:":
                _create_private(Path(path))
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            kwargs.update(pool_size=10, max_overflow=20)
        self.engine = create_engine(url if self.is_sqlite else _without_jit(url), **kwargs)
        if not self.is_sqlite:
            _ping_when_idle(self.engine)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
            writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        else:
            writer = self.engine
        self._write_sessions = sessionmaker(writer, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(settings.database_url)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back on any exception."""
        session = self._write_sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        session = self._read_sessions()
        try:
            yield session
        finally:
            # close() ends the transaction without expiring what was read, so results outlive the session.
            session.close()

    def is_initialised(self) -> bool:
        return inspect(self.engine).has_table("instance")

    def dispose(self) -> None:
        self.engine.dispose()
