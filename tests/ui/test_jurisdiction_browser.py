"""Jurisdiction in chromium: a township's handler cannot find another township's case by any route (the task
list, the search, the direct addresses of its task, instance and petition), and a township's head searching
by name finds only their own townships' cases."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from engine.runtime import Engine
from tests.test_jurisdiction import build_county, open_case
from tests.ui.browser import LiveServer, login, logout, screenshot

pytestmark = pytest.mark.browser
# How the pages word an unknown id: the task page "该任务不存在或已办结", the others "未找到".
NOT_FOUND = re.compile("不存在|未找到")


@pytest.fixture
def townships(live_server: LiveServer) -> dict[str, dict[str, str]]:
    engine: Engine = live_server.engine
    build_county(engine)
    return {
        key: open_case(engine, unit, unit, petitionerName=name, subject=subject)
        for key, unit, name, subject in (
            ("a", "town.a", "甲镇群众", "甲镇道路积水"),
            ("b", "town.b", "乙镇群众", "乙镇垃圾清运不及时"),
        )
    }


def shows_nothing_of(page: Any, case: dict[str, str], subject: str, *, typed: bool = False) -> None:
    """Nothing of the case on the page: its number (unless ``typed`` in the address), subject, petitioner."""
    body = page.locator("body")
    for text in (subject, "乙镇群众", *(() if typed else (case["number"],))):
        expect(body).not_to_contain_text(text)


def test_a_township_handler_cannot_find_another_townships_case(
    page: Any, live_server: LiveServer, townships: dict[str, dict[str, str]]
) -> None:
    own, other = townships["a"], townships["b"]
    login(page, live_server, "a_handler")
    # The task list: their township's task, nothing of the other's.
    page.goto(f"{live_server.url}/tasks")
    rows = page.locator("tbody tr[data-task-id]")
    expect(rows).to_have_count(1)
    expect(page.locator(f'tr[data-task-id="{own["task"]}"]')).to_contain_text(own["number"])
    shows_nothing_of(page, other, "乙镇垃圾清运不及时")
    screenshot(page, "jurisdiction-township-tasks")
    # The search page lists their township's case alone, and a search for the other's words finds nothing.
    page.goto(f"{live_server.url}/petitions")
    expect(page.locator("#petition-table tbody")).to_contain_text(own["number"])
    shows_nothing_of(page, other, "乙镇垃圾清运不及时")
    page.fill('input[name="text"]', "垃圾清运")
    page.click('#petition-filters button[type="submit"]')
    expect(page.locator("#petition-table tbody")).to_contain_text("没有符合条件的信访事项")
    # The other township's task, instance and petition at their addresses: not found, nothing shown.
    for path in (
        f"/tasks/{other['task']}",
        f"/instances/{other['instance']}",
        f"/petitions/{other['number']}",
    ):
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("main")).to_contain_text(NOT_FOUND)
        shows_nothing_of(page, other, "乙镇垃圾清运不及时", typed=True)
    # Their own case opens.
    page.goto(f"{live_server.url}/petitions/{own['number']}")
    expect(page.locator("#petition-body")).to_contain_text("甲镇道路积水")
    logout(page)


def test_a_township_head_searches_only_their_townships(
    page: Any, live_server: LiveServer, townships: dict[str, dict[str, str]]
) -> None:
    login(page, live_server, "b_head")
    page.goto(f"{live_server.url}/petitions")
    table = page.locator("#petition-table tbody")
    expect(table).to_contain_text(townships["b"]["number"])
    expect(table).not_to_contain_text(townships["a"]["number"])
    page.fill('input[name="petitioner"]', "甲镇群众")
    page.click('#petition-filters button[type="submit"]')
    expect(table).to_contain_text("没有符合条件的信访事项")
    page.fill('input[name="petitioner"]', "")
    page.fill('input[name="number"]', townships["a"]["number"])
    page.click('#petition-filters button[type="submit"]')
    expect(table).to_contain_text("没有符合条件的信访事项")
    screenshot(page, "jurisdiction-township-head-search")
