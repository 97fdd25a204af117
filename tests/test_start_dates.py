"""Start dates typed into forms (acceptedAt, receivedAt, …): never in the future, never before the item was
received, and a changed one is a recorded act that moves the deadline it started."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine.clock import FrozenClock
from engine.errors import ValidationFailed
from engine.models import AuditEvent, Deadline
from engine.runtime import Engine
from tests.api_helpers import REGISTRATION, Api, assert_error
from tests.helpers import deploy_data, only_task

pytest_plugins = ("tests.api_helpers",)


def events(engine: Engine, number: str, kind: str) -> list[dict[str, Any]]:
    with engine.db.reading() as session:
        return [
            e.data
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.business_key == number, AuditEvent.kind == kind)
            )
        ]


def acceptance_review(api: Api, clock: FrozenClock, *, received: str = "2026-10-30") -> tuple[str, dict]:
    number = api.register(receivedAt=received)["number"]
    api.as_("registrar").do(number, "register_check", receivedAt=received)
    clock.advance(days=3)  # the review happens on 2026-11-05 (Beijing)
    office = api.as_("office")
    task = office.task_at(number, "acceptance_review")
    office.claim(task["id"])
    return number, task


def test_an_acceptance_date_in_the_future_or_before_receipt_is_refused_and_changes_nothing(
    api: Api, engine: Engine, clock: FrozenClock
) -> None:
    number, task = acceptance_review(api, clock)
    office = api.as_("office")
    data = office.form_data(task["formRef"], acceptanceDecision="accept", category="complaint")
    for day, words in (
        ("2026-11-06", "不能晚于今天（2026-11-05）"),
        ("2026-10-29", "不能早于收到信访事项的日期"),
    ):
        response = office.post(
            f"/api/tasks/{task['id']}/complete", json={"variables": {**data, "acceptedAt": day}}
        )
        error = assert_error(response, 422, "validation_failed")
        assert list(error["details"]["fields"]) == ["acceptedAt"]
        assert words in error["details"]["fields"]["acceptedAt"][0]
    assert office.task_at(number, "acceptance_review")["id"] == task["id"]  # still open
    assert len(events(engine, number, "task.completed")) == 1  # the registration check alone
    # The day of receipt and today are both fine.
    office.complete(task["id"], {**data, "acceptedAt": "2026-10-30"})


def test_a_changed_receipt_date_is_a_recorded_act(api: Api, engine: Engine, clock: FrozenClock) -> None:
    number = api.register(receivedAt="2026-11-02")["number"]
    clock.advance(timedelta(days=1))
    # The registrar corrects the receipt item: its fields come prefilled, the date is changed.
    receipt = {"channel": REGISTRATION["channel"], "receivedAt": "2026-11-01"}
    api.as_("registrar").do(
        number, "register_check", checkResult="corrected", correctedItems=["receipt"], **receipt
    )
    [changed] = events(engine, number, "start_date.changed")
    assert changed == {"field": "receivedAt", "old": "2026-11-02", "new": "2026-11-01"}


def test_a_changed_start_date_moves_the_open_deadline_it_started(engine: Engine, clock: FrozenClock) -> None:
    deploy_data(engine, "deadlines.bpmn")
    started = engine.start("recheck_demo", variables={"recheckRequestedAt": "2026-11-02"})
    hearing = only_task(engine, started.instance_id, "hold_hearing")
    engine.complete(hearing.id, {"recheckRequestedAt": "2026-10-30"}, actor="office")
    with engine.db.reading() as session:
        record = session.scalars(select(Deadline).where(Deadline.instance_id == started.instance_id)).one()
        kinds = {
            e.kind: e
            for e in session.scalars(select(AuditEvent).where(AuditEvent.instance_id == started.instance_id))
        }
    assert record.anchor.isoformat() == "2026-10-30"
    changed, restarted = kinds["start_date.changed"], kinds["deadline.restarted"]
    assert changed.actor == "office" and changed.data == {
        "field": "recheckRequestedAt",
        "old": "2026-11-02",
        "new": "2026-10-30",
    }
    # 30 calendar days: from 2026-12-02 to 2026-11-29, both at midnight in Beijing, in UTC.
    assert (restarted.data["oldDue"], restarted.data["newDue"]) == (
        "2026-12-02T16:00:00+00:00",
        "2026-11-29T16:00:00+00:00",
    )
    # Asked for a future date the same form is refused and nothing moves.
    with pytest.raises(ValidationFailed) as refused:
        engine.complete(
            only_task(engine, started.instance_id, "decide").id, {"recheckRequestedAt": "2026-11-03"}
        )
    assert list(refused.value.details["fields"]) == ["recheckRequestedAt"]
