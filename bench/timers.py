# ruff: noqa: E402  (sys.path is fixed before the imports, see below)
"""Scheduler start-up and timer firing delay with many pending timers, on SQLite and PostgreSQL.

    python bench/timers.py [--timers 10000] [--window 60] [--lead 5] [--grace 30] [--workers 4]
                           [--creators 4] [--pg URL | --no-pg] [--no-sqlite]

For each database (a fresh SQLite file; a fresh schema on PostgreSQL, dropped at the end):

1. Starts ``--timers`` instances of bench/data/timer_bench.bpmn (start -> timer catch event at the ISO
   datetime ``${due}`` given at start -> end) through ``Engine.start``, with no scheduler running. The due
   times are spread evenly over ``--window`` seconds that begin ``--lead`` seconds after the scheduler is
   expected to be up: a calibration (200 throw-away instances started, scheduled by a service and cancelled
   again, all through the engine) predicts how long creation and the cold start take.
2. Times ``TimerService(engine).start(wait_for_leadership=...)`` until it leads with every job reconciled:
   cold (empty job table: it schedules them all), then, after ``stop()``, warm (a new service, jobs stored).
3. Lets the warm service fire everything and reads the ``timer.fired`` audit events: delay = ``at`` - due
   (per instance, the due given at creation), p50/p95/p99/max, and how many instances fired once, never
   or more than once. It also times, per fire, the phases on the way (APScheduler's main loop, the worker
   pool queue, the SQLite write lock, the engine command, the after-commit listener) and the job-store
   calls, to show where a late fire loses its time.

The bench waits at most ``--grace`` seconds after the last due. Timers not fired by then are counted as
never fired, with the cut-off as a lower bound of their delay (percentiles that depend on one are printed
"≥"), and the fires still queued in the worker pool are dropped so the run ends; their instances keep
``next_timer_at``, so nothing is lost for a later start-up. Before any ``TimerService.stop()`` the bench
pauses the scheduler and waits until no job runs, because stopping it mid-job can deadlock (see
``cut_off``). Prints markdown tables and the machine. Uses the system clock, like production.
"""

from __future__ import annotations

import os
import sys

# Run as a script, this file's folder (bench/) comes first on sys.path, and bench/engine.py would shadow
# the engine package this measures.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse
import logging
import math
import queue
import shutil
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, select

from engine.clock import Clock
from engine.config import Settings
from engine.definitions import read_files
from engine.models import AuditEvent, Task, apscheduler_jobs
from engine.runtime import CommandResult, Engine
from engine.scheduler import FIRING_MARGIN, TimerService

# The engine package is imported by now, so bench/ may join the path for the shared helpers.
sys.path.append(_HERE)
from support import machine_rows, pg_schema

DIAGRAM = Path(_HERE) / "data" / "timer_bench.bpmn"
KEY = "timer_bench"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CALIBRATION = 200  # throw-away instances started, scheduled and cancelled to predict creation and cold start


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of a sorted list."""
    if not values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(values)))
    return values[min(rank, len(values)) - 1]


# -- instrumentation ----------------------------------------------------------------------------------------
class Stopwatch:
    """Thread-safe totals of named timings: count, total seconds, max seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count: Counter[str] = Counter()
        self.total: defaultdict[str, float] = defaultdict(float)
        self.max: defaultdict[str, float] = defaultdict(float)

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self.count[name] += 1
            self.total[name] += seconds
            self.max[name] = max(self.max[name], seconds)

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - began)

        return timed


@dataclass
class FireTrace:
    """What happened to one instance's timer on its way to firing (wall-clock seconds)."""

    submitted: float | None = None  # APScheduler's main loop handed the job to the worker pool (first time)
    calls: int = 0  # fire_timers calls (a call that finds nothing due does nothing)
    first_call: float | None = None
    lock_wait: float | None = None  # SQLite: BEGIN IMMEDIATE of the firing command
    command_end: float | None = None  # fire_timers returned (committed, listeners run)
    committed: float | None = None  # our after-commit listener saw the fired result


