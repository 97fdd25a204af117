"""Jurisdiction (docs/security.md): who sees which unit's tasks and cases, on /api, /engine-rest and the page
views, as a matrix of people (role × unit) and endpoints; and the accuser of a 检举控告 item, hidden from the
accused unit.

A small county: the county government over the petition bureau, the discipline office, two townships (甲镇,
乙镇) and a village under 甲镇. Three cases, one answered for by each of 甲镇, its village and 乙镇, each with an
open task of that unit's handlers. Outside a person's jurisdiction a case, a task or an instance is answered as
an unknown id (404); inside it, a task that is not theirs to act on is refused (403).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from engine.clock import FrozenClock
from engine.models import OrgUnit, UnitMember
from engine.policy import HIDDEN
from engine.runtime import Engine
from tests.api_helpers import Api, assert_error
from tests.helpers import deploy_data, only_task
from tests.test_petitions import REGISTRATION

pytest_plugins = ["tests.api_helpers"]

# code, name, parent, level, kind
UNITS = (
    ("county.gov", "县人民政府", None, "county", "government"),
    ("county.xfj", "县信访局", "county.gov", "county", "petition_bureau"),
    ("county.jw", "县纪委监委", "county.gov", "county", "discipline"),
    ("town.a", "甲镇人民政府", "county.gov", "township", "government"),
    ("village.a1", "甲村村民委员会", "town.a", "village", "government"),
    ("town.b", "乙镇人民政府", "county.gov", "township", "government"),
)
# login: roles, (unit, position)
PEOPLE = {
    "xfj_sup": (("supervisor",), ("county.xfj", "inspector")),
    "xfj_officer": (("handler",), ("county.xfj", "petition_officer")),
    "jw_handler": (("handler",), ("county.jw", "handler")),
    "a_head": (("leader",), ("town.a", "head")),
    "a_inspector": (("supervisor",), ("town.a", "inspector")),
    "a_handler": (("handler",), ("town.a", "handler")),
    "v_handler": (("handler",), ("village.a1", "handler")),
    "b_head": (("leader",), ("town.b", "head")),
    "b_handler": (("handler",), ("town.b", "handler")),
}
CASES = ("a", "v", "b")
CASE_UNIT = {"a": "town.a", "v": "village.a1", "b": "town.b"}


@dataclass(frozen=True)
class Expect:
    """What one person may do with the three cases: read the case (else 404), read its task (the others
    answer 404 outside the jurisdiction, 403 inside it), claim its task (offered to them)."""

    cases: frozenset[str]
    read_task: frozenset[str]
    claim: frozenset[str]
    # Which cases' tasks their task list shows.
    listed: frozenset[str]


def expect(cases: str, read_task: str = "", claim: str = "", listed: str | None = None) -> Expect:
    return Expect(frozenset(cases), frozenset(read_task), frozenset(claim), frozenset(listed or read_task))


MATRIX = {
    # The bureau sees the county; its supervisor reads every task, its officer only the offered ones.
    "xfj_sup": expect("avb", read_task="avb"),
    "xfj_officer": expect("avb", listed=""),
    # A township's head and inspector see their township and its village; its handler only the township.
    "a_head": expect("av", read_task="av"),
    "a_inspector": expect("av", read_task="av"),
    "a_handler": expect("a", read_task="a", claim="a"),
    "v_handler": expect("v", read_task="v", claim="v"),
    # Nobody sees a sibling township's cases.
    "b_head": expect("b", read_task="b"),
    "b_handler": expect("b", read_task="b", claim="b"),
    # A unit with none of these cases sees none of them.
    "jw_handler": expect(""),
}


def build_county(engine: Engine) -> None:
    """Adds the townships and their people to the fixture organisation (engine/testing.py) the app has."""
    with engine.db.transaction() as session:
        for code, name, parent, level, kind in UNITS:
            if session.get(OrgUnit, code) is None:
                session.add(OrgUnit(code=code, name=name, parent_code=parent, level=level, kind=kind))
        for login, (_, (unit, position)) in PEOPLE.items():
            session.add(UnitMember(login=login, unit_code=unit, position=position))
    for login, (roles, _) in PEOPLE.items():
        engine.accounts.create(login, login, display_name=login, roles=roles, demo=True)


def open_case(engine: Engine, responsible: str, task_unit: str, **registration: Any) -> dict[str, str]:
    """A registered petition the bureau routed to ``responsible``, with an open task of ``task_unit``'s
    handlers; returns its number, instance and task ids."""
    data = {**REGISTRATION, **registration}
    petition, registered = engine.petitions.register(data, actor="registrar")
    number = petition.number
    check = only_task(engine, registered.instance_id, "register_check")  # the acceptance clock starts
    engine.complete(check.id, {"checkResult": "confirmed"})
    deploy_data(engine, "unit_case.bpmn")
    started = engine.start(
        "unit_case", business_key=number, variables={"handlingGroup": f"unit:{task_unit}:handler"}
    )
    engine.complete(only_task(engine, started.instance_id, "route").id, {"responsibleUnit": responsible})
    task = only_task(engine, started.instance_id, "handle")
    assert task.unit_code == task_unit
    return {"number": number, "instance": started.instance_id, "task": task.id}


@pytest.fixture
def county(api: Api, deployed: Engine, clock: FrozenClock) -> dict[str, dict[str, str]]:
    build_county(deployed)
    cases = {
        key: open_case(deployed, unit, unit, petitionerName=f"信访人{key}", subject=f"{unit}事项")
        for key, unit in CASE_UNIT.items()
    }
    # The acceptance deadlines come near: the ladder warns, under each case's responsible unit.
    clock.advance(days=14)
    assert deployed.escalations.run()["warning"] == 3
    return cases


def status(response: Any) -> int:
    return response.status_code


@pytest.mark.parametrize("person", sorted(MATRIX))
def test_each_person_reaches_exactly_their_jurisdiction(
    api: Api, county: dict[str, dict[str, str]], person: str
) -> None:
    want, caller = MATRIX[person], api.as_(person)
    for key, case in county.items():
        seen = key in want.cases
        where = f"{person} × case {key} ({CASE_UNIT[key]})"
        task_status = 200 if key in want.read_task else (403 if seen else 404)
        # The case: petition, instance (native and Camunda), its variables.
        assert status(caller.get(f"/api/petitions/{case['number']}")) == (200 if seen else 404), where
        assert status(caller.get(f"/api/instances/{case['instance']}")) == (200 if seen else 404), where
        for path in (f"/engine-rest/process-instance/{case['instance']}", f"{case_vars(case)}"):
            assert status(caller.get(path)) == (200 if seen else 404), (where, path)
        # The task: native, Camunda, its variables and form.
        for path in (
            f"/api/tasks/{case['task']}",
            f"/engine-rest/task/{case['task']}",
            f"/engine-rest/task/{case['task']}/variables",
            f"/engine-rest/task/{case['task']}/form-variables",
        ):
            assert status(caller.get(path)) == task_status, (where, path)
        # Acting needs the task visible and offered.
        claim_status = 200 if key in want.claim else (403 if seen else 404)
        claimed = caller.post(f"/api/tasks/{case['task']}/claim", json={"userId": person})
        assert status(claimed) == claim_status, (where, claimed.get_json())
        if claim_status != 200:
            assert_error(claimed, claim_status)
        comment = caller.post(f"/api/tasks/{case['task']}/comments", json={"text": "了解"})
        assert status(comment) == claim_status, where


def case_vars(case: dict[str, str]) -> str:
    return f"/engine-rest/process-instance/{case['instance']}/variables"


@pytest.mark.parametrize("person", sorted(MATRIX))
def test_lists_and_counts_show_only_the_jurisdiction(
    api: Api, county: dict[str, dict[str, str]], person: str
) -> None:
    want, caller = MATRIX[person], api.as_(person)
    unit_tasks = {case["task"]: key for key, case in county.items()}
    native = {t["id"] for t in caller.tasks(limit=500)} & set(unit_tasks)
    assert {unit_tasks[t] for t in native} == want.listed
    camunda = caller.ok("GET", "/engine-rest/task", query_string={"maxResults": 500})
    assert {unit_tasks[t["id"]] for t in camunda if t["id"] in unit_tasks} == want.listed
    counted = caller.ok("GET", "/engine-rest/task/count")["count"]
    assert counted == len(camunda)
    # A guessed business key narrows nothing open: the list of another unit's case is empty.
    for key, case in county.items():
        listed = caller.tasks(businessKey=case["number"])
        assert bool({t["id"] for t in listed} & {case["task"]}) == (key in want.listed), key


# Who may call each list (their role): it then shows only the cases of their jurisdiction.
READERS = {"xfj_sup", "a_head", "a_inspector", "b_head"}


@pytest.mark.parametrize("person", sorted(READERS))
def test_searches_metrics_escalations_and_cockpit_leak_nothing(
    api: Api, county: dict[str, dict[str, str]], person: str
) -> None:
    want, caller = MATRIX[person], api.as_(person)
    number_of = {case["number"]: key for key, case in county.items()}
    listed = caller.ok("GET", "/api/petitions", query_string={"limit": 500})
    assert {number_of[p["number"]] for p in listed} == want.cases
    for key, case in county.items():
        found = caller.ok("GET", "/api/petitions", query_string={"petitioner": f"信访人{key}"})
        assert [p["number"] for p in found] == ([case["number"]] if key in want.cases else []), key
        by_number = caller.ok("GET", "/api/petitions", query_string={"number": case["number"]})
        assert len(by_number) == (key in want.cases), key
    units = {CASE_UNIT[key] for key in want.cases}
    rows = caller.ok("GET", "/api/metrics", query_string={"byMonth": "false"})
    assert {r["unit"] for r in rows} == units
    assert sum(r["registered"] for r in rows) == len(want.cases)
    warnings = caller.ok("GET", "/api/escalations", query_string={"kind": "warning"})
    assert {number_of[e["businessKey"]] for e in warnings} == want.cases
    assert {e["unit"] for e in warnings} == units
    if "supervisor" not in PEOPLE[person][0]:
        return
    instances = caller.ok("GET", "/api/instances", query_string={"limit": 500})
    assert {number_of[i["businessKey"]] for i in instances} == want.cases
    camunda = caller.ok("GET", "/engine-rest/process-instance", query_string={"maxResults": 500})
    assert {number_of[i["businessKey"]] for i in camunda} == want.cases
    assert caller.ok("GET", "/engine-rest/process-instance/count")["count"] == len(camunda)
    waiting = caller.ok("GET", "/ui/waiting")["elements"]
    handle = [e for e in waiting if e["elementId"] == "handle"]
    assert sum(e["tasks"] for e in handle) == len(want.cases)
    assert sum(e["instances"] for e in handle) == len(want.cases)


def test_ids_guessed_across_units_are_unknown_even_once_closed(
    api: Api, county: dict[str, dict[str, str]], deployed: Engine
) -> None:
    b_case = county["b"]
    b_handler, a_handler = api.as_("b_handler"), api.as_("a_handler")
    b_handler.claim(b_case["task"])
    b_handler.complete(b_case["task"], {})
    # For its own unit a finished task is a conflict (a colleague was quicker); across units it is unknown.
    assert_error(b_handler.post(f"/api/tasks/{b_case['task']}/claim", json={"userId": "b_handler"}), 409)
    assert_error(a_handler.post(f"/api/tasks/{b_case['task']}/claim", json={"userId": "a_handler"}), 404)
    for path in (f"/api/petitions/{b_case['number']}", f"/api/instances/{b_case['instance']}"):
        assert_error(a_handler.get(path), 404, "not_found")
    # The unknown answers are the same as for ids that never existed.
    never = a_handler.get("/api/petitions/XF2026-999999").get_json()
    hidden = a_handler.get(f"/api/petitions/{b_case['number']}").get_json()
    assert never["message"].replace("XF2026-999999", b_case["number"]) == hidden["message"]


# -- the accuser of a 检举控告 item (Art. 30 ¶3) ---------------------------------------------------------------


@pytest.fixture
def accusation(api: Api, deployed: Engine) -> dict[str, str]:
    """An accusation against 甲镇, answered for by the discipline office, which asked 甲镇 to explain itself:
    甲镇's handlers hold a task of the item."""
    build_county(deployed)
    return open_case(
        deployed,
        "county.jw",
        "town.a",
        category="accusation",
        involvedUnit="甲镇人民政府",
        petitionerName="王检举",
        subject="镇干部违规收费",
    )


