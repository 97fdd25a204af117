"""The real scheduler: timers fire on time, exactly once, across restarts and with two schedulers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.clock import Clock
from engine.config import Settings
from engine.definitions import read_files
from engine.models import AuditEvent, Incident, Instance
from engine.runtime import Engine
from engine.scheduler import TimerService
from engine.unit_of_work import CommandResult
from tests.helpers import deploy_data, only_task, with_text

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture
def live(settings: Settings) -> Iterator[Engine]:
    """An engine on the system clock: the scheduler works in real time."""
    engine = Engine(settings, clock=Clock())
    engine.migrate()
    deploy_data(engine, "simple.bpmn", "simple_register.form")
    yield engine
    engine.db.dispose()


def start_timer(engine: Engine, seconds: float) -> tuple[str, datetime]:
    """An instance whose boundary timer is due ``seconds`` from now; returns its id and due time."""
    instance_id = engine.start("simple").instance_id
    data = {"name": "甲", "accepted": True, "handler": "bob", "wait": f"PT{seconds}S"}
    result = engine.complete(only_task(engine, instance_id, "register").id, data)
    assert result.next_timer_at is not None
    return instance_id, result.next_timer_at


def fired(engine: Engine, instance_id: str) -> list[datetime]:
    with engine.db.reading() as session:
        return list(
            session.scalars(
                select(AuditEvent.at).where(
                    AuditEvent.instance_id == instance_id, AuditEvent.kind == "timer.fired"
                )
            )
        )


def wait_until(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_timer_fires_within_a_second_of_its_due_time(live: Engine) -> None:
    service = TimerService(live)
    service.start(wait_for_leadership=10)
    try:
        instance_id, due = start_timer(live, 3)
        assert wait_until(lambda: fired(live, instance_id), timeout=10)
        [at] = fired(live, instance_id)
        assert due <= at < due + timedelta(seconds=1)
    finally:
        service.stop()
    with live.db.reading() as session:
        assert session.get(Instance, instance_id).state == "completed"


TWO_TIMERS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Defs_two" targetNamespace="http://petitionflow/test">
  <bpmn:process id="two_timers" isExecutable="true">
    <bpmn:startEvent id="Begin"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Begin" targetRef="First"/>
    <bpmn:intermediateCatchEvent id="First"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDate xsi:type="bpmn:tFormalExpression">${first}</bpmn:timeDate>
      </bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="F2" sourceRef="First" targetRef="Second"/>
    <bpmn:intermediateCatchEvent id="Second"><bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDate xsi:type="bpmn:tFormalExpression">${second}</bpmn:timeDate>
      </bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="F3" sourceRef="Second" targetRef="Finish"/>
    <bpmn:endEvent id="Finish"><bpmn:incoming>F3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_timer_due_just_after_the_one_before_fires_on_time(live: Engine) -> None:
    """The second timer comes due while (or just after) the first one's fire runs: its job is added from
    inside the running one and must still fire within a second, not at the next reconciliation."""
    live.deploy([with_text("two_timers.bpmn", TWO_TIMERS)])
    service = TimerService(live, reconcile_every=timedelta(hours=1))
    service.start(wait_for_leadership=10)
    first = datetime.now(UTC) + timedelta(seconds=2)
    second = {first + timedelta(milliseconds=ms) for ms in range(0, 42, 2)}
    # When it was due, or, if the test created the instance only after that (a loaded machine is slow to
    # create 21 instances in 2 s), when it came to exist: a timer cannot fire before its instance is there.
    since: dict[str, datetime] = {}
    try:
        for due in second:
            instance_id = live.start(
                "two_timers", variables={"first": first.isoformat(), "second": due.isoformat()}
            ).instance_id
            since[instance_id] = max(due, datetime.now(UTC))
        assert wait_until(lambda: all(len(fired(live, i)) == 2 for i in since), timeout=8), [
            len(fired(live, i)) for i in since
        ]
    finally:
        service.stop()
    for instance_id, moment in since.items():
        assert max(fired(live, instance_id)) < moment + timedelta(seconds=1)


BROKEN_AFTER_TIMER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Defs_broken" targetNamespace="http://petitionflow/test">
  <bpmn:process id="broken_after_timer" isExecutable="true">
    <bpmn:startEvent id="Begin"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Begin" targetRef="Due"/>
    <bpmn:intermediateCatchEvent id="Due"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDate xsi:type="bpmn:tFormalExpression">${due}</bpmn:timeDate>
      </bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="F2" sourceRef="Due" targetRef="Choose"/>
    <bpmn:exclusiveGateway id="Choose"><bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="F3" sourceRef="Choose" targetRef="Finish">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${undefinedFlag}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:endEvent id="Finish"><bpmn:incoming>F3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_timer_whose_fire_fails_is_retried_with_growing_pauses(
    live: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A diagram error behind a timer: the fire is tried again after 2, 4, 8 … s, not every sync pass."""
    live.deploy([with_text("broken_after_timer.bpmn", BROKEN_AFTER_TIMER)])
    service = TimerService(live, reconcile_every=timedelta(hours=1))
    service.start(wait_for_leadership=10)
    due = datetime.now(UTC) + timedelta(seconds=1)
    instance_id = live.start("broken_after_timer", variables={"due": due.isoformat()}).instance_id
    try:
        time.sleep(7.5)  # due + 6.5 s: tries at about 1, 3 and 7 s from now
    finally:
        service.stop()
    tries = [r for r in caplog.records if instance_id in r.getMessage() and "failed" in r.getMessage()]
    assert 2 <= len(tries) <= 3, [r.getMessage() for r in tries]
    assert "next try in 2s" in tries[0].getMessage() and "next try in 4s" in tries[1].getMessage()
    with live.db.reading() as session:
        row = session.get(Instance, instance_id)
        assert row.state == "active" and row.next_timer_at is not None  # nothing lost: it will be tried again
        [failed] = session.scalars(
            select(AuditEvent).where(AuditEvent.instance_id == instance_id, AuditEvent.kind == "timer.failed")
        )
    # Once in the history, where a supervisor looks, with the element and the diagram's error.
    assert failed.element_id == "Choose" and "undefinedFlag" in failed.data["error"]


