"""The lists (docs: README "Using it"): server-side paging with a total, whitelisted orders, search of petitions
by words of their subject and content, by name, phone and identity number (for the roles that see them), within
the searcher's jurisdiction; task lists with their petition's columns and procedure; where a case stands inside
its called procedures (the instance tree); readable histories; each user's saved filters. On SQLite and
PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from engine.clock import FrozenClock
from engine.runtime import Engine
from engine.testing import Walk, only_task, task_values
from tests.api_helpers import Api, assert_error
from tests.test_jurisdiction import build_county, open_case
from tests.test_petitions import REGISTRATION
from tests.test_scenarios_handling import HANDLING_VARIABLES

pytest_plugins = ["tests.api_helpers"]

# The registration check's answers that start the acceptance deadline.
CHECKED = {"checkResult": "confirmed"}
# Seven petitions received on successive days; the fourth alone tells of unpaid wages.
SUBJECTS = ("路灯不亮", "垃圾清运", "噪声扰民", "拖欠农民工工资", "道路积水", "小区停水", "占道经营")


@pytest.fixture
def registry(deployed: Engine) -> list[str]:
    numbers = []
    for i, subject in enumerate(SUBJECTS):
        petition, _ = deployed.petitions.register(
            {
                **REGISTRATION,
                "petitionerName": f"李{'一二三四五六七'[i]}",
                "idType": "resident_id" if i == 3 else "none",
                "idNumber": REGISTRATION["idNumber"] if i == 3 else None,
                "phone": f"1390000000{i}",
                "receivedAt": f"2026-10-{20 + i}",
                "subject": subject,
                "facts": "包工头拖欠工资三个月，多次讨要未果" if i == 3 else f"{subject}，影响居民生活",
            },
            actor="registrar",
        )
        numbers.append(petition.number)
    return numbers


def page(api: Api, user: str, path: str, **query: Any) -> tuple[list[dict[str, Any]], int]:
    response = api.as_(user).get(path, query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json(), int(response.headers["X-Total-Count"])


def test_petitions_come_a_page_at_a_time_in_the_order_asked_with_their_total(
    api: Api, registry: list[str]
) -> None:
    first, total = page(api, "supervisor", "/api/petitions", limit=3, sort="receivedAt")
    assert total == 7
    assert [p["receivedAt"] for p in first] == ["2026-10-20", "2026-10-21", "2026-10-22"]
    last, total = page(api, "supervisor", "/api/petitions", limit=3, offset=6, sort="receivedAt")
    assert (total, [p["number"] for p in last]) == (7, [registry[6]])
    newest, _ = page(api, "supervisor", "/api/petitions", limit=1, sort="-receivedAt")
    assert newest[0]["number"] == registry[6]
    by_name, _ = page(api, "supervisor", "/api/petitions", limit=7, sort="-petitionerName")
    assert [p["petitionerName"] for p in by_name] == sorted(
        (p["petitionerName"] for p in by_name), reverse=True
    )
    # Only the whitelisted orders: anything else is refused, naming the parameter.
    refused = assert_error(api.as_("supervisor").get("/api/petitions?sort=content"), 422)
    assert "sort" in str(refused["details"])


def test_petitions_are_found_by_a_word_of_their_content_or_subject(api: Api, registry: list[str]) -> None:
    for word in ("拖欠工资", "工资", "农民工"):
        found, total = page(api, "registrar", "/api/petitions", text=word)
        assert ([p["number"] for p in found], total) == ([registry[3]], 1), word
    found, total = page(api, "registrar", "/api/petitions", text="影响居民生活", sort="number")
    assert total == 6 and registry[3] not in [p["number"] for p in found]
    # A LIKE wildcard is a character like any other.
    assert page(api, "registrar", "/api/petitions", text="%")[1] == 0


def test_phone_and_identity_number_are_search_keys_only_for_those_who_see_them(
    api: Api, registry: list[str]
) -> None:
    found, _ = page(api, "registrar", "/api/petitions", phone="13900000003")
    assert [p["number"] for p in found] == [registry[3]]
    assert page(api, "registrar", "/api/petitions", phone="1390000")[1] == 7
    found, _ = page(api, "registrar", "/api/petitions", idNumber=REGISTRATION["idNumber"])
    assert [p["number"] for p in found] == [registry[3]]
    # The supervisor sees phones masked: asking by phone would reveal them one digit at a time.
    for query in ({"phone": "13900000003"}, {"idNumber": REGISTRATION["idNumber"]}):
        assert_error(api.as_("supervisor").get("/api/petitions", query_string=query), 403, "forbidden")


def test_a_handler_searches_petitions_within_their_jurisdiction_only(api: Api, deployed: Engine) -> None:
    build_county(deployed)
    own = open_case(deployed, "town.a", "town.a", subject="甲镇道路积水", facts="雨后积水严重无法通行")
    other = open_case(deployed, "town.b", "town.b", subject="乙镇道路积水", facts="雨后积水严重无法通行")
    found, total = page(api, "a_handler", "/api/petitions", text="积水严重")
    assert ([p["number"] for p in found], total) == ([own["number"]], 1)
    found, total = page(api, "b_handler", "/api/petitions", text="积水严重")
    assert ([p["number"] for p in found], total) == ([other["number"]], 1)
    assert page(api, "jw_handler", "/api/petitions", text="积水")[1] == 0
    # The handler's task list finds the case by the same words, and shows its petition.
    [task] = api.as_("a_handler").ok("GET", "/api/tasks", query_string={"text": "积水严重", "mine": "true"})
    assert task["id"] == own["task"]
    assert (
        task["case"]["subject"] == "甲镇道路积水" and task["case"]["receivedAt"] == REGISTRATION["receivedAt"]
    )


def test_task_lists_page_sort_and_count_on_the_server(api: Api, registry: list[str]) -> None:
    rows, total = page(api, "registrar", "/api/tasks", limit=2, sort="-businessKey")
    assert total == 7 and len(rows) == 2
    assert [t["businessKey"] for t in rows] == [registry[6], registry[5]]
    assert {t["step"]["processName"] for t in rows} == {"信访事项登记受理"}
    assert rows[0]["case"] == {"petitionerName": "李七", "subject": "占道经营", "receivedAt": "2026-10-26"}
    rest, total = page(api, "registrar", "/api/tasks", limit=5, offset=5, sort="-businessKey")
    assert total == 7 and [t["businessKey"] for t in rest] == [registry[1], registry[0]]
    assert_error(api.as_("registrar").get("/api/tasks?sort=description"), 422)


def test_instances_and_escalations_page_with_their_total(
    api: Api, deployed: Engine, registry: list[str], clock: FrozenClock
) -> None:
    rows, total = page(api, "supervisor", "/api/instances", limit=2, state="active", sort="businessKey")
    assert total == 7 and [i["businessKey"] for i in rows] == registry[:2]
    assert rows[0]["tasks"][0]["elementId"] == "register_check"
    assert rows[0]["current"] == [
        {
            "process": "petition_intake",
            "processName": "信访事项登记受理",
            "elementId": "register_check",
            "name": "登记核对",
        }
    ]
    # Received 20–26 October, their 15-day acceptance periods have all run out two weeks on: the ladder opens a
    # supervision of each.
    for number in registry:
        instance_id = api.as_("registrar").ok("GET", f"/api/petitions/{number}")["instanceId"]
        check = only_task(deployed, instance_id, "register_check")
        deployed.complete(check.id, task_values(deployed, check, CHECKED))
    clock.advance(days=14)
    assert deployed.escalations.run()["supervision"] == 7
    supervisions, total = page(
        api, "supervisor", "/api/escalations", limit=2, kind="supervision", sort="-businessKey"
    )
    assert total == 7 and [e["businessKey"] for e in supervisions] == [registry[6], registry[5]]


def test_a_case_in_a_called_procedure_stands_at_its_innermost_step(
    api: Api, deployed: Engine, clock: FrozenClock
) -> None:
    walk = Walk(deployed, clock, "ordinary_handling", **HANDLING_VARIABLES).do("receive_assignment")
    assert "investigate" in walk.open()
    [row] = api.as_("supervisor").ok(
        "GET", "/api/instances", query_string={"definitionKey": "ordinary_handling"}
    )
    investigate = {
        "process": "handle_matter",
        "processName": "调查核实并出具处理意见",
        "elementId": "investigate",
        "name": "调查核实",
    }
    assert investigate in row["current"]
    detail = api.as_("supervisor").ok("GET", f"/api/instances/{walk.instance_id}")
    levels = [(lv["process"], lv["parent"], lv["via"]) for lv in detail["levels"]]
    assert levels[:2] == [
        ("ordinary_handling", None, None),
        ("handle_matter", "ordinary_handling", "handle_matter"),
    ]
    assert "investigate" in detail["levels"][1]["steps"]
    assert all(lv["definitionId"] for lv in detail["levels"])
    # The heat map names the step and the procedure it is in, in Chinese.
    waiting = api.as_("supervisor").ok("GET", "/ui/waiting")["elements"]
    [place] = [e for e in waiting if e["elementId"] == "investigate"]
    assert (place["name"], place["processName"]) == ("调查核实", "调查核实并出具处理意见")


def test_histories_name_people_by_display_name_and_unit(api: Api, registry: list[str]) -> None:
    task = api.as_("registrar").task_at(registry[0], "register_check")
    api.as_("registrar").claim(task["id"])
    detail = api.as_("registrar").ok("GET", f"/api/petitions/{registry[0]}")
    assert detail["people"]["registrar"] == {"name": "登记员 王敏", "unit": "区信访局"}


def test_saved_filters_belong_to_their_user(api: Api) -> None:
    mine = api.as_("handler")
    saved = mine.ok(
        "POST", "/api/filters", 201, json={"list": "tasks", "name": "本周超期", "criteria": {"overdue": True}}
    )
    assert (saved["list"], saved["name"], saved["criteria"]) == ("tasks", "本周超期", {"overdue": True})
    # The same name again replaces the criteria; another list keeps its own filters.
    mine.ok(
        "POST", "/api/filters", 201, json={"list": "tasks", "name": "本周超期", "criteria": {"text": "工资"}}
    )
    mine.ok(
        "POST", "/api/filters", 201, json={"list": "petitions", "name": "工资", "criteria": {"text": "工资"}}
    )
    listed = mine.ok("GET", "/api/filters", query_string={"list": "tasks"})
    assert [(f["name"], f["criteria"]) for f in listed] == [("本周超期", {"text": "工资"})]
    assert len(mine.ok("GET", "/api/filters")) == 2
    # Nobody else lists or deletes them.
    assert api.as_("office").ok("GET", "/api/filters") == []
    assert_error(api.as_("office").delete(f"/api/filters/{listed[0]['id']}"), 404, "not_found")
    mine.ok("DELETE", f"/api/filters/{listed[0]['id']}")
    assert mine.ok("GET", "/api/filters", query_string={"list": "tasks"}) == []
    # Bad input changes nothing and says what was wrong.
    for body in (
        {"list": "everything", "name": "x", "criteria": {}},
        {"list": "tasks", "name": "", "criteria": {}},
        {"list": "tasks", "name": "x", "criteria": {"nested": {"a": 1}}},
    ):
        assert_error(mine.post("/api/filters", json=body), 422)
    assert len(mine.ok("GET", "/api/filters")) == 1