@dataclass
class Probe:
    """Everything recorded while the warm service fires the timers."""

    jobstore: Stopwatch = field(default_factory=Stopwatch)
    phases: Stopwatch = field(default_factory=Stopwatch)
    traces: dict[str, FireTrace] = field(default_factory=lambda: defaultdict(FireTrace))
    fired_seen: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    local: threading.local = field(default_factory=threading.local)
    warnings: Counter[str] = field(default_factory=Counter)


class WarningCounter(logging.Handler):
    """Counts APScheduler's and the scheduler's warnings by their gist (missed run, max instances, ...)."""

    def __init__(self, probe: Probe) -> None:
        super().__init__(logging.WARNING)
        self.probe = probe

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "maximum number of running instances" in message:
            gist = "skipped: job still running (max_instances)"
        elif "was missed" in message:
            gist = "run time missed"
        else:
            gist = str(record.msg)[:80]  # the format string, so one line per kind, not per instance
        with self.probe.lock:
            self.probe.warnings[f"{record.name}: {gist}"] += 1


def instrument(engine: Engine, service: TimerService, probe: Probe) -> Callable[[], None]:
    """Time the job store, each fire's phases and the write lock; returns a function that undoes it."""
    store = service.scheduler._jobstores["default"]
    for name in ("get_due_jobs", "get_next_run_time", "add_job", "update_job", "remove_job"):
        setattr(store, name, probe.jobstore.wrap(name, getattr(store, name)))

    executor = service.scheduler._executors["default"]
    original_submit = executor.submit_job

    def submit_job(job: Any, run_times: list[datetime]) -> None:
        try:
            original_submit(job, run_times)
        except Exception:
            probe.phases.add("submission refused (job still queued or running)", 0.0)
            raise
        now = time.time()
        with probe.lock:
            trace = probe.traces[job.id]
            if trace.submitted is None:
                trace.submitted = now

    executor.submit_job = submit_job

    original_fire = engine.fire_timers

    def fire_timers(instance_id: str) -> CommandResult | None:
        began = time.time()
        probe.local.instance_id = instance_id
        probe.local.began = began
        with probe.lock:
            trace = probe.traces[instance_id]
            trace.calls += 1
            if trace.first_call is None:
                trace.first_call = began
        try:
            result = original_fire(instance_id)
        finally:
            probe.local.instance_id = None
            ended = time.time()
            probe.phases.add("engine.fire_timers (whole call)", ended - began)
        if result is not None:
            trace.command_end = ended
        return result

    engine.fire_timers = fire_timers  # type: ignore[method-assign]

    def after_begin(conn: Any) -> None:
        # Runs after the engine's own "begin" listener, which issues BEGIN IMMEDIATE on SQLite.
        instance_id = getattr(probe.local, "instance_id", None)
        if instance_id is not None and engine.db.is_sqlite:
            probe.local.instance_id = None  # only the command's own transaction, not the listeners' ones
            waited = time.time() - probe.local.began
            probe.phases.add("engine.fire_timers waiting for the SQLite write lock", waited)
            with probe.lock:
                trace = probe.traces[instance_id]
                if trace.lock_wait is None:
                    trace.lock_wait = waited

    event.listen(engine.db.engine, "begin", after_begin)

    original_on_command = service.on_command
    service.on_command = probe.phases.wrap(  # type: ignore[method-assign]
        "after-commit listener (job removal)", original_on_command
    )

    def undo() -> None:
        engine.fire_timers = original_fire  # type: ignore[method-assign]
        event.remove(engine.db.engine, "begin", after_begin)

    return undo


