"""Firing BPMN timers on time, exactly once, across restarts and processes.

Every instance with a waiting timer has one APScheduler job, keyed by the instance id, at the earliest due
time of its timers (the engine stores that time on the instance row in the same transaction as the timer
itself). The jobs live in the application database, so they survive restarts. A job runs the engine's
fire-timers command, which locks the instance and fires only what is due: firing twice fires nothing more.

One scheduler is active at a time: on PostgreSQL the holder of an advisory lock, on SQLite the holder of a
file lock in the instance folder. A standby retries the lock and takes over when the holder dies. Jobs for
timers that other processes (web workers) created are picked up by a sync pass that runs every second and
looks a little ahead; a full reconciliation at start-up and every few minutes catches anything else, and
timers that came due while no scheduler ran fire at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select, text

from .models import Instance, apscheduler_jobs
from .ports import TimerHost
from .unit_of_work import ACTIVE, CommandResult

log = logging.getLogger("petitionflow.scheduler")
ADVISORY_LOCK_KEY = 0x7065_7469_7469_6F6E  # "petition"
# SpiffWorkflow fires a timer only once "now" is strictly after its due time.
FIRING_MARGIN = timedelta(milliseconds=2)
SYNC_HORIZON = timedelta(seconds=5)
RETRY_LIMIT = timedelta(minutes=5)

# The active service of this process. Jobs name only the instance, so they stay valid across restarts.
_active: TimerService | None = None


def fire_job(instance_id: str) -> None:
    """The job APScheduler runs (by reference, so it survives pickling into the job store)."""
    if _active is not None:
        _active.fire(instance_id)


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
        got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY}).scalar()
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
                self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
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
        self.scheduler = BackgroundScheduler(
            jobstores={
                "default": SQLAlchemyJobStore(engine=engine.db.engine, tablename="apscheduler_jobs"),
                "local": MemoryJobStore(),
            },
            # Timer firing has its own pool; the sync, reconcile and ladder passes never queue behind a backlog.
            executors={"default": ThreadPoolExecutor(workers), "control": ThreadPoolExecutor(1)},
            # A job that could not run on time (service down, all workers busy) runs as soon as it can.
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
            timezone=UTC,
        )
        self._stop = threading.Event()
        self._leader = threading.Event()
        # Instances whose job APScheduler already took from the store and queued: the sync pass must not put
        # the job back (the instance row still shows the timer until the fire commits).
        self._in_flight: set[str] = set()
        self._in_flight_lock = threading.Lock()
        self._firing = threading.local()
        # Instances whose fire failed (a diagram error): failures in a row and when to try again, with a
        # growing pause rather than on every sync pass.
        self._failing: dict[str, tuple[int, datetime]] = {}
        self.scheduler.add_listener(self._on_submitted, EVENT_JOB_SUBMITTED)
        self.scheduler.add_listener(self._on_done, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
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
        self.scheduler.start()
        # The passes live in memory and run in their own pool, never queued behind a backlog of fires.
        passes: list[tuple[Any, str, dict[str, Any]]] = [
            (self.sync, "interval", {"seconds": 1}),
            (self.reconcile, "interval", {"seconds": self.reconcile_every.total_seconds()}),
            (self._escalate, "interval", {"minutes": 1}),
            # 网巡 runs every morning, office time in Beijing.
            (self._patrol, "cron", {"hour": 8, "minute": 0, "timezone": self.engine.calendar.tz}),
        ]
        for run, trigger, when in passes:
            self.scheduler.add_job(
                run,
                trigger,
                id=run.__name__.lstrip("_"),
                executor="control",
                jobstore="local",
                replace_existing=True,
                **when,
            )
        scheduled = self.reconcile()
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
        self.lock.release()
        self._leader.clear()
        if _active is self:
            _active = None

    # -- scheduling ------------------------------------------------------------------------------------------
    def on_command(self, result: CommandResult) -> None:
        """After every committed command of this process: keep the instance's job at its next due time."""
        if not self.is_leader or self._stop.is_set() or getattr(self._firing, "active", False):
            # Another process's leader sees the row in its sync pass; our own fires reschedule themselves
            # (their job was already taken from the store, so there is nothing to remove).
            return
        # Someone changed the instance: if its fires were failing, the change may have mended it.
        self._failing.pop(result.instance_id, None)
        if result.next_timer_at is None:
            with contextlib.suppress(JobLookupError):
                self.scheduler.remove_job(result.instance_id, jobstore="default")
        else:
            self.schedule(result.instance_id, result.next_timer_at)

    def _run_at(self, instance_id: str, due: datetime) -> datetime:
        """When the instance's job runs: at its due time, or later while its fires are failing."""
        failing = self._failing.get(instance_id)
        return (due if failing is None else max(due, failing[1])) + FIRING_MARGIN

    def schedule(self, instance_id: str, due: datetime) -> None:
        self.scheduler.add_job(
            fire_job,
            "date",
            run_date=self._run_at(instance_id, due),
            args=[instance_id],
            id=instance_id,
            jobstore="default",
            replace_existing=True,
        )

    def fire(self, instance_id: str) -> None:
        if self._stop.is_set():
            return
        self._firing.active = True
        try:
            result = self.engine.fire_timers(instance_id)
        except Exception as error:
            # The instance stays as it was. Try again after 2, 4, 8 … seconds (at most RETRY_LIMIT apart), so
            # a diagram error neither stops the timer for good nor fills the log every second.
            failures = self._failing.get(instance_id, (0, None))[0] + 1
            pause = min(timedelta(seconds=2**failures), RETRY_LIMIT)
            retry_at = datetime.now(UTC) + pause
            self._failing[instance_id] = (failures, retry_at)
            log.exception(
                "firing the timers of instance %s failed (%d in a row); next try in %ds",
                instance_id,
                failures,
                pause.total_seconds(),
            )
            self.schedule(instance_id, retry_at)
            if failures == 1:
                try:
                    self.engine.record_failure(instance_id, "timer.failed", error)
                except Exception:
                    log.exception("recording the failed fire of instance %s failed", instance_id)
            return
        finally:
            self._firing.active = False
        self._failing.pop(instance_id, None)
        if result is not None:
            self.fired += 1
            if result.next_timer_at is not None:
                self.schedule(instance_id, result.next_timer_at)

    def _on_submitted(self, event: Any) -> None:
        if event.jobstore == "default":
            with self._in_flight_lock:
                self._in_flight.add(event.job_id)

    def _on_done(self, event: Any) -> None:
        with self._in_flight_lock:
            self._in_flight.discard(event.job_id)

    def _escalate(self) -> None:
        try:
            self.engine.escalations.run()
        except Exception:
            log.exception("the escalation ladder failed; it runs again in a minute")

    def _patrol(self) -> None:
        try:
            log.info("patrol: %d findings", self.engine.escalations.patrol())
        except Exception:
            log.exception("the daily patrol failed")
        try:
            log.info("attempt limits: %d ended windows forgotten", self.engine.purge_attempts())
        except Exception:
            log.exception("forgetting ended attempt windows failed")

    def _due_rows(self, until: datetime | None) -> Iterator[tuple[str, datetime]]:
        query = select(Instance.id, Instance.next_timer_at).where(
            Instance.state == ACTIVE, Instance.next_timer_at.is_not(None)
        )
        if until is not None:
            query = query.where(Instance.next_timer_at <= until)
        with self.engine.db.reading() as session:
            yield from session.execute(query)

    def _scheduled(self) -> dict[str, float | None]:
        with self.engine.db.engine.connect() as connection:
            rows = connection.execute(select(apscheduler_jobs.c.id, apscheduler_jobs.c.next_run_time))
            return {job_id: run_at for job_id, run_at in rows}

    def _ensure(self, rows: Iterator[tuple[str, datetime]]) -> int:
        if self._stop.is_set():
            return 0
        scheduled = self._scheduled()
        with self._in_flight_lock:
            in_flight = set(self._in_flight)
        added = 0
        for instance_id, due in rows:
            if instance_id in in_flight:
                continue
            run_at = self._run_at(instance_id, due).timestamp()
            known = scheduled.get(instance_id)
            if known is None or abs(known - run_at) > 0.001:
                self.schedule(instance_id, due)
                added += 1
        return added

    def sync(self) -> int:
        """Jobs for timers due soon that another process created (web workers do not schedule)."""
        return self._ensure(self._due_rows(datetime.now(UTC) + SYNC_HORIZON))

    def reconcile(self) -> int:
        """Every waiting timer has its job; overdue ones fire now. Returns how many jobs were (re)added."""
        return self._ensure(self._due_rows(None))
