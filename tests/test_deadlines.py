"""Statutory deadlines in running instances: basis, pause for a hearing, the one extension, outcomes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.errors import Conflict, InvalidInput
from engine.models import Deadline, Timer
from engine.runtime import Engine
from tests.helpers import deploy_data, instance, kinds, only_task, open_tasks


def deadline(engine: Engine, instance_id: str, name: str) -> Deadline:
    with engine.db.reading() as session:
        return session.scalars(
            select(Deadline).where(Deadline.instance_id == instance_id, Deadline.name == name)
        ).one()


def timer_due(engine: Engine, instance_id: str) -> datetime:
    with engine.db.reading() as session:
        return session.scalars(select(Timer.due_at).where(Timer.instance_id == instance_id)).one()


def beijing_midnight_after(day: str) -> datetime:
    """A deadline on ``day`` is met by anything before the following midnight in Beijing."""
    return datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(hours=16)


def test_a_hearing_inside_a_recheck_moves_the_recheck_deadline_by_its_length(engine: Engine, clock) -> None:
    deploy_data(engine, "deadlines.bpmn")
    instance_id = engine.start("recheck_demo", variables={"recheckRequestedAt": "2026-11-02"}).instance_id
    record = deadline(engine, instance_id, "recheck")
    # 30 calendar days from 2026-11-02: last day 2026-12-02, basis recorded with it.
    assert record.due_at == beijing_midnight_after("2026-12-02")
    assert record.basis.startswith("《信访工作条例》第36条") and record.paused_at == clock.now()
    clock.advance(days=10, hours=3)
    engine.complete(only_task(engine, instance_id, "hold_hearing").id, {})
    moved = beijing_midnight_after("2026-12-02") + timedelta(days=10, hours=3)
    assert timer_due(engine, instance_id) == moved
    record = deadline(engine, instance_id, "recheck")
    assert (record.paused_at, record.paused_seconds) == (None, (10 * 24 + 3) * 3600)
    # At the unpaused due time nothing fires; at the moved one the supervisor gets the case.
    clock.set(beijing_midnight_after("2026-12-02") + timedelta(days=1))
    assert engine.fire_timers(instance_id) is None
    clock.set(moved + timedelta(seconds=1))
    engine.fire_timers(instance_id)
    assert sorted(t.element_id for t in open_tasks(engine, instance_id)) == ["decide", "supervise"]
    assert ("deadline.lapsed", "recheck_due") in kinds(engine, instance_id)
    assert deadline(engine, instance_id, "recheck").outcome == "overdue"


def test_a_decision_before_the_deadline_is_recorded_on_time(engine: Engine, clock) -> None:
    deploy_data(engine, "deadlines.bpmn")
    instance_id = engine.start("recheck_demo", variables={"recheckRequestedAt": "2026-11-02"}).instance_id
    engine.complete(only_task(engine, instance_id, "hold_hearing").id, {})
    clock.advance(days=5)
    engine.complete(only_task(engine, instance_id, "decide").id, {})
    record = deadline(engine, instance_id, "recheck")
    assert (record.outcome, record.closed_at) == ("on_time", clock.now())
    assert instance(engine, instance_id).state == "completed"


def start_handling(engine: Engine, clock) -> str:
    deploy_data(engine, "deadlines.bpmn")
    instance_id = engine.start("handling_demo", variables={"acceptedAt": "2026-10-15"}).instance_id
    # 60 days from acceptance on 2026-10-15: 2026-12-14 (a Monday).
    assert timer_due(engine, instance_id) == beijing_midnight_after("2026-12-14")
    clock.set(beijing_midnight_after("2026-12-14") + timedelta(minutes=1))
    engine.fire_timers(instance_id)
    return instance_id


def test_an_approved_extension_moves_the_deadline_once_and_a_second_is_refused(engine: Engine, clock) -> None:
    instance_id = start_handling(engine, clock)
    approve = only_task(engine, instance_id, "approve")
    with pytest.raises(InvalidInput) as caught:
        engine.complete(approve.id, {"extensionApproved": True, "extensionDays": 31})
    assert "extensionDays" in caught.value.details["fields"]
    engine.complete(approve.id, {"extensionApproved": True, "extensionDays": 10})
    record = deadline(engine, instance_id, "handling")
    assert (record.extension_days, record.extended_at) == (10, clock.now())
    assert timer_due(engine, instance_id) == beijing_midnight_after("2026-12-24")
    clock.set(beijing_midnight_after("2026-12-24") + timedelta(minutes=1))
    engine.fire_timers(instance_id)
    second = only_task(engine, instance_id, "approve")
    with pytest.raises(Conflict, match="already extended once"):
        engine.complete(second.id, {"extensionApproved": True, "extensionDays": 5})
    assert deadline(engine, instance_id, "handling").extension_days == 10
    assert [k for k, _ in kinds(engine, instance_id)].count("deadline.extended") == 1


def test_operator_rules_and_calendar_years_are_read_from_the_instance_folder(settings, clock) -> None:
    folder = settings.instance_path
    (folder / "calendar").mkdir(parents=True)
    (folder / "calendar" / "2027.json").write_text(
        json.dumps(
            {"year": 2027, "holidays": {"2027-01-01": "元旦", "2027-01-02": "元旦", "2027-01-03": "元旦"}}
        ),
        encoding="utf-8",
    )
    (folder / "deadlines.json").write_text(json.dumps({"evaluation": {"length": 10}}), encoding="utf-8")
    engine = Engine(settings, clock=clock)
    assert engine.calendar.has_year(2027)
    working_days = engine.functions.as_mapping()["working_days"]
    assert working_days(10, "2026-12-28").startswith("2027-01-13T00:00:00+08:00")
    assert engine.deadlines.rules["evaluation"].length == 10
    assert engine.deadlines.rules["handling"].length == 60
    engine.db.dispose()


def test_bad_operator_rules_are_refused_with_the_file_named(settings, clock) -> None:
    settings.instance_path.mkdir(parents=True)
    (settings.instance_path / "deadlines.json").write_text(json.dumps({"handling": {"length": 0}}))
    with pytest.raises(InvalidInput, match=r"deadlines\.json"):
        Engine(settings, clock=clock)