# -- one database ---------------------------------------------------------------------------------------------
@dataclass
class Result:
    label: str
    timers: int
    creators: int
    create_seconds: float = 0.0
    cold_seconds: float = math.nan
    cold_leader: bool = False
    cold_jobs: int = 0
    warm_seconds: float = math.nan
    warm_leader: bool = False
    warm_jobs: int = 0
    warm_added: int = 0  # jobs the warm start's reconciliation (re)wrote
    lead_seconds: float = math.nan  # warm service ready -> first due
    due_before_ready: int = 0
    # Delay of each instance's first fire (audit ``at`` - due); for an instance not fired by the cut-off, the
    # cut-off - due, a lower bound (censored=True).
    delays: list[tuple[float, bool]] = field(default_factory=list)
    commit_delays: list[float] = field(default_factory=list)  # our after-commit listener saw it - due
    once: int = 0
    twice: int = 0
    unfired: int = 0
    unfired_stored: int = 0  # ... whose job was still in the job store at the cut-off
    unfired_queued: int = 0  # ... not stored, but queued in the worker pool (dropped by the bench)
    dropped_again: int = 0  # queued jobs of instances that had fired already (re-added by a sync pass)
    cut_off_after: float | None = None  # seconds after the last due the bench stopped waiting
    fire_seconds: float = 0.0  # first due -> last fire
    probe: Probe = field(default_factory=Probe)
    due_of: dict[str, datetime] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def job_ids(engine: Engine) -> set[str]:
    with engine.db.engine.connect() as connection:
        return set(connection.scalars(select(apscheduler_jobs.c.id)))


def start_service(engine: Engine, workers: int) -> tuple[TimerService, float, bool]:
    service = TimerService(engine, workers=workers)
    began = time.perf_counter()
    service.start(wait_for_leadership=600)
    return service, time.perf_counter() - began, service.is_leader


def create(engine: Engine, dues: list[datetime], creators: int) -> list[str]:
    """Start one instance per due time through the engine; returns the instance ids in due order."""

    def one(due: datetime) -> str:
        result = engine.start(KEY, variables={"due": due.isoformat()})
        if result.next_timer_at != due:
            raise RuntimeError(f"instance {result.instance_id}: timer at {result.next_timer_at}, not {due}")
        return result.instance_id

    if creators <= 1:
        return [one(due) for due in dues]
    with ThreadPoolExecutor(creators, thread_name_prefix="create") as pool:
        return list(pool.map(one, dues, chunksize=50))


def calibrate(engine: Engine, creators: int, workers: int) -> tuple[float, float]:
    """Seconds per start, and per job a cold start schedules, measured on throw-away instances.

    The instances get timers a day ahead, a service schedules their jobs, and they are cancelled through
    the engine while it leads (so their jobs go too); the database is left with an empty job table. The
    start-up of a service with nothing to schedule is timed first and subtracted: over only a few hundred
    jobs that fixed cost would inflate the per-job figure several times.
    """
    empty, fixed, _ = start_service(engine, workers)
    stop(empty)
    far = datetime.now(UTC) + timedelta(days=1)
    began = time.perf_counter()
    ids = create(engine, [far + timedelta(seconds=i) for i in range(CALIBRATION)], creators)
    per_start = (time.perf_counter() - began) / CALIBRATION
    service, seconds, _ = start_service(engine, workers)
    try:
        for instance_id in ids:
            engine.cancel(instance_id, actor="bench")
    finally:
        stop(service)
    # The jobs of the cancelled instances' instants would only drain nothing; the cold start begins empty.
    with engine.db.engine.begin() as connection:
        connection.execute(apscheduler_jobs.delete())
    return per_start, max(seconds - fixed, 0.0) / CALIBRATION


def fired_events(engine: Engine) -> dict[str, list[datetime]]:
    with engine.db.reading() as session:
        rows = session.execute(
            select(AuditEvent.instance_id, AuditEvent.at).where(AuditEvent.kind == "timer.fired")
        )
        found: dict[str, list[datetime]] = defaultdict(list)
        for instance_id, at in rows:
            found[instance_id].append(at)
        return found


def _inside(thread: threading.Thread | None, functions: set[str]) -> bool:
    """Whether ``thread`` is currently running one of ``functions`` (anywhere on its stack)."""
    frame = sys._current_frames().get(thread.ident) if thread is not None and thread.ident else None
    while frame is not None:
        if frame.f_code.co_name in functions:
            return True
        frame = frame.f_back
    return False


