"""Firing BPMN timers on time, exactly once, across restarts and processes, and in bursts.

Every waiting timer's due time is on its instance row (``next_timer_at``, written in the same transaction as
the timer itself). APScheduler keeps one job per distinct due *instant*, not per instance: statutory deadlines
all end at 24:00, so ten thousand timers may come due at once, and ten thousand jobs would be handed out and
deleted one by one by APScheduler's single main loop. The job of an instant drains: it claims the instances
that are due, in chunks ordered by due time, and fires them in batches of a few instances per transaction
(``Engine.fire_due``: one statement locks the batch, one commit ends it) on a pool of workers (one on
SQLite, which admits one writer at a time). On PostgreSQL with the system clock the batches run in worker
processes (``Settings.fire_processes``), each with an engine of its own, so that decoding, running and encoding
the instances is not held to one core by the interpreter lock; this process hears of their fires and failures as
of its own threads'. Each instance is locked and fires only what is due under the lock, so
firing twice fires nothing more. The jobs live in the application database, so they survive restarts.

One scheduler is active at a time: on PostgreSQL the holder of an advisory lock, on SQLite the holder of a
file lock in the instance folder. A standby retries the lock and takes over when the holder dies. Jobs for
timers that other processes (web workers) created are picked up by a sync pass that runs every second and
looks a little ahead; a full reconciliation at start-up and every few minutes catches anything else, and
timers that came due while no scheduler ran fire at once.

The active scheduler also works off the background migrations (engine/batches.py), a slice per second on a
thread of its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import multiprocessing
import os
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from concurrent.futures import ThreadPoolExecutor as FirePool
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select, text

from .clock import Clock
from .config import Settings
from .errors import PetitionflowError
from .models import Instance, apscheduler_jobs
from .ports import TimerHost
from .unit_of_work import ACTIVE, CommandResult

log = logging.getLogger("petitionflow.scheduler")
# The leader's advisory lock: this class and the schema's name, so that each petitionflow schema of a database
# (a deployment, or a test) has its own active scheduler.
ADVISORY_LOCK_CLASS = 0x7065_7469  # "peti"
ADVISORY_LOCK = "SELECT {}(CAST(:k AS integer), hashtext(current_schema()))"
# SpiffWorkflow fires a timer only once "now" is strictly after its due time.
FIRING_MARGIN = timedelta(milliseconds=2)
SYNC_HORIZON = timedelta(seconds=5)
RETRY_LIMIT = timedelta(minutes=5)
CHUNK = 200  # due instances claimed per query while draining (at least; see TimerService.chunk)
# Instances fired in one transaction. SQLite: fewer commits, yet a short hold of its one write lock, which a
# handler's command waits for. PostgreSQL: row locks let batches and handlers run side by side, so a larger
# batch only saves commits (and the round trips around them).
SQLITE_BATCH = 8
PG_BATCH = 32
YIELD = 0.003  # seconds SQLite's write lock is left free between two batches
# A fire process runs below the web workers' priority: a burst must not slow the handlers' own commands.
FIRE_NICENESS = 5

# The active service of this process. Jobs name only their instant, so they stay valid across restarts.
_active: TimerService | None = None


def drain_job() -> None:
    """The job APScheduler runs at a due instant (by reference, so it survives pickling into the job store)."""
    if _active is not None:
        _active.drain()


def job_id(due: datetime) -> str:
    """The one job of a due instant (milliseconds: the precision the timers are fired with)."""
    return f"due:{round(due.timestamp() * 1000)}"


def fire_batch(
    engine: TimerHost, instance_ids: list[str]
) -> tuple[list[CommandResult], dict[str, Exception]]:
    """Fire a batch in one transaction; if that transaction cannot commit, each instance on its own."""
    try:
        return engine.fire_due(instance_ids)
    except Exception:
        log.warning("firing %d instances together failed; firing each alone", len(instance_ids))
    results: list[CommandResult] = []
    failures: dict[str, Exception] = {}
    for instance_id in instance_ids:
        try:
            result = engine.fire_timers(instance_id)
        except Exception as error:
            failures[instance_id] = error
        else:
            results.extend([result] if result is not None else [])
    return results, failures


class RemoteTraceback(Exception):
    """Where a fire process's error was raised, shown as the cause of the failure this process records."""


