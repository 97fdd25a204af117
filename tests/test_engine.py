"""The engine's commands, each run through the real engine on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.errors import Conflict, InvalidInput, InvalidState, NotFound, ProcessError, ValidationFailed
from engine.runtime import Engine
from tests.helpers import DATA, deploy_data, events, instance, kinds, only_task, open_tasks, with_text

SIMPLE = ("simple.bpmn", "simple_register.form")
VALID = {"name": "张三", "accepted": True, "handler": "bob", "wait": "P2D"}


def start_simple(engine: Engine, **variables: object) -> str:
    deploy_data(engine, *SIMPLE)
    return engine.start("simple", business_key="XF-1", variables=variables or None, actor="reg").instance_id


def test_start_creates_the_first_task_with_its_candidates_form_and_due_date(engine: Engine) -> None:
    instance_id = start_simple(engine)
    task = only_task(engine, instance_id, "register")
    assert task.candidate_groups == ["registrar"]
    assert task.business_key == "XF-1"
    assert (task.form_ref, task.form_version) == ("simple_register", 1)
    assert task.due_at == engine.now() + timedelta(days=15)
    assert kinds(engine, instance_id)[:3] == [
        ("instance.started", None),
        ("activity.completed", "start"),
        ("task.created", "register"),
    ]


def test_complete_runs_the_gateway_and_assigns_the_next_task_from_an_expression(engine: Engine) -> None:
    instance_id = start_simple(engine)
    task = only_task(engine, instance_id, "register")
    result = engine.complete(task.id, VALID, actor="reg")
    handle = only_task(engine, instance_id, "handle")
    assert result.created_tasks == [handle.id]
    assert handle.assignee == "bob"
    assert handle.candidate_groups == ["handling_unit", "petition_office"]
    completed = [e for e in events(engine, instance_id) if e.kind == "task.completed"]
    assert [(e.actor, e.data["name"]) for e in completed] == [("reg", "张三")]
    assert ("activity.completed", "decide") in kinds(engine, instance_id)


def test_default_flow_when_condition_is_false(engine: Engine) -> None:
    instance_id = start_simple(engine)
    engine.complete(only_task(engine, instance_id, "register").id, {**VALID, "accepted": False})
    engine.complete(only_task(engine, instance_id, "notify").id, {})
    assert instance(engine, instance_id).state == "completed"
    assert kinds(engine, instance_id)[-1] == ("instance.completed", None)


def test_invalid_submission_names_every_field_and_changes_nothing(engine: Engine) -> None:
    instance_id = start_simple(engine)
    task = only_task(engine, instance_id, "register")
    before = instance(engine, instance_id)
    with pytest.raises(ValidationFailed) as caught:
        engine.complete(task.id, {"name": "x" * 51, "accepted": "perhaps"})
    assert set(caught.value.details["fields"]) == {"name", "accepted"}
    after = instance(engine, instance_id)
    assert (after.version, after.state_json) == (before.version, before.state_json)
    assert only_task(engine, instance_id, "register").id == task.id
    assert "task.completed" not in {k for k, _ in kinds(engine, instance_id)}


def test_completing_a_task_twice_is_a_conflict(engine: Engine) -> None:
    instance_id = start_simple(engine)
    task = only_task(engine, instance_id, "register")
    engine.complete(task.id, VALID)
    with pytest.raises(Conflict):
        engine.complete(task.id, VALID)


def test_unknown_task_is_not_found(engine: Engine) -> None:
    with pytest.raises(NotFound):
        engine.complete("4b0c6f0e-0000-4000-8000-000000000000", {})
    with pytest.raises(NotFound):
        engine.claim("not-a-uuid", "alice")


def test_claim_unclaim_assign_and_who_may_complete(engine: Engine) -> None:
    instance_id = start_simple(engine)
    task = only_task(engine, instance_id, "register")
    engine.claim(task.id, "alice")
    with pytest.raises(Conflict, match="claimed by alice"):
        engine.claim(task.id, "bob")
    with pytest.raises(Conflict):
        engine.complete(task.id, VALID, actor="bob")
    engine.unclaim(task.id, actor="alice")
    with pytest.raises(Conflict, match="claim the task"):
        engine.complete(task.id, VALID, actor="bob", require_claim=True)
    engine.assign(task.id, "bob", actor="lead")
    assert only_task(engine, instance_id, "register").assignee == "bob"
    engine.complete(task.id, VALID, actor="bob", require_claim=True)
    claims = [(k, e) for k, e in kinds(engine, instance_id) if k.startswith("task.") and k != "task.created"]
    assert [k for k, _ in claims] == ["task.claimed", "task.unclaimed", "task.assigned", "task.completed"]


def test_suspended_instance_refuses_work_until_resumed(engine: Engine, clock) -> None:
    instance_id = start_simple(engine)
    task = only_task(engine, instance_id, "register")
    engine.suspend(instance_id, actor="sup")
    assert open_tasks(engine, instance_id)[0].suspended
    with pytest.raises(InvalidState):
        engine.complete(task.id, VALID)
    with pytest.raises(InvalidState):
        engine.suspend(instance_id)
    engine.resume(instance_id, actor="sup")
    engine.complete(task.id, VALID)
    assert only_task(engine, instance_id, "handle")


def test_cancel_ends_the_instance_and_removes_its_tasks(engine: Engine) -> None:
    instance_id = start_simple(engine)
    engine.cancel(instance_id, actor="sup", reason="duplicate registration")
    row = instance(engine, instance_id)
    assert row.state == "cancelled" and row.ended_at is not None
    assert open_tasks(engine, instance_id) == []
    with pytest.raises(InvalidState):
        engine.cancel(instance_id)


def test_boundary_timer_fires_only_when_due_and_only_once(engine: Engine, clock) -> None:
    instance_id = start_simple(engine)
    engine.complete(only_task(engine, instance_id, "register").id, VALID)
    assert instance(engine, instance_id).next_timer_at == clock.now() + timedelta(days=2)
    version = instance(engine, instance_id).version
    assert engine.fire_timers(instance_id) is None
    assert instance(engine, instance_id).version == version
    assert only_task(engine, instance_id, "handle")
    clock.advance(days=2, seconds=1)
    engine.fire_timers(instance_id)
    assert instance(engine, instance_id).state == "completed"
    assert ("timer.fired", "late") in kinds(engine, instance_id)
    assert ("activity.completed", "escalated") in kinds(engine, instance_id)
    assert engine.fire_timers(instance_id) is None
    assert [k for k, _ in kinds(engine, instance_id)].count("timer.fired") == 1


def test_a_new_engine_on_the_same_database_resumes_the_instance(engine: Engine, settings, clock) -> None:
    instance_id = start_simple(engine)
    engine.complete(only_task(engine, instance_id, "register").id, VALID)
    again = Engine(settings, clock=clock)
    handle = only_task(again, instance_id, "handle")
    again.complete(handle.id, {}, actor="bob")
    assert instance(again, instance_id).state == "completed"
    again.db.dispose()


def test_a_failing_expression_leaves_the_instance_unchanged(engine: Engine) -> None:
    instance_id = start_simple(engine)
    task = only_task(engine, instance_id, "register")
    before = instance(engine, instance_id)
    # 'wait' is not an ISO duration: the boundary timer cannot be evaluated when 'handle' is reached.
    with pytest.raises(ProcessError) as caught:
        engine.complete(task.id, {**VALID, "wait": "soon"})
    assert caught.value.details["element"] == "late"
    after = instance(engine, instance_id)
    assert (after.version, after.state_json) == (before.version, before.state_json)
    assert only_task(engine, instance_id, "register")


def test_call_activity_input_mapping_and_message(engine: Engine) -> None:
    deploy_data(engine, "parent.bpmn", "child.bpmn")
    instance_id = engine.start("parent", variables={"who": "李四"}).instance_id
    task = only_task(engine, instance_id, "child_task")
    assert task.candidate_users == ["carol"]
    with pytest.raises(Conflict, match="not waiting"):
        engine.deliver_message("reply_received", instance_id=instance_id, payload={"ok": True})
    engine.complete(task.id, {"done": True})
    assert instance(engine, instance_id).active_elements == ["wait_reply"]
    engine.deliver_message("reply_received", business_key=None, instance_id=instance_id, payload={"ok": True})
    row = instance(engine, instance_id)
    assert row.state == "completed"
    assert ("message.delivered", None) in kinds(engine, instance_id)


def test_greeting_from_input_mapping_is_task_data(engine: Engine) -> None:
    deploy_data(engine, "parent.bpmn", "child.bpmn")
    instance_id = engine.start("parent", variables={"who": "李四"}).instance_id
    state = instance(engine, instance_id).state_json
    assert "hello 李四" in state


@pytest.mark.parametrize(
    "variables",
    [{"__builtins__": {}}, {"1abc": 1}, {"ok": object()}, {"x": float("nan")}, ["not", "a", "mapping"]],
)
def test_start_refuses_variables_expressions_could_not_hold(engine: Engine, variables) -> None:
    deploy_data(engine, *SIMPLE)
    with pytest.raises(InvalidInput):
        engine.start("simple", variables=variables)


def test_deploy_versions_and_duplicate_filtering(engine: Engine) -> None:
    deploy_data(engine, *SIMPLE)
    first = engine.start("simple").instance_id
    again = engine.deploy([with_text("simple.bpmn", (DATA / "simple.bpmn").read_text())])
    assert not again.created and again.definitions[0].version == 1
    changed = (DATA / "simple.bpmn").read_text().replace('name="Register"', 'name="Register petition"')
    result = engine.deploy([with_text("simple.bpmn", changed)])
    assert result.created and [(d.key, d.version, d.new) for d in result.definitions] == [("simple", 2, True)]
    second = engine.start("simple").instance_id
    assert instance(engine, first).definition_id.startswith("simple:1:")
    assert instance(engine, second).definition_id.startswith("simple:2:")
    assert only_task(engine, second, "register").name == "Register petition"
    assert only_task(engine, first, "register").name == "Register"
