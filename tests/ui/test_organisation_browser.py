"""The organisation in the browser: the admin page edits units and positions; a handler picks the 承办人 from
the unit's staff; the head of the unit hands a task to a colleague."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from engine.testing import complete_at, only_task
from tests.ui.browser import LiveServer, login
from tests.ui.test_pages_browser import registered_and_checked

pytestmark = pytest.mark.browser


def test_the_admin_adds_a_township_and_gives_a_person_a_position(page: Any, live_server: LiveServer) -> None:
    login(page, live_server, "admin")
    page.goto(f"{live_server.url}/admin/organisation")
    zjw = page.locator('tr[data-unit="county.zjw"]')
    expect(zjw).to_contain_text("区住房城乡建委")
    expect(zjw).to_contain_text("政府工作部门")
    expect(zjw).to_contain_text("区政府")  # its 上一级机关

    form = page.locator("#unit-form")
    form.locator('input[name="code"]').fill("county.heping")
    form.locator('input[name="name"]').fill("和平街道办事处")
    form.locator('select[name="parent"]').select_option("county.gov")
    form.locator('select[name="level"]').select_option("township")
    form.locator('select[name="kind"]').select_option("government")
    page.locator("#save-unit").click()
    expect(page.locator('tr[data-unit="county.heping"]')).to_contain_text("乡镇街道")

    members = page.locator("#member-form")
    members.locator('input[name="login"]').fill("heping_handler")
    members.locator('select[name="position"]').select_option("handler")
    page.locator("#add-member").click()
    expect(page.locator("#staff-table")).to_contain_text("heping_handler")
    expect(page.locator("#staff-table")).to_contain_text("承办人")
    assert [m.login for m in live_server.engine.organisation.staff("county.heping")] == ["heping_handler"]


def test_a_handler_picks_the_handler_from_the_units_staff(page: Any, live_server: LiveServer) -> None:
    engine = live_server.engine
    number, instance_id = registered_and_checked(engine)
    for element, data in (
        ("acceptance_review", {"acceptanceDecision": "accept", "category": "complaint"}),
        ("notice_acceptance", {}),
        ("classify_complaint", {}),
        ("check_simple_eligibility", {"simpleEligible": False}),
        ("office_decide", {"responsibleUnit": "county.zjw"}),
        ("unit_receipt", {}),
        ("unit_respond", {"unitResponse": "accept"}),
    ):
        complete_at(engine, instance_id, element, data)
    task = only_task(engine, instance_id, "receive_assignment")
    engine.claim(task.id, "handler", actor="handler")
    login(page, live_server, "handler")
    page.goto(f"{live_server.url}/tasks/{task.id}")
    expect(page.locator("#task-form")).to_have_attribute("data-ready", "true")
    options = page.locator("#unit-staff option")
    expect(options).to_have_count(3)
    assert {options.nth(i).get_attribute("value") for i in range(3)} == {"handler", "hearing", "zjw_head"}
    handler_input = page.locator('input[list="unit-staff"]').first
    expect(handler_input).to_be_visible()
    assert number
