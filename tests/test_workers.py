"""The production set-up: gunicorn workers and the scheduler process on PostgreSQL, one worker killed under load.

Drives the office mix of bench/load.py (registrations, claims, completions, task lists, cockpit reads, and
reminders the scheduler must fire) against ``petitionflow serve --workers 4`` + ``petitionflow scheduler``,
kills one worker with SIGKILL in the middle, and checks by SQL that every write the service acknowledged is
in the database, that no timer fired twice, and that the remaining workers (and the one gunicorn starts in
place of the dead one) went on serving.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import PG_AVAILABLE, PG_URL

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PG_AVAILABLE, reason=f"PostgreSQL is not reachable at {PG_URL}"),
]


def _bench_load() -> ModuleType:
    """bench/load.py as a module (bench/ is a folder of scripts, not a package)."""
    name = "petitionflow_bench_load"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "load.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


KILL_AFTER = 6.0  # seconds of load before the kill
RUN_FOR = 18.0  # seconds of load in all
# Requests in flight on the killed worker's connections fail: they were sent before the kill, or so soon
# after it that the client had not yet seen the connection close.
KILL_WINDOW = 2.0


def test_a_worker_killed_under_load_loses_no_acknowledged_write(tmp_path: Path) -> None:
    load = _bench_load()
    with load.pg_database(PG_URL) as url:
        service = load.Service(url, tmp_path, workers=4, threads=4)
        service.prepare()
        service.start()
        killed: dict[str, float | int] = {}
        try:

            def kill_one_worker(mix) -> None:
                mix.stop.wait(KILL_AFTER)
                victim = service.worker_pids()[0]
                killed["at"] = time.monotonic()
                os.kill(victim, signal.SIGKILL)
                killed["pid"] = victim

            mix = load.Mix(service, seconds=RUN_FOR, warmup=0, in_flight=30).run(kill_one_worker)
            checks = load.verify(url, mix.ack, mix.feeder.reminders)
            deadline = time.monotonic() + 10
            while len(service.worker_pids()) != 4 and time.monotonic() < deadline:
                time.sleep(0.2)
            workers_after = service.worker_pids()
        finally:
            service.stop()

    assert "pid" in killed, "no worker was killed"
    assert not mix.crashes and not mix.feeder.errors, (mix.crashes, mix.feeder.errors)
    kill_at = float(killed["at"])

    # Every answer was a success or a claim race the mix expects (409, also when the other clerk already
    # completed the task); only requests caught by the kill failed.
    statuses = [s for s in mix.samples if isinstance(s.status, int)]
    unexpected = [(s.op, s.status, s.detail) for s in statuses if s.status >= 400 and not load.expected(s)]
    assert not unexpected, unexpected
    broken = [s for s in mix.samples if s.status == "transport"]
    outside = [
        (s.op, round(s.at - kill_at, 3), s.detail)
        for s in broken
        if s.at > kill_at + KILL_WINDOW or s.at + s.seconds < kill_at
    ]
    assert not outside, f"requests failed away from the kill: {outside}"

    # The service kept serving after the kill, to the end of the run.
    after = [s for s in statuses if s.at > kill_at + KILL_WINDOW and s.status < 400]
    assert len(after) > 50, f"only {len(after)} successful requests after the kill"
    assert max(s.at for s in after) > mix.measure_from + RUN_FOR - 3
    assert sum(1 for s in after if s.op == "complete") > 5
    # gunicorn replaced the dead worker.
    assert len(workers_after) == 4 and killed["pid"] not in workers_after, workers_after

    # Nothing acknowledged was lost, nothing was done twice.
    assert checks.completions > 20
    assert checks.ok, checks.rows()
    assert checks.reminders_fired > 0, "the scheduler fired no reminder during the run"
