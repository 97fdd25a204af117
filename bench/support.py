"""Helpers the benchmarks share: a throw-away PostgreSQL schema and the machine's description."""

from __future__ import annotations

import os
import platform
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

from sqlalchemy import create_engine, text


# -- PostgreSQL ---------------------------------------------------------------------------------------------
@contextmanager
def pg_schema(url: str) -> Iterator[tuple[str | None, str]]:
    """A fresh schema on ``url``, dropped afterwards: (engine URL or None, note or server version)."""
    try:
        admin = create_engine(url, connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            server = conn.execute(text("show server_version")).scalar()
    except Exception as error:
        yield None, f"PostgreSQL skipped: {url} unreachable ({type(error).__name__})"
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        separator = "&" if "?" in url else "?"
        yield f"{url}{separator}options=-csearch_path%3D{schema}", str(server)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


# -- report -------------------------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_rows(pg_version: str, packages: tuple[str, ...], load_before: float) -> list[list[str]]:
    """The "Machine" table of a benchmark: CPU, Python, databases, ``packages``' versions, kernel, load."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        ["CPU", f"{cpu_model()}, nproc {cores}"],
        ["Python", f"{platform.python_implementation()} {platform.python_version()}"],
        ["SQLite", f"{sqlite3.sqlite_version} (WAL, synchronous=FULL)"],
        ["PostgreSQL", pg_version],
        [" / ".join(packages), " / ".join(version(p) for p in packages)],
        ["Kernel", platform.platform()],
        ["Load average (1 min) before / after", f"{load_before:.2f} / {os.getloadavg()[0]:.2f}"],
    ]
