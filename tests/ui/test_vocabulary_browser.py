"""The pages take deadline titles, group names and the warning window from the server, and explain a refused
call by its error code: what the operator configures is what the officials see."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from engine.escalation import LadderSettings
from tests.ui.browser import LiveServer, login
from tests.ui.test_pages_browser import open_tasks, registered_and_checked

pytestmark = pytest.mark.browser


def test_the_task_list_warns_names_and_explains_as_the_server_says(
    page: Any, live_server: LiveServer
) -> None:
    engine = live_server.engine
    number, instance_id = registered_and_checked(engine)
    # The operator's ladder warns 30 days ahead, so the 15-day acceptance review is already inside the window,
    # and the acceptance deadline carries a local title.
    engine.escalations.settings = LadderSettings(warn_before=timedelta(days=30))
    rule = engine.deadlines.rules["acceptance"]
    engine.deadlines.rules["acceptance"] = replace(rule, title="受理审查期限（本区）")

    login(page, live_server, "office")
    row = page.locator('tr[data-element="acceptance_review"]')
    expect(row).to_contain_text(number)
    expect(row).to_contain_text("信访局")
    expect(page.locator("#task-stats")).to_contain_text("30 日内到期")

    (task,) = open_tasks(engine, instance_id)
    page.goto(f"{live_server.url}/tasks/{task.id}")
    deadline = page.locator("#side tr", has_text="受理审查期限（本区）")
    expect(deadline.locator(".badge-amber")).to_contain_text("剩余")

    # Someone else takes the task first: the server says so in English with code and details, the page in Chinese.
    engine.claim(task.id, "registrar", actor="registrar")
    said = page.evaluate(
        """async (id) => {
            const m = await import('/static/js/common.js');
            try { await m.post(`/api/tasks/${id}/claim`, { userId: 'office' }); return 'claimed'; }
            catch (error) { return m.explain(error); }
        }""",
        task.id,
    )
    assert said == "操作冲突：任务已由 registrar 认领"
