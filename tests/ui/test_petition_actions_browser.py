"""The petition page's actions in chromium: the registrar records the petitioner's acts on the page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.test_petitions import REGISTRATION
from tests.ui.browser import LiveServer, login, screenshot

pytestmark = pytest.mark.browser


def test_a_registrar_records_a_refused_review_request_and_a_withdrawal_on_the_petition_page(
    page: Any, live_server: LiveServer
) -> None:
    engine = live_server.engine
    petition, _ = engine.petitions.register(REGISTRATION, actor="registrar")
    login(page, live_server, "registrar")
    page.goto(f"{live_server.url}/petitions/{petition.number}")
    # Each action is folded under its title: the registrar opens the one they need.
    page.locator("details.action summary", has_text="请求复查或复核").click()
    review = page.locator("form[data-action='请求复查或复核']")
    review.locator("textarea[name=request]").fill("请求撤销原处理意见")
    screenshot(page, "petition-actions")
    review.get_by_role("button", name="代为登记请求").click()
    # Nothing was served yet: the server's reason is shown, nothing is delivered.
    expect(page.locator("#flash")).to_contain_text("尚未送达书面答复意见")
    page.locator("details.action summary", has_text="撤回信访事项").click()
    withdrawal = page.locator("form[data-action='撤回信访事项']")
    withdrawal.locator("textarea[name=reason]").fill("信访人书面申请撤回")
    withdrawal.get_by_role("button", name="登记撤回").click()
    expect(page.locator("#flash")).to_contain_text("撤回信访事项：已登记")
    expect(page.locator("#petition-body")).to_contain_text("已撤回")
    expect(page.locator("form[data-action='撤回信访事项']")).to_have_count(0)
    assert engine.petitions.get(petition.number).status == "withdrawn"
