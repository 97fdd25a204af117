"""Every change to an instance goes through the one command executor: a spy on the real executor sees each
engine command arrive there, with the events it wrote."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from engine.executor import Command
from engine.runtime import Engine
from engine.unit_of_work import CommandResult
from tests.helpers import deploy_data, events, instance, only_task, with_text
from tests.test_scheduler import BROKEN_AFTER_TIMER
from tests.test_unit_of_work import statements

VALID = {"name": "张三", "accepted": True, "handler": "bob", "wait": "P2D"}


@pytest.fixture
def seen(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str] | None]]:
    """(command name, events written) for every command the executor ran, in order; None: nothing written."""
    calls: list[tuple[str, list[str] | None]] = []
    run = engine.executor.execute_in

    def recorded(session: Session, command: Command) -> CommandResult | None:
        result = run(session, command)
        calls.append((command.name, result.events if result is not None else None))
        return result

    monkeypatch.setattr(engine.executor, "execute_in", recorded)
    return calls


def test_every_command_passes_through_the_executor(engine: Engine, clock, seen) -> None:
    deploy_data(engine, "simple.bpmn", "simple_register.form", "parent.bpmn", "child.bpmn")
    instance_id = engine.start("simple", business_key="XF-1", actor="reg").instance_id
    task = only_task(engine, instance_id, "register")
    engine.claim(task.id, "reg")
    engine.complete(task.id, VALID, actor="reg")
    engine.suspend(instance_id, actor="sup")
    engine.resume(instance_id, actor="sup")
    engine.fire_timers(instance_id)
    clock.advance(days=2, seconds=1)
    engine.fire_timers(instance_id)
    assert instance(engine, instance_id).state == "completed"

    with engine.db.transaction() as session:
        other = engine.start_in(session, "simple", business_key="XF-2", variables={}, actor="reg")
    engine.cancel(other.instance_id, actor="sup")

    parent = engine.start("parent", variables={"who": "李四"}).instance_id
    engine.complete(only_task(engine, parent, "child_task").id, {"done": True})
    engine.deliver_message("reply_received", instance_id=parent, payload={"ok": True})

    names = [name for name, _ in seen]
    assert names == [
        "start",
        "claim",
        "complete",
        "suspend",
        "resume",
        "fire_timers",  # the resume's own, in its transaction
        "fire_timers",
        "fire_timers",
        "start",
        "cancel",
        "start",
        "complete",
        "message",
    ]
    written = [events for _, events in seen]
    assert "instance.started" in written[0]
    assert written[1] == ["task.claimed"]
    assert "task.completed" in written[2]
    assert written[3] == ["instance.suspended"]
    assert written[4] == ["instance.resumed"]
    # Not yet due: the fires came through the executor and wrote nothing.
    assert written[5] is None and written[6] is None
    assert "timer.fired" in written[7]
    assert "instance.cancelled" in written[9]
    assert "message.delivered" in written[12]


def fires(engine: Engine, instance_id: str) -> int:
    return sum(1 for e in events(engine, instance_id) if e.kind == "timer.fired")


def test_a_batch_of_due_timers_fires_each_once_and_a_failing_fire_is_rolled_back_alone(
    engine: Engine, clock
) -> None:
    """The scheduler's batch: one statement locks every instance of it and one commit ends it; when one fire
    fails the batch is fired again with a savepoint each, so the others still fire, exactly once."""
    deploy_data(engine, "simple.bpmn", "simple_register.form")
    engine.deploy([with_text("broken_after_timer.bpmn", BROKEN_AFTER_TIMER)])
    good = []
    for number in range(3):
        instance_id = engine.start("simple", business_key=f"XF-{number}").instance_id
        engine.complete(only_task(engine, instance_id, "register").id, VALID)
        good.append(instance_id)
    broken = engine.start(
        "broken_after_timer", variables={"due": (clock.now() + timedelta(days=1)).isoformat()}
    ).instance_id
    clock.advance(days=2, seconds=1)

    sent = statements(engine, lambda: engine.fire_due(good[:2]))
    locks = [s for s in sent if s.startswith("SELECT instance.id")]
    assert len(locks) == 1 and not [s for s in sent if "SAVEPOINT" in s], sent
    assert [fires(engine, i) for i in good[:2]] == [1, 1]

    results, failures = engine.fire_due([good[0], broken, good[2]])
    assert [r.instance_id for r in results] == [good[2]]  # good[0] had nothing left to fire
    assert set(failures) == {broken}
    assert [fires(engine, i) for i in good] == [1, 1, 1]
    row = instance(engine, broken)
    assert row.state == "active" and row.next_timer_at is not None and fires(engine, broken) == 0
