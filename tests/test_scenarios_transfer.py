"""Scenario tests for workflows/three_tier_transfer.bpmn (三级转交办): every path through the real engine.

Shared helpers (``Walk``, ``passes``, ``never``) come from test_scenarios_hearing.py. The process is started
with the variables petition_intake has set when it calls it; it calls the real ordinary_handling (and, in
parallel, leadership_package), so the end-to-end tests also walk those.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.clock import FrozenClock
from engine.runtime import Engine
from engine.testing import Walk
from tests.test_scenarios_hearing import BEIJING, deploy_shipped, never, passes
from tests.test_scenarios_package import start_package

# Confirmation periods and review windows run into 2027, for which no holiday notice is loaded in tests: the
# calendar warns and counts weekends only, which is what these scenarios expect.
pytestmark = pytest.mark.filterwarnings("ignore::engine.calendar.CalendarYearMissing")

# (majorDifficult, firstTurnedRepeat) -> the tier's task and the group that decides there.
TIERS = {
    "county": ((True, False), "county_decide", "unit:county.committee:handler"),
    "county_even_if_repeat": ((True, True), "county_decide", "unit:county.committee:handler"),
    "conference": ((False, True), "conference_decide", "unit:county.lxhy:handler"),
    "office": ((False, False), "office_decide", "petition_office"),
}


def start(engine: Engine, clock: FrozenClock, tier: str) -> tuple[Walk, str]:
    """three_tier_transfer as petition_intake calls it; returns the walk and the tier's decision task."""
    deploy_shipped(engine)
    (major, first_turned_repeat), decide, group = TIERS[tier]
    walk = Walk(
        engine,
        clock,
        "three_tier_transfer",
        petitionNumber="XF2026-0001",
        receivedAt="2026-10-26",
        acceptedAt="2026-10-30",
        category="complaint",
        isRepeat=first_turned_repeat,
        firstTurnedRepeat=first_turned_repeat,
        majorDifficult=major,
        involvedUnit="县住房城乡建委",
        refluxCount=0,
        peopleCount=3,
        refluxThreshold=2,
    )
    assert walk.open() == [decide]
    assert walk.task(decide).candidate_groups == [group]
    return walk, decide


def decide_and_receive(walk: Walk, decide: str, **decision: Any) -> None:
    walk.complete(
        decide,
        **{"disposal": "transfer", "responsibleUnit": "county.zjw", "assignedAt": walk.day(), **decision},
    )
    walk.complete("unit_receipt", transferReceivedAt=walk.day())
    assert walk.open() == ["unit_respond"]


def finish_handling(walk: Walk) -> None:
    """ordinary_handling on its shortest path: explained, satisfied, no review request within 30 days."""
    walk.complete("receive_assignment")
    walk.complete("investigate", proposeHearing=False)
    walk.complete("draft_opinion", decision="explain")
    walk.complete("serve_reply", replyServedAt=walk.day())
    walk.complete("evaluate_satisfaction", rating="satisfied", returnVisit=False)
    walk.advance(days=31)
    walk.complete("terminate_no_review")
    walk.complete("close_and_archive")


def finish_package(walk: Walk) -> None:
    """leadership_package: leader, team, the five duties, resolution, 90 quiet days, write-off."""
    start_package(walk)
    walk.advance(days=91)
    walk.complete("write_off")


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_each_tier_transfers_and_the_accepting_unit_starts_handling(engine: Engine, clock, tier: str) -> None:
    walk, decide = start(engine, clock, tier)
    decide_and_receive(walk, decide)
    walk.complete("unit_respond", unitResponse="accept")
    assert walk.open() == ["receive_assignment"]  # ordinary_handling's first task
    passes(
        walk, "gw_tier", decide, "unit_receipt", "unit_respond", "gw_response", "gw_package", "gw_disposal"
    )
    assert "call_handling_transferred" in walk.active()
    never(walk, "objection_review", "call_package")


@pytest.mark.parametrize("tier", ["county", "conference", "office"])
def test_an_approved_objection_goes_back_to_the_sending_tier_for_another_unit(
    engine: Engine, clock, tier: str
) -> None:
    walk, decide = start(engine, clock, tier)
    decide_and_receive(walk, decide)
    walk.complete(
        "unit_respond", unitResponse="object", objectionReasons="该事项属于县自然资源局职权范围，不属本单位。"
    )
    assert walk.open() == ["objection_review"]
    assert walk.task("objection_review").candidate_groups == [TIERS[tier][2]]
    walk.complete("objection_review", objectionDecision="approve")
    assert walk.open() == [decide]
    decide_and_receive(walk, decide, responsibleUnit="county.ghzy")
    walk.complete("unit_respond", unitResponse="accept")
    assert walk.open() == ["receive_assignment"]
    assert walk.path().count("unit_receipt") == 2
    passes(walk, "objection_review", "gw_objection", "merge_tier", "gw_tier", decide, "unit_receipt")