def cut_off(service: TimerService, timeout: float = 120.0) -> list[str]:
    """Stop handing out fires, drop those queued in the worker pool, wait for the running ones to end.

    ``TimerService.stop()`` must not be called while a job runs: ``BaseScheduler.shutdown`` joins the worker
    threads while holding the job-store lock that a running fire's listener, or a running sync pass, needs
    (a deadlock, see the report). So: pause the main loop, empty the pool's queue (cancelling each queued
    fire), and wait until no worker is inside a job and the main loop is not processing jobs. Returns how
    the ids of the timer jobs dropped; their instances keep ``next_timer_at``, so a later start-up fires them.
    """
    scheduler = service.scheduler
    scheduler.pause()
    # APScheduler's done-callback calls exception() on each cancelled future, which logs a traceback.
    logging.getLogger("concurrent.futures").setLevel(logging.CRITICAL)
    pool = scheduler._executors["default"]._pool
    dropped: list[str] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        while True:
            try:
                item = pool._work_queue.get_nowait()
            except queue.Empty:
                break
            # A work item runs run_job(job, jobstore_alias, run_times, logger_name); timer jobs are in "default".
            if item is not None and item.future.cancel() and item.args[1] == "default":
                dropped.append(item.args[0].id)
        busy = any(_inside(worker, {"run_job"}) for worker in list(pool._threads))
        if not busy and not _inside(scheduler._thread, {"_process_jobs"}) and pool._work_queue.empty():
            return dropped
        time.sleep(0.05)
    raise RuntimeError("the scheduler did not go quiet within two minutes")


def stop(service: TimerService) -> list[str]:
    """``service.stop()`` after ``cut_off``; returns the ids of the queued timer jobs it dropped."""
    dropped = cut_off(service) if service.scheduler.running else []
    service.stop()
    return dropped


def run(label: str, url: str, folder: Path, args: argparse.Namespace, creators: int) -> Result:
    result = Result(label, args.timers, creators)
    settings = Settings(instance_path=folder / "instance", database_url=url)
    engine = Engine(settings, clock=Clock())
    try:
        engine.migrate()
        engine.deploy(read_files([DIAGRAM]), name="timer bench")
        per_start, per_job = calibrate(engine, creators, args.workers)
        # When will the warm service be up? Creation and the cold start (both from the calibration, with a
        # margin), and a warm start (a read of every instance and job); the first timer is due a lead later.
        predicted = args.timers * (per_start + per_job) * 1.3 + 5.0
        anchor = datetime.now(UTC) + timedelta(seconds=predicted + args.lead)
        step = args.window / args.timers
        dues = [anchor + timedelta(seconds=(i + 0.5) * step) for i in range(args.timers)]
        progress(
            f"{label}: calibration {1 / per_start:.0f} starts/s, cold start {per_job * 1000:.2f} ms/job; "
            f"starting {args.timers} instances ({creators} thread(s)), first due in {predicted + args.lead:.0f} s"
        )

        began = time.perf_counter()
        ids = create(engine, dues, creators)
        result.create_seconds = time.perf_counter() - began
        due_of = result.due_of = dict(zip(ids, dues, strict=True))
        if job_ids(engine):
            raise RuntimeError("the job table is not empty before the cold start")

        service, result.cold_seconds, result.cold_leader = start_service(engine, args.workers)
        result.cold_jobs = len(job_ids(engine))
        if stop(service):
            result.notes.append("timers came due during the cold start; the cold service fired some of them")
        progress(f"{label}: started in {result.create_seconds:.1f} s, cold start {result.cold_seconds:.1f} s")

        probe = result.probe
        probe.fired_seen = sum(len(ats) for ats in fired_events(engine).values())  # by the cold service
        warnings = WarningCounter(probe)
        loggers = [logging.getLogger("apscheduler"), logging.getLogger("petitionflow.scheduler")]
        for logger in loggers:
            logger.addHandler(warnings)
        service = TimerService(engine, workers=args.workers)
        undo = instrument(engine, service, probe)

        def seen(command: CommandResult) -> None:
            if "timer.fired" in command.events:
                now = time.time()
                with probe.lock:
                    probe.traces[command.instance_id].committed = now
                    probe.fired_seen += 1

        engine.listeners.append(seen)
        try:
            began = time.perf_counter()
            service.start(wait_for_leadership=600)
            result.warm_seconds = time.perf_counter() - began
            result.warm_leader = service.is_leader
            result.warm_added = probe.jobstore.count["add_job"]
            result.warm_jobs = len(job_ids(engine))
            ready = datetime.now(UTC)
            result.lead_seconds = (dues[0] - ready).total_seconds()
            result.due_before_ready = sum(1 for due in dues if due <= ready)
            progress(
                f"{label}: warm start {result.warm_seconds:.2f} s; first due in {result.lead_seconds:.1f} s"
            )
            # Wait for every timer, or until the grace period after the last due is over.
            deadline = dues[-1] + timedelta(seconds=args.grace)
            while probe.fired_seen < args.timers and datetime.now(UTC) < deadline:
                time.sleep(0.25)
            stopped_at = datetime.now(UTC)
            if probe.fired_seen < args.timers:
                result.cut_off_after = (stopped_at - dues[-1]).total_seconds()
            else:
                time.sleep(2.0)  # a duplicate fire would show up by now
        finally:
            dropped = set(stop(service))
            undo()
            engine.listeners.remove(seen)
            for logger in loggers:
                logger.removeHandler(warnings)

        events = fired_events(engine)
        stored = job_ids(engine)
        last = dues[0]
        for instance_id, due in due_of.items():
            ats = sorted(events.get(instance_id, []))
            if not ats:
                result.unfired += 1
                result.unfired_stored += instance_id in stored
                result.unfired_queued += instance_id not in stored and instance_id in dropped
                result.delays.append(((stopped_at - due).total_seconds(), True))
                continue
            result.dropped_again += instance_id in dropped
            if len(ats) == 1:
                result.once += 1
            else:
                result.twice += 1
            result.delays.append(((ats[0] - due).total_seconds(), False))
            last = max(last, ats[-1])
            committed = probe.traces[instance_id].committed
            if committed is not None:
                result.commit_delays.append(committed - due.timestamp())
        result.fire_seconds = (last - dues[0]).total_seconds()
        result.delays.sort()
        result.commit_delays.sort()
        stray = set(events) - set(due_of)
        if stray:
            result.notes.append(f"{len(stray)} timer.fired events of instances this run did not start")
        if result.due_before_ready:
            result.notes.append(
                f"{result.due_before_ready} timers were already due when the warm service was ready "
                "(creation or the cold start took longer than the calibration predicted)"
            )
    finally:
        engine.db.dispose()
    return result


