"""Migrations in the background, through the real engine on SQLite and PostgreSQL: a batch is recorded at once,
worked off a slice per tick (by the scheduler that fires the timers), resumed after a restart, with each failed
case recorded with its reason in Chinese, and every case migrated exactly once."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from engine.batches import COMPLETED, FAILED, MIGRATED, PENDING, RUNNING, progress
from engine.errors import InvalidInput, NotFound
from engine.models import MigrationBatch, MigrationBatchItem
from engine.repair import MigrationPlan
from engine.runtime import Engine
from engine.scheduler import TimerService
from tests.helpers import events, instance, only_task
from tests.repair_diagrams import deploy_case

REASON = "新增复核环节"


def cases_at_review(engine: Engine, count: int) -> tuple[MigrationPlan, list[str]]:
    """``count`` cases waiting at 受理审查 on version 1, and the plan to version 2."""
    source = deploy_case(engine)
    ids = []
    for n in range(count):
        instance_id = engine.start("repair_case", business_key=f"XF-B{n}").instance_id
        engine.complete(only_task(engine, instance_id, "Register").id, {}, actor="registrar")
        ids.append(instance_id)
    return MigrationPlan(source, deploy_case(engine, version=2)), ids


def state_of(engine: Engine, batch_id: str) -> dict:
    with engine.db.reading() as session:
        return progress(session, batch_id)


def migrations(engine: Engine, instance_id: str) -> int:
    return sum(e.kind == "instance.migrated" for e in events(engine, instance_id))


def start(engine: Engine, plan: MigrationPlan, size: int, ids: list[str] | None = None) -> str:
    return engine.start_migration_batch(plan, ids, reason=REASON, actor="supervisor", batch_size=size)


def test_a_batch_is_recorded_at_once_and_worked_off_a_slice_per_tick(engine: Engine) -> None:
    plan, ids = cases_at_review(engine, 5)
    batch_id = start(engine, plan, 2)
    found = state_of(engine, batch_id)
    assert (found["batch"].state, found["total"], found["pending"], found["migrated"]) == (RUNNING, 5, 5, 0)
    # Recording moves nothing.
    assert all(instance(engine, i).definition_id == plan.source_id for i in ids)

    assert engine.work_migrations() == 2
    found = state_of(engine, batch_id)
    assert (found["batch"].state, found["migrated"], found["pending"]) == (RUNNING, 2, 3)
    moved = sorted(instance(engine, i).definition_id for i in ids)
    assert moved == [plan.source_id] * 3 + [plan.target_id] * 2

    assert engine.work_migrations() == 2
    assert engine.work_migrations() == 1
    found = state_of(engine, batch_id)
    assert (found["batch"].state, found["migrated"], found["failed"]) == (COMPLETED, 5, 0)
    assert found["batch"].finished_at is not None
    assert engine.work_migrations() == 0
    for instance_id in ids:
        assert instance(engine, instance_id).definition_id == plan.target_id
        [migrated] = [e for e in events(engine, instance_id) if e.kind == "instance.migrated"]
        assert (migrated.actor, migrated.data["reason"]) == ("supervisor", REASON)


def test_a_restart_mid_batch_resumes_where_it_stopped(engine: Engine, settings, clock) -> None:
    plan, ids = cases_at_review(engine, 4)
    batch_id = start(engine, plan, 3)
    stops = iter([False, True])  # the service stops after the first case of the slice
    assert engine.work_migrations(lambda: next(stops)) == 1
    engine.db.dispose()

    restarted = Engine(settings, clock=clock)
    try:
        assert state_of(restarted, batch_id)["pending"] == 3
        assert restarted.work_migrations() == 3
        assert state_of(restarted, batch_id)["batch"].state == COMPLETED
        assert [migrations(restarted, i) for i in ids] == [1, 1, 1, 1]
        assert all(instance(restarted, i).definition_id == plan.target_id for i in ids)
    finally:
        restarted.db.dispose()


def test_a_failed_case_is_recorded_with_its_reason_and_the_rest_go_on(engine: Engine) -> None:
    plan, ids = cases_at_review(engine, 3)
    at_reply = ids[1]
    # 书面答复, where this case goes next, has no match in version 2.
    engine.complete(only_task(engine, at_reply, "Review").id, {}, actor="office")
    batch_id = start(engine, plan, 10)
    # Meanwhile someone migrates the last case on their own.
    engine.migrate_instance(plan, ids[2], reason="单独迁移", actor="admin")
    assert engine.work_migrations() == 3

    found = state_of(engine, batch_id)
    assert (found["batch"].state, found["migrated"], found["failed"]) == (COMPLETED, 1, 2)
    reasons = {f.instance_id: f.error for f in found["failures"]}
    assert "书面答复" in reasons[at_reply] and "新版本中不存在" in reasons[at_reply]
    assert reasons[ids[2]] == "案件已不在迁移计划的原版本上"
    assert instance(engine, at_reply).definition_id == plan.source_id
    assert [migrations(engine, i) for i in ids] == [1, 0, 1]


def test_a_case_of_a_batch_is_migrated_exactly_once(engine: Engine) -> None:
    plan, [instance_id] = cases_at_review(engine, 1)
    batch_id = start(engine, plan, 1)
    once = {"reason": REASON, "actor": "supervisor", "batch_id": batch_id}
    assert engine.migrate_case(plan, instance_id, **once) is None
    # Worked again (two ticks on one stale slice): refused, and the item stays migrated.
    again = engine.migrate_case(plan, instance_id, **once)
    assert again is not None and "不再重复迁移" in again
    with engine.db.reading() as session:
        item = session.scalars(select(MigrationBatchItem)).one()
    assert (item.state, item.error) == (MIGRATED, None)
    assert migrations(engine, instance_id) == 1


def test_a_batch_with_a_bad_plan_or_unknown_cases_is_refused_and_nothing_recorded(engine: Engine) -> None:
    plan, ids = cases_at_review(engine, 1)
    with pytest.raises(InvalidInput) as caught:
        start(engine, MigrationPlan(plan.source_id, plan.target_id, {"Review": "Nowhere"}), 5)
    assert "mapping.Review" in caught.value.details["fields"]
    with pytest.raises(NotFound):
        start(engine, MigrationPlan(plan.source_id, "nowhere:9:x"), 5)
    with pytest.raises(InvalidInput) as caught:
        start(engine, plan, 5, [ids[0], "no-such-case"])
    assert caught.value.details["fields"]["instanceIds"] == ["no-such-case"]
    with pytest.raises(InvalidInput) as caught:
        start(engine, MigrationPlan(plan.target_id, plan.source_id), 5)  # nothing runs on version 2
    assert "没有办理中的案件" in caught.value.message
    with engine.db.reading() as session:
        assert session.scalars(select(MigrationBatch)).all() == []
        assert session.scalars(select(MigrationBatchItem)).all() == []


def test_the_scheduler_works_off_a_batch_in_the_background(engine: Engine) -> None:
    plan, ids = cases_at_review(engine, 3)
    service = TimerService(engine)
    service.start(wait_for_leadership=10)
    try:
        assert service.is_leader
        batch_id = start(engine, plan, 1)
        deadline = time.monotonic() + 30
        while state_of(engine, batch_id)["batch"].state != COMPLETED and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        service.stop()
    found = state_of(engine, batch_id)
    assert (found["batch"].state, found["migrated"]) == (COMPLETED, 3)
    assert [migrations(engine, i) for i in ids] == [1, 1, 1]
    with engine.db.reading() as session:
        states = set(session.scalars(select(MigrationBatchItem.state)))
    assert states == {MIGRATED} and not states & {PENDING, FAILED}