def identity_seen(api: Api, person: str, case: dict[str, str]) -> set[str]:
    """Where ``person`` reads the accuser's name in full, among every place that shows it."""
    caller = api.as_(person)
    places: dict[str, Any] = {}
    petition = caller.get(f"/api/petitions/{case['number']}")
    if petition.status_code == 200:
        body = petition.get_json()
        places["petition"] = body["petitionerName"]
        started = [e for e in body["timeline"] if e["kind"] == "instance.started"]
        places["timeline"] = started[0]["data"]["variables"]["petitionerName"]
    task = caller.get(f"/api/tasks/{case['task']}")
    if task.status_code == 200:
        places["task"] = task.get_json()["variables"].get("petitionerName")
        typed = caller.ok("GET", f"/engine-rest/task/{case['task']}/variables")
        places["camunda task"] = typed.get("petitionerName", {}).get("value")
    instance = caller.get(f"/api/instances/{case['instance']}")
    if instance.status_code == 200:
        places["instance"] = instance.get_json()["variables"].get("petitionerName")
    for where, value in places.items():
        assert value in ("王检举", HIDDEN, None), (person, where, value)
    shown = {where for where, value in places.items() if value == "王检举"}
    hidden = {where for where, value in places.items() if value == HIDDEN}
    assert shown or hidden, f"{person} reads the case nowhere"
    assert not (shown and hidden), f"{person}: shown in {shown}, hidden in {hidden}"
    return shown