# -- burst: every timer due at the same instant ------------------------------------------------------------
HANDLER_DIAGRAM = Path(_HERE) / "data" / "engine_bench.bpmn"
HANDLER_KEY = "engine_bench"
# The first two steps of bench/engine.py's happy path: what a handler does to each case during the burst.
HANDLER_STEPS = {"Task_Register": {"summary": "反映小区冬季供暖温度不达标", "category": "urban"}}
HANDLER_START = {"receivedAt": "2026-11-02", "petitioner": "张三", "channel": "letter"}


@dataclass
class Burst:
    label: str
    timers: int
    create_seconds: float = 0.0
    lead_seconds: float = 0.0
    drain_seconds: float | None = None  # the instant they came due → the last fire committed
    once: int = 0
    twice: int = 0
    never: int = 0
    completions: list[float] = field(default_factory=list)  # seconds, the handler's during the burst


def handler(engine: Engine, until: threading.Event, samples: list[float]) -> None:
    """A handler working through cases while the burst drains: start a case, complete its first task, and
    time each completion (the HTTP completion path's command)."""
    while not until.is_set():
        instance_id = engine.start(HANDLER_KEY, variables=HANDLER_START).instance_id
        with engine.db.reading() as session:
            tasks = session.execute(
                select(Task.id, Task.element_id).where(Task.instance_id == instance_id)
            ).all()
        for task_id, element in tasks:
            data = HANDLER_STEPS.get(element)
            if data is None:
                continue
            began = time.perf_counter()
            engine.complete(task_id, data, actor="bench")
            samples.append(time.perf_counter() - began)
        time.sleep(0.05)  # a person, not a loop: about 20 completions a second at most


