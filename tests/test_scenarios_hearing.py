"""Scenario tests for workflows/hearing.bpmn (听证): every path through the real engine.

The helpers at the top (``deploy_shipped``, ``passes``, ``never``) are shared with the scenario tests of
three_tier_transfer, leadership_package and review_recheck. A ``Walk`` (engine/testing.py) drives one
instance: it completes the only open task at an element with valid form data (built over the deployed form, so
every submission goes through the server's validation), delivers messages, moves the frozen clock and fires
due timers; tests then assert the path in the audit trail, the tasks that are open and the instance state.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.clock import FrozenClock
from engine.definitions import read_files
from engine.errors import ValidationFailed
from engine.runtime import Engine
from engine.testing import Walk

ROOT = Path(__file__).resolve().parents[1]
BEIJING = ZoneInfo("Asia/Shanghai")
USER = "tester"


def deploy_shipped(engine: Engine) -> None:
    """Every shipped diagram and form: the call activities resolve to the real called processes."""
    engine.deploy(read_files([ROOT / "workflows", ROOT / "forms"]), name="shipped")


def passes(walk: Walk, *elements: str) -> None:
    """``elements`` were finished in this order (other elements may come in between)."""
    path = walk.path()
    position = 0
    for element in elements:
        assert element in path[position:], (
            f"{element} not finished after {elements[: elements.index(element)]}: {path}"
        )
        position = path.index(element, position) + 1


def never(walk: Walk, *elements: str) -> None:
    path = walk.path()
    assert not [e for e in elements if e in path], f"unexpected {elements} in {path}"


# ---------------------------------------------------------------------------------------------------------
# hearing


@pytest.fixture
def hearing(engine: Engine, clock: FrozenClock) -> Walk:
    deploy_shipped(engine)
    walk = Walk(
        engine,
        clock,
        "hearing",
        petitionNumber="XF2026-0001",
        receivedAt="2026-10-20",
        organisingOrgan="county.zjw",
    )
    assert walk.open() == ["offer_hearing"]
    # The organising organ runs the hearing.
    assert walk.task("offer_hearing").candidate_groups == ["unit:county.zjw:handler"]
    walk.complete("offer_hearing", hearingInitiator="organ_proposal", hearingOfferedAt=walk.day())
    return walk


def to_decision(walk: Walk) -> None:
    walk.complete("register_application", petitionerAnswer="apply", hearingAppliedAt=walk.day())
    walk.complete("exclusion_check")
    assert walk.open() == ["decide_hearing"]


def to_hearing_held(walk: Walk, **notice: Any) -> None:
    to_decision(walk)
    walk.complete("decide_hearing", hearingDecision="hold", hearingDecidedAt=walk.day())
    walk.complete("notify_hearing", **notice)
    walk.complete("set_participants")
    assert walk.open() == ["hold_hearing"]


def test_silence_within_five_working_days_ends_without_a_hearing(hearing: Walk) -> None:
    # Offered on Monday 2026-11-02: 5 working days end on Monday 2026-11-09.
    assert hearing.deadline("hearing_application").due_at.astimezone(BEIJING).date() == date(2026, 11, 10)
    hearing.advance(days=6)
    assert hearing.open() == ["register_application"]
    hearing.advance(days=2)
    assert hearing.state == "completed"
    passes(hearing, "offer_hearing", "timer_application", "end_not_applied")
    never(hearing, "register_application", "exclusion_check")
    assert "hearingConclusion" not in hearing.variables()


def test_explicit_refusal_ends_without_a_hearing(hearing: Walk) -> None:
    hearing.complete("register_application", petitionerAnswer="refuse")
    assert hearing.state == "completed"
    passes(hearing, "register_application", "gw_answer", "end_refused")
    never(hearing, "exclusion_check")


@pytest.mark.parametrize("channel", ["inLitigation", "inArbitration", "inReconsideration"])
def test_matters_in_litigation_arbitration_or_reconsideration_get_no_hearing(
    hearing: Walk, channel: str
) -> None:
    hearing.complete("register_application", petitionerAnswer="consent", hearingAppliedAt=hearing.day())
    hearing.complete("exclusion_check", **{channel: True})
    assert hearing.state == "completed"
    passes(hearing, "exclusion_check", "gw_excluded", "end_excluded")
    never(hearing, "decide_hearing")


def test_the_organ_may_decide_against_a_hearing(hearing: Walk) -> None:
    to_decision(hearing)
    hearing.complete("decide_hearing", hearingDecision="reject")
    assert hearing.state == "completed"
    passes(hearing, "decide_hearing", "gw_decision", "end_not_held")


def test_a_late_decision_is_supervised_without_stopping_the_decision(hearing: Walk) -> None:
    to_decision(hearing)  # applied on Monday 2026-11-02: decision due by Monday 2026-11-09
    hearing.advance(days=8)
    assert hearing.open() == ["decide_hearing", "supervise_decision"]
    hearing.complete("supervise_decision")
    hearing.complete("decide_hearing", hearingDecision="reject")
    assert hearing.state == "completed"
    passes(hearing, "timer_decision", "supervise_decision", "end_decision_supervised")
    assert hearing.deadline("hearing_decision").outcome == "overdue"


def test_a_held_hearing_ends_with_its_conclusion(hearing: Walk) -> None:
    to_hearing_held(hearing, isPublic="closed", closedReason="privacy")
    hearing.complete("hold_hearing", transcript="听证笔录：信访人陈述、原办理机关说明、质证与辩论。")
    assert hearing.open() == ["deliberate"]
    hearing.complete("deliberate", hearingConclusion="partial")
    assert hearing.state == "completed"
    passes(
        hearing,
        "register_application",
        "exclusion_check",
        "decide_hearing",
        "notify_hearing",
        "gw_notice_period",
        "set_participants",
        "gw_chair",
        "hold_hearing",
        "organise_hearing",
        "deliberate",
        "end_concluded",
    )
    assert hearing.variables()["hearingConclusion"] == "partial"
    assert hearing.deadline("hearing_held").outcome == "on_time"


def test_a_notice_less_than_seven_days_ahead_goes_back_to_the_notice(hearing: Walk) -> None:
    to_decision(hearing)
    hearing.complete("decide_hearing", hearingDecision="hold", hearingDecidedAt=hearing.day())
    # Notice on 11-02: the 7 days 11-03..11-09 must pass before the hearing day, so 11-09 is too early.
    hearing.complete("notify_hearing", noticeSentAt=hearing.day(), hearingDate=hearing.day(7))
    assert hearing.open() == ["notify_hearing"]
    hearing.complete("notify_hearing", noticeSentAt=hearing.day(), hearingDate=hearing.day(8))
    assert hearing.open() == ["set_participants"]
    assert hearing.path().count("notify_hearing") == 2


def test_the_chair_may_not_be_the_investigator(hearing: Walk) -> None:
    to_decision(hearing)
    hearing.complete("decide_hearing", hearingDecision="hold", hearingDecidedAt=hearing.day())
    hearing.complete("notify_hearing")
    hearing.complete("set_participants", chairName="王调查", investigatorName="王调查")
    assert hearing.open() == ["set_participants"]
    hearing.complete("set_participants", chairName="李主持", investigatorName="王调查")
    assert hearing.open() == ["hold_hearing"]


def test_a_hearing_not_held_within_thirty_days_is_supervised(hearing: Walk) -> None:
    to_hearing_held(hearing)  # decided on 2026-11-02: to be held by 2026-12-02
    hearing.advance(days=30)
    assert hearing.open() == ["hold_hearing"]
    hearing.advance(days=1)
    assert hearing.open() == ["hold_hearing", "supervise_held"]
    hearing.complete("supervise_held")
    hearing.complete("hold_hearing")
    hearing.complete("deliberate", hearingConclusion="reject")
    assert hearing.state == "completed"
    passes(hearing, "timer_held", "supervise_held", "end_held_supervised")
    assert hearing.deadline("hearing_held").outcome == "overdue"


@pytest.mark.parametrize(
    ("element", "data", "field"),
    [
        (
            "register_application",
            {"petitionerAnswer": "apply", "representativesCount": 6},
            "representativesCount",
        ),
        ("register_application", {"petitionerAnswer": "apply", "hearingAppliedAt": None}, "hearingAppliedAt"),
    ],
)
def test_the_forms_refuse_invalid_data(hearing: Walk, element: str, data: dict[str, Any], field: str) -> None:
    task = hearing.task(element)
    with pytest.raises(ValidationFailed) as caught:
        hearing.engine.complete(task.id, hearing.values(element, **data), actor=USER)
    assert field in caught.value.details["fields"]
    assert hearing.open() == [element]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"isPublic": "closed", "closedReason": None}, "closedReason"),
        ({"venue": ""}, "venue"),
    ],
)
def test_the_notice_form_wants_a_venue_and_a_reason_for_a_closed_hearing(
    hearing: Walk, data: dict[str, Any], field: str
) -> None:
    to_decision(hearing)
    hearing.complete("decide_hearing", hearingDecision="hold", hearingDecidedAt=hearing.day())
    task = hearing.task("notify_hearing")
    with pytest.raises(ValidationFailed) as caught:
        hearing.engine.complete(task.id, hearing.values("notify_hearing", **data), actor=USER)
    assert field in caught.value.details["fields"]
