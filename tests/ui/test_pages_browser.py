"""The web pages in Debian's chromium: a handler, a supervisor, a registrar and a designer at work.

Each test drives the real app (API and pages) over the shipped workflows on SQLite; the ``context`` fixture
records every request and fails the test if any page asked a host other than the service itself.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from engine.clock import FrozenClock
from engine.models import Petition, ProcessDefinition
from engine.queries import TaskFilter, list_tasks
from engine.runtime import Engine
from tests.test_petitions import REGISTRATION
from tests.ui.browser import LiveServer, login, logout, screenshot

pytestmark = pytest.mark.browser
DATA = Path(__file__).parent / "data"


def open_tasks(engine: Engine, instance_id: str | None = None, business_key: str | None = None) -> list[Any]:
    with engine.db.reading() as session:
        return list_tasks(session, TaskFilter(instance_id=instance_id, business_key=business_key))


def registered_and_checked(engine: Engine, registration: dict[str, Any] | None = None) -> tuple[str, str]:
    """A registered petition whose registration check is done: acceptance review waits for the office."""
    registration = registration or REGISTRATION
    petition, result = engine.petitions.register(registration, actor="registrar")
    (check,) = open_tasks(engine, result.instance_id)
    engine.claim(check.id, "registrar", actor="registrar")
    engine.complete(check.id, {"checkResult": "confirmed"}, actor="registrar", require_claim=True)
    assert [t.element_id for t in open_tasks(engine, result.instance_id)] == ["acceptance_review"]
    return petition.number, result.instance_id


def fill(field: Any, value: str) -> None:
    """Type into a form-js field and see it kept (form-js re-renders fields as conditions are re-evaluated)."""
    for _ in range(3):
        field.fill(value)
        try:
            expect(field).to_have_value(value, timeout=1000)
            return
        except AssertionError:
            continue
    expect(field).to_have_value(value)


def form_field(page: Any, label: str) -> Any:
    return page.locator(".fjs-form-field").filter(has=page.locator("label", has_text=label)).first


def choose(page: Any, label: str, option: str) -> None:
    """A form-js select: open its dropdown and pick the option."""
    form_field(page, label).locator(".fjs-input-group").click()
    page.locator(".fjs-dropdownlist-item", has_text=option).first.click()


def type_date(page: Any, label: str, text: str) -> None:
    """A form-js date field (flatpickr, typed input in the browser locale's format)."""
    field = form_field(page, label).locator("input").first
    fill(field, text)
    field.press("Enter")
    page.locator("h1").first.click()  # blur closes the picker and commits the date


def field_error(page: Any, label: str) -> Any:
    return form_field(page, label).locator(".fjs-form-field-error")


def test_handler_claims_fixes_the_form_and_completes_then_supervisor_sees_the_next_task(
    page: Any, live_server: LiveServer
) -> None:
    engine = live_server.engine
    number, instance_id = registered_and_checked(engine)
    login(page, live_server, "office")
    expect(page).to_have_url(re.compile(r"/tasks$"))
    row = page.locator('tr[data-element="acceptance_review"]')
    expect(row).to_contain_text(number)
    expect(row).to_contain_text("待认领")
    screenshot(page, "handler-task-list")

    row.get_by_role("button", name="认领").click()
    expect(row.get_by_text("本人")).to_be_visible()
    row.get_by_role("link", name="办理").click()
    page.wait_for_url("**/tasks/*")
    expect(page.locator("#task-title")).to_have_text("受理审查")
    expect(page.locator("#task-form[data-ready=true] .fjs-form-field").first).to_be_visible()
    expect(page.locator("#side")).to_contain_text(number)
    expect(page.locator("#side")).to_contain_text("受理期限")

    # Nothing chosen: the browser's own check marks the required decision.
    page.click("#submit-task")
    expect(field_error(page, "受理决定")).to_contain_text("必填项")
    expect(page.get_by_test_id("form-errors")).to_be_visible()

    page.get_by_label("受理", exact=True).check()
    choose(page, "信访事项类别", "申诉求决类")
    type_date(page, "受理日期", "2026/11/2")

    # A submission the browser let through (a stale or tampered client) is refused by the server, and its
    # field errors, keyed by field key, land on the fields form-js knows by component id.
    def tamper(route: Any) -> None:
        body = route.request.post_data_json
        body["variables"]["category"] = "gossip"
        route.continue_(post_data=json.dumps(body))

    page.route("**/api/tasks/*/complete", tamper)
    page.click("#submit-task")
    expect(page.get_by_test_id("form-errors")).to_contain_text("服务器校验未通过")
    expect(field_error(page, "信访事项类别")).to_contain_text("请从列表中选择")
    screenshot(page, "handler-task-server-error")
    page.unroute("**/api/tasks/*/complete")
    assert [t.element_id for t in open_tasks(engine, instance_id)] == ["acceptance_review"]

    choose(page, "信访事项类别", "申诉求决类")
    page.click("#submit-task")
    page.wait_for_url(re.compile(r"/tasks$"))
    expect(page.locator(".flash-success")).to_contain_text("已提交")
    expect(page.locator('tr[data-element="acceptance_review"]')).to_have_count(0)
    following = [t.element_id for t in open_tasks(engine, instance_id)]
    assert following and "acceptance_review" not in following
    # The next task (the acceptance notice) is owed within the same 15 days, which have not run out: the
    # diagram must mark it active, not red.
    assert all(t.due_at > engine.now() for t in open_tasks(engine, instance_id))
    logout(page)

    login(page, live_server, "supervisor")
    expect(page).to_have_url(re.compile(r"/cockpit$"))
    cockpit_row = page.locator(f'tr[data-instance-id="{instance_id}"]')
    expect(cockpit_row).to_contain_text(number)
    # The demo clock is in November 2026 and no 2027 notice was added: the cockpit says so.
    expect(page.get_by_test_id("calendar-warning")).to_contain_text("2027年节假日安排尚未录入")
    screenshot(page, "supervisor-cockpit")
    cockpit_row.get_by_role("link", name=number).click()
    page.wait_for_url(f"**/instances/{instance_id}")
    expect(page.locator("#diagram[data-ready=true]")).to_be_visible()
    for element in following:
        shape = page.locator(f'g.djs-element[data-element-id="{element}"]')
        expect(shape).to_have_class(re.compile(r"(^|\s)pf-active(\s|$)"))
        expect(shape).not_to_have_class(re.compile(r"pf-overdue"))
    expect(page.locator('g.djs-element[data-element-id="acceptance_review"]')).to_have_class(
        re.compile(r"pf-done")
    )
    expect(page.locator("#timeline")).to_contain_text("受理审查")
    screenshot(page, "supervisor-instance")


def test_the_registrar_checks_the_registration_and_corrects_only_what_is_wrong(
    page: Any, live_server: LiveServer
) -> None:
    """登记核对 shows the registration read-only; the registrar names the item to correct and changes only it."""
    engine = live_server.engine
    _, result = engine.petitions.register(REGISTRATION, actor="registrar")
    (check,) = open_tasks(engine, result.instance_id)
    engine.claim(check.id, "registrar", actor="registrar")
    login(page, live_server, "registrar")
    page.goto(f"{live_server.url}/tasks/{check.id}")
    expect(page.locator("#task-title")).to_have_text("登记核对")
    expect(page.locator("#task-form[data-ready=true] .fjs-form-field").first).to_be_visible()
    subject = page.locator('input[id$="-intake_check_subject"]')
    phone = page.locator('input[id$="-intake_check_phone"]')
    expect(subject).to_have_value(REGISTRATION["subject"])
    expect(subject).to_have_attribute("readonly", "")
    expect(phone).to_have_attribute("readonly", "")

    page.get_by_label("需要更正或补全").check()
    page.get_by_label("信访事项（标题、请求、事实、理由、涉及单位、属地）").check()
    expect(subject).not_to_have_attribute("readonly", "")
    expect(phone).to_have_attribute("readonly", "")
    fill(subject, "小区夜间施工噪声和粉尘扰民")
    screenshot(page, "registrar-check-correction")
    page.click("#submit-task")
    page.wait_for_url(re.compile(r"/tasks$"))
    expect(page.locator(".flash-success")).to_contain_text("已提交")
    data = engine.variables(result.instance_id)
    assert (data["subject"], data["phone"]) == ("小区夜间施工噪声和粉尘扰民", REGISTRATION["phone"])
    assert [t.element_id for t in open_tasks(engine, result.instance_id)] == ["acceptance_review"]


def test_the_handler_sees_an_overdue_task_in_red_and_a_timely_one_not(
    page: Any, live_server: LiveServer, clock: FrozenClock
) -> None:
    engine = live_server.engine
    late, late_instance = registered_and_checked(engine)
    clock.advance(days=16)  # the 15 days of acceptance (Art. 22) ran out at midnight
    engine.fire_timers(late_instance)
    timely, _ = registered_and_checked(
        engine, {**REGISTRATION, "subject": "小区路灯损坏无人维修", "receivedAt": "2026-11-18"}
    )
    login(page, live_server, "office")
    expect(page).to_have_url(re.compile(r"/tasks$"))
    red = page.locator('tr[data-element="acceptance_review"]', has_text=late)
    expect(red).to_have_class(re.compile(r"(^|\s)row-overdue(\s|$)"))
    badge = red.locator(".badge").first
    expect(badge).to_have_text(re.compile(r"超期 \d+ 天"))
    expect(badge).to_have_class(re.compile(r"badge-red"))
    color = badge.evaluate("node => getComputedStyle(node).color")
    assert color == "rgb(183, 28, 28)", color  # --red-700
    red_bar = red.locator("td").first.evaluate("node => getComputedStyle(node).boxShadow")
    assert "inset" in red_bar, red_bar
    calm = page.locator('tr[data-element="acceptance_review"]', has_text=timely)
    expect(calm).not_to_have_class(re.compile(r"row-overdue"))
    expect(calm.locator(".badge").first).to_have_text(re.compile(r"剩余 \d+ 天"))
    expect(page.locator(".stat", has_text="已超期")).to_contain_text("1")
    screenshot(page, "handler-overdue-task")


def test_registrar_registers_a_petition_after_the_server_rejects_a_future_date_and_warns_of_a_repeat(
    page: Any, live_server: LiveServer
) -> None:
    engine = live_server.engine
    engine.petitions.register(REGISTRATION, actor="registrar")
    login(page, live_server, "registrar")
    expect(page).to_have_url(re.compile(r"/register$"))
    expect(page.locator("#register-form[data-ready=true] .fjs-form-field").first).to_be_visible()
    fill(page.get_by_label("信访人姓名（名称）"), "张三")
    fill(page.get_by_label("居民身份证号码"), REGISTRATION["idNumber"])
    fill(page.get_by_label("联系电话"), REGISTRATION["phone"])
    fill(page.get_by_label("住址或联系地址"), REGISTRATION["address"])
    fill(page.get_by_label("信访事项标题"), REGISTRATION["subject"])
    fill(page.get_by_label("信访请求"), REGISTRATION["request"])
    fill(page.get_by_label(re.compile(r"^事实")), REGISTRATION["facts"])
    fill(page.get_by_label("涉及单位"), REGISTRATION["involvedUnit"])
    fill(page.get_by_label("问题属地"), REGISTRATION["place"])
    type_date(page, "收到日期", "2026/11/20")  # after the engine's today (2026-11-02): only the server knows

    page.click("#register-submit")
    expect(field_error(page, "收到日期")).to_contain_text("不能晚于今天")
    expect(page.get_by_test_id("form-errors")).to_contain_text("未通过校验")
    screenshot(page, "registrar-server-error")

    type_date(page, "收到日期", "2026/11/2")
    page.click("#register-submit")
    warning = page.get_by_test_id("check-result")
    expect(warning).to_contain_text("同一事项正在办理期限内")
    expect(warning).to_contain_text("XF2026-000001")
    screenshot(page, "registrar-repeat-warning")
    page.click("#confirm-register")
    expect(page.get_by_test_id("petition-number")).to_have_text("XF2026-000002")
    expect(page.locator("#register-done")).to_contain_text("同一事项在办")
    screenshot(page, "registrar-registered")
    with engine.db.reading() as session:
        petition = session.scalars(select(Petition).where(Petition.number == "XF2026-000002")).one()
    assert (petition.is_repeat, petition.same_matter_pending, petition.registered_by) == (
        True,
        True,
        "registrar",
    )


def test_designer_sees_the_problems_of_a_broken_diagram_and_deploys_the_fixed_one(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    login(page, live_server, "designer")
    expect(page).to_have_url(re.compile(r"/designer$"))
    expect(page.locator('tr[data-definition^="petition_intake:1:"]')).to_be_visible()

    page.set_input_files("#upload-files", str(DATA / "broken_intake.bpmn"))
    page.click("#deploy-button")
    summary = page.get_by_test_id("validation-summary")
    expect(summary).to_contain_text("校验未通过")
    expect(summary).to_contain_text("未部署")
    # The engine's problems and bpmnlint's in one list, the summary counting exactly its rows.
    problems = page.get_by_test_id("validation-problems")
    expect(problems).to_contain_text("no_such_form")
    expect(problems).to_contain_text("f_yes")
    expect(problems).to_contain_text("label-required")
    expect(problems).to_contain_text("元素缺少名称")
    rows = problems.locator("tbody tr")
    errors = problems.locator("tbody tr.finding-error")
    expect(summary).to_contain_text(f"{rows.count()} 个问题（{errors.count()} 个错误")
    expect(page.locator("#upload-result .diagram[data-ready=true]")).to_be_visible()
    review = problems.locator("tbody tr", has=page.locator("td.mono", has_text=re.compile("^review$")))
    expect(page.get_by_test_id("problem-review")).to_contain_text(f"{review.count()} 个问题")
    expect(page.locator('g.djs-element[data-element-id="review"]')).to_have_class(re.compile("pf-error"))
    screenshot(page, "designer-broken-upload")
    with live_server.engine.db.reading() as session:
        assert (
            session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == "broken_intake"))
            is None
        )

    fixed = (DATA / "broken_intake.bpmn").read_text(encoding="utf-8")
    fixed = fixed.replace(' camunda:formRef="no_such_form"', "")
    fixed = fixed.replace('${__import__("os").system("id")}', "${accepted}")
    fixed = fixed.replace(
        '<bpmn:exclusiveGateway id="decide">', '<bpmn:exclusiveGateway id="decide" name="受理？">'
    )
    fixed = fixed.replace(
        '<bpmn:sequenceFlow id="f_no" sourceRef', '<bpmn:sequenceFlow id="f_no" name="不受理" sourceRef'
    )
    path = tmp_path / "fixed_intake.bpmn"
    path.write_text(fixed, encoding="utf-8")
    page.set_input_files("#upload-files", str(path))
    page.fill("#upload-name", "修正后的登记流程")
    page.click("#deploy-button")
    expect(page.get_by_test_id("deploy-result")).to_contain_text("第 1 版")
    expect(page.locator("#upload-result tr.finding-error")).to_have_count(0)
    expect(page.locator("#upload-result .diagram[data-ready=true]")).to_be_visible()
    expect(page.locator('tr[data-definition^="broken_intake:1:"]')).to_be_visible()
    screenshot(page, "designer-deployed")
    page.locator('tr[data-definition^="broken_intake:1:"]').get_by_role("link", name="流程图").click()
    expect(page.locator("#diagram[data-ready=true]")).to_be_visible()
    expect(page.locator('g.djs-element[data-element-id="review"]')).to_be_visible()
    screenshot(page, "designer-definition")

    # A dry run walks the version's paths with the forms' example data, then nobody having run it, the
    # designer removes it again.
    page.go_back()
    row = page.locator('tr[data-definition^="broken_intake:1:"]')
    row.get_by_role("button", name="试运行").click()
    result = page.get_by_test_id("dry-run-result")
    expect(result).to_contain_text("条路径")
    expect(result.locator("tbody tr").first).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="删除此版本").click()
    expect(page.get_by_test_id("undeploy-result")).to_contain_text("已删除")
    expect(row).to_have_count(0)
    with live_server.engine.db.reading() as session:
        assert (
            session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == "broken_intake"))
            is None
        )