def burst(label: str, url: str, folder: Path, args: argparse.Namespace, creators: int) -> Burst:
    """``--timers`` timers due at one instant (statutory deadlines end at 24:00) with the scheduler running
    while they are created, as in production; then the drain is timed, with a handler completing tasks."""
    result = Burst(label, args.timers)
    settings = Settings(instance_path=folder / "instance", database_url=url)
    engine = Engine(settings, clock=Clock())
    try:
        engine.migrate()
        engine.deploy(read_files([DIAGRAM, HANDLER_DIAGRAM]), name="timer bench")
        per_start, per_job = calibrate(engine, creators, args.workers)
        service, _, _ = start_service(engine, args.workers)
        seen: Counter[str] = Counter()
        last_fire = [0.0]

        def fired(command: CommandResult) -> None:
            if "timer.fired" in command.events:
                seen[command.instance_id] += 1
                last_fire[0] = time.time()

        engine.listeners.append(fired)
        try:
            predicted = args.timers * (per_start + per_job) * 1.5 + 5.0
            due = datetime.now(UTC) + timedelta(seconds=predicted + args.lead)
            progress(
                f"{label}: creating {args.timers} timers due at one instant, in {predicted + args.lead:.0f} s"
            )
            began = time.perf_counter()
            ids = create(engine, [due] * args.timers, creators)
            result.create_seconds = time.perf_counter() - began
            result.lead_seconds = (due - datetime.now(UTC)).total_seconds()
            if result.lead_seconds < 0:
                raise RuntimeError(f"creation ended {-result.lead_seconds:.1f} s after the due instant")
            done = threading.Event()
            time.sleep(max(0.0, result.lead_seconds - 1.0))
            worker = threading.Thread(target=handler, args=(engine, done, result.completions), daemon=True)
            worker.start()
            end = due + timedelta(seconds=args.grace + 120)
            while sum(1 for i in ids if seen[i]) < args.timers and datetime.now(UTC) < end:
                time.sleep(0.1)
            done.set()
            worker.join()
            time.sleep(2.0)  # a duplicate would show by now
        finally:
            stop(service)
            engine.listeners.remove(fired)
        events = fired_events(engine)
        for instance_id in ids:
            count = len(events.get(instance_id, []))
            result.once += count == 1
            result.twice += count > 1
            result.never += count == 0
        if not result.never:
            result.drain_seconds = last_fire[0] - due.timestamp()
    finally:
        engine.db.dispose()
    return result


def burst_table(results: list[Burst]) -> str:
    rows: list[list[str]] = []

    def row(name: str, make: Callable[[Burst], str]) -> None:
        rows.append([name, *[make(r) for r in results]])

    row(
        "Creation (scheduler running)",
        lambda r: f"{r.create_seconds:.1f} s = {r.timers / r.create_seconds:.0f}/s",
    )
    row("Created → due instant", lambda r: sec(r.lead_seconds))
    row(
        "**Due instant → last fire committed**",
        lambda r: (
            "–"
            if r.drain_seconds is None
            else f"**{r.drain_seconds:.1f} s** ({r.timers / r.drain_seconds:.0f}/s)"
        ),
    )
    row("Fired exactly once / twice or more / never", lambda r: f"{r.once:,} / {r.twice:,} / {r.never:,}")
    for name, q in (("p50", 50), ("p95", 95), ("max", 100)):
        row(
            f"Handler's completion {name} during the burst",
            lambda r, q=q: sec(percentile(sorted(r.completions), q)) if r.completions else "–",
        )
    row("Handler's completions timed", lambda r: f"{len(r.completions):,}")
    return table(["", *[r.label for r in results]], rows)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def sec(value: float) -> str:
    if math.isnan(value):
        return "–"
    return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.2f} s"


def censored_percentile(values: list[tuple[float, bool]], q: float) -> str:
    """Nearest-rank percentile of (value, is-lower-bound) pairs sorted by value; '≥' when it is a bound."""
    if not values:
        return "–"
    rank = min(max(1, math.ceil(q / 100 * len(values))), len(values))
    bounded = any(censored for _, censored in values[:rank])
    return ("≥ " if bounded else "") + sec(values[rank - 1][0])


