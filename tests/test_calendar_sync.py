"""A calendar year added in one process reaches every process, moves the open deadlines it changes (audited
with the old and the new due), and the cockpit and the scheduler warn when a year has no official schedule."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

import engine.calendar
from engine.calendar import CalendarYearMissing, DayKind
from engine.clock import FrozenClock
from engine.config import Settings
from engine.models import AuditEvent, Deadline, Timer
from engine.runtime import Engine
from tests.api_helpers import Api
from tests.helpers import deploy_data
from tests.test_scheduler import leads, live, scheduler_process, wait_until

pytest_plugins = ("tests.api_helpers",)
__all__ = ["live"]  # the scheduler tests' engine on the system clock, used here too


# 60 days from 2031-08-03 end on Thursday 2031-10-02. The statutory estimate has 国庆 10-01..10-03 and the
# weekend after, so the deadline rolls to Monday 10-06; the year's notice (a week off, 10-01..10-07) to 10-08.
ACCEPTED = "2031-08-03"
NOTICE_2031 = {
    "year": 2031,
    "source": "国务院办公厅关于2031年部分节假日安排的通知（测试）",
    "holidays": {f"2031-10-0{d}": "国庆节" for d in range(1, 8)},
    "adjusted_workdays": {"2031-09-28": "国庆节", "2031-10-11": "国庆节"},
}


def beijing_midnight_after(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(hours=16)


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.calendar, "_warned", set())


@pytest.fixture
def deployed(engine: Engine) -> Engine:
    deploy_data(engine, "deadlines.bpmn")
    return engine


def handling_deadline(engine: Engine, instance_id: str) -> tuple[datetime, datetime]:
    """The deadline record's due and its waiting timer's due."""
    with engine.db.reading() as session:
        record = session.scalars(select(Deadline).where(Deadline.instance_id == instance_id)).one()
        timer = session.scalars(select(Timer.due_at).where(Timer.instance_id == instance_id)).one()
    return record.due_at, timer


def recomputed(engine: Engine, instance_id: str) -> list[dict[str, Any]]:
    with engine.db.reading() as session:
        return [
            e.data
            for e in session.scalars(
                select(AuditEvent).where(
                    AuditEvent.instance_id == instance_id, AuditEvent.kind == "deadline.recomputed"
                )
            )
        ]


def test_three_working_days_from_2026_12_30_end_on_2027_01_05_on_a_fresh_install(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="petitionflow.calendar")
    assert not engine.calendar.has_year(2027) and not (engine.settings.instance_path / "calendar").exists()
    with pytest.warns(CalendarYearMissing):
        assert engine.calendar.add_working_days(date(2026, 12, 30), 3) == date(2027, 1, 5)
    assert engine.calendar.day_kind(date(2027, 1, 1)) is DayKind.HOLIDAY  # 元旦 skipped
    warned = [r.getMessage() for r in caplog.records if r.name == "petitionflow.calendar"]
    assert len(warned) == 1 and "2027" in warned[0] and "调休" in warned[0]


def test_from_1_november_the_cockpit_warns_that_next_year_is_missing(
    api: Api, engine: Engine, clock: FrozenClock
) -> None:
    supervisor = api.as_("supervisor")
    clock.set(datetime(2026, 10, 31, 12, tzinfo=UTC))
    assert supervisor.ok("GET", "/api/calendar/status") == {"warnings": []}
    clock.set(datetime(2026, 11, 1, 1, tzinfo=UTC))
    [warning] = supervisor.ok("GET", "/api/calendar/status")["warnings"]
    assert (warning["code"], warning["year"]) == ("calendar.next_year_missing", 2027)
    assert "2027年节假日安排尚未录入" in warning["message"]
    api.as_("admin").ok("PUT", "/api/calendar/years/2027", json={**NOTICE_2031, "year": 2027, "holidays": {
        "2027-01-01": "元旦"}, "adjusted_workdays": {}})  # fmt: skip
    assert supervisor.ok("GET", "/api/calendar/status") == {"warnings": []}
    # In a year that began without its notice, the cockpit says its deadlines are estimated.
    clock.set(datetime(2028, 3, 1, tzinfo=UTC))
    [warning] = supervisor.ok("GET", "/api/calendar/status")["warnings"]
    assert (warning["code"], warning["year"]) == ("calendar.year_estimated", 2028)
    assert "调休" in warning["message"] and "法定节假日" in warning["message"]


@pytest.mark.filterwarnings("ignore::engine.calendar.CalendarYearMissing")
def test_the_scheduler_log_warns_from_1_november_that_next_year_is_missing(
    engine: Engine, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="petitionflow.calendar")
    clock.set(datetime(2026, 10, 31, 15, 59, tzinfo=UTC))  # 23:59 in Beijing
    engine.calendar_years.log_missing()
    assert caplog.records == []
    clock.set(datetime(2026, 10, 31, 16, 0, tzinfo=UTC))  # 1 November in Beijing
    engine.calendar_years.log_missing()
    [record] = caplog.records
    assert "no official holiday schedule for 2027" in record.getMessage()


@pytest.mark.filterwarnings("ignore::engine.calendar.CalendarYearMissing")
def test_a_year_saved_by_one_process_reaches_another_without_a_restart(
    api: Api, engine: Engine, settings: Settings
) -> None:
    other = Engine(settings, clock=engine.clock)  # another web worker on the same database
    try:
        assert other.calendar.day_kind(date(2031, 10, 7)) is DayKind.WORKDAY  # the estimate: a Tuesday
        other.calendar_years.refresh(force=True)
        api.as_("admin").ok("PUT", "/api/calendar/years/2031", json=NOTICE_2031)
        # Within the refresh interval the worker does not look again: no query per request.
        assert other.calendar_years.refresh() is False
        assert other.calendar.day_kind(date(2031, 10, 7)) is DayKind.WORKDAY
        other.calendar_years.every = 0.0  # the interval has passed
        assert other.calendar_years.refresh() is True
        assert other.calendar.day_kind(date(2031, 10, 7)) is DayKind.HOLIDAY
        assert other.calendar.day_kind(date(2031, 9, 28)) is DayKind.ADJUSTED_WORKDAY
        assert other.calendar_years.refresh() is False  # nothing newer
    finally:
        other.db.dispose()


@pytest.mark.filterwarnings("ignore::engine.calendar.CalendarYearMissing")
def test_the_scheduler_recomputes_the_deadlines_a_new_year_moves_once_with_an_audit(
    api: Api, engine: Engine
) -> None:
    instance_id = engine.start("handling_demo", variables={"acceptedAt": ACCEPTED}).instance_id
    untouched = engine.start("handling_demo", variables={"acceptedAt": "2031-05-01"}).instance_id
    before = handling_deadline(engine, untouched)
    assert handling_deadline(engine, instance_id) == (beijing_midnight_after("2031-10-06"),) * 2
    assert engine.follow_calendar() == 0  # no calendar change yet

    api.as_("admin").ok("PUT", "/api/calendar/years/2031", json=NOTICE_2031)
    assert engine.follow_calendar() == 1
    assert handling_deadline(engine, instance_id) == (beijing_midnight_after("2031-10-08"),) * 2
    assert handling_deadline(engine, untouched) == before  # 2031-06-30 is not moved by the notice
    [event] = recomputed(engine, instance_id)
    assert event["deadline"] == "handling"
    assert event["oldDue"] == beijing_midnight_after("2031-10-06").isoformat()
    assert event["newDue"] == beijing_midnight_after("2031-10-08").isoformat()
    assert recomputed(engine, untouched) == []
    assert engine.follow_calendar() == 0  # applied once
    assert len(recomputed(engine, instance_id)) == 1


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::engine.calendar.CalendarYearMissing")
def test_a_year_added_through_the_api_moves_a_deadline_in_a_running_scheduler(
    api: Api, live: Engine, settings: Settings
) -> None:
    instance_id = live.start("handling_demo", variables={"acceptedAt": ACCEPTED}).instance_id
    assert handling_deadline(live, instance_id)[0] == beijing_midnight_after("2031-10-06")
    child, log_path = scheduler_process(settings)
    try:
        assert wait_until(lambda: leads(log_path), timeout=60)  # a loaded machine starts Python slowly
        api.as_("admin").ok("PUT", "/api/calendar/years/2031", json=NOTICE_2031)
        moved = (beijing_midnight_after("2031-10-08"),) * 2
        assert wait_until(lambda: handling_deadline(live, instance_id) == moved, timeout=15)
        [event] = recomputed(live, instance_id)
        assert (event["oldDue"], event["newDue"]) == (
            beijing_midnight_after("2031-10-06").isoformat(),
            beijing_midnight_after("2031-10-08").isoformat(),
        )
        assert child.poll() is None  # the same process, not a restart
        # Logged just after the commit the test saw.
        assert wait_until(lambda: "deadlines moved in 1 instance(s)" in log_path.read_text(), timeout=10)
    finally:
        child.terminate()
        child.wait(timeout=20)