class FireFailure(PetitionflowError):
    """A fire process's failure as this process records it: the message and details of the error (what the
    instance's incident keeps) and its traceback."""

    code = "process_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None, where: str = "") -> None:
        super().__init__(message, details)
        self.where = where
        self.__cause__ = RemoteTraceback(where) if where else None

    def __reduce__(self) -> tuple[Any, ...]:
        return (FireFailure, (self.message, self.details, self.where))


# The engine of a fire process, built once by its initializer.
_process_engine: TimerHost | None = None


def _start_fire_process(make_engine: Callable[..., TimerHost], settings: Settings, parent: int) -> None:
    """``make_engine``: the scheduler's own engine class (pickled by reference), so that this module need not
    import the engine that imports it."""
    global _process_engine
    with contextlib.suppress(OSError):
        os.nice(FIRE_NICENESS)
    _process_engine = make_engine(settings, clock=Clock())
    threading.Thread(target=_follow_parent, args=(parent,), name="petitionflow-orphan", daemon=True).start()


def _follow_parent(parent: int) -> None:
    """End the fire process when its scheduler died (killed, it cannot shut its pool down)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _fire_in_process(instance_ids: list[str]) -> tuple[list[CommandResult], dict[str, FireFailure]]:
    assert _process_engine is not None, "the fire process has no engine"
    results, failures = fire_batch(_process_engine, instance_ids)
    return results, {
        instance_id: FireFailure(
            str(error),
            # Plain values only: whatever the details held must reach the parent process.
            json.loads(json.dumps(getattr(error, "details", None) or {}, default=str)),
            "".join(traceback.format_exception(error)),
        )
        for instance_id, error in failures.items()
    }


def _ready() -> None:
    """Nothing: sent to each fire process at start, so that it is up before the first burst."""


class LeaderLock:
    """Held by the one active scheduler of a database."""

    def __init__(self, engine: TimerHost) -> None:
        self.engine = engine
        self._connection: Any = None
        self._file: Any = None

    def try_acquire(self) -> bool:
        if self.engine.db.is_sqlite:
            path = self.engine.settings.instance_path / "scheduler.lock"
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = path.open("a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                return False
            self._file = handle
            return True
        connection = self.engine.db.engine.connect()
        got = connection.execute(
            text(ADVISORY_LOCK.format("pg_try_advisory_lock")), {"k": ADVISORY_LOCK_CLASS}
        ).scalar()
        connection.commit()
        if got:
            self._connection = connection  # the lock lives as long as this session
            return True
        connection.close()
        return False

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.execute(
                    text(ADVISORY_LOCK.format("pg_advisory_unlock")), {"k": ADVISORY_LOCK_CLASS}
                )
                self._connection.commit()
            self._connection.close()
            self._connection = None


class TimerService:
    """The scheduler of one engine. ``start()`` returns at once; leadership is taken in the background."""

    def __init__(
        self, engine: TimerHost, *, workers: int = 4, reconcile_every: timedelta = timedelta(minutes=5)
    ) -> None:
        self.engine = engine
        self.lock = LeaderLock(engine)
        self.reconcile_every = reconcile_every
        self.fired = 0
        # SQLite lets one writer in at a time: more firing threads would only queue for the lock and crowd out
        # the handlers' own commands.
        self.workers = 1 if engine.db.is_sqlite else workers
        self.batch = SQLITE_BATCH if engine.db.is_sqlite else PG_BATCH
        # Enough for several batches per worker, so that few of them idle while a chunk's last batches run.
        self.chunk = max(CHUNK, self.workers * self.batch * 4)
        self._pool: FirePool | None = None
        # The fire processes (None: the fire pool's threads fire themselves). The system clock only: an engine
        # with another clock (tests) fires in its own threads, by its own time.
        self.processes = (
            engine.settings.fire_processes if not engine.db.is_sqlite and type(engine.clock) is Clock else 0
        )
        self._processes: ProcessPoolExecutor | None = None
        self.scheduler = BackgroundScheduler(
            jobstores={
                "default": SQLAlchemyJobStore(engine=engine.db.engine, tablename="apscheduler_jobs"),
                "local": MemoryJobStore(),
            },
            # A due instant's job only hands its instances to the fire pool; the sync, reconcile and ladder passes
            # have their own thread and never queue behind a backlog.
            # Background migrations have a thread of their own: a slice of cases takes seconds, and neither the
            # passes nor the fires wait for it.
            executors={
                "default": ThreadPoolExecutor(2),
                "control": ThreadPoolExecutor(1),
                "batches": ThreadPoolExecutor(1),
            },
            # A job that could not run on time (service down, all workers busy) runs as soon as it can.
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
            timezone=UTC,
        )
        self._stop = threading.Event()
        self._leader = threading.Event()
        # Instances claimed by a drain and not yet fired: another drain running at the same time leaves them.
        self._in_flight: set[str] = set()
        self._in_flight_lock = threading.Lock()
        self._firing = threading.local()
        # Instances whose fire failed (a diagram error): failures in a row and when to try again, with a
        # growing pause rather than on every sync pass.
        self._failing: dict[str, tuple[int, datetime]] = {}
        self._thread: threading.Thread | None = None

    @property
    def is_leader(self) -> bool:
        return self._leader.is_set()

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self, *, wait_for_leadership: float | None = None) -> None:
        self.engine.listeners.append(self.on_command)
        self._thread = threading.Thread(target=self._campaign, name="petitionflow-scheduler", daemon=True)
        self._thread.start()
        if wait_for_leadership:
            self._leader.wait(wait_for_leadership)

    def _campaign(self) -> None:
        while not self._stop.is_set():
            if self.lock.try_acquire():
                self._lead()
                return
            self._stop.wait(1.0)

    def _lead(self) -> None:
        global _active
        started = datetime.now(UTC)
        _active = self
        if self.processes:
            self._processes = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),  # not fork: this process has threads
                initializer=_start_fire_process,
                initargs=(type(self.engine), self.engine.settings, os.getpid()),
            )
            # Each process starts now, in the background, rather than when the first burst comes due.
            for _ in range(self.processes):
                self._processes.submit(_ready)
        # With processes, a thread per process hands it batches and takes in what it fired.
        self._pool = FirePool(self.processes or self.workers, thread_name_prefix="petitionflow-fire")
        self.scheduler.start()
        # The passes live in memory and run in their own pool, never queued behind a backlog of fires.
        passes: list[tuple[Any, str, dict[str, Any]]] = [
            (self.sync, "interval", {"seconds": 1}),
            (self.reconcile, "interval", {"seconds": self.reconcile_every.total_seconds()}),
            (self._escalate, "interval", {"minutes": 1}),
            (self._mail, "interval", {"minutes": 1}),
            # 网巡 runs every morning, office time in Beijing.
            (self._patrol, "cron", {"hour": 8, "minute": 0, "timezone": self.engine.calendar.tz}),
            # Background migrations: a slice of cases of the oldest running batch per tick.
            (self._migrate, "interval", {"seconds": 1}),
            # A calendar year saved by any process reaches this one within a tick, with the deadlines it moves.
            (self._follow_calendar, "interval", {"seconds": 1}),
            (
                self.engine.calendar_years.log_missing,
                "cron",
                {"hour": 8, "timezone": self.engine.calendar.tz},
            ),
        ]
        for run, trigger, when in passes:
            self.scheduler.add_job(
                run,
                trigger,
                id=run.__name__.lstrip("_"),
                executor="batches" if run == self._migrate else "control",
                jobstore="local",
                replace_existing=True,
                **when,
            )
        scheduled = self.reconcile()
        self.engine.calendar_years.log_missing()
        self._leader.set()
        log.info(
            "scheduler active: %d timer jobs reconciled in %.2fs",
            scheduled,
            (datetime.now(UTC) - started).total_seconds(),
        )

    def stop(self) -> None:
        """Stop without waiting under APScheduler's locks (a running job may need them: that deadlocks).

        Fires still queued are dropped: their instances keep their due time and fire at the next start.
        """
        global _active
        self._stop.set()
        if self.on_command in self.engine.listeners:
            self.engine.listeners.remove(self.on_command)
        if self.scheduler.running:
            self.scheduler.pause()
            self._leader.clear()
            executors = list(self.scheduler._executors.values())
            self.scheduler.shutdown(wait=False)
            for executor in executors:
                pool = getattr(executor, "_pool", None)
                if pool is not None:
                    pool.shutdown(wait=True, cancel_futures=True)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._processes is not None:
            self._processes.shutdown(wait=True, cancel_futures=True)
            self._processes = None
        self.lock.release()
        self._leader.clear()
        if _active is self:
            _active = None

    # -- scheduling ------------------------------------------------------------------------------------------
    def on_command(self, result: CommandResult) -> None:
        """After every committed command of this process: the instance's next due instant has its job."""
        if not self.is_leader or self._stop.is_set() or getattr(self._firing, "active", False):
            # Another process's leader sees the row in its sync pass; our own fires schedule their next instant.
            return
        # Someone changed the instance: if its fires were failing, the change may have mended it.
        self._failing.pop(result.instance_id, None)
        if result.incident is not None:
            # The command went through, but its own fire failed and is recorded (a resume): the first failure in
            # a row, tried again after a pause like the scheduler's own rather than at once.
            self._pause(result.instance_id)
        elif result.next_timer_at is not None:
            self.schedule(result.next_timer_at)

    def schedule(self, due: datetime) -> None:
        """The job that drains what is due at ``due`` (one per instant, however many timers share it)."""
        self.scheduler.add_job(
            drain_job,
            "date",
            run_date=due + FIRING_MARGIN,
            id=job_id(due),
            jobstore="default",
            replace_existing=True,
        )

    def _claim(self, idle: set[str]) -> list[str]:
        """Up to ``chunk`` due instances, the longest due first, that no drain holds, that are not waiting for a
        retry and whose fire in this drain did not find them idle (``idle``: due by their row, yet nothing to
        fire, so not tried again in a loop); they are held until fired."""
        now = datetime.now(UTC)
        query = (
            select(Instance.id)
            .where(Instance.state == ACTIVE, Instance.next_timer_at <= now - FIRING_MARGIN)
            .order_by(Instance.next_timer_at)
        )
        with self._in_flight_lock:
            skip = (
                self._in_flight | idle | {i for i, (_, retry_at) in self._failing.items() if retry_at > now}
            )
            with self.engine.db.reading() as session:
                rows = session.scalars(query.limit(self.chunk + len(skip))).all()
            claimed = [i for i in rows if i not in skip][: self.chunk]
            self._in_flight.update(claimed)
        return claimed

    def drain(self) -> None:
        """Fire every instance that is due, a chunk at a time, in batches on the fire pool."""
        pool = self._pool
        idle: set[str] = set()
        while pool is not None and not self._stop.is_set():
            claimed = self._claim(idle)
            if not claimed:
                return
            batches = [claimed[i : i + self.batch] for i in range(0, len(claimed), self.batch)]
            try:
                for fired_nothing in pool.map(self._fire_and_yield, batches):
                    idle.update(fired_nothing)
            except RuntimeError:  # the pool was shut down by stop(): what is left keeps its due time
                return
            finally:
                with self._in_flight_lock:
                    self._in_flight.difference_update(claimed)

    def _fire_and_yield(self, instance_ids: list[str]) -> set[str]:
        idle = self.fire(instance_ids)
        if self.engine.db.is_sqlite:
            # Leave SQLite's one write lock free for a moment: a handler's command waiting for it gets in
            # between two batches instead of after the whole burst.
            time.sleep(YIELD)
        return idle

    def fire(self, instance_ids: list[str]) -> set[str]:
        """Fire a batch in one transaction; if that transaction cannot commit, each instance on its own.
        Returns the instances that had nothing to fire and did not fail."""
        if self._stop.is_set():
            return set()
        self._firing.active = True
        try:
            results, failures = self._fire_batch(instance_ids)
        finally:
            self._firing.active = False
        for instance_id in instance_ids:
            if instance_id not in failures:
                self._failing.pop(instance_id, None)
        for result in results:
            self.fired += 1
            if result.next_timer_at is not None:
                self.schedule(result.next_timer_at)
        for instance_id, error in failures.items():
            self._failed(instance_id, error)
        return set(instance_ids) - failures.keys() - {result.instance_id for result in results}

    def _fire_batch(self, instance_ids: list[str]) -> tuple[list[CommandResult], dict[str, Exception]]:
        """In a fire process if there are any, else in this thread."""
        processes = self._processes
        if processes is None:
            return fire_batch(self.engine, instance_ids)
        try:
            results, remote = processes.submit(_fire_in_process, instance_ids).result()
        except BrokenExecutor:
            if self._stop.is_set():
                raise
            # A fire process died (its batch rolled back): the pool is of no more use, this process fires on.
            log.exception("a timer fire process died; timers fire in the scheduler's own threads from now on")
            self._processes = None
            processes.shutdown(wait=False, cancel_futures=True)
            return fire_batch(self.engine, instance_ids)
        # The process's engine has no listeners: this one's hear of each fire, as after a fire of its own.
        for result in results:
            self.engine.notify(result)
        return results, dict(remote)

    def _pause(self, instance_id: str) -> tuple[int, timedelta]:
        """One failed fire more in a row: the next try comes 2, 4, 8 … seconds later (at most RETRY_LIMIT
        apart), so a diagram error neither stops the timer for good nor fills the log every second. Returns
        the failures in a row and the pause."""
        failures = self._failing.get(instance_id, (0, None))[0] + 1
        pause = min(timedelta(seconds=2**failures), RETRY_LIMIT)
        retry_at = datetime.now(UTC) + pause
        self._failing[instance_id] = (failures, retry_at)
        self.schedule(retry_at)
        return failures, pause

    def _failed(self, instance_id: str, error: Exception) -> None:
        """The instance stays as it was; its fire is tried again after a pause."""
        failures, pause = self._pause(instance_id)
        log.error(
            "firing the timers of instance %s failed (%d in a row); next try in %ds",
            instance_id,
            failures,
            pause.total_seconds(),
            exc_info=error,
        )
        # Every failure updates the instance's incident (attempts, message) that supervisors retry; the history
        # has the first one.
        try:
            self.engine.record_failure(instance_id, "timer.failed", error, audit=failures == 1)
        except Exception:
            log.exception("recording the failed fire of instance %s failed", instance_id)

    def _escalate(self) -> None:
        try:
            self.engine.escalations.run()
        except Exception:
            log.exception("the escalation ladder failed; it runs again in a minute")

    def _mail(self) -> None:
        try:
            sent = self.engine.send_mail()
        except Exception:
            log.exception("sending the inbox e-mail failed; it runs again in a minute")
            return
        if sent.get("sent") or sent.get("failed"):
            log.info("inbox e-mail: %d sent, %d failed", sent["sent"], sent["failed"])

    def _migrate(self) -> None:
        try:
            worked = self.engine.work_migrations(self._stop.is_set)
        except Exception:
            log.exception("a background migration tick failed; its cases stay pending for the next tick")
            return
        if worked:
            log.info("background migration: %d case(s) worked off", worked)

    def _follow_calendar(self) -> None:
        try:
            moved = self.engine.follow_calendar()
        except Exception:
            log.exception("following the calendar failed; it is tried again in a second")
            return
        if moved:
            log.info("calendar changed: deadlines moved in %d instance(s)", moved)

    def _patrol(self) -> None:
        try:
            log.info("patrol: %d findings", self.engine.escalations.patrol())
        except Exception:
            log.exception("the daily patrol failed")
        try:
            log.info("attempt limits: %d ended windows forgotten", self.engine.purge_attempts())
        except Exception:
            log.exception("forgetting ended attempt windows failed")

    def _due_instants(self, until: datetime | None) -> set[datetime]:
        query = (
            select(Instance.next_timer_at)
            .distinct()
            .where(Instance.state == ACTIVE, Instance.next_timer_at.is_not(None))
        )
        if until is not None:
            query = query.where(Instance.next_timer_at <= until)
        with self.engine.db.reading() as session:
            return set(session.scalars(query))

    def _scheduled(self) -> set[str]:
        with self.engine.db.engine.connect() as connection:
            return set(connection.scalars(select(apscheduler_jobs.c.id)))

    def _ensure(self, instants: set[datetime]) -> int:
        if self._stop.is_set():
            return 0
        scheduled = self._scheduled()
        added = 0
        for due in sorted(instants):
            if job_id(due) not in scheduled:
                self.schedule(due)
                added += 1
        return added

    def sync(self) -> int:
        """Jobs for timers due soon that another process created (web workers do not schedule)."""
        return self._ensure(self._due_instants(datetime.now(UTC) + SYNC_HORIZON))

    def reconcile(self) -> int:
        """Every waiting timer's instant has its job; overdue ones fire now. Returns how many jobs were added."""
        return self._ensure(self._due_instants(None))
