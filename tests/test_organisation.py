"""The organisation (docs/organisation.md): the model, the file format, routing by unit at deploy, task creation
and completion, /api/units and /api/users, and reassignment by the unit head."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.clock import FrozenClock
from engine.demo import COUNTY_FILE
from engine.errors import DeploymentInvalid, Forbidden, InvalidInput, ProcessError, ValidationFailed
from engine.models import AuditEvent, Instance, OrgUnit, UnitMember
from engine.orgadmin import AUDIT_INSTANCE, parse_document
from engine.organisation import KINDS, LEVELS
from engine.runtime import Engine
from engine.testing import FIXTURE_ORG, Walk, load_fixture_org, open_tasks
from tests.api_helpers import Api, assert_error, basic
from tests.helpers import DATA, with_text
from webapi.cli import main

pytest_plugins = ("tests.api_helpers",)


def org_events(engine: Engine) -> list[AuditEvent]:
    with engine.db.reading() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.instance_id == AUDIT_INSTANCE)))


def count(engine: Engine, model: type) -> int:
    with engine.db.reading() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


# -- the model --------------------------------------------------------------------------------------------------
def test_the_tree_gives_units_below_review_organs_and_staff(engine: Engine) -> None:
    load_fixture_org(engine)
    org = engine.organisation
    below = org.units_below("county.gov")
    assert {"county.gov", "county.xfj", "county.zjw", "county.binjiang"} <= below
    assert "county.committee" not in below and "city.gov" not in below
    assert org.units_below("county.zjw") == {"county.zjw"}
    assert org.units_below("county.nowhere") == frozenset()
    # 上一级机关: a department's is its government, the county government's is the city's.
    assert (org.review_organ("county.zjw"), org.review_organ("county.gov")) == ("county.gov", "city.gov")
    assert org.review_organ("city.gov") is None
    assert [m.login for m in org.staff("county.zjw", "head")] == ["zjw_head"]
    assert {m.login for m in org.staff("county.zjw")} == {"handler", "hearing", "zjw_head"}
    assert [(m.unit_code, m.position) for m in org.memberships("reviewer")] == [
        ("city.gov", "handler"),
        ("county.gov", "handler"),
    ]
    assert org.unit_of("zjw_head") == "county.zjw" and org.unit_of("nobody") is None


def test_a_member_holds_the_unit_group_of_each_position(deployed: Engine) -> None:
    deployed.accounts.create("handler", "handler", roles=["handler"], groups=["handling_unit"], demo=True)
    principal = deployed.accounts.get("handler")
    assert principal is not None
    assert principal.groups == ("handling_unit", "unit:county.zjw:handler")
    assert (principal.units, principal.positions) == ({"county.zjw"}, {("county.zjw", "handler")})


# -- the file ---------------------------------------------------------------------------------------------------
BAD_FILE = """units:
  - {code: county.gov, name: 区政府, level: county, kind: government}
  - {code: county.a, name: 甲, parent: county.b, level: county, kind: department}
  - {code: county.b, name: 乙, parent: county.a, level: county, kind: department}
  - {code: county.c, name: 丙, parent: county.nowhere, level: town, kind: ministry}
  - {code: county.gov, name: 重复, level: county, kind: government}
people:
  - login: li
    memberships: [{unit: county.gov, position: boss}, {unit: county.gone, position: head}]
