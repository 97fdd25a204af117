"""Scenario tests for the procedures a petition goes through as a whole, from registration on: the 复查 and
复核 requests a registrar records for the petitioner, the withdrawal, re-handling after a redo order, the
extension within the handling period, and the intake cases (anonymous letters, merges, repeats).

Each petition is registered through the registry, so the call activities run the shipped diagrams end to end,
and every request goes through engine/services.py as a registrar would send it from the pages or the API.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine import services
from engine.accounts import Principal
from engine.clock import FrozenClock
from engine.errors import Conflict, Forbidden, InvalidInput, InvalidState
from engine.runtime import Engine
from engine.testing import FORM_DATA, Walk

REGISTRAR = Principal("registrar", "登记员", frozenset({"registrar"}), ("registrar",))
HANDLER = Principal("handler", "承办人", frozenset({"handler"}), ("handling_unit",))
ELIGIBLE = {
    "ordinaryHandlingMatter": True,
    "hasConcreteRequest": True,
    "withinOriginalScope": True,
    "notAlreadyAccepted": True,
    "filedInTime": True,
}


def register(engine: Engine, clock: FrozenClock, **overrides: Any) -> tuple[str, Walk]:
    petition, result = engine.petitions.register(
        {**FORM_DATA["intake_registration"], **overrides}, actor="registrar"
    )
    return petition.number, Walk.of(engine, clock, result.instance_id)


def accepted_complaint(walk: Walk) -> Walk:
    """Registration checked, accepted as a complaint, classified under Art. 31 item (6)."""
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