def test_a_resume_whose_fire_fails_is_retried_after_a_pause_not_at_once(live: Engine) -> None:
    """The resume's own failed fire is the first in a row: the scheduler hears of it and tries again after
    2 s, instead of failing once more at once and writing the failure twice in the history."""
    live.deploy([with_text("broken_after_timer.bpmn", BROKEN_AFTER_TIMER)])
    service = TimerService(live, reconcile_every=timedelta(hours=1))
    service.start(wait_for_leadership=10)
    due = datetime.now(UTC) + timedelta(seconds=1)
    instance_id = live.start("broken_after_timer", variables={"due": due.isoformat()}).instance_id
    live.suspend(instance_id, actor="supervisor")

    def history() -> list[str]:
        with live.db.reading() as session:
            return list(
                session.scalars(
                    select(AuditEvent.kind)
                    .where(AuditEvent.instance_id == instance_id, AuditEvent.kind.like("%.%ed"))
                    .order_by(AuditEvent.id)
                )
            )

    def attempts() -> int:
        with live.db.reading() as session:
            return session.scalar(select(Incident.attempts).where(Incident.instance_id == instance_id)) or 0

    try:
        time.sleep(1.5)  # due while suspended: the scheduler leaves it
        assert attempts() == 0
        result = live.resume(instance_id, actor="supervisor")
        assert result.state == "active" and result.incident is not None and attempts() == 1
        time.sleep(1.2)  # within the pause: no second try
        assert attempts() == 1
        assert wait_until(lambda: attempts() == 2, timeout=3)  # tried again after about 2 s
    finally:
        service.stop()
    assert history()[-2:] == ["instance.resumed", "timer.failed"]