def results_table(results: list[Result], args: argparse.Namespace) -> str:
    rows: list[list[str]] = []

    def row(name: str, make: Callable[[Result], str]) -> None:
        rows.append([name] + [make(r) for r in results])

    def jobs(seconds: float, count: int, leader: bool) -> str:
        return f"{sec(seconds)} ({count:,} jobs stored{'' if leader else ', NOT leader'})"

    row("Instances, one pending timer each", lambda r: f"{r.timers:,}")
    row(
        "Creation: `Engine.start` with the due time",
        lambda r: f"{r.create_seconds:.1f} s = {r.timers / r.create_seconds:.0f}/s ({r.creators} thread(s))",
    )
    row("Cold start (empty job table) → leader", lambda r: jobs(r.cold_seconds, r.cold_jobs, r.cold_leader))
    row(
        "Warm restart (jobs stored) → leader",
        lambda r: jobs(r.warm_seconds, r.warm_jobs, r.warm_leader) + f", {r.warm_added:,} re-added",
    )
    row("Warm service ready → first due", lambda r: sec(r.lead_seconds))
    row("Due window / due rate", lambda r: f"{args.window:g} s / {r.timers / args.window:.0f} per s")
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100)):
        row(f"**Firing delay {name}** (audit `at` − due)", lambda r, q=q: censored_percentile(r.delays, q))
    row(
        "Commit seen − due, p50 / p99 (fired ones)",
        lambda r: " / ".join(sec(percentile(r.commit_delays, q)) for q in (50, 99)),
    )
    row(
        "Sustained fire rate (fired ÷ first due → last fire)",
        lambda r: f"{(r.once + r.twice) / r.fire_seconds:.0f}/s" if r.fire_seconds > 0 else "–",
    )
    row("Fired exactly once", lambda r: f"{r.once:,}")
    row("Fired twice or more", lambda r: f"{r.twice:,}")

    def unfired(r: Result) -> str:
        if not r.unfired:
            return "0"
        lost = r.unfired - r.unfired_stored - r.unfired_queued
        where = (
            f"{r.unfired_stored:,} still in the job store, {r.unfired_queued:,} queued in the worker pool"
            + (f", **{lost:,} in neither**" if lost else "")
        )
        if r.cut_off_after is None:
            return f"**{r.unfired:,}** ({where})"
        return f"{r.unfired:,} by the cut-off {r.cut_off_after:.0f} s after the last due ({where})"

    row("Never fired", unfired)
    row("Jobs queued again for timers already fired (at the cut-off)", lambda r: f"{r.dropped_again:,}")
    return table(["", *[r.label for r in results]], rows)


def where_table(results: list[Result]) -> str:
    """Per-fire phases of the fired timers, and call totals, from the warm run's instrumentation."""
    rows: list[list[str]] = []
    margin = FIRING_MARGIN.total_seconds()
    for r in results:
        parts: dict[str, list[float]] = defaultdict(list)
        for instance_id, due in r.due_of.items():
            t = r.probe.traces.get(instance_id)
            if t is None or t.submitted is None or t.first_call is None or t.command_end is None:
                continue
            parts["due → submitted to the worker pool (APScheduler main loop)"].append(
                t.submitted - due.timestamp() - margin
            )
            parts["submitted → `fire_timers` called (queued for a worker)"].append(t.first_call - t.submitted)
            if t.lock_wait is not None:
                parts["`fire_timers`: wait for the SQLite write lock"].append(t.lock_wait)
            parts["`fire_timers` called → returned (incl. after-commit listeners)"].append(
                t.command_end - t.first_call
            )
        for name, values in parts.items():
            values.sort()
            mean = sum(values) / len(values)
            rows.append([r.label, name, sec(mean), sec(percentile(values, 50)), sec(percentile(values, 99))])
        fired = r.once + r.twice
        for watch, prefix in ((r.probe.phases, ""), (r.probe.jobstore, "job store ")):
            for name in sorted(watch.count):
                count, total = watch.count[name], watch.total[name]
                rows.append(
                    [
                        r.label,
                        f"{prefix}{name}: {count:,} calls ({count / max(fired, 1):.2f} per fired timer), "
                        f"{total:.1f} s in all, max {sec(watch.max[name])}",
                        sec(total / count),
                        "",
                        "",
                    ]
                )
    return table(["Backend", "Phase (warm run)", "mean", "p50", "p99"], rows)


