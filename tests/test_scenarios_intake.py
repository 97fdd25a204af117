"""Scenario tests for workflows/petition_intake.bpmn (信访事项登记受理): every path through the real engine.

Each test starts the process with the variables the registry sets, completes the open tasks with valid form
data (the defaults in FORM_DATA, overridden per step), moves the frozen clock past statutory deadlines, and
checks the path taken in the audit trail, the task that opens next and the instance state.

The shipped workflows/ and forms/ are deployed whole (the ``deployed`` fixture), so the call activities run
the real three_tier_transfer, simple_procedure, ordinary_handling, hearing and review_recheck. The
pass-through steps for the called processes at the top are shared with test_scenarios_handling.py; the form
data and ``Walk`` come from engine/testing.py, which the demo loader uses too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.clock import FrozenClock
from engine.errors import ValidationFailed
from engine.runtime import Engine
from engine.testing import FORM_DATA, Walk

ROOT = Path(__file__).resolve().parents[1]
FORMS = ROOT / "forms"
BEIJING = ZoneInfo("Asia/Shanghai")

# What the registry starts the procedure with: the registration as submitted, the number and the flags.
REGISTRY_VARIABLES: dict[str, Any] = {
    **FORM_DATA["intake_registration"],
    "petitionNumber": "XF2026-0001",
    "channel": "visit",
    "receivedAt": "2026-11-02",
    "petitionerName": "张三",
    "category": "complaint",
    "isRepeat": False,
    "firstTurnedRepeat": False,
    "sameMatterPending": False,
    "matterTerminated": False,
    "skipLevel": False,
    "peopleCount": 1,
}


def in_order(path: list[str], *elements: str) -> bool:
    """Whether ``elements`` occur in ``path`` in this order (not necessarily adjacent)."""
    it = iter(path)
    return all(element in it for element in elements)


def form_schema(form_id: str) -> dict[str, Any]:
    return json.loads((FORMS / f"{form_id}.form").read_text(encoding="utf-8"))


# The called processes designed by others, passed through the shortest way -------------------------------------


def through_three_tier_transfer(walk: Walk) -> Walk:
    """County petition office transfers an ordinary item; the unit receives and accepts it."""
    walk.do("office_decide")
    walk.do("unit_receipt")
    walk.do("unit_respond")
    assert walk.open() == ["receive_assignment"]
    return walk


def through_hearing_refused(walk: Walk) -> Walk:
    """The organ proposes a hearing and the petitioner refuses it: the hearing ends without one."""
    walk.do("offer_hearing")
    walk.do("register_application")
    return walk


def review_request_refused(walk: Walk) -> Walk:
    """The petitioner asks for 复查 beyond the original request; the reviewing organ does not accept it."""
    walk.engine.deliver_message(
        "review_requested", instance_id=walk.instance_id, payload={"request": "请求复查"}
    )
    walk.do("review_eligibility")
    return walk


def without_review_request(walk: Walk) -> Walk:
    """The 30-day window for asking 复查 runs out (from replyServedAt); the matter is recorded as terminated."""
    walk.lapse(days=31)
    walk.do("terminate_no_review")
    return walk


# ---------------------------------------------------------------------------------------------------------------
# petition_intake
# ---------------------------------------------------------------------------------------------------------------

# The registrar's correction of the number of petitioners at the check.
PEOPLE = {"checkResult": "corrected", "correctedItems": ["people"]}


@pytest.fixture
def intake(deployed: Engine, clock: FrozenClock):
    """Start petition_intake as the registry does; keyword arguments override registry variables."""

    def start(**registry: Any) -> Walk:
        return Walk(deployed, clock, "petition_intake", **{**REGISTRY_VARIABLES, **registry})

    return start


def registered(start, registry: Mapping[str, Any] | None = None, **registration: Any) -> Walk:
    """Started and the registration checked: the acceptance review is open."""
    walk = start(**(registry or {}))
    walk.do("register_check", **registration)
    return walk


def accepted(start, category: str = "complaint", **review: Any) -> Walk:
    """Registered, accepted in ``category`` and the acceptance notice served."""
    walk = registered(start)
    walk.do("acceptance_review", acceptanceDecision="accept", category=category, **review)
    walk.do("notice_acceptance")
    return walk


def ordinary_complaint(start, **review: Any) -> Walk:
    """An accepted complaint under Art. 31 item (6), at the simple-procedure eligibility check."""
    walk = accepted(start, **review)
    walk.do("classify_complaint", statutoryRoute="other")
    assert walk.open() == ["check_simple_eligibility"]
    return walk


def test_registration_opens_the_check_for_the_registrar(intake) -> None:
    walk = intake()
    task = walk.task("register_check")
    assert task.candidate_groups == ["registrar"]
    assert task.form_ref == "intake_check"
    assert walk.passed() == ["petition_received"]


def test_invalid_registration_reports_every_field_at_once_and_keeps_the_task_open(intake) -> None:
    walk = intake()
    task = walk.task("register_check")
    bad = {
        **walk.form_data(
            task,
            {
                **FORM_DATA["intake_registration"],
                "checkResult": "corrected",
                "correctedItems": ["identity", "contact", "receipt"],
            },
        ),
        "petitionerName": "",
        "phone": "12345",
        "channel": "fax",
    }
    with pytest.raises(ValidationFailed) as raised:
        walk.engine.complete(task.id, bad, actor="alice")
    assert set(raised.value.details["fields"]) == {"petitionerName", "phone", "channel"}
    assert walk.open() == ["register_check"]
    assert walk.task("register_check").id == task.id
    assert "task.completed" not in [e.kind for e in walk.events()]


def test_group_visit_elects_at_most_five_representatives(intake) -> None:
    walk = intake(peopleCount=8)
    task = walk.task("register_check")
    with pytest.raises(ValidationFailed) as raised:
        walk.engine.complete(
            task.id,
            walk.form_data(task, {**PEOPLE, "peopleCount": 8, "representatives": "甲、乙、丙、丁、戊、己"}),
        )
    assert set(raised.value.details["fields"]) == {"representatives"}
    walk.do("register_check", **PEOPLE, peopleCount=8, representatives="甲、乙、丙、丁、戊")
    assert walk.open() == ["acceptance_review"]
    assert walk.submitted("register_check")["representatives"] == "甲、乙、丙、丁、戊"


REGISTERED = FORM_DATA["intake_registration"]


def test_the_check_confirms_the_registration_without_retyping_it(intake) -> None:
    """登记核对 shows the registered facts read-only and asks only what the check decides: a confirmation keeps
    the registration as it is, whatever else the submission carries."""
    walk = intake()
    walk.do("register_check", checkResult="confirmed", subject="别的标题", phone="13900000000")
    assert walk.submitted("register_check") == {"checkResult": "confirmed"}
    data = walk.variables()
    assert (data["subject"], data["phone"]) == (REGISTERED["subject"], REGISTERED["phone"])
    assert walk.open() == ["acceptance_review"]


def test_the_check_corrects_only_the_items_it_names(intake) -> None:
    walk = intake()
    task = walk.task("register_check")
    with pytest.raises(ValidationFailed) as raised:
        walk.engine.complete(
            task.id, walk.form_data(task, {"checkResult": "corrected", "correctedItems": []}), actor="alice"
        )
    assert set(raised.value.details["fields"]) == {"correctedItems"}
    assert walk.open() == ["register_check"]
    walk.do(
        "register_check",
        checkResult="corrected",
        correctedItems=["matter"],
        subject="小区夜间施工噪声和粉尘扰民",
        phone="13900000000",
    )
    data = walk.variables()
    assert (data["subject"], data["phone"]) == ("小区夜间施工噪声和粉尘扰民", REGISTERED["phone"])
    assert walk.submitted("register_check")["correctedItems"] == ["matter"]


@pytest.mark.parametrize("flag", ["isMajor", "isUrgent"])
def test_major_or_urgent_item_is_reported_in_parallel_with_the_acceptance_review(intake, flag: str) -> None:
    walk = registered(intake, checkResult="corrected", correctedItems=["flags"], **{flag: True})
    assert walk.open() == ["acceptance_review", "report_major_urgent"]
    assert walk.task("report_major_urgent").candidate_groups == ["petition_office"]
    walk.do("report_major_urgent")
    assert walk.open() == ["acceptance_review"]
    assert in_order(walk.passed(), "gw_major_urgent", "report_major_urgent", "end_major_reported")
    assert walk.state == "active"


def test_ordinary_item_is_not_reported(intake) -> None:
    walk = registered(intake)
    assert walk.open() == ["acceptance_review"]
    assert in_order(walk.passed(), "register_check", "gw_major_urgent", "end_not_major")
    assert "report_major_urgent" not in walk.passed()


NON_ACCEPTANCE = [
    # decision, the notice task it leads to, the end event
    ("litigation", "transfer_political_legal", "end_litigation"),
    ("discipline", "transfer_discipline", "end_discipline"),
    ("skip_level", "notice_skip_level", "end_skip_level"),
    ("same_matter_pending", "notice_same_matter", "end_same_matter"),
    ("no_review_requested", "notice_no_review", "end_no_review"),
    ("terminated", "notice_terminated", "end_terminated"),
    ("other_channel", "notice_other_channel", "end_other_channel"),
    ("other_authority", "notice_other_authority", "end_other_authority"),
]


@pytest.mark.parametrize(("decision", "notice", "end"), NON_ACCEPTANCE, ids=[c[0] for c in NON_ACCEPTANCE])
def test_each_non_acceptance_case_ends_with_its_written_notice(
    intake, decision: str, notice: str, end: str
) -> None:
    walk = registered(intake)
    walk.do("acceptance_review", acceptanceDecision=decision)
    assert walk.open() == [notice]
    assert walk.task(notice).candidate_groups == ["petition_office"]
    walk.do(notice)
    assert walk.state == "completed"
    assert walk.passed()[-2:] == [notice, end]
    assert "notice_acceptance" not in walk.passed()


def test_non_acceptance_needs_a_reason_a_receiving_organ_and_a_notice_date(intake) -> None:
    walk = registered(intake)
    task = walk.task("acceptance_review")
    with pytest.raises(ValidationFailed) as raised:
        walk.engine.complete(task.id, {"acceptanceDecision": "litigation"})
    assert set(raised.value.details["fields"]) == {"decisionReason", "transferTo", "noticeDate"}
    assert walk.open() == ["acceptance_review"]


def test_notice_duty_is_waived_when_name_or_address_is_unclear(intake) -> None:
    walk = registered(intake)
    walk.do("acceptance_review", acceptanceDecision="same_matter_pending")
    # Art. 23 ¶2: no notice number, method or date once the waiver is ticked.
    walk.engine.complete(walk.task("notice_same_matter").id, {"noticeWaived": True})
    assert walk.state == "completed"
    assert walk.submitted("notice_same_matter") == {"noticeWaived": True, "noticeNote": None}


REGISTRY_FLAG_CASES = [
    # the registry's flags, the decision the reviewer takes on them, the notice task it leads to
    ({"matterTerminated": True, "isRepeat": True}, "terminated", "notice_terminated"),
    ({"sameMatterPending": True, "isRepeat": True}, "same_matter_pending", "notice_same_matter"),
    ({"skipLevel": True}, "skip_level", "notice_skip_level"),
    ({"isRepeat": True, "firstTurnedRepeat": True}, "no_review_requested", "notice_no_review"),
]


@pytest.mark.parametrize(
    ("flags", "decision", "notice"), REGISTRY_FLAG_CASES, ids=[c[1] for c in REGISTRY_FLAG_CASES]
)
def test_repeat_and_terminated_petitions_show_their_flags_read_only_to_the_reviewer(
    intake, flags: dict[str, bool], decision: str, notice: str
) -> None:
    shown = {c["key"] for c in form_schema("intake_acceptance")["components"] if c.get("disabled")}
    assert set(flags) <= shown
    walk = registered(intake, flags)
    # A client sending the flags back changed cannot overwrite what the registry recorded.
    walk.do(
        "acceptance_review", acceptanceDecision=decision, **{flag: not value for flag, value in flags.items()}
    )
    assert not set(flags) & set(walk.submitted("acceptance_review"))
    assert walk.open() == [notice]
    walk.do(notice)
    assert walk.state == "completed"


def test_acceptance_review_is_supervised_after_fifteen_days_without_being_interrupted(intake) -> None:
    walk = registered(intake)  # received 2026-11-02 (Monday): the 15th day is 2026-11-17
    walk.lapse(days=14)
    assert walk.fired() == []
    assert walk.open() == ["acceptance_review"]
    walk.lapse(days=2)
    assert walk.fired() == ["acceptance_overdue"]
    assert walk.open() == ["acceptance_review", "supervise_overdue_acceptance"]
    assert walk.task("supervise_overdue_acceptance").candidate_groups == ["supervisor"]
    assert walk.deadline("acceptance").outcome == "overdue"
    walk.do("supervise_overdue_acceptance")
    assert walk.passed()[-2:] == ["supervise_overdue_acceptance", "end_acceptance_supervised"]
    walk.do("acceptance_review", acceptanceDecision="accept", category="suggestion")
    assert walk.open() == ["notice_acceptance"]


def test_acceptance_in_time_meets_the_deadline(intake) -> None:
    walk = registered(intake)
    walk.lapse(days=3)
    walk.do("acceptance_review", acceptanceDecision="terminated")
    # The 15 days cover the notice too (Art. 22, 23; its lateness is a violation, Art. 44(3)).
    assert walk.open() == ["notice_terminated"]
    assert walk.deadline("acceptance").outcome is None
    assert walk.task("notice_terminated").deadline_name == "acceptance"
    walk.do("notice_terminated")
    assert walk.deadline("acceptance").outcome == "on_time"
    assert walk.fired() == []


def test_suggestion_is_studied_and_answered(intake) -> None:
    walk = accepted(intake, category="suggestion")
    assert walk.open() == ["study_suggestion"]
    assert walk.task("study_suggestion").candidate_groups == ["unit:county.zjw:handler"]
    walk.do("study_suggestion")
    assert walk.state == "completed"
    assert in_order(walk.passed(), "notice_acceptance", "gw_category", "study_suggestion", "end_suggestion")


def test_accusation_goes_to_discipline_inspection_and_closes_on_its_result(intake) -> None:
    walk = accepted(intake, category="accusation")
    assert walk.open() == ["transfer_accusation"]
    walk.do("transfer_accusation")
    assert walk.open() == ["record_discipline_result"]
    walk.do("record_discipline_result")
    assert walk.state == "completed"
    assert walk.passed()[-3:] == ["transfer_accusation", "record_discipline_result", "end_accusation"]


def test_reviewer_can_reclassify_on_acceptance(intake) -> None:
    walk = registered(intake, {"category": "complaint"})
    walk.do("acceptance_review", acceptanceDecision="accept", category="suggestion")
    walk.do("notice_acceptance")
    assert walk.open() == ["study_suggestion"]


STATUTORY_ROUTES = ["litigation_procedure", "arbitration", "party_appeal", "administrative", "duty_request"]


@pytest.mark.parametrize("route", STATUTORY_ROUTES)
def test_complaint_under_art31_items_1_to_5_is_channelled_into_its_procedure(intake, route: str) -> None:
    walk = accepted(intake)
    assert walk.open() == ["classify_complaint"]
    walk.do("classify_complaint", statutoryRoute=route)
    assert walk.open() == ["notice_statutory_route"]
    walk.do("notice_statutory_route")
    assert walk.state == "completed"
    assert walk.passed()[-2:] == ["notice_statutory_route", "end_statutory_route"]
    assert "check_simple_eligibility" not in walk.passed()


@pytest.mark.parametrize(
    ("major_difficult", "tier_task"),
    [(False, "office_decide"), (True, "county_decide")],
    ids=["ordinary", "major"],
)
def test_complaint_not_fit_for_simple_procedure_goes_to_three_tier_transfer(
    intake, major_difficult: bool, tier_task: str
) -> None:
    walk = ordinary_complaint(intake, majorDifficult=major_difficult)
    walk.do("check_simple_eligibility", simpleEligible=False)
    assert in_order(walk.passed(), "check_simple_eligibility", "gw_simple_eligible", "merge_ordinary")
    assert "call_simple_procedure" not in walk.passed()
    # The tier that transfers is chosen by the acceptance review's majorDifficult (S001).
    assert walk.open() == [tier_task]


def test_transferred_complaint_reaches_ordinary_handling_in_the_same_instance(intake) -> None:
    walk = ordinary_complaint(intake)
    walk.do("check_simple_eligibility", simpleEligible=False)
    through_three_tier_transfer(walk)
    assert walk.task("receive_assignment").candidate_groups == ["unit:county.zjw:handler"]
    assert walk.state == "active"


def test_simple_procedure_answered_at_once_ends_the_petition(intake) -> None:
    walk = ordinary_complaint(intake)
    walk.do("check_simple_eligibility", simpleEligible=True)
    assert walk.open() == ["simple_decide"]
    walk.do("simple_decide", immediateAnswer=True)
    walk.do("simple_serve_reply")
    walk.do("simple_evaluate", rating="basically_satisfied")
    assert walk.state == "active"  # the answer is open to 复查 for 30 days (Art. 35)
    without_review_request(walk)
    assert walk.state == "completed"
    path = walk.passed()
    assert in_order(path, "simple_decide", "gw_immediate", "simple_serve_reply", "end_simple_closed")
    assert in_order(
        path, "end_simple_closed", "call_simple_procedure", "gw_simple_fallback", "end_simple_done"
    )
    assert "call_three_tier_transfer" not in path


def test_simple_procedure_falling_back_continues_with_three_tier_transfer(intake) -> None:
    walk = ordinary_complaint(intake)
    walk.do("check_simple_eligibility")
    walk.do("simple_decide", simpleFallback=True)
    assert in_order(walk.passed(), "simple_decide", "end_fallback", "gw_simple_fallback", "merge_ordinary")
    assert walk.open() == ["office_decide"]


def test_simple_outcome_returns_to_intake_when_a_supervision_branch_ends_last(intake) -> None:
    """simple_procedure finishes on its supervision branch; its simpleFallback must still reach the gateway."""
    walk = ordinary_complaint(intake)
    walk.do("check_simple_eligibility")
    walk.lapse(days=5)  # 3 working days from receipt (Mon 2026-11-02) end with Thu 2026-11-05
    assert walk.fired() == ["simple_decision_overdue"]
    assert walk.open() == ["simple_decide", "supervise_simple_decision"]
    walk.do("simple_decide", immediateAnswer=True)
    walk.do("simple_serve_reply")
    walk.do("simple_evaluate")
    without_review_request(walk)
    assert walk.open() == ["supervise_simple_decision"]
    walk.do("supervise_simple_decision")
    assert walk.state == "completed"
    assert walk.passed()[-3:] == ["call_simple_procedure", "gw_simple_fallback", "end_simple_done"]
