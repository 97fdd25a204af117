"""Scenario tests for workflows/simple_procedure.bpmn (简易办理) and workflows/ordinary_handling.bpmn (普通程序).

Each procedure is started on its own with the variables its caller (petition_intake, three_tier_transfer)
has set by then, and walked through the real engine with the helpers of test_scenarios_intake.py: every
gateway branch, every timer (the frozen clock moved past the statutory deadline and the timers fired), the
extension granted and refused, the second lapse, and each evaluation outcome.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from engine.clock import FrozenClock
from engine.errors import ValidationFailed
from engine.runtime import Engine
from engine.testing import Walk
from tests.test_scenarios_intake import (
    BEIJING,
    in_order,
    review_request_refused,
    through_hearing_refused,
    without_review_request,
)

# What petition_intake has recorded when it calls simple_procedure (received and accepted on Mon 2026-11-02).
SIMPLE_VARIABLES: dict[str, Any] = {
    "petitionNumber": "XF2026-0002",
    "receivedAt": "2026-11-02",
    "acceptedAt": "2026-11-02",
    "category": "complaint",
}
# What ordinary_handling finds when three_tier_transfer calls it. Accepted on 2026-10-20, so the 60 days run
# to 2026-12-19 (due 2026-12-20 00:00 Beijing) and every deadline of these scenarios stays inside 2026.
HANDLING_VARIABLES: dict[str, Any] = {
    "petitionNumber": "XF2026-0003",
    "receivedAt": "2026-10-16",
    "acceptedAt": "2026-10-20",
    "category": "complaint",
    "majorDifficult": False,
    "firstTurnedRepeat": False,
}


@pytest.fixture
def simple(deployed: Engine, clock: FrozenClock):
    def start(**variables: Any) -> Walk:
        return Walk(deployed, clock, "simple_procedure", **{**SIMPLE_VARIABLES, **variables})

    return start


@pytest.fixture
def handling(deployed: Engine, clock: FrozenClock):
    def start(**variables: Any) -> Walk:
        return Walk(deployed, clock, "ordinary_handling", **{**HANDLING_VARIABLES, **variables})

    return start


# ---------------------------------------------------------------------------------------------------------------
# simple_procedure
# ---------------------------------------------------------------------------------------------------------------


def answered(walk: Walk, **evaluation: Any) -> Walk:
    """From the open answer task: answer, serve the answer, record the evaluation."""
    walk.do("simple_answer")
    walk.do("simple_serve_reply")
    walk.do("simple_evaluate", **evaluation)
    return walk


def without_review(walk: Walk) -> Walk:
    """The answer is open to 复查 for 30 days after service; nobody asks, the matter is terminated."""
    walk.lapse(days=31)
    walk.do("terminate_no_review")
    return walk


def test_simple_decision_opens_for_the_handling_unit(simple) -> None:
    walk = simple()
    task = walk.task("simple_decide")
    assert task.candidate_groups == ["handling_unit"]
    assert task.form_ref == "simple_decision"


def test_not_eligible_on_closer_look_ends_with_simple_fallback(simple) -> None:
    walk = simple()
    walk.do("simple_decide", simpleFallback=True)
    assert walk.state == "completed"
    assert walk.passed()[-3:] == ["simple_decide", "gw_fallback", "end_fallback"]
    assert walk.submitted("simple_decide") == {"simpleFallback": True, "fallbackReason": "涉及多个责任主体"}


def test_fallback_needs_a_reason(simple) -> None:
    walk = simple()
    with pytest.raises(ValidationFailed) as raised:
        walk.engine.complete(walk.task("simple_decide").id, {"simpleFallback": True})
    assert set(raised.value.details["fields"]) == {"fallbackReason"}
    assert walk.open() == ["simple_decide"]


def test_immediate_answer_needs_the_opinion_and_skips_the_answer_task(simple) -> None:
    walk = simple()
    with pytest.raises(ValidationFailed) as raised:
        walk.engine.complete(walk.task("simple_decide").id, {"immediateAnswer": True})
    assert set(raised.value.details["fields"]) == {"decision", "answerOpinion", "answeredAt"}
    walk.do("simple_decide", immediateAnswer=True)
    assert walk.open() == ["simple_serve_reply"]
    assert "simple_answer" not in walk.passed()


def test_answer_within_ten_working_days_then_served_and_evaluated(simple) -> None:
    walk = simple()
    walk.do("simple_decide")
    assert walk.open() == ["simple_answer"]
    answered(walk)
    assert walk.state == "active"
    assert "call_simple_review" in walk.active()
    without_review(walk)
    assert walk.state == "completed"
    assert in_order(
        walk.passed(),
        "gw_immediate",
        "simple_answer",
        "merge_answered",
        "simple_serve_reply",
        "simple_evaluate",
        "gw_rating",
        "merge_closed",
        "terminate_no_review",
        "end_simple_closed",
    )
    assert "simple_answer_overdue" not in walk.fired()
    assert walk.deadline("simple_answer").outcome == "on_time"


def test_decision_lapse_after_three_working_days_is_supervised_without_interrupting(simple) -> None:
    walk = simple()
    walk.lapse(days=3)  # Thu 2026-11-05 morning: the 3rd working day is not over
    assert walk.fired() == []
    walk.lapse(days=1)
    assert walk.fired() == ["simple_decision_overdue"]
    assert walk.open() == ["simple_decide", "supervise_simple_decision"]
    assert walk.task("supervise_simple_decision").candidate_groups == ["supervisor"]
    walk.do("supervise_simple_decision")
    assert walk.passed()[-2:] == ["supervise_simple_decision", "end_decision_supervised"]
    walk.do("simple_decide", simpleFallback=True)
    assert walk.state == "completed"


def test_answer_lapse_after_ten_working_days_is_supervised_without_interrupting(simple) -> None:
    walk = simple()
    walk.do("simple_decide")
    walk.lapse(days=14)  # Mon 2026-11-16: the 10th working day after acceptance, not over yet
    assert walk.fired() == []
    walk.lapse(days=1)
    assert walk.fired() == ["simple_answer_overdue"]
    assert walk.open() == ["simple_answer", "supervise_simple_answer"]
    assert walk.deadline("simple_answer").outcome == "overdue"
    walk.do("supervise_simple_answer")
    without_review(answered(walk))
    assert walk.state == "completed"
    assert "end_answer_supervised" in walk.passed()


@pytest.mark.parametrize("rating", ["satisfied", "basically_satisfied"])
def test_satisfied_evaluation_closes_the_simple_procedure(simple, rating: str) -> None:
    walk = simple()
    walk.do("simple_decide")
    without_review(answered(walk, rating=rating))
    assert walk.state == "completed"
    assert "supervise_simple_dissatisfied" not in walk.passed()


def test_dissatisfied_evaluation_is_supervised(simple) -> None:
    walk = simple()
    walk.do("simple_decide")
    answered(walk, rating="dissatisfied")
    assert walk.open() == ["supervise_simple_dissatisfied"]
    walk.do("supervise_simple_dissatisfied")
    without_review(walk)
    assert walk.state == "completed"
    assert in_order(walk.passed(), "supervise_simple_dissatisfied", "merge_closed", "end_simple_closed")


def test_evaluation_window_lapsing_closes_without_a_rating(simple) -> None:
    walk = simple()
    walk.do("simple_decide", immediateAnswer=True)
    walk.do("simple_serve_reply")  # served today (2026-11-02): 7 days to evaluate
    walk.lapse(days=7)
    assert walk.fired() == []
    walk.lapse(days=1)
    assert walk.fired() == ["simple_evaluation_lapsed"]
    assert "simple_evaluate" not in walk.passed()
    assert walk.passed()[-1:] == ["merge_closed"]
    without_review(walk)
    assert walk.state == "completed"


# ---------------------------------------------------------------------------------------------------------------
# ordinary_handling
# ---------------------------------------------------------------------------------------------------------------


def investigated(walk: Walk, **investigation: Any) -> Walk:
    """Handler designated, matter investigated (no hearing unless asked)."""
    walk.do("receive_assignment")
    walk.do("investigate", **investigation)
    return walk


def replied(walk: Walk, decision: str = "support") -> Walk:
    """Investigated, the handling opinion issued and the written reply served."""
    investigated(walk)
    walk.do("draft_opinion", decision=decision)
    walk.do("serve_reply")
    return walk


def beijing_midnight(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=BEIJING)


def test_handler_with_a_direct_interest_must_be_replaced(handling) -> None:
    walk = handling()
    task = walk.task("receive_assignment")
    assert task.candidate_groups == ["handling_unit"]
    with pytest.raises(ValidationFailed) as raised:
        walk.engine.complete(task.id, {"handler": "李四", "recusalRequired": True})
    assert set(raised.value.details["fields"]) == {"recusalReason", "substituteHandler"}
    walk.do(
        "receive_assignment", recusalRequired=True, recusalReason="系信访人近亲属", substituteHandler="赵六"
    )
    assert walk.open() == ["investigate"]


def test_supported_request_is_implemented_evaluated_and_closed(handling) -> None:
    walk = replied(handling())
    # The reply opens three parallel branches; review_recheck waits for a request in the background.
    assert walk.open() == ["evaluate_satisfaction", "supervise_implementation"]
    walk.do("supervise_implementation")
    walk.do("evaluate_satisfaction")
    assert walk.open() == []
    review_request_refused(walk)
    assert walk.open() == ["close_and_archive"]
    walk.do("close_and_archive")
    assert walk.state == "completed"
    path = walk.passed()
    assert in_order(
        path,
        "receive_assignment",
        "investigate",
        "gw_hearing",
        "merge_hearing",
        "draft_opinion",
        "handle_matter",
        "merge_opinion",
        "serve_reply",
        "split_after_reply",
    )
    assert in_order(path, "gw_support", "supervise_implementation", "merge_implementation")
    assert in_order(path, "evaluate_satisfaction", "gw_rating", "gw_return_visit", "merge_evaluation")
    assert in_order(
        path, "review_eligibility", "call_review_recheck", "join_after_reply", "close_and_archive"
    )
    assert path[-1] == "end_closed"
    assert "return_visit" not in path
    assert walk.deadline("handling").outcome == "on_time"


@pytest.mark.parametrize("decision", ["explain", "not_support"])
def test_request_not_supported_needs_no_implementation(handling, decision: str) -> None:
    walk = replied(handling(), decision=decision)
    assert walk.open() == ["evaluate_satisfaction"]
    assert in_order(walk.passed(), "split_after_reply", "gw_support", "merge_implementation")
    assert "supervise_implementation" not in walk.passed()


def test_rejection_needs_guidance_for_the_petitioner(handling) -> None:
    walk = investigated(handling())
    task = walk.task("draft_opinion")
    data = walk.form_data(task, {"decision": "not_support", "guidance": ""})
    with pytest.raises(ValidationFailed) as raised:
        walk.engine.complete(task.id, data)
    assert set(raised.value.details["fields"]) == {"guidance"}


def test_hearing_is_called_for_and_handling_continues_after_it(handling) -> None:
    walk = handling()
    walk.do("receive_assignment")
    walk.do("investigate", proposeHearing=True)
    assert walk.open() == ["offer_hearing"]
    through_hearing_refused(walk)
    assert walk.open() == ["draft_opinion"]
    assert in_order(walk.passed(), "investigate", "gw_hearing", "call_hearing", "merge_hearing")


def test_dissatisfied_evaluation_is_supervised_then_visited(handling) -> None:
    walk = replied(handling(), decision="explain")
    walk.do("evaluate_satisfaction", rating="dissatisfied", returnVisit=False)
    assert walk.open() == ["supervise_dissatisfied"]
    assert walk.task("supervise_dissatisfied").candidate_groups == ["supervisor"]
    walk.do("supervise_dissatisfied")
    assert walk.open() == ["return_visit"]
    walk.do("return_visit")
    assert in_order(
        walk.passed(), "gw_rating", "supervise_dissatisfied", "merge_return_visit", "return_visit"
    )
    assert walk.passed()[-1] == "merge_evaluation"


@pytest.mark.parametrize(("return_visit", "expected"), [(True, ["return_visit"]), (False, [])])
def test_return_visit_is_optional_when_satisfied(handling, return_visit: bool, expected: list[str]) -> None:
    walk = replied(handling(), decision="explain")
    walk.do("evaluate_satisfaction", rating="basically_satisfied", returnVisit=return_visit)
    assert walk.open() == expected
    assert "supervise_dissatisfied" not in walk.passed()


def test_evaluation_window_lapsing_leads_to_a_return_visit(handling) -> None:
    walk = replied(handling(), decision="explain")  # served 2026-11-02: evaluation until 2026-11-09
    walk.lapse(days=7)
    assert walk.open() == ["evaluate_satisfaction"]
    walk.lapse(days=1)
    assert walk.fired() == ["evaluation_lapsed"]
    assert walk.open() == ["return_visit"]
    assert "gw_rating" not in walk.passed()


def test_matter_is_closed_when_no_review_is_asked_for_within_thirty_days(handling) -> None:
    walk = replied(handling(), decision="explain")  # served 2026-11-02
    walk.do("evaluate_satisfaction")
    without_review_request(walk)
    assert walk.open() == ["close_and_archive"]
    walk.do("close_and_archive")
    assert walk.state == "completed"
    assert in_order(
        walk.passed(), "terminate_no_review", "call_review_recheck", "join_after_reply", "end_closed"
    )


def lapsed_handling(start) -> Walk:
    """Investigation still open when the 60 days from acceptance (2026-10-20) run out."""
    walk = start()
    walk.do("receive_assignment")
    walk.lapse(days=47)  # 2026-12-19 09:00 Beijing: the 60th day
    assert walk.fired() == []
    walk.lapse(days=1)
    assert walk.fired() == ["handling_deadline"]
    return walk


def test_first_lapse_interrupts_handling_and_asks_for_an_extension(handling) -> None:
    walk = lapsed_handling(handling)
    assert walk.open() == ["request_extension"]
    assert walk.deadline("handling").outcome == "overdue"
    assert ("task.cancelled", "investigate") in [(e.kind, e.element_id) for e in walk.events()]
    assert in_order(walk.passed(), "receive_assignment", "gw_extension_used")


def test_extension_granted_returns_to_handling_with_the_extended_deadline(handling) -> None:
    walk = lapsed_handling(handling)
    walk.do("request_extension")
    approval = walk.task("approve_extension")
    assert approval.candidate_groups == ["petition_office"]
    walk.do("approve_extension", extensionApproved=True, extensionDays=5)
    record = walk.deadline("handling")
    assert record.extension_days == 5
    assert record.due_at == beijing_midnight("2026-12-25")
    assert walk.open() == ["notify_extension"]
    walk.do("notify_extension")
    assert walk.open() == ["investigate"]
    walk.do("investigate")
    walk.do("draft_opinion")
    assert walk.open() == ["serve_reply"]
    assert in_order(
        walk.passed(),
        "approve_extension",
        "gw_extension_approved",
        "notify_extension",
        "merge_handling",
        "investigate",
        "draft_opinion",
        "handle_matter",
        "merge_opinion",
    )


def test_second_lapse_after_the_extension_goes_to_supervision(handling) -> None:
    walk = lapsed_handling(handling)
    walk.do("request_extension")
    walk.do("approve_extension", extensionApproved=True, extensionDays=5)
    walk.do("notify_extension")
    walk.lapse(days=5)  # 2026-12-25 09:00 Beijing: extended deadline passed
    assert walk.fired() == ["handling_deadline", "handling_deadline"]
    assert walk.open() == ["supervise_overdue_handling"]
    assert walk.passed().count("request_extension") == 1
    walk.do("supervise_overdue_handling")
    walk.do("draft_opinion_after_supervision")
    assert walk.open() == ["serve_reply"]
    assert in_order(
        walk.passed(),
        "gw_extension_used",
        "merge_supervision",
        "supervise_overdue_handling",
        "draft_opinion_after_supervision",
        "merge_opinion",
    )


def test_extension_refused_goes_to_supervision(handling) -> None:
    walk = lapsed_handling(handling)
    walk.do("request_extension")
    walk.do("approve_extension", extensionApproved=False)
    assert walk.deadline("handling").extension_days == 0
    assert walk.open() == ["supervise_overdue_handling"]
    walk.do("supervise_overdue_handling")
    assert walk.open() == ["draft_opinion_after_supervision"]
    walk.do("draft_opinion_after_supervision", decision="explain")
    assert walk.open() == ["serve_reply"]
    assert "notify_extension" not in walk.passed()


@pytest.mark.parametrize("days", [0, 31])
def test_extension_is_one_to_thirty_days(handling, days: int) -> None:
    walk = lapsed_handling(handling)
    walk.do("request_extension")
    task = walk.task("approve_extension")
    with pytest.raises(ValidationFailed) as raised:
        walk.engine.complete(task.id, walk.form_data(task, {"extensionDays": days}))
    assert set(raised.value.details["fields"]) == {"extensionDays"}
    assert walk.deadline("handling").extension_days == 0
