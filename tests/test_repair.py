"""Repairing running cases through the real engine, on SQLite and PostgreSQL: incidents and their retry,
process instance modification (cancel, start before/after, 退回上一环节) and migration to a newer version."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.errors import InvalidInput, InvalidState, ProcessError
from engine.models import Incident, Timer
from engine.repair import Instruction, MigrationPlan, parse_instructions, require_reason
from engine.runtime import Engine
from engine.scheduler import TimerService
from tests.helpers import events, instance, kinds, only_task, open_tasks, with_text
from tests.repair_diagrams import CALLED, CALLER, deploy_caller, deploy_case, deploy_timer


def start_case(engine: Engine) -> str:
    deploy_case(engine)
    return engine.start("repair_case", business_key="XF-R1", variables={"subject": "噪音"}).instance_id


def at_review(engine: Engine) -> str:
    instance_id = start_case(engine)
    engine.complete(only_task(engine, instance_id, "Register").id, {"checked": True}, actor="registrar")
    return instance_id


def timers(engine: Engine, instance_id: str) -> list[tuple[str, object]]:
    with engine.db.reading() as session:
        rows = session.scalars(select(Timer).where(Timer.instance_id == instance_id)).all()
        return sorted((t.element_id, t.due_at) for t in rows)


def incidents(engine: Engine) -> list[Incident]:
    with engine.db.reading() as session:
        return list(session.scalars(select(Incident)))


# -- incidents -----------------------------------------------------------------------------------------------------
def failing_timer(engine: Engine, clock) -> tuple[str, TimerService]:
    deploy_timer(engine)
    instance_id = engine.start("repair_timer", business_key="XF-T1").instance_id
    clock.advance(days=1, seconds=1)
    return instance_id, TimerService(engine)


def test_a_failed_fire_is_an_incident_with_its_attempts_until_a_fire_succeeds(engine: Engine, clock) -> None:
    instance_id, service = failing_timer(engine, clock)
    service.fire([instance_id])
    [incident] = incidents(engine)
    assert (incident.instance_id, incident.element_id, incident.attempts) == (instance_id, "Choose", 1)
    assert "replied" in incident.message and incident.business_key == "XF-T1"
    service.fire([instance_id])
    [incident] = incidents(engine)
    assert incident.attempts == 2
    # The history has the first failure only, naming the step as the diagram does; the instance still waits
    # at its timer.
    [failed] = [e for e in events(engine, instance_id) if e.kind == "timer.failed"]
    assert (failed.element_id, failed.data["name"]) == ("Choose", "是否答复")
    assert instance(engine, instance_id).active_elements == ["Wait"]

    with pytest.raises(ProcessError):
        engine.retry_incident(incident.id, actor="supervisor")
    [again] = incidents(engine)
    assert again.attempts == 3 and "replied" in again.message

    # The diagram is corrected and the case moved to it: the retry goes through and the incident is over.
    target = deploy_timer(engine, corrected=True)
    engine.migrate_instance(
        MigrationPlan(instance(engine, instance_id).definition_id, target), instance_id, reason="修正网关"
    )
    engine.retry_incident(again.id, actor="supervisor")
    assert incidents(engine) == []
    assert only_task(engine, instance_id, "FollowUp")
    assert ("incident.retried", "Choose") in kinds(engine, instance_id)


def test_a_scheduled_fire_that_succeeds_ends_the_incident(engine: Engine, clock) -> None:
    instance_id, service = failing_timer(engine, clock)
    service.fire([instance_id])
    assert len(incidents(engine)) == 1
    target = deploy_timer(engine, corrected=True)
    engine.migrate_instance(
        MigrationPlan(instance(engine, instance_id).definition_id, target), instance_id, reason="修正网关"
    )
    service.fire([instance_id])
    assert incidents(engine) == []
    assert only_task(engine, instance_id, "FollowUp")


def fired(engine: Engine, instance_id: str) -> int:
    return [k for k, _ in kinds(engine, instance_id)].count("timer.fired")


def suspended_past_due(engine: Engine, clock) -> tuple[str, TimerService]:
    """A case suspended while its failing timer waited; the timer came due during the suspension."""
    deploy_timer(engine)
    instance_id = engine.start("repair_timer", business_key="XF-T1").instance_id
    engine.suspend(instance_id, actor="supervisor")
    clock.advance(days=1, seconds=1)
    return instance_id, TimerService(engine)


def test_resuming_a_case_whose_due_timer_fails_ends_the_suspension_and_keeps_the_failure_as_an_incident(
    engine: Engine, clock
) -> None:
    instance_id, service = suspended_past_due(engine, clock)
    result = engine.resume(instance_id, actor="supervisor")
    # Resumed, and the reply names the incident the failed fire left, as a scheduled fire's failure is kept.
    assert result.state == "active" and instance(engine, instance_id).state == "active"
    [incident] = incidents(engine)
    assert result.incident == incident.id
    assert (incident.instance_id, incident.element_id, incident.attempts) == (instance_id, "Choose", 1)
    assert "replied" in incident.message and incident.business_key == "XF-T1"
    history = kinds(engine, instance_id)
    assert history[-2:] == [("instance.resumed", None), ("timer.failed", "Choose")]
    assert open_tasks(engine, instance_id) == [] and instance(engine, instance_id).active_elements == ["Wait"]
    assert instance(engine, instance_id).next_timer_at is not None  # the timer is not lost
    # The scheduler keeps failing on it until the cause is fixed: the same incident, one attempt more.
    service.fire([instance_id])
    [incident] = incidents(engine)
    assert incident.attempts == 2 and fired(engine, instance_id) == 0

    # The diagram is corrected: the retry fires the timer, once; the scheduler then finds nothing to fire.
    target = deploy_timer(engine, corrected=True)
    engine.migrate_instance(
        MigrationPlan(instance(engine, instance_id).definition_id, target), instance_id, reason="修正网关"
    )
    engine.retry_incident(incident.id, actor="supervisor")
    assert incidents(engine) == [] and only_task(engine, instance_id, "FollowUp")
    assert service.fire([instance_id]) == {instance_id}
    assert engine.fire_timers(instance_id) is None
    assert fired(engine, instance_id) == 1


def test_a_failed_fire_of_a_suspended_case_waits_for_the_resume_and_fires_once_when_fixed(
    engine: Engine, clock
) -> None:
    deploy_timer(engine)
    instance_id = engine.start("repair_timer", business_key="XF-T1").instance_id
    clock.advance(days=1, seconds=1)
    service = TimerService(engine)
    service.fire([instance_id])
    engine.suspend(instance_id, actor="supervisor")
    [incident] = incidents(engine)
    # Retrying a suspended case is refused in Chinese, telling the supervisor to resume first; no attempt is
    # counted and the scheduler leaves the suspended case alone.
    with pytest.raises(InvalidState) as refused:
        engine.retry_incident(incident.id, actor="supervisor")
    assert "请先恢复办理" in refused.value.to_dict()["message"]
    assert service.fire([instance_id]) == {instance_id}
    assert incidents(engine)[0].attempts == 1

    # Still broken: the resume goes through and the incident stays, one attempt more.
    assert engine.resume(instance_id, actor="supervisor").incident == incident.id
    assert instance(engine, instance_id).state == "active" and incidents(engine)[0].attempts == 2
    engine.suspend(instance_id, actor="supervisor")

    # Fixed while suspended: the resume fires the timer (once) and ends the incident; nothing is left to fire.
    target = deploy_timer(engine, corrected=True)
    engine.migrate_instance(
        MigrationPlan(instance(engine, instance_id).definition_id, target), instance_id, reason="修正网关"
    )
    assert fired(engine, instance_id) == 0
    result = engine.resume(instance_id, actor="supervisor")
    assert result.incident is None and result.created_tasks == [only_task(engine, instance_id, "FollowUp").id]
    assert incidents(engine) == []
    assert service.fire([instance_id]) == {instance_id} and engine.fire_timers(instance_id) is None
    assert fired(engine, instance_id) == 1
    assert [k for k, _ in kinds(engine, instance_id)].count("instance.resumed") == 2


# -- modification --------------------------------------------------------------------------------------------------
def test_a_reason_is_required_in_chinese() -> None:
    for missing in (None, "", "   "):
        with pytest.raises(InvalidInput) as caught:
            require_reason(missing)
        assert "原因" in caught.value.message and caught.value.details["fields"]["reason"] == ["必填项"]
    assert require_reason(" 转交错误 ") == "转交错误"


def test_instructions_are_checked_each_by_position() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_instructions(
            [
                {"type": "jump"},
                {"type": "cancel"},
                {"type": "startBeforeActivity"},
                {"type": "cancel", "activityId": ["Review"]},
            ]
        )
    assert set(caught.value.details["fields"]) == {
        "instructions.0.type",
        "instructions.1",
        "instructions.2.activityId",
        "instructions.3",
    }
    with pytest.raises(InvalidInput):
        parse_instructions([])


def test_move_back_reopens_the_previous_step_with_the_reason_in_the_history(engine: Engine, clock) -> None:
    instance_id = at_review(engine)
    review = only_task(engine, instance_id, "Review")
    assert timers(engine, instance_id) == [("ReviewLate", clock.now() + timedelta(days=10))]
    clock.advance(hours=1)
    engine.move_back(instance_id, reason="登记信息有误", actor="supervisor")
    register = only_task(engine, instance_id, "Register")
    assert register.id != review.id
    # The review's boundary timer went with it: no timer row, no next timer on the instance.
    assert timers(engine, instance_id) == [] and instance(engine, instance_id).next_timer_at is None
    moved = [e for e in events(engine, instance_id) if e.kind == "instance.moved_back"]
    assert [(e.element_id, e.actor, e.data["reason"], e.data["from"]) for e in moved] == [
        ("Register", "supervisor", "登记信息有误", "Review")
    ]
    assert ("task.cancelled", "Review") in kinds(engine, instance_id)
    # The data entered since is kept, and the case runs on from the reopened step.
    assert engine.variables(instance_id, register.id)["checked"] is True
    engine.complete(register.id, {"checked": True}, actor="registrar")
    assert only_task(engine, instance_id, "Review")
    assert timers(engine, instance_id) == [("ReviewLate", clock.now() + timedelta(days=10))]


def test_move_back_from_the_first_step_is_refused_and_changes_nothing(engine: Engine) -> None:
    instance_id = start_case(engine)
    before = instance(engine, instance_id)
    with pytest.raises(InvalidState) as caught:
        engine.move_back(instance_id, reason="试一下", actor="supervisor")
    assert "之前没有人工环节" in caught.value.message
    assert instance(engine, instance_id).version == before.version


def test_cancel_and_start_before_a_later_step_skips_a_stuck_one(engine: Engine) -> None:
    instance_id = at_review(engine)
    engine.modify(
        instance_id,
        [Instruction("cancel", "Review"), Instruction("startBeforeActivity", "Reply")],
        reason="审查已线下完成",
        actor="supervisor",
    )
    reply = only_task(engine, instance_id, "Reply")
    assert timers(engine, instance_id) == []
    [modified] = [e for e in events(engine, instance_id) if e.kind == "instance.modified"]
    assert modified.data["reason"] == "审查已线下完成" and len(modified.data["instructions"]) == 2
    assert engine.variables(instance_id, reply.id)["subject"] == "噪音"
    engine.complete(reply.id, {}, actor="office")
    assert instance(engine, instance_id).state == "completed"


def test_start_after_a_step_and_start_before_a_step_with_a_boundary_timer(engine: Engine, clock) -> None:
    instance_id = start_case(engine)
    engine.modify(
        instance_id,
        [Instruction("cancel", "Register"), Instruction("startAfterActivity", "Register")],
        reason="登记已在纸面完成",
        actor="supervisor",
    )
    # Started after 登记核对 is started before 受理审查, with its boundary timer.
    assert only_task(engine, instance_id, "Review")
    assert timers(engine, instance_id) == [("ReviewLate", clock.now() + timedelta(days=10))]


def test_a_modification_that_leaves_nothing_active_is_refused(engine: Engine) -> None:
    instance_id = at_review(engine)
    before = instance(engine, instance_id)
    with pytest.raises(InvalidInput) as caught:
        engine.modify(instance_id, [Instruction("cancel", "Review")], reason="x", actor="supervisor")
    assert "撤销" in caught.value.message
    with pytest.raises(InvalidInput) as caught:
        engine.modify(instance_id, [Instruction("startBeforeActivity", "Nowhere")], reason="x")
    assert "没有环节" in caught.value.message
    with pytest.raises(InvalidInput):
        engine.modify(instance_id, [Instruction("cancel", "Reply")], reason="x")
    after = instance(engine, instance_id)
    assert (after.version, after.state_json) == (before.version, before.state_json)


# -- migration -----------------------------------------------------------------------------------------------------
def test_dry_run_lists_what_each_instance_becomes_and_which_cannot_move(engine: Engine) -> None:
    source = deploy_case(engine)
    at_register = engine.start("repair_case", business_key="XF-M1").instance_id
    at_reply = engine.start("repair_case", business_key="XF-M2").instance_id
    engine.complete(only_task(engine, at_reply, "Register").id, {}, actor="registrar")
    engine.complete(only_task(engine, at_reply, "Review").id, {}, actor="office")
    target = deploy_case(engine, version=2)
    moves = {m.instance_id: m for m in engine.dry_run_migration(MigrationPlan(source, target))}
    assert moves[at_register].movable and moves[at_register].activities[0]["to"] == "Register"
    assert not moves[at_reply].movable and "书面答复" in moves[at_reply].problems[0]
    mapped = MigrationPlan(source, target, {"Reply": "WrittenReply"})
    moves = {m.instance_id: m for m in engine.dry_run_migration(mapped)}
    assert [(a["from"], a["to"]) for a in moves[at_reply].activities] == [("Reply", "WrittenReply")]
    # A dry run writes nothing.
    assert instance(engine, at_reply).definition_id == source
    with pytest.raises(InvalidInput):
        engine.dry_run_migration(MigrationPlan(source, target, {"Reply": "Nowhere"}))


def test_a_migrated_instance_runs_on_the_new_version_with_its_timer_kept(engine: Engine, clock) -> None:
    source = deploy_case(engine)
    instance_id = at_review(engine)
    due = timers(engine, instance_id)
    review = only_task(engine, instance_id, "Review")
    engine.claim(review.id, "office")
    target = deploy_case(engine, version=2)
    clock.advance(days=2)
    engine.migrate_instance(
        MigrationPlan(source, target), instance_id, reason="新增复核环节", actor="supervisor"
    )
    row = instance(engine, instance_id)
    assert row.definition_id == target
    # The open step keeps its id and its claim; the timer keeps its due time (the period does not restart).
    kept = only_task(engine, instance_id, "Review")
    assert (kept.id, kept.assignee, kept.definition_id) == (review.id, "office", target)
    assert timers(engine, instance_id) == due
    [migrated] = [e for e in events(engine, instance_id) if e.kind == "instance.migrated"]
    assert migrated.data["reason"] == "新增复核环节" and migrated.data["version"] == 2
    # Completing it now follows the new diagram: 复核 comes next.
    engine.complete(kept.id, {}, actor="office")
    recheck = only_task(engine, instance_id, "Recheck")
    engine.complete(recheck.id, {}, actor="supervisor")
    assert only_task(engine, instance_id, "WrittenReply").name == "书面答复（新）"


def test_an_instance_that_cannot_move_is_refused_and_unchanged(engine: Engine) -> None:
    source = deploy_case(engine)
    instance_id = at_review(engine)
    engine.complete(only_task(engine, instance_id, "Review").id, {}, actor="office")
    target = deploy_case(engine, version=2)
    before = instance(engine, instance_id)
    with pytest.raises(InvalidState) as caught:
        engine.migrate_instance(MigrationPlan(source, target), instance_id, reason="x")
    assert "书面答复" in caught.value.message
    after = instance(engine, instance_id)
    assert (after.version, after.definition_id) == (before.version, source)
    engine.migrate_instance(MigrationPlan(source, target, {"Reply": "WrittenReply"}), instance_id, reason="x")
    task = only_task(engine, instance_id, "WrittenReply")
    assert task.name == "书面答复（新）"
    engine.complete(task.id, {}, actor="office")
    assert instance(engine, instance_id).state == "completed"
    assert open_tasks(engine, instance_id) == []


def test_move_back_and_skip_across_a_call_activity(engine: Engine) -> None:
    deploy_caller(engine)
    instance_id = engine.start("repair_caller").instance_id
    engine.complete(only_task(engine, instance_id, "Intake").id, {"accepted": True})
    # Inside the called procedure, back to the caller's step before it.
    engine.move_back(instance_id, reason="受理意见需补充", actor="supervisor")
    engine.complete(only_task(engine, instance_id, "Intake").id, {"accepted": True})
    engine.complete(only_task(engine, instance_id, "Investigate").id, {"found": "属实"})
    # From the caller's step after the call, back into the finished called procedure's last step.
    engine.move_back(instance_id, reason="调查不充分", actor="supervisor")
    investigate = only_task(engine, instance_id, "Investigate")
    assert engine.variables(instance_id, investigate.id)["found"] == "属实"
    # Skipping the called procedure: its only step is cancelled, so the call goes too, and the case waits at 答复.
    engine.modify(
        instance_id,
        [
            Instruction("cancel", activity_instance_id=investigate.id),
            Instruction("startBeforeActivity", "Answer"),
        ],
        reason="已另案调查",
        actor="supervisor",
    )
    answer = only_task(engine, instance_id, "Answer")
    assert instance(engine, instance_id).active_elements == ["Answer"]
    engine.complete(answer.id, {})
    assert instance(engine, instance_id).state == "completed"


def test_an_instance_inside_a_called_procedure_migrates_with_it(engine: Engine) -> None:
    source = deploy_caller(engine)
    instance_id = engine.start("repair_caller").instance_id
    engine.complete(only_task(engine, instance_id, "Intake").id, {})
    files = [
        with_text("repair_caller.bpmn", CALLER.replace('name="答复"', 'name="书面答复"')),
        with_text("repair_called.bpmn", CALLED.replace('name="调查核实"', 'name="调查核实（新）"')),
    ]
    target = next(d.id for d in engine.deploy(files).definitions if d.key == "repair_caller")
    [move] = engine.dry_run_migration(MigrationPlan(source, target))
    assert [(a["from"], a["toName"]) for a in move.activities] == [
        ("CallInvestigation", "调查核实程序"),
        ("Investigate", "调查核实（新）"),
    ]
    engine.migrate_instance(MigrationPlan(source, target), instance_id, reason="调查环节改名")
    investigate = only_task(engine, instance_id, "Investigate")
    assert investigate.name == "调查核实（新）"
    engine.complete(investigate.id, {})
    assert only_task(engine, instance_id, "Answer").name == "书面答复"


def test_skipping_a_failing_timer_ends_its_incident(engine: Engine, clock) -> None:
    instance_id, service = failing_timer(engine, clock)
    service.fire([instance_id])
    assert len(incidents(engine)) == 1
    # While the failing timer is due, a modification that keeps it fails as the fire does, and changes nothing.
    with pytest.raises(ProcessError):
        engine.modify(instance_id, [Instruction("startBeforeActivity", "FollowUp")], reason="并行跟踪")
    engine.modify(
        instance_id,
        [Instruction("cancel", "Wait"), Instruction("startBeforeActivity", "FollowUp")],
        reason="不再等待，直接回访",
        actor="supervisor",
    )
    assert incidents(engine) == []
    assert only_task(engine, instance_id, "FollowUp") and timers(engine, instance_id) == []
