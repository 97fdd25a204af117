"""engine/services.py driven directly, as every adapter drives it: one policy for who sees and does what, and
the one paging helper of engine/queries.py under both the native and the Camunda-shaped reads."""

from __future__ import annotations

import pytest

from engine import policy, queries, services
from engine.accounts import Principal
from engine.definitions import read_files
from engine.errors import Conflict, Forbidden, NotFound
from engine.queries import Criteria, Page, TaskFilter
from engine.runtime import Engine
from tests.helpers import DATA, deploy_data, open_tasks


def _people(engine: Engine) -> tuple[Principal, Principal, Principal, Principal]:
    made = []
    for name, role, group in (
        ("rita", "registrar", "registrar"),
        ("rosa", "registrar", "registrar"),
        ("hank", "handler", "handling_unit"),
    ):
        engine.accounts.create(name, name, roles=[role], groups=[group], demo=True)
        person = engine.accounts.get(name)
        assert person is not None
        made.append(person)
    supervisor = Principal("sue", "Sue", frozenset({"supervisor"}), ())
    return made[0], made[1], made[2], supervisor


def test_services_answer_each_principal_by_one_policy(engine: Engine) -> None:
    deploy_data(engine, "simple.bpmn", "simple_register.form")
    rita, rosa, hank, sue = _people(engine)
    first = engine.start("simple", business_key="XF-1").instance_id
    second = engine.start("simple", business_key="XF-2").instance_id

    # The register tasks are offered to the registrars; the handler sees none, the supervisor reads all.
    assert services.visible_tasks(engine, hank, limit=10, offset=0) == []
    offered = services.visible_tasks(engine, rita, limit=10, offset=0)
    assert {t.instance_id for t in offered} == {first, second}
    assert len(services.visible_tasks(engine, sue, limit=10, offset=0)) == 2
    with pytest.raises(Forbidden):
        services.visible_tasks(engine, hank, candidate_group="registrar", limit=10, offset=0)
    with pytest.raises(NotFound):  # outside the handler's jurisdiction: unknown
        services.readable_instance(engine, hank, first)
    assert services.readable_instance(engine, rita, first).id == first

    task = services.visible_tasks(engine, rita, instance_id=first, limit=10, offset=0)[0]
    with pytest.raises(Forbidden):
        services.claim(engine, rita, task.id, "rosa")  # only for yourself
    with pytest.raises(Forbidden):
        services.claim(engine, sue, task.id, "sue")  # supervisors read, they do not act
    with pytest.raises(NotFound):
        services.assign(engine, sue, task.id, "nobody")  # a task goes only to an account that exists
    services.claim(engine, rita, task.id, "rita")
    with pytest.raises(Forbidden):
        services.unclaim(engine, rosa, task.id)  # only the assignee (or a supervisor) releases
    assert services.readable_task(engine, rosa, task.id).assignee == "rita"


def test_instance_and_deployment_commands_check_the_role_in_the_service(engine: Engine) -> None:
    """Suspend, resume, cancel, deploy and start refuse a principal without the role, whichever adapter calls
    them, and change nothing; the command line's operator may do all of it."""
    deploy_data(engine, "simple.bpmn", "simple_register.form")
    rita, _, hank, sue = _people(engine)
    designer = Principal("dora", "Dora", frozenset({"designer"}), ())
    started = services.start(engine, designer, "simple", business_key="XF-1", variables={"name": "Li"})
    instance = started.instance_id
    for refused in (
        lambda: services.suspend(engine, hank, instance),
        lambda: services.cancel(engine, rita, instance, "not theirs to stop"),
        lambda: services.start(engine, hank, "simple"),
        lambda: services.deploy(engine, sue, read_files([DATA / "simple.bpmn"]), name="again"),
        lambda: services.validate(engine, hank, read_files([DATA / "simple.bpmn"])),
    ):
        with pytest.raises(Forbidden):
            refused()
    assert services.readable_instance(engine, sue, instance).state == "active"
    assert services.suspend(engine, sue, instance).state == "suspended"
    with pytest.raises(Forbidden):
        services.resume(engine, designer, instance)
    assert services.resume(engine, sue, instance)["state"] == "active"
    assert services.result_variables(engine, hank, instance)["name"] == "Li"

    # The pages and the APIs claim a task before completing it; the operator completes it as whoever they name.
    task = open_tasks(engine, instance)[0]
    with pytest.raises(Conflict):
        services.complete(engine, rita, task.id, {"name": "Li"})
    operator = policy.operator("rita")
    done = services.complete(engine, operator, task.id, {"name": "Li", "accepted": False})
    assert [t.element_id for t in open_tasks(engine, instance)] == ["notify"] and done.state == "active"
    assert services.cancel(engine, operator, instance, "closed at the shell").state == "cancelled"


def test_one_paging_helper_filters_sorts_and_counts_by_field_name(engine: Engine) -> None:
    deploy_data(engine, "simple.bpmn", "simple_register.form")
    started = [engine.start("simple", business_key=f"XF-{n}").instance_id for n in range(3)]
    everything = TaskFilter(limit=100)

    newest_first = Page(0, 2, sort=[("instanceId", True)])
    page = services.read(engine, queries.task_page, everything, Criteria(), newest_first)
    assert [t.instance_id for t in page] == sorted(started, reverse=True)[:2]
    rest = services.read(engine, queries.task_page, everything, Criteria(), Page(2, 2, newest_first.sort))
    assert [t.instance_id for t in rest] == sorted(started, reverse=True)[2:]
    assert services.read(engine, queries.task_page, everything, Criteria(), Page(0, 0)) == []

    two = Criteria(among=[("instanceId", started[:2])], like=[("name", "Reg%")])
    assert services.read(engine, queries.task_count, everything, two) == 2
    assert services.read(engine, queries.task_count, everything, Criteria(equal=[("name", "Handle")])) == 0