"""


def test_a_bad_file_is_refused_whole_naming_line_and_entry_and_nothing_is_written(engine: Engine) -> None:
    with pytest.raises(InvalidInput) as caught:
        engine.orgadmin.load(parse_document(BAD_FILE), "admin")
    problems = "\n".join(caught.value.details["problems"])
    assert "第 3 行 units[1]（county.a）：上级关系成环" in problems
    assert "第 5 行 units[3]（county.c）：上级单位 parent county.nowhere 不存在" in problems
    assert "层级 town" in problems and "类别 ministry" in problems
    assert "第 6 行 units[4]（county.gov）：单位代码 county.gov 重复" in problems
    assert "第 8 行 people[0]（li）：职务 boss" in problems and "单位 county.gone 不存在" in problems
    assert (count(engine, OrgUnit), count(engine, UnitMember), org_events(engine)) == (0, 0, [])


def test_a_file_that_is_not_yaml_names_its_line(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="第 2 行第 1 列：不是有效的 YAML"):
        parse_document("units:\n\t- {code: a}\n")


def test_loading_is_audited_and_loading_again_changes_nothing(engine: Engine) -> None:
    document = parse_document(FIXTURE_ORG)
    report = engine.orgadmin.load(document, "admin", accounts=False)
    assert (report.units_created, report.memberships_added) == (len(document.units), 15)
    kinds = [e.kind for e in org_events(engine)]
    assert kinds.count("org.unit.created") == len(document.units) and kinds.count("org.member.added") == 15
    again = engine.orgadmin.load(document, "admin", accounts=False)
    assert (again.units_created, again.units_updated, again.memberships_added) == (0, 0, 0)
    assert len(org_events(engine)) == len(kinds)


def test_the_demo_county_is_a_realistic_county(engine: Engine) -> None:
    document = parse_document(COUNTY_FILE.read_text(encoding="utf-8"))
    kinds = [u.kind for u in document.units]
    assert kinds.count("department") >= 20 and len(document.people) >= 80
    assert sum(u.level == "township" for u in document.units) >= 10
    assert {"party_committee", "government", "petition_bureau", "joint_conference"} <= set(kinds)
    assert {u.level for u in document.units} <= set(LEVELS) and set(kinds) <= set(KINDS)
    # Its codes and names agree with the fixture the tests use.
    fixture = {u.code: u.name for u in parse_document(FIXTURE_ORG).units}
    assert {u.code: u.name for u in document.units if u.code in fixture} == fixture
    report = engine.orgadmin.load(document, "demo", accounts=False)
    assert report.units_created == len(document.units)


def test_cli_org_load_refuses_a_bad_file_and_loads_a_good_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PETITIONFLOW_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'org.db'}")
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_FILE, encoding="utf-8")
    assert main(["org", "load", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}: 第 3 行 units[1]（county.a）" in err and "未写入任何内容" in err
    good = tmp_path / "good.yaml"
    good.write_text(FIXTURE_ORG, encoding="utf-8")
    assert main(["org", "load", str(good), "--user", "admin"]) == 0
    assert "单位：新增 11" in capsys.readouterr().out


# -- routing ----------------------------------------------------------------------------------------------------
def diagram(groups: str) -> str:
    return (
        (DATA / "simple.bpmn")
        .read_text(encoding="utf-8")
        .replace('camunda:candidateGroups="registrar"', f'camunda:candidateGroups="{groups}"', 1)
    )


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ("unit:county.nowhere:handler", "未知单位 'county.nowhere'"),
        ("unit:county.zjw:boss", "未知职务 'boss'"),
        ("${unitGroup(&#39;county.nowhere&#39;, &#39;handler&#39;)}", "未知单位 'county.nowhere'"),
        ("${unitGroup(responsibleUnit, &#39;boss&#39;)}", "未知职务 'boss'"),
        ("${unitGroup(countyUnit(&#39;ministry&#39;), &#39;head&#39;)}", "未知单位类别 'ministry'"),
    ],
)
def test_an_unknown_unit_position_or_kind_written_in_a_diagram_is_refused_at_deploy(
    engine: Engine, groups: str, message: str
) -> None:
    load_fixture_org(engine)
    form = (DATA / "simple_register.form").read_text(encoding="utf-8")
    with pytest.raises(DeploymentInvalid) as caught:
        engine.deploy([with_text("simple.bpmn", diagram(groups)), with_text("simple_register.form", form)])
    [problem] = caught.value.details["problems"]
    assert problem["element"] == "register" and message in problem["message"]


def test_a_literal_unit_role_deploys_and_the_task_belongs_to_that_unit(engine: Engine) -> None:
    load_fixture_org(engine)
    form = (DATA / "simple_register.form").read_text(encoding="utf-8")
    engine.deploy(
        [with_text("simple.bpmn", diagram("unit:county.xfj:petition_officer")), with_text("f.form", form)]
    )
    [task] = open_tasks(engine, engine.start("simple").instance_id)
    assert (task.candidate_groups, task.unit_code) == (["unit:county.xfj:petition_officer"], "county.xfj")


TRANSFER = {
    "petitionNumber": "XF2026-0009",
    "receivedAt": "2026-10-26",
    "acceptedAt": "2026-10-30",
    "category": "complaint",
    "isRepeat": False,
    "firstTurnedRepeat": False,
    "majorDifficult": False,
    "refluxCount": 0,
    "peopleCount": 1,
    "refluxThreshold": 2,
}


def test_a_form_naming_an_unknown_unit_is_refused_with_the_field_named(
    deployed: Engine, clock: FrozenClock
) -> None:
    walk = Walk(deployed, clock, "three_tier_transfer", **TRANSFER)
    before = walk.task("office_decide")
    with pytest.raises(ValidationFailed) as caught:
        walk.complete("office_decide", responsibleUnit="county.nowhere")
    assert caught.value.details["fields"] == {"responsibleUnit": ["没有代码为 county.nowhere 的单位"]}
    assert walk.task("office_decide").id == before.id
    walk.complete("office_decide", responsibleUnit="county.binjiang")
    receipt = walk.task("unit_receipt")
    # The township's handlers get it, not the county's other handlers.
    assert (receipt.candidate_groups, receipt.unit_code) == (
        ["unit:county.binjiang:handler"],
        "county.binjiang",
    )


def test_the_handler_must_be_staff_of_the_handling_unit(deployed: Engine, clock: FrozenClock) -> None:
    walk = Walk(deployed, clock, "ordinary_handling", **TRANSFER, responsibleUnit="county.zjw")
    with pytest.raises(ValidationFailed) as caught:
        walk.complete("receive_assignment", handler="binjiang_handler")
    assert caught.value.details["fields"] == {
        "handler": ["binjiang_handler 不是本单位（county.zjw）的工作人员"]
    }
    walk.complete("receive_assignment", handler="hearing")
    assert walk.variables()["handler"] == "hearing"


def test_review_goes_to_the_upper_organ_and_recheck_to_its_upper_organ(
    deployed: Engine, clock: FrozenClock
) -> None:
    walk = Walk(
        deployed,
        clock,
        "review_recheck",
        **TRANSFER,
        replyServedAt="2026-11-02",
        responsibleUnit="county.binjiang",
    )
    walk.message("review_requested", reviewRequestedAt=walk.day(), request="请求撤销原处理意见")
    assert walk.task("review_eligibility").candidate_groups == ["unit:county.gov:handler"]
    assert walk.task("review_eligibility").unit_code == "county.gov"


# -- the API ----------------------------------------------------------------------------------------------------
def test_admins_create_update_and_move_units_and_every_change_is_audited(api: Api) -> None:
    admin = api.as_("admin")
    unit = {
        "code": "county.heping",
        "name": "和平街道办事处",
        "parent": "county.gov",
        "level": "township",
        "kind": "government",
    }
    created = admin.ok("POST", "/api/units", 201, json=unit)
    assert created == {**unit, "reviewOrgan": "county.gov"}
    assert_error(admin.post("/api/units", json=unit), 409, "conflict")
    fields = {k: v for k, v in unit.items() if k != "code"}
    moved = admin.ok("PUT", "/api/units/county.heping", json={**fields, "parent": "county.binjiang"})
    assert moved["parent"] == "county.binjiang"
    # Moving the township's parent under it would make a cycle: refused, nothing changed.
    looped = {"name": "滨江街道办事处", "parent": "county.heping", "level": "township", "kind": "government"}
    body = assert_error(admin.put("/api/units/county.binjiang", json=looped), 409, "conflict")
    assert "成环" in body["message"]
    assert admin.ok("GET", "/api/units/county.binjiang")["parent"] == "county.gov"
    assert_error(admin.put("/api/units/county.nowhere", json=looped), 404, "not_found")
    admin.ok("POST", "/api/units/county.heping/members", json={"login": "li", "position": "handler"})
    staff = api.as_("handler").ok("GET", "/api/units/county.heping/staff")
    assert staff == [{"login": "li", "unit": "county.heping", "position": "handler", "rank": None}]
    admin.ok("DELETE", "/api/units/county.heping/members/li/handler")
    assert api.as_("handler").ok("GET", "/api/units/county.heping/staff") == []
    kinds = [e.kind for e in org_events(api.app.extensions["petitionflow"]) if e.actor == "admin"]
    assert kinds == ["org.unit.created", "org.unit.updated", "org.member.added", "org.member.removed"]


def test_only_admins_change_the_organisation(api: Api) -> None:
    handler = api.as_("handler")
    assert len(handler.ok("GET", "/api/units")) == 11
    unit = {"code": "county.x", "name": "某单位", "level": "county", "kind": "department"}
    assert_error(handler.post("/api/units", json=unit), 403, "forbidden")
    assert_error(
        handler.post("/api/units/county.zjw/members", json={"login": "handler", "position": "head"}), 403
    )
    assert_error(handler.get("/api/users"), 403, "forbidden")
    assert_error(api.as_("admin").post("/api/units", json={**unit, "kind": "ministry"}), 422)


def looped_unit() -> dict[str, str]:
    return {"name": "区住房城乡建委", "level": "county", "kind": "department"}


def test_admins_create_and_update_users(api: Api) -> None:
    admin = api.as_("admin")
    new = {"username": "wang", "password": "a-long-password", "displayName": "王五", "roles": ["handler"]}
    created = admin.ok("POST", "/api/users", 201, json=new)
    assert (created["displayName"], created["memberships"], "password" in created) == ("王五", [], False)
    admin.ok("POST", "/api/units/county.zjw/members", json={"login": "wang", "position": "handler"})
    updated = admin.ok("PUT", "/api/users/wang", json={"displayName": "王五（承办）", "active": False})
    assert (updated["displayName"], updated["active"]) == ("王五（承办）", False)
    assert updated["memberships"] == [
        {"login": "wang", "unit": "county.zjw", "position": "handler", "rank": None}
    ]
    assert_error(admin.put("/api/users/wang", json={"displayName": "王五", "roles": ["boss"]}), 422)
    admin.ok(
        "PUT", "/api/users/wang", json={"displayName": "王五", "active": True, "password": "another-long-pw"}
    )
    assert api.as_("wang").get("/api/me", headers=basic("wang", "another-long-pw")).status_code == 200
    assert_error(admin.put("/api/users/wang", json={"displayName": "王五", "password": "short"}), 422)
    assert_error(admin.put("/api/users/wang"), 422)  # no body: nothing to change
    assert_error(admin.put("/api/users/wang", json={}), 422)
    lost = {**looped_unit(), "parent": "county.nowhere"}
    assert_error(admin.put("/api/units/county.zjw", json=lost), 404, "not_found")
    handler = next(u for u in admin.ok("GET", "/api/users") if u["username"] == "handler")
    assert {"unit": "county.zjw", "position": "handler", "login": "handler", "rank": None} in handler[
        "memberships"
    ]


def test_the_openapi_document_describes_units_and_users(api: Api) -> None:
    spec = api.anonymous.get("/api/openapi.json").json
    assert {"/api/units", "/api/units/{code}/staff", "/api/users", "/api/users/{login}"} <= set(spec["paths"])
    assert {"Unit", "User", "Member"} <= set(spec["components"]["schemas"])


# -- reassignment -----------------------------------------------------------------------------------------------
def unit_task(api: Api) -> str:
    """An open receive_assignment of county.zjw, claimed by its handler."""
    number = api.register()["number"]
    api.as_("registrar").do(number, "register_check")
    office = api.as_("office")
    office.do(number, "acceptance_review", acceptanceDecision="accept", category="complaint")
    office.do(number, "notice_acceptance")
    office.do(number, "classify_complaint")
    office.do(number, "check_simple_eligibility", simpleEligible=False)
    office.do(number, "office_decide", responsibleUnit="county.zjw")
    handler = api.as_("handler")
    handler.do(number, "unit_receipt")
    handler.do(number, "unit_respond", unitResponse="accept")
    task = handler.task_at(number, "receive_assignment")
    handler.claim(task["id"])
    return task["id"]


def test_the_unit_head_hands_a_task_to_a_colleague_and_it_is_audited(api: Api) -> None:
    engine = api.app.extensions["petitionflow"]
    engine.accounts.create("zjw_head", "zjw_head", roles=["leader"], demo=True)
    engine.accounts.create("binjiang_handler", "binjiang_handler", roles=["handler"], demo=True)
    task_id = unit_task(api)
    head = api.as_("zjw_head")
    # Not to someone outside the unit, and no plain handler reassigns.
    assert_error(
        head.post(f"/api/tasks/{task_id}/assign", json={"userId": "binjiang_handler"}), 403, "forbidden"
    )
    assert_error(api.as_("hearing").post(f"/api/tasks/{task_id}/assign", json={"userId": "hearing"}), 403)
    head.ok("POST", f"/api/tasks/{task_id}/assign", json={"userId": "hearing"})
    task = api.as_("hearing").ok("GET", f"/api/tasks/{task_id}")
    assert (task["assignee"], task["unitCode"]) == ("hearing", "county.zjw")
    with engine.db.reading() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.task_id == task_id, AuditEvent.kind == "task.assigned")
        ).one()
    assert (event.actor, event.data) == ("zjw_head", {"assignee": "hearing", "previous": "handler"})
    # The picker's list: the unit's staff.
    staff = {m["login"] for m in api.as_("handler").ok("GET", "/api/units/county.zjw/staff")}
    assert staff == {"handler", "hearing", "zjw_head"}


def test_the_petition_row_keeps_the_responsible_unit(api: Api) -> None:
    unit_task(api)
    [petition] = api.as_("registrar").ok("GET", "/api/petitions")
    assert (petition["responsibleUnit"], petition["involvedUnit"]) == ("county.zjw", "区住房城乡建委")


def test_forbidden_is_what_a_handler_gets_for_another_units_reassignment(deployed: Engine) -> None:
    from engine import policy
    from engine.accounts import Principal

    task = type("T", (), {"id": "t", "unit_code": "county.zjw"})()
    head = Principal("h", "h", frozenset({"leader"}), (), positions=frozenset({("county.binjiang", "head")}))
    with pytest.raises(Forbidden):
        policy.check_assign(head, task, "hearing", ["handler", "hearing"])  # type: ignore[arg-type]


def test_a_unit_role_the_data_cannot_resolve_is_a_process_error_that_changes_nothing(
    deployed: Engine,
) -> None:
    # The hearing started on its own, without the organising organ its callers set.
    with pytest.raises(ProcessError) as caught:
        deployed.start("hearing", business_key="XF2026-0010", variables={"receivedAt": "2026-10-20"})
    assert caught.value.details["element"] == "offer_hearing"
    assert "organisingOrgan" in caught.value.message
    with deployed.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(Instance)) == 0