def scheduler_process(settings: Settings) -> tuple[subprocess.Popen[str], Path]:
    """A `petitionflow scheduler` process and the file its log goes to."""
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "PETITIONFLOW_INSTANCE": str(settings.instance_path),
        "PYTHONPATH": str(ROOT),
    }
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    log_path = settings.instance_path / f"scheduler-{time.monotonic_ns()}.log"
    log = log_path.open("w")
    child = subprocess.Popen(
        [sys.executable, "-m", "webapi.cli", "scheduler"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().startswith("scheduler ")
    return child, log_path


def leads(log_path: Path) -> bool:
    """The scheduler writing to this log took the lead (it logs that once, when it gets the lock)."""
    return "scheduler active: " in log_path.read_text()


def test_a_timer_due_while_the_scheduler_was_killed_fires_once_after_restart(
    live: Engine, settings: Settings
) -> None:
    first, _ = scheduler_process(settings)
    time.sleep(1.5)  # let it take leadership and schedule
    instance_id, due = start_timer(live, 3)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 1.0)
    assert fired(live, instance_id) == []  # nobody was running
    second, _ = scheduler_process(settings)
    try:
        assert wait_until(lambda: fired(live, instance_id), timeout=15)
        time.sleep(2.0)  # a duplicate would show up by now
        assert len(fired(live, instance_id)) == 1
    finally:
        second.terminate()
        second.wait(timeout=20)


def test_two_schedulers_on_one_database_fire_each_timer_once(live: Engine, settings: Settings) -> None:
    (one, one_log), (two, two_log) = scheduler_process(settings), scheduler_process(settings)
    try:
        assert wait_until(lambda: leads(one_log) or leads(two_log), timeout=15)
        time.sleep(1.5)  # a standby retries every second: a second leader would have shown by now
        assert leads(one_log) != leads(two_log), "exactly one scheduler leads"
        leader, (standby, standby_log) = (one, (two, two_log)) if leads(one_log) else (two, (one, one_log))
        timers = [start_timer(live, 2 + i * 0.1) for i in range(8)]
        last_due = max(due for _, due in timers)
        # Kill the leader halfway: the standby must take the lock and fire what is left.
        leader.send_signal(signal.SIGKILL)
        leader.wait(timeout=10)
        assert wait_until(lambda: leads(standby_log), timeout=15), "the standby never took over"
        later, later_due = start_timer(live, 1)  # only the standby is left to fire this one
        time.sleep(max(0.0, (max(last_due, later_due) - datetime.now(UTC)).total_seconds()) + 4.0)
        timers.append((later, later_due))
        assert wait_until(lambda: all(fired(live, i) for i, _ in timers), timeout=15)
        assert [len(fired(live, i)) for i, _ in timers] == [1] * len(timers)
        assert standby.poll() is None
    finally:
        for child in (one, two):
            child.kill()
            child.wait(timeout=20)


def fired_counts(engine: Engine, ids: set[str]) -> dict[str, int]:
    with engine.db.reading() as session:
        rows = session.scalars(select(AuditEvent.instance_id).where(AuditEvent.kind == "timer.fired"))
        counts = dict.fromkeys(ids, 0)
        for instance_id in rows:
            counts[instance_id] = counts.get(instance_id, 0) + 1
        return counts


def test_a_burst_due_at_one_instant_fires_each_timer_once_across_two_schedulers(
    live: Engine, settings: Settings
) -> None:
    """Statutory deadlines end at 24:00: hundreds of timers come due at once. The leader drains them in
    batches; killed halfway, the standby finishes; every timer fires exactly once."""
    live.deploy(read_files([ROOT / "bench" / "data" / "timer_bench.bpmn"]))  # start -> timer at ${due} -> end
    (one, one_log), (two, two_log) = scheduler_process(settings), scheduler_process(settings)
    try:
        assert wait_until(lambda: leads(one_log) or leads(two_log), timeout=15)
        leader, (standby, standby_log) = (one, (two, two_log)) if leads(one_log) else (two, (one, one_log))
        count = 300
        due = datetime.now(UTC) + timedelta(seconds=count * 0.08 + 3)
        ids = {
            live.start("timer_bench", variables={"due": due.isoformat()}).instance_id for _ in range(count)
        }
        assert datetime.now(UTC) < due, "creating the instances took longer than planned"
        assert wait_until(lambda: sum(fired_counts(live, ids).values()) >= count // 4, timeout=60)
        leader.send_signal(signal.SIGKILL)  # halfway through the burst, perhaps inside a batch
        leader.wait(timeout=10)
        assert wait_until(lambda: leads(standby_log), timeout=15), "the standby never took over"
        assert wait_until(lambda: all(fired_counts(live, ids).values()), timeout=90)
        time.sleep(2.0)  # a duplicate would show up by now
        counts = fired_counts(live, ids)
        assert sorted(set(counts.values())) == [1], Counter(counts.values())
        assert standby.poll() is None
    finally:
        for child in (one, two):
            child.kill()
            child.wait(timeout=20)


def test_on_postgresql_fire_processes_fire_once_schedule_what_follows_and_keep_failures(
    live: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """With the system clock on PostgreSQL the batches fire in processes of their own: each timer still fires
    once, the timer a fire waits on next is scheduled here (this process's listeners hear of the fire), and an
    instance whose fire fails has its incident, with the error the fire process met."""
    if live.db.is_sqlite:
        pytest.skip("SQLite fires in the scheduler's threads")
    live.deploy(
        [with_text("two_timers.bpmn", TWO_TIMERS), with_text("broken_after_timer.bpmn", BROKEN_AFTER_TIMER)]
    )
    heard: Counter[str] = Counter()  # the fires this process's listeners heard of, per instance

    def hear(result: CommandResult) -> None:
        heard[result.instance_id] += result.events.count("timer.fired")

    live.listeners.append(hear)
    service = TimerService(live, reconcile_every=timedelta(hours=1))
    service.start(wait_for_leadership=30)
    assert service.processes >= 1 and service._processes is not None
    first = datetime.now(UTC) + timedelta(seconds=2)
    second = first + timedelta(seconds=1)
    variables = {"first": first.isoformat(), "second": second.isoformat()}
    ids = {live.start("two_timers", variables=variables).instance_id for _ in range(40)}
    broken = live.start("broken_after_timer", variables={"due": first.isoformat()}).instance_id
    try:
        assert wait_until(lambda: all(len(fired(live, i)) == 2 for i in ids), timeout=15)
        time.sleep(1.0)  # a duplicate would show up by now
    finally:
        service.stop()
    assert service._processes is None
    assert {i: len(fired(live, i)) for i in ids} == dict.fromkeys(ids, 2)
    # Two fires each (one fire fires both timers when the second is due by then, as on a slow machine).
    assert {i: heard[i] for i in ids} == dict.fromkeys(ids, 2)
    with live.db.reading() as session:
        assert all(session.get(Instance, i).state == "completed" for i in ids)
        incident = session.scalar(select(Incident).where(Incident.instance_id == broken))
    assert incident is not None and incident.element_id == "Choose" and "undefinedFlag" in incident.message
    logged = next(r for r in caplog.records if broken in r.getMessage() and "failed" in r.getMessage())
    assert logged.exc_info is not None and "undefinedFlag" in str(logged.exc_info[1].__cause__)
