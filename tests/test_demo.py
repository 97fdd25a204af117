"""The demo loader: petitions spread over every procedure and state, with a history and escalations."""

from __future__ import annotations

import functools
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.calendar import StatutoryCalendar
from engine.clock import Clock, FrozenClock, install
from engine.config import Settings
from engine.definitions import read_files
from engine.demo import (
    HISTORY_DAYS,
    OFFICE_CLOSES,
    OFFICE_OPENS,
    SCENARIOS,
    WORKING_SHARE,
    load_demo,
    place,
)
from engine.errors import InvalidState
from engine.forms import parse_form
from engine.models import AuditEvent, Deadline, Instance, Petition, Task, TaskCandidate
from engine.runtime import Engine
from engine.testing import FORM_DATA, complete_at, form_values
from tests.conftest import START
from webapi.cli import main

ROOT = Path(__file__).resolve().parents[1]
FORMS = sorted((ROOT / "forms").glob("*.form"))
# The first scenarios reach every procedure; each backend loads them in well under a minute.
COUNT = 18
PROCEDURES = {
    "petition_intake",
    "simple_procedure",
    "three_tier_transfer",
    "ordinary_handling",
    "hearing",
    "review_recheck",
    "leadership_package",
}


@pytest.mark.parametrize("path", FORMS, ids=[p.stem for p in FORMS])
def test_form_values_are_valid_for_every_shipped_form(path: Path) -> None:
    form = parse_form(path.read_text(encoding="utf-8"), source=str(path))
    assert form.id in FORM_DATA, "every shipped form has realistic demo data"
    form.validate(form_values(form, date(2026, 11, 2)))


def test_scenarios_have_unique_keys_and_twins_come_after_their_first_petition() -> None:
    keys = [s.key for s in SCENARIOS]
    assert len(keys) == len(set(keys)) >= 50
    for index, scenario in enumerate(SCENARIOS):
        if scenario.twin_of:
            assert scenario.twin_of in keys[:index]


def test_demo_spreads_petitions_over_every_procedure_with_history_and_escalations(
    deployed: Engine, clock: FrozenClock
) -> None:
    report = load_demo(deployed, count=COUNT)

    assert [p.scenario for p in report.failures] == []
    assert len(report.petitions) == COUNT
    assert clock.now() == START  # the history ends where the clock stood
    assert report.procedures() >= {*PROCEDURES, "ended"}
    # Each petition is at its own point: open tasks (or ended states) differ.
    assert len(report.spread()) >= COUNT - 2
    ended = {p.state.split(" ")[0] for p in report.petitions if p.procedure == "ended"}
    assert ended >= {"not_accepted", "closed", "terminated"}
    states = " ".join(p.state for p in report.petitions)
    for element in (
        "register_check",
        "supervise_overdue_handling",
        "approve_extension",
        "hold_hearing",
        "objection_review",
    ):
        assert element in states

    with deployed.db.reading() as session:
        registered = list(session.scalars(select(Petition.registered_at)))
        assert max(registered) <= START and START - min(registered) > timedelta(days=80)
        # A history over past weeks, not a burst at load time.
        days = session.scalar(select(func.count(func.distinct(func.date(AuditEvent.at)))))
        assert days > 40
        assert session.scalar(select(func.max(AuditEvent.at))) <= START
        overdue = session.scalar(select(func.count()).where(Deadline.outcome == "overdue"))
        assert overdue >= 5
        supervisor_tasks = session.scalar(
            select(func.count())
            .select_from(Task)
            .join(TaskCandidate, TaskCandidate.task_id == Task.id)
            .where(TaskCandidate.kind == "group", TaskCandidate.name == "supervisor")
        )
        assert supervisor_tasks >= 3
        claimed = session.scalar(select(func.count()).where(AuditEvent.kind == "task.claimed"))
        assert claimed > 100
        actors = set(session.scalars(select(AuditEvent.actor).where(AuditEvent.kind == "task.completed")))
        assert {"registrar", "office", "handler", "committee", "leader", "reviewer"} <= actors
        # The petitions route by unit: other units' handlers work them, open tasks sit at several units, and
        # the extension waits for the head of the handling organ.
        assert any(a.endswith("_handler") for a in actors)
        assert session.scalar(select(func.count(func.distinct(Task.unit_code)))) >= 3
        heads = select(func.count()).where(
            TaskCandidate.kind == "group", TaskCandidate.name.like("unit:%:head")
        )
        assert session.scalar(heads) >= 1
    # Listing needs three supervised cases of one unit in a half-year: the full demo has them, 18 petitions not.
    for kind in ("warning", "supervision", "patrol"):
        assert report.escalations.get(kind, 0) > 0, kind
    assert report.supervision_open + report.supervision_closed > 0
    assert "复查复核 (review_recheck)" in report.format()