def test_a_refused_objection_leaves_the_matter_with_the_unit(engine: Engine, clock) -> None:
    walk, decide = start(engine, clock, "office")
    decide_and_receive(walk, decide)
    walk.complete("unit_respond", unitResponse="object", objectionReasons="认为应由街道办事处处理。")
    walk.complete("objection_review", objectionDecision="refuse")
    assert walk.open() == ["receive_assignment"]
    passes(walk, "objection_review", "gw_objection", "merge_accepted", "gw_package")
    assert walk.path().count(decide) == 1


def test_after_five_working_days_the_objection_option_is_gone(engine: Engine, clock) -> None:
    walk, decide = start(engine, clock, "office")
    decide_and_receive(walk, decide)  # received Monday 2026-11-02: 5 working days end Monday 2026-11-09
    assert walk.deadline("transfer_objection").due_at.astimezone(BEIJING).date().isoformat() == "2026-11-10"
    walk.advance(days=7)
    assert walk.open() == ["unit_respond"]
    walk.advance(days=1)
    assert walk.open() == ["receive_assignment"]
    passes(walk, "unit_receipt", "timer_objection", "gw_package")
    never(walk, "unit_respond", "gw_response")


def test_a_reassigned_unit_gets_its_own_five_working_days(engine: Engine, clock) -> None:
    walk, decide = start(engine, clock, "office")
    decide_and_receive(walk, decide)
    walk.complete("unit_respond", unitResponse="object", objectionReasons="不属于本单位职权范围。")
    walk.clock.advance(days=3)  # the office decides on Thursday 2026-11-05; the new unit receives it that day
    walk.complete("objection_review", objectionDecision="approve")
    decide_and_receive(walk, decide, responsibleUnit="county.ghzy")
    walk.advance(days=5)  # Tuesday 2026-11-10: the first unit's window is over, the new unit's is not
    assert walk.open() == ["unit_respond"]


@pytest.mark.parametrize(
    ("status", "then"),
    [("fed_back", ["end_fed_back"]), ("overdue", ["reply_supervision", "end_supervised"])],
)
def test_an_assigned_matter_is_checked_and_supervised_at_its_feedback_deadline(
    engine: Engine, clock, status: str, then: list[str]
) -> None:
    walk, decide = start(engine, clock, "office")
    decide_and_receive(walk, decide, disposal="assign")
    walk.complete("unit_respond", unitResponse="accept")
    assert "call_handling_assigned" in walk.active()
    walk.advance(days=30)  # assigned 2026-11-02: feedback due by 2026-12-02
    assert walk.open() == ["receive_assignment"]
    walk.advance(days=1)
    assert walk.open() == ["receive_assignment", "supervise_assignment"]  # handling goes on
    walk.complete("supervise_assignment", feedbackStatus=status)
    if status == "overdue":
        assert walk.open() == ["receive_assignment", "reply_supervision"]
        walk.complete("reply_supervision")
    assert walk.open() == ["receive_assignment"]
    passes(walk, "timer_feedback", "supervise_assignment", "gw_feedback", *then)
    assert walk.deadline("assignment_feedback").outcome == "overdue"


def test_a_transferred_matter_ends_when_handling_closes(engine: Engine, clock) -> None:
    walk, decide = start(engine, clock, "conference")
    decide_and_receive(walk, decide, packageToLeader=False)
    walk.complete("unit_respond", unitResponse="accept")
    finish_handling(walk)
    assert walk.state == "completed"
    passes(walk, "call_handling_transferred", "merge_handled", "gw_join", "end_done")
    never(walk, "report_completion", "supervise_assignment", "call_package")


def test_an_assigned_matter_reports_completion_after_handling(engine: Engine, clock) -> None:
    walk, decide = start(engine, clock, "county")
    decide_and_receive(walk, decide, disposal="assign", packageToLeader=False)
    walk.complete("unit_respond", unitResponse="accept")
    finish_handling(walk)  # the 31 days also pass the feedback deadline
    assert walk.open() == ["report_completion", "supervise_assignment"]
    walk.complete("supervise_assignment", feedbackStatus="fed_back")
    walk.complete("report_completion")
    assert walk.state == "completed"
    passes(walk, "call_handling_assigned", "report_completion", "gw_join", "end_done")


@pytest.mark.parametrize("tier", ["county", "conference"])
def test_a_packaged_matter_runs_the_leader_package_alongside_handling(
    engine: Engine, clock, tier: str
) -> None:
    walk, decide = start(engine, clock, tier)
    decide_and_receive(walk, decide, packageToLeader=True)
    walk.complete("unit_respond", unitResponse="accept")
    assert walk.open() == ["choose_leader", "receive_assignment"]
    assert {"call_package", "call_handling_transferred"} <= set(walk.active())
    finish_handling(walk)
    assert walk.state == "active" and walk.open() == ["choose_leader"]  # the join waits for the package
    finish_package(walk)
    assert walk.state == "completed"
    passes(walk, "split_package", "gw_join", "write_off", "join_package", "end_done_package")
    never(walk, "end_done")
