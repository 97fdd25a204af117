"""The statutory clock on every open task: its stage's deadline, the one definition of overdue and due soon,
and the boards that must agree on it (issue 15)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from engine.demo import load_demo
from engine.runtime import Engine
from engine.stages import STAGE_DEADLINES
from engine.testing import Walk
from tests.api_helpers import Api

pytest_plugins = ["tests.api_helpers"]

DEMO_COUNT = 50


@pytest.fixture
def demo(deployed: Engine, app: Flask) -> Api:
    report = load_demo(deployed, count=DEMO_COUNT)
    assert [p.scenario for p in report.failures] == []
    return Api(app)


def keys(rows: list[dict[str, Any]], field: str) -> set[str]:
    return {row[field] for row in rows if row.get(field)}


def test_demo_tasks_carry_their_due_and_every_board_agrees_on_what_is_overdue(demo: Api) -> None:
    supervisor = demo.as_("supervisor")
    tasks = supervisor.tasks(limit=500)
    petition_tasks = [t for t in tasks if t["businessKey"]]
    assert len(petition_tasks) >= 30
    without = [(t["businessKey"], t["elementId"]) for t in petition_tasks if t["due"] is None]
    assert without == []
    for task in petition_tasks:
        assert task["deadline"], task
        assert task["warnAt"] < task["due"]

    # The cockpit, the petition list and the escalation board show the same overdue cases.
    overdue_tasks = supervisor.tasks(overdue="true", limit=500)
    late = keys(overdue_tasks, "businessKey")
    assert late, "the demo has overdue cases"
    cockpit = keys(
        supervisor.ok("GET", "/api/instances", query_string={"overdue": "true", "limit": 500}), "businessKey"
    )
    petitions = keys(
        supervisor.ok("GET", "/api/petitions", query_string={"overdue": "true", "limit": 500}), "number"
    )
    board = supervisor.ok("GET", "/api/escalations", query_string={"overdue": "true", "limit": 500})
    supervised = keys([e for e in board if e["kind"] == "supervision"], "businessKey")
    assert (cockpit, petitions, supervised) == (late, late, late)
    # The complements agree too: no case both overdue and not.
    on_time = keys(
        supervisor.ok("GET", "/api/petitions", query_string={"overdue": "false", "limit": 500}), "number"
    )
    assert not on_time & late
    # Due soon is the ladder's window before the due time, never overdue.
    soon = supervisor.tasks(dueSoon="true", limit=500)
    assert soon and all(
        t["warnAt"] <= demo.app.extensions["petitionflow"].now().isoformat() < t["due"] for t in soon
    )
    assert not keys(soon, "id") & keys(overdue_tasks, "id")


def test_a_step_outside_any_statutory_period_says_so(intake_walk: Walk) -> None:
    walk = intake_walk
    # The closing archive of ordinary handling is outside any statutory period; the stage map says so.
    assert ("ordinary_handling", "close_and_archive") not in STAGE_DEADLINES
    task = walk.task("register_check")
    assert task.deadline_name == "acceptance" and task.due_at is not None


@pytest.fixture
def intake_walk(deployed: Engine) -> Walk:
    from tests.test_scenarios_intake import registered

    return registered(deployed)


def test_task_due_follows_an_extension(deployed: Engine) -> None:
    from tests.test_scenarios_handling import handling_walk

    walk = handling_walk(deployed)
    before = walk.task("investigate").due_at
    assert walk.task("investigate").deadline_name == "handling"
    walk.do("request_extension", extensionDays=20)
    walk.do("approve_extension", extensionApproved=True, extensionDays=20)
    assert walk.task("investigate").due_at - before == timedelta(days=20)