def test_complete_at_wants_exactly_one_open_task(deployed: Engine) -> None:
    instance_id = deployed.start(
        "supervision", business_key="XF2026-000001", variables={"responsibleUnit": "county.zjw"}
    ).instance_id
    with pytest.raises(InvalidState, match="want one open task at unit_reply"):
        complete_at(deployed, instance_id, "unit_reply")
    complete_at(deployed, instance_id, "issue_supervision")
    complete_at(deployed, instance_id, "unit_reply")
    with deployed.db.reading() as session:
        assert session.get(Instance, instance_id).state == "completed"


def test_cli_loads_the_demo_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("PETITIONFLOW_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("PETITIONFLOW_WORKFLOWS", str(ROOT / "workflows"))
    monkeypatch.setenv("PETITIONFLOW_FORMS", str(ROOT / "forms"))
    monkeypatch.setattr("engine.accounts.SCRYPT", {"n": 2**4, "r": 8, "p": 1})
    try:
        assert main(["demo", "--count", "3", "--if-empty"]) == 0
        out = capsys.readouterr().out
        assert "deployed" in out and "demo user registrar" in out and "3 demo petitions" in out
        assert main(["demo", "--if-empty"]) == 0
        assert "no demo data loaded" in capsys.readouterr().out
    finally:
        install(Clock())


def test_serve_creates_no_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Demo passwords equal the user names: only `petitionflow demo` may create them, never `serve`."""
    monkeypatch.setenv("PETITIONFLOW_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    served = []
    monkeypatch.setattr("flask.Flask.run", lambda app, **options: served.append(options))
    assert main(["serve", "--no-scheduler", "--port", "5999"]) == 0
    assert served and served[0]["port"] == 5999
    assert "no users yet" in capsys.readouterr().out
    engine = Engine(Settings.from_env())
    try:
        assert not engine.accounts.any_user()
    finally:
        engine.db.dispose()


# -- the demo loads whatever the day and hour ------------------------------------------------------------------

CALENDAR = StatutoryCalendar()
TZ = CALENDAR.tz
MONDAY, SATURDAY = date(2026, 12, 7), date(2026, 12, 5)
AFTER_HOLIDAY = date(2026, 2, 24)  # 春节 runs 15-23 February 2026
NEW_YEARS_EVE = date(2026, 12, 31)
SWEEP = [
    datetime(d.year, d.month, d.day, h, 31, tzinfo=TZ)
    for d in (MONDAY, SATURDAY, AFTER_HOLIDAY, NEW_YEARS_EVE)
    for h in range(24)
]
SEED = 20261122


working_day = functools.cache(CALENDAR.is_working_day)


def office_hours_between(start: datetime, end: datetime) -> float:
    """Hours of 09:00-17:00 on working days between two moments, day by day."""
    total, day = 0.0, start.astimezone(TZ).date()
    while day <= end.astimezone(TZ).date():
        if working_day(day):
            opens = datetime(day.year, day.month, day.day, OFFICE_OPENS, tzinfo=TZ)
            closes = datetime(day.year, day.month, day.day, OFFICE_CLOSES, tzinfo=TZ)
            overlap = min(closes, end) - max(opens, start)
            total += max(overlap.total_seconds(), 0) / 3600
        day += timedelta(days=1)
    return total


def test_the_sweep_days_are_what_they_claim() -> None:
    assert MONDAY.weekday() == 0 and SATURDAY.weekday() == 5 and NEW_YEARS_EVE.month == 12
    assert CALENDAR.is_working_day(AFTER_HOLIDAY)
    assert not any(CALENDAR.is_working_day(AFTER_HOLIDAY - timedelta(days=n)) for n in range(1, 10))


def test_every_scenario_gets_its_working_time_at_every_hour() -> None:
    """Where each petition's history starts is decided from the end alone: at each of the 96 instants every
    scenario is registered in office hours with the working time its age promises, so its script (office
    days and calendar days after that) finds the same time to reach its state on any day, at any hour."""
    for end in SWEEP:
        for placement in place(CALENDAR, end, len(SCENARIOS), SEED):
            registered = placement.registered.astimezone(TZ)
            where = f"{placement.scenario.key} at {end:%Y-%m-%d %H:%M}"
            assert CALENDAR.is_working_day(registered.date()), where
            assert OFFICE_OPENS <= registered.hour < OFFICE_CLOSES, where
            hours = office_hours_between(registered, end)
            promised = placement.age * WORKING_SHARE * (OFFICE_CLOSES - OFFICE_OPENS)
            assert hours == pytest.approx(promised, abs=1 / 60), where
            assert end - registered < timedelta(days=HISTORY_DAYS + 20), where


# One instant of each kind of day; the first is where `make serve` stopped on 7 December.
FULL_LOADS = (
    datetime(2026, 12, 7, 9, 31, tzinfo=TZ),
    datetime(2026, 12, 5, 13, 31, tzinfo=TZ),
    datetime(2026, 2, 24, 9, 31, tzinfo=TZ),  # half an hour into the first working day after 春节
    datetime(2026, 12, 31, 23, 31, tzinfo=TZ),
)


def test_every_scenario_reaches_the_same_state_whatever_the_day_and_hour(tmp_path: Path) -> None:
    """Every scenario loaded in full at one hour of each kind of day (bench/demo_sweep.py loads at all 96
    instants): none misses its state, and each is in the same procedure and state at every instant."""
    states: dict[datetime, dict[str, tuple[str, str]]] = {}
    for end in FULL_LOADS:
        clock = FrozenClock(end.astimezone(UTC))
        engine = Engine(Settings(instance_path=tmp_path, database_url="sqlite://"), clock=clock)
        try:
            engine.migrate()
            engine.deploy(read_files([ROOT / "workflows", ROOT / "forms"]), name="shipped")
            report = load_demo(engine, count=len(SCENARIOS))
        finally:
            engine.db.dispose()
            install(Clock())
        assert [(p.scenario, p.error) for p in report.failures] == [], f"{end:%Y-%m-%d %H:%M}"
        assert clock.now() == end
        states[end] = {p.scenario: (p.procedure, p.state) for p in report.petitions}
    first, *others = FULL_LOADS
    assert len(states[first]) == len(SCENARIOS)
    for end in others:
        moved = {
            key: (state, states[end][key])
            for key, state in states[first].items()
            if states[end][key] != state
        }
        assert moved == {}, f"{end:%Y-%m-%d %H:%M}"


def test_a_scenario_that_misses_its_state_does_not_stop_the_service_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """An intake diagram whose complaint classification was renamed: the scenarios that classify cannot go on.
    `petitionflow demo` names them on stderr, keeps the others and exits 0, so `make serve` goes on to serve."""
    workflows = tmp_path / "workflows"
    shutil.copytree(ROOT / "workflows", workflows)
    intake = workflows / "petition_intake.bpmn"
    intake.write_text(intake.read_text(encoding="utf-8").replace("classify_complaint", "classify_art31"))
    monkeypatch.setenv("PETITIONFLOW_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("PETITIONFLOW_WORKFLOWS", str(workflows))
    monkeypatch.setenv("PETITIONFLOW_FORMS", str(ROOT / "forms"))
    monkeypatch.setattr("engine.accounts.SCRYPT", {"n": 2**4, "r": 8, "p": 1})
    try:
        assert main(["demo", "--count", "3", "--if-empty"]) == 0
    finally:
        install(Clock())
    err = capsys.readouterr().err
    assert "2 件信访事项未走到预定状态，其余 1 件已载入" in err
    assert "办理超期，督办中，调查继续（场景 handling_lapsed）" in err and "（场景 objection_lapsed）" in err
    assert "register_check" not in err
    engine = Engine(Settings.from_env())
    try:
        with engine.db.reading() as session:
            assert session.scalar(select(func.count()).select_from(Petition)) == 3
    finally:
        engine.db.dispose()
