"""The papers of a case in the browser: the registrar attaches a scanned letter (a real PNG and a real PDF), the
petition office's handler sees and opens both, issues the acceptance notice and downloads its PDF, whose text
names the petitioner, the item number and the statutory time limit in Chinese."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from engine.testing import FORM_DATA, complete_at, only_task
from tests.test_documents import pdf_bytes, png_bytes
from tests.ui.browser import LiveServer, login, logout, open_scan_and_pdf, screenshot

pytestmark = pytest.mark.browser


def test_registrar_attaches_a_scan_the_office_opens_it_and_issues_the_acceptance_notice(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    engine = live_server.engine
    petition, started = engine.petitions.register(FORM_DATA["intake_registration"], actor="registrar")
    number, instance_id = petition.number, started.instance_id
    png, pdf = tmp_path / "来信扫描.png", tmp_path / "来信原件.pdf"
    png.write_bytes(png_bytes())
    pdf.write_bytes(pdf_bytes())

    login(page, live_server, "registrar")
    page.goto(f"{live_server.url}/petitions/{number}")
    # The browser's own file button says "Choose Files": every file field is hidden behind a Chinese button.
    expect(page.locator("#attach-form label.file-pick[for=attach-files]")).to_have_text("选择文件")
    expect(page.locator("#attach-form")).to_contain_text("未选择文件")
    assert (
        page.eval_on_selector_all(
            "input[type=file]",
            "inputs => inputs.filter(i => !i.classList.contains('visually-hidden')).length",
        )
        == 0
    )
    page.set_input_files("#attach-files", [str(png), str(pdf)])
    expect(page.locator("#attach-form")).to_contain_text("已选择 2 个：来信扫描.png、来信原件.pdf")
    page.click("#attach-form button[type=submit]")
    expect(page.locator("#attachment-list li")).to_have_count(2)
    screenshot(page, "documents-registrar-attached")
    # The list's export holds what the list shows, with its filters.
    page.goto(f"{live_server.url}/petitions")
    page.fill("#petition-filters input[name=number]", number)
    with page.expect_download() as exported:
        page.click("[data-export=xlsx]")
    rows = list(
        openpyxl.load_workbook(
            io.BytesIO(Path(exported.value.path()).read_bytes()), read_only=True
        ).active.iter_rows(values_only=True)
    )
    assert [r[0] for r in rows[1:]] == [number] and rows[0][0] == "事项编号"
    logout(page)

    complete_at(engine, instance_id, "register_check")
    review = only_task(engine, instance_id, "acceptance_review")
    login(page, live_server, "office")
    page.goto(f"{live_server.url}/tasks/{review.id}")
    open_scan_and_pdf(page, "来信扫描.png", "来信原件.pdf", pdf.read_bytes())

    complete_at(engine, instance_id, "acceptance_review", {"category": "suggestion"}, user="office")
    notice = only_task(engine, instance_id, "notice_acceptance")
    page.goto(f"{live_server.url}/tasks/{notice.id}")
    page.click("#claim-task")
    expect(page.locator("#issue-kind")).to_have_value("acceptance")
    page.click("#issue-notice")
    expect(page.locator("#document-list li")).to_have_count(1)
    expect(page.locator("#document-list")).to_contain_text("区信访局受告〔2026〕1号")
    with page.expect_download() as download:
        page.get_by_test_id("document-download").click()
    text = "".join(
        p.extract_text() for p in PdfReader(io.BytesIO(Path(download.value.path()).read_bytes())).pages
    )
    text = "".join(text.split())
    assert "张三" in text and number in text and "六十日" in text
    screenshot(page, "documents-notice-issued")
