"""The inbox in the browser: the header counts what is unread, the inbox lists it, marking it read clears it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.test_petitions import REGISTRATION
from tests.ui.browser import LiveServer, login

pytestmark = pytest.mark.browser


def test_a_registrar_hears_of_a_new_task_in_the_header_and_reads_it(
    page: Any, live_server: LiveServer
) -> None:
    petition, _ = live_server.engine.petitions.register(REGISTRATION, actor="registrar")
    login(page, live_server, "registrar")
    count = page.locator("#inbox-count")
    expect(count).to_have_text("1")
    expect(page.locator("#inbox-link")).to_have_attribute("aria-label", "站内通知，1 条未读")
    page.click("#inbox-link")
    page.wait_for_url("**/inbox")
    entry = page.locator("#inbox-list li.unread")
    expect(entry).to_contain_text("新待办：登记核对")
    expect(entry).to_contain_text(petition.number)
    expect(entry.locator(".badge")).to_have_text("新待办")
    entry.get_by_role("button", name="标为已读").click()
    expect(page.locator("#inbox-list li.read")).to_contain_text("已读")
    expect(count).to_be_hidden()
    # The entry leads to the task itself.
    page.locator("#inbox-list li.read a").click()
    page.wait_for_url("**/tasks/**")
    expect(page.locator("#task-title")).to_contain_text("登记核对")

    page.goto(f"{live_server.url}/inbox")
    expect(page.locator("#email-note")).to_contain_text("尚未配置邮件服务器")
    page.fill("#email", "wangmin@xf.example.cn")
    page.click("#email-form button[type=submit]")
    expect(page.locator("#flash")).to_contain_text("邮件提醒设置已保存")
    page.reload()
    expect(page.locator("#email")).to_have_value("wangmin@xf.example.cn")
