"""How a command writes its unit of work: the open-task projection follows the workflow step by step (rows of
tasks that stay open are left alone), and each table is written with as few statements as it takes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, insert, select

from engine.models import Task, TaskCandidate, Timer
from engine.runtime import Engine
from tests.helpers import deploy_data, events, instance, only_task, open_tasks, with_text

VALID = {"name": "张三", "accepted": True, "handler": "bob", "wait": "P2D"}

PARALLEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs_parallel" targetNamespace="http://petitionflow/test">
  <bpmn:process id="parallel" name="会商" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="split"/>
    <bpmn:parallelGateway id="split"/>
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="opinion_a"/>
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="opinion_b"/>
    <bpmn:userTask id="opinion_a" name="甲单位意见" camunda:candidateGroups="unit_a"/>
    <bpmn:userTask id="opinion_b" name="乙单位意见" camunda:candidateGroups="unit_b" camunda:candidateUsers="li"/>
    <bpmn:sequenceFlow id="f4" sourceRef="opinion_a" targetRef="join"/>
    <bpmn:sequenceFlow id="f5" sourceRef="opinion_b" targetRef="join"/>
    <bpmn:parallelGateway id="join"/>
    <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="reply"/>
    <bpmn:userTask id="reply" name="答复" camunda:candidateGroups="petition_office"/>
    <bpmn:sequenceFlow id="f7" sourceRef="reply" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def statements(engine: Engine, action: Callable[[], Any]) -> list[str]:
    """The SQL the action sends to the database, in order."""
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(" ".join(statement.split()))

    event.listen(engine.db.engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        event.remove(engine.db.engine, "before_cursor_execute", record)
    return sent


def candidates(engine: Engine, task_id: str) -> set[tuple[str, str]]:
    with engine.db.reading() as session:
        rows = session.execute(
            select(TaskCandidate.kind, TaskCandidate.name).where(TaskCandidate.task_id == task_id)
        )
        return {(kind, name) for kind, name in rows}


def by_element(engine: Engine, instance_id: str) -> dict[str, Task]:
    return {t.element_id: t for t in open_tasks(engine, instance_id)}


def test_a_complete_reads_only_its_task_and_writes_each_table_once(engine: Engine) -> None:
    deploy_data(engine, "simple.bpmn", "simple_register.form")
    instance_id = engine.start("simple", business_key="XF-1").instance_id
    task_id = only_task(engine, instance_id, "register").id

    sent = statements(engine, lambda: engine.complete(task_id, VALID, actor="alice"))

    def count(prefix: str) -> int:
        return sum(1 for s in sent if s.startswith(prefix))

    # The open tasks are known from the workflow as loaded: no query reads them all back.
    assert not [s for s in sent if s.startswith("SELECT") and "FROM task WHERE task.instance_id" in s], sent
    assert count("UPDATE instance") == 1, sent
    assert count("DELETE FROM task ") == 1 and count("DELETE FROM task_candidate") == 0, sent
    assert (
        count("INSERT INTO task ") == count("INSERT INTO task_candidate") == count("INSERT INTO timer") == 1
    )
    # The command's five events (completed, activities, task created) in one statement.
    assert count("INSERT INTO audit_event") == 1, sent
    handle = only_task(engine, instance_id, "handle")
    assert candidates(engine, handle.id) == {("group", "handling_unit"), ("group", "petition_office")}
    kinds = [e.kind for e in events(engine, instance_id)]
    assert kinds.count("task.completed") == 1 and kinds.count("task.created") == 2


def test_tasks_that_stay_open_keep_their_rows_and_claims(engine: Engine, clock) -> None:
    engine.deploy([with_text("parallel.bpmn", PARALLEL)])
    instance_id = engine.start("parallel").instance_id
    opened = by_element(engine, instance_id)
    assert sorted(opened) == ["opinion_a", "opinion_b"]
    assert candidates(engine, opened["opinion_b"].id) == {("group", "unit_b"), ("user", "li")}
    engine.claim(opened["opinion_b"].id, "li")
    clock.advance(timedelta(hours=1))

    engine.complete(opened["opinion_a"].id, {"opinion": "同意"}, actor="zhao")

    still = by_element(engine, instance_id)
    assert sorted(still) == ["opinion_b"]
    kept = still["opinion_b"]
    assert (kept.id, kept.assignee, kept.created_at) == (
        opened["opinion_b"].id,
        "li",
        opened["opinion_b"].created_at,
    )
    assert candidates(engine, opened["opinion_a"].id) == set()
    assert candidates(engine, kept.id) == {("group", "unit_b"), ("user", "li")}

    engine.complete(kept.id, {"opinion": "同意"}, actor="li")
    reply = only_task(engine, instance_id, "reply")
    assert reply.created_at == clock.now()
    engine.complete(reply.id, {"reply": "已答复"}, actor="wang")
    assert open_tasks(engine, instance_id) == []
    assert [e.kind for e in events(engine, instance_id)].count("task.cancelled") == 0


def test_a_row_the_workflow_does_not_have_is_removed_by_the_next_command(engine: Engine) -> None:
    engine.deploy([with_text("parallel.bpmn", PARALLEL)])
    instance_id = engine.start("parallel").instance_id
    opened = by_element(engine, instance_id)
    stray = str(uuid.uuid4())
    with engine.db.transaction() as session:
        template = session.get(Task, opened["opinion_a"].id)
        assert template is not None
        row = {c.key: getattr(template, c.key) for c in Task.__table__.columns}
        session.execute(insert(Task.__table__), [{**row, "id": stray, "element_id": "gone"}])

    engine.complete(opened["opinion_a"].id, {"opinion": "同意"})

    assert sorted(by_element(engine, instance_id)) == ["opinion_b"]


def test_suspend_and_resume_flag_the_open_tasks(engine: Engine) -> None:
    engine.deploy([with_text("parallel.bpmn", PARALLEL)])
    instance_id = engine.start("parallel").instance_id
    engine.suspend(instance_id, actor="sup")
    assert [t.suspended for t in open_tasks(engine, instance_id)] == [True, True]
    engine.resume(instance_id, actor="sup")
    assert [t.suspended for t in open_tasks(engine, instance_id)] == [False, False]


def timers(engine: Engine, instance_id: str) -> list[tuple[str, datetime]]:
    with engine.db.reading() as session:
        rows = session.execute(select(Timer.element_id, Timer.due_at).where(Timer.instance_id == instance_id))
        return [(element, due) for element, due in rows]


def test_timer_rows_follow_the_workflow_without_being_read_back(engine: Engine, clock) -> None:
    deploy_data(engine, "simple.bpmn", "simple_register.form")
    instance_id = engine.start("simple").instance_id
    engine.complete(only_task(engine, instance_id, "register").id, VALID)
    assert timers(engine, instance_id) == [("late", clock.now() + timedelta(days=2))]

    handle = only_task(engine, instance_id, "handle").id
    sent = statements(engine, lambda: engine.complete(handle, {}, actor="bob"))

    assert not [s for s in sent if s.startswith("SELECT") and "FROM timer" in s], sent
    assert sum(1 for s in sent if s.startswith("DELETE FROM timer")) == 1, sent
    assert timers(engine, instance_id) == []
    assert instance(engine, instance_id).next_timer_at is None


def test_every_command_moves_the_instance_version_on(engine: Engine) -> None:
    # The clock stands still here, so a claim changes nothing of the instance row but its version: that is what
    # tells a command which waited for the lock that the task row it read is stale.
    engine.deploy([with_text("parallel.bpmn", PARALLEL)])
    instance_id = engine.start("parallel").instance_id
    task_id = by_element(engine, instance_id)["opinion_a"].id
    version = instance(engine, instance_id).version
    engine.claim(task_id, "zhao")
    assert instance(engine, instance_id).version == version + 1
    engine.comment(task_id, "请于本周内提出意见", actor="wang")
    assert instance(engine, instance_id).version == version + 2
