"""The statutory clock on every open task: its stage's deadline, the one definition of overdue and due soon,
and the boards that must agree on it (issue 15)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from engine.clock import FrozenClock
from engine.demo import load_demo
from engine.models import Escalation, Instance, Petition
from engine.runtime import Engine
from engine.stages import STAGE_DEADLINES, stage_deadline
from engine.testing import Walk
from tests.api_helpers import Api, assert_error
from tests.test_escalation import register_to_acceptance
from tests.test_petitions import REGISTRATION
from tests.test_scenarios_handling import (
    HANDLING_VARIABLES,
    SIMPLE_VARIABLES,
    beijing_midnight,
    extension_requested,
)
from tests.test_scenarios_hearing import deploy_shipped
from tests.test_scenarios_intake import REGISTRY_VARIABLES, registered
from tests.test_scenarios_package import DUTIES, LEADER
from tests.test_scenarios_transfer import start as start_tier

pytest_plugins = ["tests.api_helpers"]
# Periods run into 2027, for which no holiday notice is loaded in tests: the calendar warns and counts weekends.
pytestmark = pytest.mark.filterwarnings("ignore::engine.calendar.CalendarYearMissing")

DEMO_COUNT = 50


@pytest.fixture
def demo(deployed: Engine, app: Flask) -> Api:
    report = load_demo(deployed, count=DEMO_COUNT)
    assert [p.scenario for p in report.failures] == []
    return Api(app)


def starter(engine: Engine, clock: FrozenClock, process: str, defaults: dict[str, Any]) -> Any:
    def start(**variables: Any) -> Walk:
        return Walk(engine, clock, process, **{**defaults, **variables})

    return start


@pytest.fixture
def intake(deployed: Engine, clock: FrozenClock) -> Any:
    return starter(deployed, clock, "petition_intake", REGISTRY_VARIABLES)


@pytest.fixture
def handling(deployed: Engine, clock: FrozenClock) -> Any:
    return starter(deployed, clock, "ordinary_handling", HANDLING_VARIABLES)


@pytest.fixture
def simple(deployed: Engine, clock: FrozenClock) -> Any:
    return starter(deployed, clock, "simple_procedure", SIMPLE_VARIABLES)


@pytest.fixture
def review(deployed: Engine, clock: FrozenClock) -> Walk:
    return Walk(
        deployed,
        clock,
        "review_recheck",
        petitionNumber="XF2026-0001",
        replyServedAt="2026-11-02",
        responsibleUnit="county.zjw",
    )


def keys(rows: list[dict[str, Any]], field: str) -> set[str]:
    return {row[field] for row in rows if row.get(field)}


def test_demo_tasks_carry_their_due_and_every_board_agrees_on_what_is_overdue(demo: Api) -> None:
    supervisor = demo.as_("supervisor")
    tasks = supervisor.tasks(limit=500)
    petition_tasks = [t for t in tasks if t["businessKey"]]
    assert len(petition_tasks) >= 30
    # Every step within a statutory period carries its due; filing a termination has none.
    staged = {element for _, element in STAGE_DEADLINES}
    timed = [t for t in petition_tasks if t["elementId"] in staged]
    assert len(timed) >= 30
    without = [(t["businessKey"], t["elementId"]) for t in timed if t["due"] is None]
    assert without == []
    for task in timed:
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
    # The metrics count the same cases as overdue now.
    metrics = supervisor.ok("GET", "/api/metrics", query_string={"byUnit": "false", "byMonth": "false"})
    assert sum(row["overdueNow"] for row in metrics) == len(late)
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


def test_a_task_carries_the_due_and_warning_moment_of_its_stage(intake) -> None:
    walk = registered(intake)
    task = walk.task("acceptance_review")
    record = walk.deadline("acceptance")
    assert (task.deadline_name, task.due_at) == ("acceptance", record.due_at)
    assert task.warn_at == record.due_at - timedelta(days=3)
    # The notice owed within the same 15 days carries the same due; the period closes when it is issued.
    walk.do("acceptance_review", acceptanceDecision="accept", category="suggestion")
    assert walk.task("notice_acceptance").due_at == record.due_at
    walk.do("notice_acceptance")
    assert walk.deadline("acceptance").outcome == "on_time"
    assert walk.task("study_suggestion").deadline_name == "handling"


def test_a_step_outside_any_statutory_period_has_no_due(review: Walk) -> None:
    assert stage_deadline("ordinary_handling", "close_and_archive") is None
    walk = review
    walk.lapse(days=31)  # no review asked for: the filing of the termination has no statutory period
    task = walk.task("terminate_no_review")
    assert (task.deadline_name, task.due_at, task.warn_at) == (None, None, None)


def test_the_due_of_the_handling_steps_follows_the_extension(handling) -> None:
    walk = handling()
    walk.do("receive_assignment")
    walk.lapse(days=20)
    extension_requested(walk)  # asked within the 60 days; the investigation goes on (Art. 34)
    before = walk.task("investigate").due_at
    approval = walk.task("approve_extension")
    assert approval.deadline_name == "handling" and approval.due_at == before
    walk.do("approve_extension", extensionApproved=True, extensionDays=5)
    record = walk.deadline("handling")
    assert record.due_at == before + timedelta(days=5)
    assert walk.task("notify_extension").due_at == walk.task("investigate").due_at == record.due_at


def test_an_item_found_simple_after_acceptance_does_not_enter_the_simple_procedure_overdue(simple) -> None:
    # Received and accepted three weeks ago, found simple today (Monday 2026-11-02).
    walk = simple(receivedAt="2026-10-12", acceptedAt="2026-10-14")
    decide = walk.task("simple_decide")
    assert decide.due_at == beijing_midnight("2026-11-06")  # 3 working days from today, not from receipt
    assert walk.deadline("simple_decision").anchor.isoformat() == "2026-11-02"
    walk.do("simple_decide")
    assert walk.task("simple_answer").due_at == beijing_midnight("2026-11-17")  # 10 working days
    walk.lapse(days=3)
    assert walk.fired() == []


@pytest.mark.parametrize("tier", ["county", "conference", "office"])
def test_each_tier_decides_within_15_days_or_is_supervised(
    engine: Engine, clock: FrozenClock, tier: str
) -> None:
    walk, decide = start_tier(engine, clock, tier)
    assert walk.task(decide).deadline_name == "transfer_decision"
    walk.lapse(days=15)
    assert walk.fired() == []
    walk.lapse(days=1)
    # The tier's step stays open (and red); the supervisors get their task.
    assert walk.open() == sorted([decide, "supervise_transfer_timeliness"])
    assert walk.task(decide).due_at <= engine.now()
    walk.do("supervise_transfer_timeliness")
    assert "end_transfer_supervised" in walk.passed()


def test_the_receiving_unit_gives_its_written_notice_within_15_days(
    engine: Engine, clock: FrozenClock
) -> None:
    walk, decide = start_tier(engine, clock, "office")
    walk.do(decide)
    assert walk.task("unit_receipt").deadline_name == "receipt_notice"
    walk.lapse(days=16)
    assert walk.fired() == ["timer_receipt_notice"]
    assert walk.open() == ["supervise_transfer_timeliness", "unit_receipt"]


def test_an_ineligible_review_request_is_answered_within_15_days(review) -> None:
    review.message("review_requested", reviewRequestedAt=review.day(), request="请求撤销原处理意见")
    assert review.task("review_eligibility").deadline_name == "review_acceptance"
    review.lapse(days=16)
    assert review.fired() == ["timer_review_acceptance"]
    assert review.open() == ["review_eligibility", "supervise_review_acceptance"]


def test_supervision_ladder_reply_then_sanction_then_accountability(
    deployed: Engine, clock: FrozenClock
) -> None:
    walk = Walk(deployed, clock, "supervision", petitionNumber="XF2026-0009", responsibleUnit="county.zjw")
    walk.do("issue_supervision")
    reply = walk.task("unit_reply")
    assert reply.candidate_groups == ["unit:county.zjw:head"] and reply.deadline_name == "supervision"
    walk.lapse(days=31)  # no written reply within the reply period (Art. 40)
    assert walk.open() == ["decide_sanction", "unit_reply"]
    assert deployed.escalations.run()["sanction"] == 1
    walk.do("decide_sanction", sanctionKind="listing")
    rectify = walk.task("unit_rectify")
    assert rectify.deadline_name == "rectification" and rectify.due_at > deployed.now()
    # Past the rectification period's end (which runs on past the New Year holiday).
    walk.lapse(days=(rectify.due_at - deployed.now()).total_seconds() / 86400 + 0.1)
    assert walk.open() == ["recommend_accountability", "unit_rectify", "unit_reply"]
    assert deployed.escalations.run()["accountability"] == 1
    walk.do("recommend_accountability")
    walk.do("unit_reply")
    walk.do("unit_rectify")
    assert walk.state == "completed"
    assert deployed.escalations.run()["accountability"] == 0  # written once


def test_a_supervisor_starts_supervision_of_an_important_item_from_the_cockpit(api: Api) -> None:
    number = api.register()["number"]
    body = {"businessKey": number, "reason": "leader_reception", "note": "县领导接访交办"}
    assert_error(api.as_("handler").post("/api/escalations/supervisions", json=body), 403)
    bad = api.as_("supervisor").post("/api/escalations/supervisions", json={**body, "reason": "whim"})
    assert_error(bad, 422)
    missing = api.as_("supervisor").post(
        "/api/escalations/supervisions", json={**body, "businessKey": "XF1999-9"}
    )
    assert_error(missing, 404)
    started = api.as_("supervisor").ok("POST", "/api/escalations/supervisions", 201, json=body)
    assert started["businessKey"] == number
    [step] = api.as_("supervisor").ok("GET", "/api/escalations", query_string={"kind": "manual"})
    assert step["businessKey"] == number and "领导接访事项" in step["reason"]
    issue = api.as_("supervisor").task_at(number, "issue_supervision")
    assert issue["deadline"] == "supervision" and issue["due"]


def test_the_daily_patrol_opens_a_supervision_for_each_case_it_finds(
    deployed: Engine, clock: FrozenClock
) -> None:
    numbers = [register_to_acceptance(deployed, "区住房城乡建委", n) for n in range(2)]
    clock.advance(days=17)
    assert deployed.escalations.patrol() == 2
    with deployed.db.reading() as session:
        started = session.scalars(
            select(Instance.business_key).where(Instance.definition_key == "supervision")
        )
        assert sorted(started) == sorted(numbers)
    clock.advance(days=1)
    assert deployed.escalations.patrol() == 2  # found again the next day, already supervised
    with deployed.db.reading() as session:
        assert session.scalar(select(func.count()).where(Instance.definition_key == "supervision")) == 2


def test_listing_counts_skip_level_trips_group_visits_and_repeats_by_responsible_unit(
    deployed: Engine,
) -> None:
    for n in range(3):
        petition, _ = deployed.petitions.register(
            {**REGISTRATION, "involvedUnit": "区住房城乡建委", "subject": f"越级事项{n}", "skipLevel": True}
        )
        # The unit answering for it, as the transfer decision naming responsibleUnit records it.
        with deployed.db.transaction() as session:
            session.execute(
                update(Petition)
                .where(Petition.number == petition.number)
                .values(responsible_unit="county.zjw")
            )
    assert deployed.escalations.run()["listing"] == 1
    with deployed.db.reading() as session:
        listing = session.scalars(select(Escalation).where(Escalation.kind == "listing")).one()
    assert listing.unit == "county.zjw" and listing.details["skipLevel"] == 3
    assert "越级走访 3 件" in listing.reason


def test_packaging_reports_progress_every_30_days_and_is_supervised_when_its_period_ends(
    engine: Engine, clock: FrozenClock
) -> None:
    deploy_shipped(engine)
    walk = Walk(
        engine, clock, "leadership_package", petitionNumber="XF2026-0001", refluxCount=0, refluxThreshold=2
    )
    assert walk.task("choose_leader").deadline_name == "package"
    walk.complete("choose_leader", **LEADER)
    walk.complete("form_team")
    assert walk.open() == DUTIES
    walk.lapse(days=30.5)
    assert walk.open() == sorted([*DUTIES, "report_package_progress"])
    report = walk.task("report_package_progress")
    # The chosen packaging leader reports, as they carry the package's duties.
    assert (report.assignee, report.candidate_groups) == ("leader", [])
    assert report.deadline_name == "package"
    walk.complete("report_package_progress")
    walk.lapse(days=30)
    assert "report_package_progress" in walk.open()  # the next month's report
    walk.complete("report_package_progress")
    walk.lapse(days=31)  # 91.5 days after packaging: the period (90 days, local) has ended
    assert "supervise_package" in walk.open()
    assert walk.deadline("package").outcome == "overdue"
    assert walk.task("duty_resolve").due_at <= engine.now()
