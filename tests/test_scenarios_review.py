"""Scenario tests for workflows/review_recheck.bpmn (复查、复核与终结): every path through the real engine.

Shared helpers (``Walk``, ``passes``, ``never``) come from test_scenarios_hearing.py. The process starts after
the written reply was served (``replyServedAt``); the petitioner's requests arrive as messages.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine.clock import FrozenClock
from engine.errors import InvalidState, ValidationFailed
from engine.runtime import Engine
from engine.testing import Walk
from tests.test_scenarios_hearing import BEIJING, deploy_shipped, never, passes

ELIGIBLE = {
    "ordinaryHandlingMatter": True,
    "hasConcreteRequest": True,
    "withinOriginalScope": True,
    "notAlreadyAccepted": True,
    "filedInTime": True,
}
CRITERIA = sorted(ELIGIBLE)


@pytest.fixture
def review(engine: Engine, clock: FrozenClock) -> Walk:
    deploy_shipped(engine)
    walk = Walk(
        engine,
        clock,
        "review_recheck",
        petitionNumber="XF2026-0001",
        receivedAt="2026-08-03",
        acceptedAt="2026-08-05",
        replyServedAt="2026-11-02",
        responsibleUnit="county.zjw",
    )
    assert walk.open() == []
    return walk


def request_review(walk: Walk) -> None:
    walk.message("review_requested", reviewRequestedAt=walk.day(), request="请求撤销原处理意见")
    assert walk.open() == ["review_eligibility"]
    # 复查 goes to the 上一级机关 of the unit whose opinion is reviewed (county.zjw): the county government.
    assert walk.task("review_eligibility").candidate_groups == ["unit:county.gov:handler"]
    walk.complete("review_eligibility", reviewRequestedAt=walk.day(), **ELIGIBLE)
    assert walk.open() == ["review_decide"]


def to_recheck_window(walk: Walk, outcome: str = "uphold") -> None:
    request_review(walk)
    walk.complete("review_decide", reviewOutcome=outcome)
    if outcome == "redo":
        walk.complete("rehandle")
    walk.complete("serve_review", reviewServedAt=walk.day())
    assert walk.open() == []


def request_recheck(walk: Walk, **choices: Any) -> None:
    walk.message("recheck_requested", recheckRequestedAt=walk.day(), request="请求复核")
    assert walk.open() == ["recheck_eligibility"]
    # 复核 goes to the 上一级 of the 复查 organ (county.gov, named on the 复查 form): the city government.
    assert walk.task("recheck_eligibility").candidate_groups == ["unit:city.gov:handler"]
    walk.complete("recheck_eligibility", recheckRequestedAt=walk.day(), **{**ELIGIBLE, **choices})


def test_no_review_request_within_thirty_days_terminates_the_matter(review: Walk) -> None:
    # Reply served 2026-11-02: the 30 days run 11-03..12-02.
    review.advance(days=30)
    assert review.open() == []
    review.advance(days=1)
    assert review.open() == ["terminate_no_review"]
    review.complete("terminate_no_review")
    assert review.state == "completed"
    passes(review, "timer_review_window", "terminate_no_review", "end_no_review")
    never(review, "review_eligibility")
    assert review.variables()["terminated"] is True
    with pytest.raises(InvalidState):
        review.message("review_requested", reviewRequestedAt=review.day())


@pytest.mark.parametrize("failed", CRITERIA)
def test_an_ineligible_review_request_is_refused(review: Walk, failed: str) -> None:
    review.message("review_requested", reviewRequestedAt=review.day(), request="请求复查")
    review.complete("review_eligibility", **{**ELIGIBLE, failed: False})
    assert review.state == "completed"
    passes(review, "catch_review_requested", "review_eligibility", "gw_review_eligible", "end_review_refused")
    never(review, "review_decide")


@pytest.mark.parametrize("outcome", ["uphold", "change", "redo"])
def test_each_review_outcome_is_served_and_opens_the_recheck_window(review: Walk, outcome: str) -> None:
    to_recheck_window(review, outcome)
    passes(review, "review_decide", "gw_review_outcome", "serve_review")
    assert "wait_recheck_request" in review.active()
    (never if outcome != "redo" else passes)(review, "rehandle")
    assert review.deadline("review").outcome == "on_time"


def test_a_late_review_decision_is_supervised_and_the_review_goes_on(review: Walk) -> None:
    request_review(review)
    review.advance(days=31)
    assert review.open() == ["review_decide", "supervise_review"]
    review.complete("supervise_review")
    review.complete("review_decide", reviewOutcome="change")
    assert review.open() == ["serve_review"]
    passes(review, "timer_review_due", "supervise_review", "end_review_supervised")
    assert review.deadline("review").outcome == "overdue"


def test_no_recheck_request_within_thirty_days_terminates_the_matter(review: Walk) -> None:
    to_recheck_window(review)
    review.advance(days=31)
    assert review.open() == ["terminate_no_recheck"]
    review.complete("terminate_no_recheck")
    assert review.state == "completed"
    passes(review, "serve_review", "timer_recheck_window", "terminate_no_recheck", "end_no_recheck")
    assert review.variables()["terminated"] is True


@pytest.mark.parametrize("failed", ["ordinaryHandlingMatter", "filedInTime"])
def test_an_ineligible_recheck_request_is_refused(review: Walk, failed: str) -> None:
    to_recheck_window(review)
    request_recheck(review, **{failed: False})
    assert review.state == "completed"
    passes(review, "recheck_eligibility", "gw_recheck_eligible", "end_recheck_refused")
    never(review, "recheck_proceedings")


def test_recheck_without_a_hearing_ends_final(review: Walk) -> None:
    to_recheck_window(review)
    request_recheck(review, proposeHearing=False)
    assert review.open() == ["recheck_decide"]
    review.complete("recheck_decide", recheckOutcome="uphold")
    review.complete("serve_recheck", recheckServedAt=review.day())
    assert review.state == "completed"
    passes(
        review, "gw_hearing", "recheck_decide", "recheck_proceedings", "serve_recheck", "end_recheck_final"
    )
    never(review, "call_hearing")
    assert review.variables()["terminated"] is True
    assert review.deadline("recheck").outcome == "on_time"


def hold_hearing(walk: Walk) -> None:
    """The called hearing, from the offer to the conclusion, on the petitioner's consent."""
    walk.complete("offer_hearing", hearingInitiator="organ_proposal", hearingOfferedAt=walk.day())
    walk.complete("register_application", petitionerAnswer="consent", hearingAppliedAt=walk.day())
    walk.complete("exclusion_check")
    walk.complete("decide_hearing", hearingDecision="hold", hearingDecidedAt=walk.day())
    walk.complete("notify_hearing", noticeSentAt=walk.day(), hearingDate=walk.day(10))
    walk.complete("set_participants")
    walk.clock.advance(days=10)
    walk.complete("hold_hearing", heldAt=walk.day())
    walk.complete("deliberate", hearingConclusion="support")