def test_every_page_is_served_from_the_service_itself(
    page: Any, live_server: LiveServer, clock: FrozenClock
) -> None:
    """Admin sees every page; all their requests (scripts, styles, fonts, API calls) go to the service."""
    engine = live_server.engine
    number, instance_id = registered_and_checked(engine)
    other, _ = registered_and_checked(
        engine,
        {
            **REGISTRATION,
            "petitionerName": "李四",
            "idNumber": "500107199001011246",
            "subject": "物业费收费标准不合理",
            "involvedUnit": "区发展改革委",
        },
    )
    (task,) = open_tasks(engine, instance_id)
    # Two weeks on, the acceptance deadlines are near: the escalation ladder warns.
    clock.advance(days=13)
    engine.escalations.run()

    page.goto(f"{live_server.url}/cockpit/metrics")
    page.wait_for_url(re.compile(r"/login\?next="))
    page.fill("#username", "admin")
    page.fill("#password", "wrong")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_have_text("用户名或密码错误")
    screenshot(page, "login")
    page.fill("#password", "admin")
    page.click("#login-submit")
    page.wait_for_url(f"{live_server.url}/cockpit/metrics")

    with engine.db.reading() as session:
        definition_id = session.scalar(
            select(ProcessDefinition.id).where(ProcessDefinition.key == "petition_intake")
        )
    # Each page: its path, its own heading, and where it shows a piece of what the server holds.
    pages = {
        # By responsible unit: none answers for the registered petitions yet.
        "metrics": ("/cockpit/metrics", "统计分析", "#metric-table", "(未指定)"),
        "escalations": ("/cockpit/escalations", "预警督办", '.column[data-kind="warning"]', number),
        "cockpit": ("/cockpit", "监控中心", f'tr[data-instance-id="{instance_id}"]', number),
        "processes": (
            f"/cockpit/processes?id={definition_id}",
            "流程监控",
            '[data-testid="count-acceptance_review"]',
            "2",
        ),
        "instance": (f"/instances/{instance_id}", f"{number} · 信访事项登记受理", "#open-tasks", "受理审查"),
        "tasks": ("/tasks", "我的待办", "#filter-process", "信访事项登记受理"),
        "task": (f"/tasks/{task.id}", "受理审查", "#side", number),
        "register": ("/register", "信访事项登记", "#recent", other),
        "petitions": ("/petitions", "信访事项查询", "#petition-table", other),
        "petition": (f"/petitions/{number}", f"信访事项 {number}", "#petition-body", "小区夜间施工噪声扰民"),
        "designer": ("/designer", "流程设计与部署", "#definition-table", "petition_intake"),
        "definition": (
            f"/definitions/{definition_id}",
            "信访事项登记受理 · 第 1 版",
            "#definition-sub",
            "petition_intake.bpmn",
        ),
    }
    for name, (path, heading, where, data) in pages.items():
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        expect(page.locator("h1").first).to_have_text(heading)
        expect(page.locator(where).first).to_contain_text(data)
        screenshot(page, f"page-{name}")
    expect(page.locator("#diagram[data-ready=true]")).to_be_visible()

    page.goto(f"{live_server.url}/cockpit/escalations")
    expect(page.locator('.column[data-kind="warning"] .esc-card')).to_have_count(2)
    # The acceptance deadline ends at midnight: shown as its last day's 24:00, not the next day's 00:00.
    first = page.locator('.column[data-kind="warning"] .esc-card').first
    expect(first.locator(".esc-meta span").nth(1)).to_have_text(re.compile(r"^期限 \d{4}-\d{2}-\d{2} 24:00$"))
    expect(first.locator(".esc-reason")).to_contain_text(" 24:00 届满")
    page.goto(f"{live_server.url}/cockpit/processes?id={definition_id}")
    expect(page.get_by_test_id("count-acceptance_review")).to_contain_text("2")
    screenshot(page, "supervisor-processes")

    requested = live_server.requests
    assert any("/static/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js" in u for u in requested)
    assert any("/static/vendor/form-js/form-viewer.umd.js" in u for u in requested)
    assert any("/api/" in u for u in requested) and any("/ui/waiting" in u for u in requested)
    assert all(u.startswith(live_server.url + "/") for u in requested), [
        u for u in requested if not u.startswith(live_server.url + "/")
    ]
    assert other != number


def test_supervisor_starts_supervision_of_an_important_item_from_the_cockpit(
    page: Any, live_server: LiveServer
) -> None:
    engine = live_server.engine
    number, instance_id = registered_and_checked(engine)
    login(page, live_server, "supervisor")
    expect(page).to_have_url(re.compile(r"/cockpit$"))
    row = page.locator(f'tr[data-instance-id="{instance_id}"]')
    row.get_by_role("button", name="督办").click()
    dialog = page.locator("#supervise-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(number)
    dialog.locator("select[name=reason]").select_option(label="领导接访事项")
    dialog.locator("textarea[name=note]").fill("县委书记接访时交办")
    dialog.get_by_role("button", name="启动督办").click()
    expect(page.locator(".flash-success")).to_contain_text(f"已对 {number} 启动督办")
    page.goto(f"{live_server.url}/cockpit/escalations")
    card = page.locator('.column[data-kind="manual"] .esc-card')
    expect(card).to_contain_text(number)
    expect(card).to_contain_text("领导接访事项")
    supervision = [t for t in open_tasks(engine, business_key=number) if t.element_id == "issue_supervision"]
    assert len(supervision) == 1 and supervision[0].due_at is not None
