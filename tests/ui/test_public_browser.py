"""The petitioner's side in chromium, on a phone (390x844) and a desk (1440x900): submit online, read the code
from the outbox, follow the item as the office accepts and transfers it (the office acts through the REST
API), read the served reply, rate it 不满意 and see the supervision on the supervisors' board, ask for 复查 and
see the reviewing organ's task. The server's log of all of it holds none of the petitioner's personal data.
On a phone, the petitioner sends a scanned letter (a real PNG) and a PDF with the petition, the registrar sees
and opens both."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.api_helpers import Api
from tests.public_helpers import (
    ONLINE,
    PERSONAL,
    TO_REPLY,
    TO_TRANSFER,
    UNIT,
    check_registration,
    code_from_outbox,
    issue_acceptance_notice,
    office_acts,
)
from tests.test_documents import pdf_bytes, png_bytes, stored_counts
from tests.ui.browser import LiveServer, login, logout, open_scan_and_pdf, screenshot
from tests.ui.test_pages_browser import fill
from webapi import create_app

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::engine.calendar.CalendarYearMissing")]
VIEWPORTS = {"phone": (390, 844), "desk": (1440, 900)}


def fill_online(page: Any, server: LiveServer, files: tuple[Path, ...] = ()) -> None:
    """The public form filled in (without the consent), with ``files`` picked."""
    page.goto(f"{server.url}/public/submit")
    expect(page.locator("#public-form[data-ready=true] .fjs-form-field").first).to_be_visible()
    fill(page.get_by_label("信访人姓名（名称）"), ONLINE["petitionerName"])
    fill(page.get_by_label("居民身份证号码"), ONLINE["idNumber"])
    fill(page.get_by_label("联系电话"), ONLINE["phone"])
    fill(page.get_by_label("住址或联系地址"), ONLINE["address"])
    fill(page.get_by_label("信访事项标题"), ONLINE["subject"])
    fill(page.get_by_label("信访请求"), ONLINE["request"])
    fill(page.get_by_label(re.compile(r"^事实")), ONLINE["facts"])
    fill(page.get_by_label(re.compile(r"^理由")), ONLINE["reasons"])
    fill(page.get_by_label("涉及单位"), ONLINE["involvedUnit"])
    fill(page.get_by_label("问题属地"), ONLINE["place"])
    expect(page.locator("#consent-text")).to_contain_text("依法保密")
    for file in files:  # one at a time, as a phone's camera adds them
        page.set_input_files("#public-files", str(file))
    expect(page.locator("#picked-files li")).to_have_count(len(files))


def submit_online(page: Any, server: LiveServer, files: tuple[Path, ...] = ()) -> tuple[str, str]:
    fill_online(page, server, files)
    page.click("#public-submit")
    expect(page.locator("#form-errors")).to_contain_text("个人信息使用说明")  # no consent yet: nothing sent
    page.check("#consent")
    page.click("#public-submit")
    number = page.get_by_test_id("item-number")
    expect(number).to_have_text(re.compile(r"XF2026-\d{6}"))
    expect(page.get_by_test_id("delivery")).to_contain_text("短信尚未发出")
    return number.inner_text(), page.get_by_test_id("query-code").inner_text()


def refresh(page: Any) -> None:
    page.click("#lookup-again")
    expect(page.get_by_test_id("public-number")).to_be_visible()


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_a_petitioner_follows_an_online_petition_from_submission_to_review(
    page: Any, context: Any, live_server: LiveServer, size: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    width, height = VIEWPORTS[size]
    page.set_viewport_size({"width": width, "height": height})
    number, shown = submit_online(page, live_server)
    screenshot(page, f"public-{size}-submitted")
    # One column on a phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    office = Api(create_app(live_server.engine))
    assert code_from_outbox(office, number) == shown  # as the SMS gateway reads it
    board = context.new_page()
    board.set_viewport_size({"width": width, "height": height})
    login(board, live_server, "admin")
    board.goto(f"{live_server.url}/admin/outbox")
    row = board.locator("#outbox-table tbody tr", has_text=number)
    expect(row).to_contain_text(shown)
    expect(row).to_contain_text("待发送")
    logout(board)

    page.goto(f"{live_server.url}/public/lookup")
    page.fill("#lookup-number", number)
    page.fill("#lookup-code", "AAAAA-AAAAA")
    page.click("#lookup-submit")
    expect(page.locator("#lookup-error")).to_have_text("事项编号或查询码不正确")
    page.fill("#lookup-code", shown.lower())
    page.click("#lookup-submit")
    expect(page.get_by_test_id("public-status")).to_have_text("办理中")
    expect(page.get_by_test_id("public-timeline")).to_contain_text("收到信访事项")

    check_registration(office, number)
    office_acts(office, number, TO_TRANSFER)
    refresh(page)
    timeline = page.get_by_test_id("public-timeline")
    expect(timeline).to_contain_text("已受理")
    expect(timeline).to_contain_text(f"办理机关：{UNIT}")
    expect(page.get_by_test_id("public-deadlines")).to_contain_text("《信访工作条例》第22条、第23条")
    expect(page.get_by_test_id("public-reply")).to_have_count(0)

    office_acts(office, number, TO_REPLY)
    refresh(page)
    expect(page.get_by_test_id("public-reply")).to_contain_text("经现场核查，夜间施工已停止")
    screenshot(page, f"public-{size}-reply")
    page.get_by_label("不满意").check()
    page.click("#evaluation-submit")
    expect(page.locator("#evaluation-error")).to_contain_text("请写明理由")
    page.fill("#evaluation-reason", "夜间施工仍未停止")
    page.click("#evaluation-submit")
    expect(page.get_by_test_id("public-evaluation")).to_contain_text("您已评价：不满意")

    login(board, live_server, "supervisor")
    board.goto(f"{live_server.url}/cockpit/escalations")
    column = board.locator('.column-supervision[data-kind="supervision"]')
    expect(column).to_contain_text(number)
    expect(column).to_contain_text("群众评价不满意")
    screenshot(board, f"public-{size}-supervision")
    logout(board)

    page.fill("#request-text", "请求撤销原处理意见")
    page.fill("#request-facts", "夜间施工仍在继续")
    page.fill("#request-reasons", "原处理意见认定事实不清")
    page.click("#request-submit")
    expect(page.get_by_test_id("public-timeline")).to_contain_text("已请求复查")
    expect(page.get_by_test_id("public-request")).to_have_count(0)
    screenshot(page, f"public-{size}-review-requested")

    login(board, live_server, "reviewer")
    board.goto(f"{live_server.url}/tasks")
    expect(board.locator("#task-table")).to_contain_text("复查申请受理审查")
    expect(board.locator("#task-table")).to_contain_text(number)

    # The server's log of every request above (the werkzeug request lines and the application's own).
    log = caplog.text
    assert "POST /api/public/lookup" in log and "POST /api/public/review-requests" in log
    for personal in PERSONAL:
        assert personal not in log, personal
    assert shown not in log and shown.replace("-", "") not in log


def test_a_petitioner_sends_a_scan_and_a_pdf_that_the_registrar_opens(
    page: Any, context: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    png, pdf = tmp_path / "来信扫描.png", tmp_path / "现场照片说明.pdf"
    png.write_bytes(png_bytes())
    pdf.write_bytes(pdf_bytes())

    number, shown = submit_online(page, live_server, (png, pdf))
    sent = page.get_by_test_id("sent-files")
    expect(sent).to_contain_text("已随信访事项提交材料 2 份")
    expect(sent).to_contain_text("来信扫描.png")
    expect(sent).to_contain_text("现场照片说明.pdf")
    screenshot(page, "public-phone-files-sent")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.goto(f"{live_server.url}/public/lookup")
    page.fill("#lookup-number", number)
    page.fill("#lookup-code", shown)
    page.click("#lookup-submit")
    files = page.get_by_test_id("public-files")
    expect(files.locator("li")).to_have_count(2)
    expect(files).to_contain_text("来信扫描.png")

    desk = context.new_page()
    login(desk, live_server, "registrar")
    desk.goto(f"{live_server.url}/petitions/{number}")
    items = open_scan_and_pdf(desk, "来信扫描.png", "现场照片说明.pdf", pdf.read_bytes())
    expect(items.nth(0)).to_contain_text("信访人提交")
    screenshot(desk, "public-files-registrar")


def test_the_server_names_a_refused_file_and_nothing_is_submitted(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    png, exe = tmp_path / "来信扫描.png", tmp_path / "证据.pdf"
    png.write_bytes(png_bytes())
    exe.write_bytes(Path("/bin/ls").read_bytes())
    # An executable named .pdf passes what the page can check (name, size); the server reads its bytes.
    fill_online(page, live_server, (png, exe))
    expect(page.locator("#upload-rules")).to_contain_text("最多 5 个")
    screenshot(page, "public-phone-files-picked")
    page.check("#consent")
    page.click("#public-submit")
    expect(page.locator("#form-errors")).to_contain_text("文件“证据.pdf”的内容是可执行程序")
    expect(page.get_by_test_id("item-number")).to_have_count(0)
    assert stored_counts(live_server.engine) == (0, 0)
    # Taken out of the list, the rest goes through.
    page.locator("#picked-files li", has_text="证据.pdf").get_by_role("button", name="移除").click()
    page.click("#public-submit")
    expect(page.get_by_test_id("sent-files")).to_contain_text("已随信访事项提交材料 1 份")
    assert stored_counts(live_server.engine) == (1, 1)


def test_the_registrar_records_an_evaluation_given_at_the_counter(page: Any, live_server: LiveServer) -> None:
    petition, _, issued = live_server.engine.public.register(
        {**ONLINE, "channel": "visit", "receivedAt": "2026-11-02"}, actor="registrar"
    )
    assert issued.delivery.sent is False
    office = Api(create_app(live_server.engine))
    check_registration(office, petition.number)
    office_acts(office, petition.number, TO_TRANSFER + TO_REPLY)
    login(page, live_server, "registrar")
    page.goto(f"{live_server.url}/petitions/{petition.number}")
    page.locator("details.action summary", has_text="满意度评价").click()
    form = page.locator("form[data-action='满意度评价']")
    form.locator("select[name=rating]").select_option("dissatisfied")
    form.get_by_role("button", name="代为登记评价").click()
    expect(page.locator("#flash")).to_contain_text("未通过校验")  # 不满意 without a reason: nothing recorded
    assert live_server.engine.public.view(live_server.engine.petitions.get(petition.number))["evaluation"][
        "open"
    ]
    form.locator("textarea[name=reason]").fill("信访人来电表示噪声问题仍未解决")
    form.get_by_role("button", name="代为登记评价").click()
    expect(page.locator("#flash")).to_contain_text("满意度评价：已登记")
    view = live_server.engine.public.view(live_server.engine.petitions.get(petition.number))
    assert (view["evaluation"]["rating"], view["evaluation"]["open"]) == ("dissatisfied", False)


def test_a_petitioner_downloads_a_notice_served_on_them(page: Any, live_server: LiveServer) -> None:
    petition, _, issued = live_server.engine.public.register(
        {**ONLINE, "channel": "visit", "receivedAt": "2026-11-02"}, actor="registrar"
    )
    number = petition.number
    office = Api(create_app(live_server.engine))
    check_registration(office, number)
    clerk, url, doc = issue_acceptance_notice(office, number)
    served = {"method": "in_person", "servedOn": "2026-11-02", "receiver": ONLINE["petitionerName"]}
    clerk.ok("POST", f"{url}/{doc['id']}/service", data=served)

    page.goto(f"{live_server.url}/public/lookup")
    page.fill("#lookup-number", number)
    page.fill("#lookup-code", issued.shown)
    page.click("#lookup-submit")
    notices = page.get_by_test_id("public-notices")
    expect(notices).to_contain_text("受理告知书")
    expect(notices).to_contain_text(doc["number"])
    expect(notices).to_contain_text("送达日期：2026-11-02")
    with page.expect_download() as started:
        notices.get_by_role("button", name="下载").click()
    download = started.value
    assert download.suggested_filename == f"受理告知书-{doc['number']}.pdf"
    with open(download.path(), "rb") as saved:
        assert saved.read() == clerk.get(f"{url}/{doc['id']}/content").data
