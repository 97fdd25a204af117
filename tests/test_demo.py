"""The demo loader: petitions spread over every procedure and state, with a history and escalations."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.clock import Clock, FrozenClock, install
from engine.config import Settings
from engine.demo import FORM_DATA, SCENARIOS, complete_at, form_values, load_demo
from engine.errors import InvalidState
from engine.forms import parse_form
from engine.models import AuditEvent, Deadline, Instance, Petition, Task, TaskCandidate
from engine.runtime import Engine
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
        "request_extension",
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
        assert {"registrar", "office", "handler", "committee", "leader", "hearing", "reviewer"} <= actors
    # Listing needs three supervised cases of one unit in a half-year: the full demo has them, 18 petitions not.
    for kind in ("warning", "supervision", "patrol"):
        assert report.escalations.get(kind, 0) > 0, kind
    assert report.supervision_open + report.supervision_closed > 0
    assert "复查复核 (review_recheck)" in report.format()


def test_complete_at_wants_exactly_one_open_task(deployed: Engine) -> None:
    instance_id = deployed.start("supervision", business_key="XF2026-000001").instance_id
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
