"""Scenario tests for the procedures a petition goes through as a whole, from registration on: the 复查 and
复核 requests a registrar records for the petitioner, the withdrawal, re-handling after a redo order, the
extension within the handling period, and the intake cases (anonymous letters, merges, repeats).

Each petition is registered through the registry, so the call activities run the shipped diagrams end to end,
and every request goes through engine/services.py as a registrar would send it from the pages or the API.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from engine import services
from engine.accounts import Principal
from engine.clock import FrozenClock
from engine.errors import Conflict, Forbidden, InvalidInput, InvalidState, NotFound, ValidationFailed
from engine.runtime import Engine
from engine.testing import FORM_DATA, Walk
from tests.test_scenarios_intake import BEIJING
from tests.test_scenarios_review import ELIGIBLE

REGISTRAR = Principal("registrar", "登记员", frozenset({"registrar"}), ("registrar",))


def member(login: str, roles: set[str], unit: str, position: str) -> Principal:
    """A principal holding one position in one unit (engine/testing.py's FIXTURE_ORG), as signing in gives."""
    return Principal(
        login,
        login,
        frozenset(roles),
        (f"unit:{unit}:{position}",),
        units=frozenset({unit}),
        positions=frozenset({(unit, position)}),
    )


# The handler of the unit the petitions below are transferred to (office_decide: county.zjw).
HANDLER = member("handler", {"handler"}, "county.zjw", "handler")


def register(engine: Engine, clock: FrozenClock, **overrides: Any) -> tuple[str, Walk]:
    petition, result = engine.petitions.register(
        {**FORM_DATA["intake_registration"], **overrides}, actor="registrar"
    )
    return petition.number, Walk.of(engine, clock, result.instance_id)


def accepted_complaint(walk: Walk) -> Walk:
    """Registration checked and confirmed, accepted as a complaint, classified under Art. 31 item (6)."""
    walk.do("register_check")
    walk.do("acceptance_review", acceptanceDecision="accept", category="complaint")
    walk.do("notice_acceptance")
    walk.do("classify_complaint", statutoryRoute="other")
    return walk


def replied(walk: Walk) -> Walk:
    """Ordinary handling up to the written reply served today."""
    accepted_complaint(walk).do("check_simple_eligibility", simpleEligible=False)
    walk.do("office_decide").do("unit_receipt").do("unit_respond")
    walk.do("receive_assignment").do("investigate").do("draft_opinion").do("serve_reply")
    return walk


def simply_answered(walk: Walk) -> Walk:
    """The simple procedure's answer served today."""
    accepted_complaint(walk).do("check_simple_eligibility", simpleEligible=True)
    walk.do("simple_decide", immediateAnswer=True).do("simple_serve_reply")
    return walk


def finish(walk: Walk) -> Walk:
    """Complete whatever the case still has open (implementation, evaluation, archive) until it ends."""
    for _ in range(10):
        if not walk.open():
            break
        walk.do(walk.open()[0])
    return walk


@pytest.fixture
def petition(deployed: Engine, clock: FrozenClock) -> tuple[str, Walk]:
    return register(deployed, clock)


def ask(walk: Walk, number: str, kind: str = "review", **fields: Any) -> None:
    services.request_review(walk.engine, REGISTRAR, number, kind, {"request": "请求撤销原处理意见", **fields})


def test_a_review_request_after_an_ordinary_reply_reaches_the_upper_organ(petition) -> None:
    number, walk = petition
    replied(walk)
    walk.lapse(days=10)
    ask(walk, number, facts="施工仍在继续", reasons="原处理意见未落实")
    assert "review_eligibility" in walk.open()
    data = walk.engine.variables(walk.instance_id, walk.task("review_eligibility").id)
    assert data["reviewRequest"] == "请求撤销原处理意见"
    assert data["reviewRequestedAt"] == walk.day()
    assert data["request"] == FORM_DATA["intake_registration"]["request"]  # the original request is kept
    delivered = [e for e in walk.events() if e.kind == "message.delivered"]
    assert delivered[-1].actor == "registrar"


def test_a_review_request_after_the_window_is_refused_naming_the_last_day(petition) -> None:
    number, walk = petition
    replied(walk)  # served 2026-11-02: the 30 days end on 2026-12-02
    walk.clock.advance(days=31)
    with pytest.raises(InvalidState) as refused:
        ask(walk, number)
    assert refused.value.details["reason"] == "window_lapsed"
    assert refused.value.details["lastDay"] == "2026-12-02"
    assert "review_eligibility" not in walk.open()


def test_a_review_request_before_any_reply_or_twice_is_refused(petition) -> None:
    number, walk = petition
    with pytest.raises(InvalidState) as early:
        ask(walk, number)
    assert early.value.details["reason"] == "not_served"
    replied(walk)
    ask(walk, number)
    with pytest.raises(Conflict):
        ask(walk, number)


def test_a_review_request_needs_the_request_text_and_a_known_kind(petition) -> None:
    number, walk = petition
    replied(walk)
    with pytest.raises(InvalidInput) as missing:
        services.request_review(walk.engine, REGISTRAR, number, "review", {"request": " "})
    assert "request" in missing.value.details["fields"]
    with pytest.raises(InvalidInput) as kind:
        ask(walk, number, kind="appeal")
    assert "kind" in kind.value.details["fields"]
    with pytest.raises(InvalidInput) as later:
        ask(walk, number, requestedAt=walk.day(1))
    assert "requestedAt" in later.value.details["fields"]
    assert "review_eligibility" not in walk.open()


def test_only_a_registrar_records_requests_for_the_petitioner(petition) -> None:
    number, walk = petition
    replied(walk)
    with pytest.raises(Forbidden):
        services.request_review(walk.engine, HANDLER, number, "review", {"request": "请求复查"})
    with pytest.raises(Forbidden):
        services.withdraw(walk.engine, HANDLER, number, "已与对方和解")


def test_acts_on_a_petition_outside_ones_jurisdiction_answer_as_an_unknown_petition(petition) -> None:
    number, walk = petition
    replied(walk)
    # A registrar of a township sees only the township's petitions; this one is the county department's.
    township = member("binjiang_registrar", {"registrar"}, "county.binjiang", "petition_officer")
    acts = [
        lambda: services.request_review(walk.engine, township, number, "review", {"request": "请求复查"}),
        lambda: services.withdraw(walk.engine, township, number, "已与对方和解"),
        lambda: services.link_petition(walk.engine, township, number, number, "同一事项"),
        lambda: services.merge(walk.engine, township, number, number, "同一事项"),
        lambda: services.split(walk.engine, township, number, {"subject": "另一事项"}),
    ]
    for act in acts:
        with pytest.raises(NotFound):
            act()
    # The handler of another organ does not see it either; the head of the handling organ sees it but
    # the extension is its handlers' to ask for.
    other = member("ghzy_handler", {"handler"}, "county.ghzy", "handler")
    with pytest.raises(NotFound):
        services.request_extension(walk.engine, other, number, {"reason": "情况复杂", "days": 10})
    head = member("zjw_head", {"leader"}, "county.zjw", "head")
    with pytest.raises(Forbidden):
        services.request_extension(walk.engine, head, number, {"reason": "情况复杂", "days": 10})
    assert walk.state == "active" and "review_eligibility" not in walk.open()


def test_review_then_recheck_then_termination_and_the_same_matter_is_not_accepted_again(
    deployed: Engine, clock: FrozenClock
) -> None:
    number, walk = register(deployed, clock)
    replied(walk)
    ask(walk, number)
    walk.do("review_eligibility", **ELIGIBLE)
    walk.do("review_decide", reviewOutcome="uphold")
    walk.do("serve_review", reviewServedAt=walk.day())
    walk.lapse(days=5)
    ask(walk, number, kind="recheck", request="请求复核")
    assert "recheck_eligibility" in walk.open()
    walk.do("recheck_eligibility", **ELIGIBLE, proposeHearing=False)
    walk.do("recheck_decide", recheckOutcome="uphold")
    walk.do("serve_recheck", recheckServedAt=walk.day())
    finish(walk)  # implementation, evaluation and archive close the case
    assert walk.state == "completed"
    assert deployed.petitions.get(number).status == "terminated"
    again, second = register(deployed, clock)
    assert deployed.petitions.get(again).matter_terminated is True
    second.do("register_check")
    second.do("acceptance_review", acceptanceDecision="terminated")
    second.do("notice_terminated")
    assert second.state == "completed"
    assert deployed.petitions.get(again).status == "not_accepted"


def test_a_simple_answer_is_open_to_review(petition) -> None:
    number, walk = petition
    simply_answered(walk)
    ask(walk, number)
    assert "review_eligibility" in walk.open()
    walk.do("review_eligibility", **ELIGIBLE)
    walk.do("review_decide", reviewOutcome="change")
    walk.do("serve_review", reviewServedAt=walk.day())
    walk.do("simple_evaluate")
    walk.lapse(days=31)
    walk.do("terminate_no_recheck")
    finish(walk)
    assert walk.state == "completed"
    assert walk.engine.petitions.get(number).status == "terminated"


def test_a_withdrawal_ends_the_procedure_and_marks_the_petition_withdrawn(petition) -> None:
    number, walk = petition
    walk.do("register_check")
    services.withdraw(walk.engine, REGISTRAR, number, "信访人与施工单位已达成和解")
    assert walk.state == "cancelled"
    assert walk.open() == []
    stored = walk.engine.petitions.get(number)
    assert (stored.status, stored.outcome) == ("withdrawn", "withdrawn")
    cancelled = [e for e in walk.events() if e.kind == "instance.cancelled"][-1]
    assert cancelled.data == {"reason": "信访人撤回：信访人与施工单位已达成和解", "outcome": "withdrawn"}
    with pytest.raises(InvalidState):
        services.withdraw(walk.engine, REGISTRAR, number, "再次撤回")


def test_a_withdrawal_needs_a_reason(petition) -> None:
    number, walk = petition
    with pytest.raises(InvalidInput) as refused:
        services.withdraw(walk.engine, REGISTRAR, number, "")
    assert "reason" in refused.value.details["fields"]
    assert walk.state == "active"


def reviewed_with_redo(walk: Walk, number: str) -> Walk:
    replied(walk)
    ask(walk, number)
    walk.do("review_eligibility", **ELIGIBLE)
    walk.do("review_decide", reviewOutcome="redo", reviewDecidedAt=walk.day())
    return walk


def test_a_review_redo_is_rehandled_by_the_original_organ_in_a_new_sixty_day_period(petition) -> None:
    number, walk = petition
    reviewed_with_redo(walk, number)
    # The original organ's handlers re-handle it.
    rehandle = walk.task("rehandle")
    assert (rehandle.candidate_groups, rehandle.unit_code) == (["unit:county.zjw:handler"], "county.zjw")
    period = walk.deadline("rehandling")
    assert (period.anchor.isoformat(), period.length, period.unit) == (walk.day(), 60, "calendar")
    assert walk.deadline("handling").outcome == "on_time"  # the first period closed with the first reply
    # Sixty calendar days from the order; a period whose last day is a statutory holiday runs on to the next
    # working day (the calendar's rule), as this one, ending in the 2027 Spring Festival, does.
    last_day = period.due_at.astimezone(BEIJING).date() - timedelta(days=1)
    assert last_day > date.fromisoformat(walk.day(60))
    walk.lapse(days=(last_day - walk.today).days)
    assert "supervise_rehandle" not in walk.open()
    walk.lapse(days=1)
    assert {"rehandle", "supervise_rehandle"} <= set(walk.open())  # supervised, not interrupted
    walk.do("supervise_rehandle")
    walk.do("rehandle", rehandleOpinion="经重新调查，责令施工单位限期整改并赔偿损失。")
    assert "serve_review" in walk.open()


def test_a_redo_repeating_the_original_opinion_is_refused_naming_the_field(petition) -> None:
    number, walk = petition
    reviewed_with_redo(walk, number)
    original = FORM_DATA["handling_opinion"]["opinionReasons"]
    task = walk.task("rehandle")
    same = walk.values("rehandle", rehandleOpinion=f" {original}。")
    walk.engine.claim(task.id, "alice")
    with pytest.raises(ValidationFailed) as refused:
        walk.engine.complete(task.id, same, actor="alice")
    assert set(refused.value.details["fields"]) == {"rehandleOpinion"}
    assert "rehandle" in walk.open()


def test_a_recheck_redo_is_rehandled_before_the_recheck_opinion_is_served(petition) -> None:
    number, walk = petition
    replied(walk)
    ask(walk, number)
    walk.do("review_eligibility", **ELIGIBLE).do("review_decide", reviewOutcome="uphold")
    walk.do("serve_review", reviewServedAt=walk.day())
    ask(walk, number, kind="recheck", request="请求复核")
    walk.do("recheck_eligibility", **ELIGIBLE, proposeHearing=False)
    walk.do("recheck_decide", recheckOutcome="redo", recheckDecidedAt=walk.day())
    assert "rehandle_after_recheck" in walk.open() and "serve_recheck" not in walk.open()
    assert walk.deadline("recheck_rehandling").length == 60
    walk.do("rehandle_after_recheck", rehandleOpinion="重新核实后，支持信访人关于停止夜间施工的请求。")
    walk.do("serve_recheck", recheckServedAt=walk.day())
    finish(walk)
    assert walk.engine.petitions.get(number).status == "terminated"


def hearing_under_way(walk: Walk) -> Walk:
    """Ordinary handling with a hearing proposed at the investigation; the hearing is being organised."""
    accepted_complaint(walk).do("check_simple_eligibility", simpleEligible=False)
    walk.do("office_decide").do("unit_receipt").do("unit_respond").do("receive_assignment")
    walk.lapse(days=25)
    walk.do("investigate", proposeHearing=True)
    walk.do("offer_hearing", hearingInitiator="organ_proposal", hearingOfferedAt=walk.day())
    walk.do("register_application", petitionerAnswer="consent", hearingAppliedAt=walk.day())
    walk.do("exclusion_check").do("decide_hearing", hearingDecision="hold", hearingDecidedAt=walk.day())
    return walk


def test_an_extension_approved_on_day_forty_while_a_hearing_runs_and_the_reply_within_ninety_days(
    petition,
) -> None:
    number, walk = petition  # accepted 2026-11-02: day 60 is 2027-01-01, day 90 is 2027-01-31
    hearing_under_way(walk)
    walk.lapse(days=13)  # 2026-12-10, the 38th day after acceptance
    walk.do("notify_hearing", noticeSentAt=walk.day(), hearingDate=walk.day(14))
    walk.lapse(days=2)  # day 40
    with pytest.raises(InvalidInput) as too_long:
        services.request_extension(walk.engine, HANDLER, number, {"reason": "情况复杂", "days": 31})
    assert "days" in too_long.value.details["fields"]
    services.request_extension(
        walk.engine, HANDLER, number, {"reason": "涉及多个部门，需听证后研究", "days": 30}
    )
    assert "approve_extension" in walk.open() and "set_participants" in walk.open()
    with pytest.raises(Conflict):  # one request at a time, one extension at most
        services.request_extension(walk.engine, HANDLER, number, {"reason": "再次申请", "days": 10})
    walk.do("approve_extension", extensionApproved=True, extensionDays=30, approvedBy="区住建委主任")
    walk.do("notify_extension")
    assert walk.deadline("handling").extension_days == 30
    walk.do("set_participants")
    walk.lapse(days=14)  # day 54: the hearing is held
    walk.do("hold_hearing", heldAt=walk.day())
    walk.lapse(days=8)  # day 62: past the 60 days, the hearing was never interrupted
    assert "supervise_overdue_handling" not in walk.open()
    assert "task.cancelled" not in [e.kind for e in walk.events()]
    walk.do("deliberate", hearingConclusion="support")
    walk.lapse(days=10)  # day 72
    walk.do("draft_opinion").do("serve_reply")
    assert walk.deadline("handling").outcome == "on_time"
    with pytest.raises(Conflict):
        services.request_extension(walk.engine, HANDLER, number, {"reason": "已办结", "days": 5})


def test_an_extension_is_asked_within_the_period_only(petition) -> None:
    number, walk = petition
    accepted_complaint(walk).do("check_simple_eligibility", simpleEligible=False)
    walk.do("office_decide").do("unit_receipt").do("unit_respond").do("receive_assignment")
    with pytest.raises(Forbidden):
        services.request_extension(walk.engine, REGISTRAR, number, {"reason": "情况复杂", "days": 10})
    # Past the period's last day (the 60th, 2027-01-01, is New Year's Day: it runs on to the next working day).
    last_day = walk.deadline("handling").due_at.astimezone(BEIJING).date() - timedelta(days=1)
    walk.lapse(days=(last_day - walk.today).days + 1)
    assert "supervise_overdue_handling" in walk.open()
    with pytest.raises(InvalidState) as late:
        services.request_extension(walk.engine, HANDLER, number, {"reason": "情况复杂", "days": 10})
    assert late.value.details["reason"] == "period_lapsed"
    assert "approve_extension" not in walk.open()


@pytest.mark.parametrize(
    ("number", "says"),
    [
        ("500107199013011236", "出生日期 1990-13-01 不存在"),  # month 13
        ("500107199002301234", "出生日期 1990-02-30 不存在"),
        ("500107199001011234", "校验位不符"),  # the check character of these 17 digits is 8
    ],
)
def test_an_identity_number_needs_a_real_birth_date_and_its_check_character(
    deployed: Engine, number: str, says: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        deployed.petitions.register({**FORM_DATA["intake_registration"], "idNumber": number})
    assert set(refused.value.details["fields"]) == {"idNumber"}
    assert says in " ".join(refused.value.details["fields"]["idNumber"])
    petition, _ = deployed.petitions.register(
        {**FORM_DATA["intake_registration"], "idNumber": "11010119900307109x"}
    )
    assert petition.id_number == "11010119900307109x"


def test_an_anonymous_letter_is_registered_and_handled_without_a_notice(
    deployed: Engine, clock: FrozenClock
) -> None:
    letter = {
        k: v
        for k, v in FORM_DATA["intake_registration"].items()
        if k not in ("petitionerName", "idType", "idNumber", "phone", "address")
    }
    number, walk = register(deployed, clock, **{**letter, "channel": "letter", "identityUnclear": True})
    walk.do("register_check")
    walk.do("acceptance_review", acceptanceDecision="accept", category="suggestion")
    notice = walk.task("notice_acceptance")
    assert walk.engine.variables(walk.instance_id, notice.id)["noticeWaived"] is True
    walk.do("notice_acceptance", noticeWaived=True)
    submitted = walk.submitted("notice_acceptance")  # no number, method or date of service owed
    assert submitted["noticeWaived"] is True and not {"noticeNumber", "noticeServedAt"} & set(submitted)
    walk.do("study_suggestion")
    assert walk.state == "completed"
    stored = deployed.petitions.get(number)
    assert (stored.petitioner_name, stored.status) == ("匿名", "closed")


def test_a_third_petition_on_the_same_matter_is_a_repeat_for_the_joint_conference(
    deployed: Engine, clock: FrozenClock
) -> None:
    wages = {
        "subject": "讨要工资",
        "request": "请求责令某建筑公司支付拖欠的三个月工资",
        "facts": "在某建筑公司工地务工，六月至八月工资未发放",
    }
    first, _ = register(deployed, clock, **wages)
    services.withdraw(deployed, REGISTRAR, first, "已与公司协商")
    second, _ = register(deployed, clock, **{**wages, "subject": "拖欠工资"})
    services.withdraw(deployed, REGISTRAR, second, "公司承诺支付")
    clock.advance(days=20)
    third, walk = register(
        deployed, clock, **{**wages, "subject": "公司一直拖欠工资", "receivedAt": "2026-11-22"}
    )
    stored = deployed.petitions.get(third)
    assert (stored.is_repeat, stored.first_turned_repeat, stored.previous_number) == (True, True, second)
    assert stored.same_matter_pending is False
    accepted_complaint(walk).do("check_simple_eligibility", simpleEligible=False)
    assert walk.open() == ["conference_decide"]  # 初转重: the joint conference, not the first tier


def test_the_category_and_the_request_are_carried_forward(petition) -> None:
    number, walk = petition
    assert walk.engine.petitions.get(number).category is None
    accepted_complaint(walk)
    assert walk.engine.petitions.get(number).category == "complaint"  # classified, no longer 待定
    walk.do("check_simple_eligibility", simpleEligible=False)
    walk.do("office_decide").do("unit_receipt").do("unit_respond").do("receive_assignment").do("investigate")
    shown = walk.engine.variables(walk.instance_id, walk.task("draft_opinion").id)
    registration = FORM_DATA["intake_registration"]
    assert (shown["opinionRequest"], shown["opinionFacts"], shown["opinionReasons"]) == (
        registration["request"],
        registration["facts"],
        registration["reasons"],
    )


def test_an_item_for_another_statutory_channel_ends_channelled_not_refused(deployed: Engine, clock) -> None:
    number, walk = register(deployed, clock)
    walk.do("register_check").do("acceptance_review", acceptanceDecision="other_channel")
    walk.do("notice_other_channel")
    assert (deployed.petitions.get(number).status, deployed.petitions.get(number).outcome) == (
        "channelled",
        "other_channel",
    )
    second, walk = register(deployed, clock, subject="劳动合同解除补偿", request="请求支付经济补偿")
    walk.do("register_check").do("acceptance_review", acceptanceDecision="accept", category="complaint")
    walk.do("notice_acceptance").do("classify_complaint", statutoryRoute="arbitration")
    walk.do("notice_statutory_route")
    assert deployed.petitions.get(second).status == "channelled"


def test_two_related_items_merged_are_answered_within_the_earlier_deadlines(deployed: Engine, clock) -> None:
    first, walk = register(deployed, clock)  # received 2026-11-02: accepted by 2026-11-17
    clock.advance(days=3)
    second, other = register(
        deployed, clock, receivedAt="2026-11-05", petitionerName="李四", idNumber="11010119900307109x"
    )
    with pytest.raises(InvalidInput) as later:
        services.merge(deployed, REGISTRAR, first, second, "同一工地噪声")  # into the later one: refused
    assert "into" in later.value.details["fields"]
    services.merge(deployed, REGISTRAR, second, first, "同一工地夜间施工噪声，合并办理")
    assert other.state == "cancelled"
    merged = deployed.petitions.get(second)
    assert (merged.status, merged.outcome) == ("merged", "merged")
    walk.do("register_check")
    assert walk.deadline("acceptance").due_at.astimezone(BEIJING).date().isoformat() == "2026-11-18"
    timeline = [(e.kind, e.data) for e in walk.events() if e.kind == "petition.merged"]
    assert timeline == [("petition.merged", {"merged": second, "reason": "同一工地夜间施工噪声，合并办理"})]
    with pytest.raises(InvalidState):
        services.merge(deployed, REGISTRAR, second, first, "再次合并")


def test_a_matter_split_off_keeps_the_original_receipt_date_and_its_deadlines(
    deployed: Engine, clock
) -> None:
    number, walk = register(deployed, clock)
    clock.advance(days=5)
    part = services.split(
        deployed,
        REGISTRAR,
        number,
        {"subject": "小区绿地被占用", "request": "请求恢复小区绿地", "reason": "一信多事，分别办理"},
    )
    assert (part.received_at.isoformat(), part.subject, part.is_repeat) == (
        "2026-11-02",
        "小区绿地被占用",
        False,
    )
    assert part.petitioner_name == deployed.petitions.get(number).petitioner_name
    split_walk = Walk.of(deployed, clock, part.instance_id)
    split_walk.do("register_check")
    # Accepted within 15 days of the original receipt, not of the split.
    assert split_walk.deadline("acceptance").due_at.astimezone(BEIJING).date().isoformat() == "2026-11-18"
    assert [e.data["part"] for e in walk.events() if e.kind == "petition.split"] == [part.number]


@pytest.mark.parametrize(
    ("common_superior", "decides", "group"),
    [
        (True, "superior_decide_competence", "unit:county.committee:handler"),
        (False, "conference_decide_competence", "unit:county.lxhy:handler"),
    ],
)
def test_a_competence_dispute_is_decided_by_the_common_superior_else_the_joint_conference(
    petition, common_superior: bool, decides: str, group: str
) -> None:
    _, walk = petition
    accepted_complaint(walk).do("check_simple_eligibility", simpleEligible=False)
    walk.do("office_decide").do("unit_receipt").do("unit_respond", unitResponse="object")
    walk.do("objection_review", objectionDecision="dispute", hasCommonSuperior=common_superior)
    assert walk.open() == [decides]
    assert walk.task(decides).candidate_groups == [group]
    walk.do(decides, responsibleUnit="county.ghzy")
    assert walk.open() == ["unit_receipt"]  # the organ decided on signs for it and handles it
    assert (
        walk.engine.variables(walk.instance_id, walk.task("unit_receipt").id)["responsibleUnit"]
        == "county.ghzy"
    )