def each_database(args: argparse.Namespace, measure: Callable[..., Any]) -> tuple[list[Any], list[str], str]:
    """``measure(label, url, folder, args, creators)`` on SQLite and on a fresh PostgreSQL schema, as the options
    say; returns the results, notes on what could not run, and the PostgreSQL version."""
    results: list[Any] = []
    notes: list[str] = []
    pg_version = "not run"
    folder = Path(tempfile.mkdtemp(prefix="timer-bench-"))
    try:
        if not args.no_sqlite:
            # SQLite serialises writers (BEGIN IMMEDIATE), so more creating threads would only queue.
            results.append(measure("SQLite", f"sqlite:///{folder / 'bench.db'}", folder / "sqlite", args, 1))
        if not args.no_pg:
            with pg_schema(args.pg) as (url, pg_version):
                if url is None:
                    notes.append(pg_version)
                else:
                    results.append(measure("PostgreSQL", url, folder / "pg", args, args.creators))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return results, notes, pg_version


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--timers", type=int, default=10_000, help="instances, one timer each (10000)")
    parser.add_argument("--window", type=float, default=60.0, help="seconds the due times spread over (60)")
    parser.add_argument("--lead", type=float, default=5.0, help="seconds from ready to the first due (5)")
    parser.add_argument(
        "--grace", type=float, default=30.0, help="seconds to wait for late fires after the last due (30)"
    )
    parser.add_argument("--workers", type=int, default=4, help="TimerService worker threads (4, its default)")
    parser.add_argument(
        "--creators", type=int, default=4, help="threads starting instances on PostgreSQL (4)"
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--pg", default=PG_URL, help=f"PostgreSQL URL (default {PG_URL})")
    group.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument(
        "--burst",
        action="store_true",
        help="all timers due at one instant (statutory deadlines end at 24:00), a handler completing tasks "
        "while they drain (targets: all fired once within 60 s on SQLite, 30 s on PostgreSQL; p95 < 100 ms)",
    )
    args = parser.parse_args()
    # Warnings reach the loggers (WarningCounter counts them) but only errors are printed.
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger().handlers[0].setLevel(logging.ERROR)

    if args.burst:
        main_burst(args)
        return
    wall = time.perf_counter()
    load_before = os.getloadavg()[0]
    results, notes, pg_version = each_database(args, run)
    elapsed = time.perf_counter() - wall

    print(f"## Timer scheduler: {args.timers:,} pending timers due over {args.window:g} s\n")
    print(results_table(results, args))
    print("\n### Where a fire spends its time (warm run, wall clock)\n")
    print(where_table(results))
    for r in results:
        for gist, count in r.probe.warnings.most_common():
            print(f"\n{r.label} log warnings: {count:,} × {gist}")
        for note in r.notes:
            print(f"\n{r.label}: {note}")
    machine = machine_rows(pg_version, ("APScheduler", "SpiffWorkflow", "SQLAlchemy"), load_before)
    print()
    print(table(["Machine", ""], machine))
    for note in notes:
        print(f"\nNote: {note}")
    print(f"\nBenchmark wall time: {elapsed:.1f} s")
    sys.stdout.flush()


def main_burst(args: argparse.Namespace) -> None:
    wall = time.perf_counter()
    load_before = os.getloadavg()[0]
    results, notes, pg_version = each_database(args, burst)
    print(f"## Timer burst: {args.timers:,} timers due at the same instant\n")
    print(burst_table(results))
    print()
    print(table(["Machine", ""], machine_rows(pg_version, ("APScheduler", "SQLAlchemy"), load_before)))
    for note in notes:
        print(f"\nNote: {note}")
    print(f"\nBenchmark wall time: {time.perf_counter() - wall:.1f} s")


if __name__ == "__main__":
    main()