def test_recheck_with_a_hearing_excludes_the_hearing_time_from_the_recheck_deadline(review: Walk) -> None:
    to_recheck_window(review)
    request_recheck(review, proposeHearing=True)  # requested 2026-11-02: due at 2026-12-03 00:00 Beijing
    due = review.deadline("recheck").due_at
    assert due.astimezone(BEIJING).date().isoformat() == "2026-12-03"
    assert review.open() == ["offer_hearing"]
    assert review.deadline("recheck").paused_at is not None
    hold_hearing(review)  # the hearing takes 10 days
    record = review.deadline("recheck")
    assert record.paused_at is None and record.paused_seconds >= 10 * 86400
    assert review.open() == ["recheck_decide"]
    # 31 days after the request the unpaused deadline would have lapsed; the paused one has not.
    review.clock.set(due + timedelta(hours=1))
    review.engine.fire_timers(review.instance_id)
    assert review.open() == ["recheck_decide"]
    review.clock.set(due + timedelta(seconds=record.paused_seconds + 60))
    review.engine.fire_timers(review.instance_id)
    assert review.open() == ["recheck_decide", "supervise_recheck"]
    review.complete("supervise_recheck")
    review.complete("recheck_decide", recheckOutcome="change", publishOpinion=True)
    review.complete("serve_recheck", recheckServedAt=review.day())
    assert review.state == "completed"
    passes(
        review,
        "call_hearing",
        "timer_recheck_due",
        "supervise_recheck",
        "recheck_decide",
        "serve_recheck",
        "end_recheck_final",
    )
    variables = review.variables()
    assert (variables["hearingConclusion"], variables["terminated"]) == ("support", True)


def test_the_recheck_service_form_requires_the_termination_to_be_confirmed(review: Walk) -> None:
    to_recheck_window(review)
    request_recheck(review, proposeHearing=False)
    review.complete("recheck_decide", recheckOutcome="uphold")
    task = review.task("serve_recheck")
    with pytest.raises(ValidationFailed) as caught:
        review.engine.complete(task.id, review.values("serve_recheck", terminated=False), actor="tester")
    assert "terminated" in caught.value.details["fields"]
