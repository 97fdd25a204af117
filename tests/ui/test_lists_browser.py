"""The lists in chromium at a phone's, a tablet's and a desktop's size, on demo cases (engine/demo.py): a
supervisor finds the case waiting in 调查核实 (inside the called procedures 三级转交办 › 普通程序办理 ›
调查核实并出具处理意见) from the cockpit in one click; a handler finds a case by a word of its content, on the
petitions page and in the task list; the history runs newest first with its technical steps behind a toggle;
the pager moves through the server's pages."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from engine import demo
from engine.models import Petition, Task, UnitMember
from tests.ui.browser import LiveServer, login, screenshot

pytestmark = pytest.mark.browser

SIZES = {"phone": (390, 844), "tablet": (1024, 768), "desktop": (1440, 900)}
# The demo's case in 调查核实, and two earlier in intake to share the lists with it.
SCENARIOS = ("investigate", "register_check", "acceptance_review")


@pytest.fixture(params=sorted(SIZES))
def sized(request: pytest.FixtureRequest, page: Any) -> Any:
    width, height = SIZES[request.param]
    page.set_viewport_size({"width": width, "height": height})
    page.size_name = request.param
    return page


@pytest.fixture
def demo_cases(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The demo's cases of SCENARIOS, the county's people with their accounts; where the 调查核实 case is."""
    chosen = tuple(s for key in SCENARIOS for s in demo.SCENARIOS if s.key == key)
    monkeypatch.setattr(demo, "SCENARIOS", chosen)
    engine = live_server.engine
    demo.load_demo(engine, count=len(chosen))
    engine.orgadmin.load(demo.county_document(), "demo", accounts=True, demo=True)
    with engine.db.reading() as session:
        task = session.scalars(select(Task).where(Task.element_id == "investigate")).one()
        petition = session.scalars(select(Petition).where(Petition.number == task.business_key)).one()
        handler = session.scalars(
            select(UnitMember.login).where(
                UnitMember.unit_code == task.unit_code, UnitMember.position == "handler"
            )
        ).first()
    return {
        "number": petition.number,
        "instance": task.instance_id,
        "content": petition.content,
        "handler": handler,
    }


def test_a_supervisor_finds_the_case_in_investigation_from_the_cockpit_in_one_click(
    sized: Any, live_server: LiveServer, demo_cases: dict[str, Any]
) -> None:
    page = sized
    login(page, live_server, "supervisor")  # the supervisor's landing page is the cockpit
    expect(page.locator("h1").first).to_have_text("监控中心")
    row = page.locator(f'#instance-table tr:has(td a:text-is("{demo_cases["number"]}"))')
    # The row says where the case stands: the step inside the called procedure, never the collapsed call.
    expect(row).to_contain_text("调查核实")
    expect(row).to_contain_text("调查核实并出具处理意见")
    expect(row).not_to_contain_text("等待中")
    expect(page.locator("#instance-pager")).to_contain_text("共 3 条")
    row.locator(f'a:text-is("{demo_cases["number"]}")').click()  # the one click
    expect(page.locator('[data-testid="level-current"]')).to_have_text("调查核实并出具处理意见")
    expect(page.locator("#instance-breadcrumb")).to_contain_text("信访事项登记受理")
    expect(page.locator("#open-tasks")).to_contain_text("调查核实")
    expect(page.locator("#diagram[data-ready=true]")).to_be_attached()
    expect(page.locator('[data-testid="overlay-investigate"]')).to_be_attached()
    # Up one level: the called procedure's call activity leads back down.
    page.locator("#instance-breadcrumb a").nth(2).click()
    expect(page.locator('[data-testid="level-current"]')).not_to_have_text("调查核实并出具处理意见")
    expect(page.locator('[data-testid^="enter-"]').first).to_be_attached()
    # The history: newest first, the engine's routing hidden until asked for.
    history = page.locator('[data-testid="history"]')
    times = history.locator(".tl-time").all_inner_texts()
    visible = [t for t in times if t]
    assert visible == sorted(visible, reverse=True)
    technical = history.locator(".tl-technical")
    assert technical.count() > 0
    expect(technical.first).to_be_hidden()
    history.locator(".history-toggle input").check()
    expect(technical.first).to_be_visible()
    screenshot(page, f"lists-cockpit-instance-{page.size_name}")


def test_a_handler_finds_a_case_by_a_word_of_its_content(
    sized: Any, live_server: LiveServer, demo_cases: dict[str, Any]
) -> None:
    page = sized
    assert demo_cases["handler"], "the unit answering for the case has a handler"
    # A word from what the petitioner said happened (事实), not the subject.
    facts = next(line for line in demo_cases["content"].splitlines() if line.startswith("事实："))
    word = facts.removeprefix("事实：")[2:6]
    login(page, live_server, demo_cases["handler"])
    page.goto(f"{live_server.url}/petitions")
    page.fill('input[name="text"]', word)
    page.click('#petition-filters button[type="submit"]')
    table = page.locator("#petition-table tbody")
    expect(table.locator("tr")).to_have_count(1)
    expect(table).to_contain_text(demo_cases["number"])
    expect(table).to_contain_text("调查核实")
    expect(page.locator("#petition-pager")).to_contain_text("共 1 条")
    # The same word in the task list finds the case's open step, with its petitioner, subject and dates.
    page.goto(f"{live_server.url}/tasks")
    page.fill('input[name="text"]', word)
    page.click('#task-filters button[type="submit"]')
    rows = page.locator("#task-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(demo_cases["number"])
    expect(rows.first).to_contain_text("调查核实并出具处理意见")
    # A word of no petition finds nothing.
    page.fill('input[name="text"]', "并无此事的字词")
    page.click('#task-filters button[type="submit"]')
    expect(page.locator("#task-table tbody")).to_contain_text("暂无待办任务")
    screenshot(page, f"lists-handler-search-{page.size_name}")