def test_the_accused_unit_never_learns_who_accused_it(api: Api, accusation: dict[str, str]) -> None:
    # 甲镇's handler holds a task of the item and its head oversees it: both read the case, never the accuser.
    for person in ("a_handler", "a_head"):
        assert identity_seen(api, person, accusation) == set(), person
    # Those handling it read the accuser: the bureau, the responsible discipline office, the registrar.
    for person in ("xfj_officer", "xfj_sup", "jw_handler", "registrar"):
        assert identity_seen(api, person, accusation), person
    detail = api.as_("a_handler").ok("GET", f"/api/petitions/{accusation['number']}")
    assert {detail[k] for k in ("petitionerName", "idNumber", "phone", "address")} == {HIDDEN}
    assert detail["subject"] == "镇干部违规收费"  # the matter itself is theirs to answer


def test_a_search_by_name_does_not_find_an_accusation_against_ones_own_unit(
    api: Api, accusation: dict[str, str]
) -> None:
    query = {"petitioner": "王检举"}
    assert api.as_("a_head").ok("GET", "/api/petitions", query_string=query) == []
    [listed] = api.as_("xfj_sup").ok("GET", "/api/petitions", query_string=query)
    assert listed["number"] == accusation["number"] and listed["petitionerName"] == "王检举"
    # The accused unit's head lists the case among its own, the accuser hidden.
    [own] = api.as_("a_head").ok("GET", "/api/petitions")
    assert own["number"] == accusation["number"] and own["petitionerName"] == HIDDEN


def test_the_accused_units_task_list_shows_the_case_but_not_its_accuser(
    api: Api, accusation: dict[str, str]
) -> None:
    query = {"businessKey": accusation["number"]}
    [task] = api.as_("a_handler").ok("GET", "/api/tasks", query_string=query)
    assert (task["case"]["petitionerName"], task["case"]["subject"]) == (HIDDEN, "镇干部违规收费")
    listed = api.as_("xfj_sup").ok("GET", "/api/tasks", query_string=query)
    assert {t["case"]["petitionerName"] for t in listed} == {"王检举"}
