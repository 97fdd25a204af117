"""A petition's papers through the REST API: attachments sniffed and stored with their command, written notices
numbered, rendered and served, the case file, and the exports (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
import threading
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
from pypdf import PdfReader, PdfWriter
from sqlalchemy import func, select

from engine import services
from engine.documents import cn_number
from engine.models import Attachment, StoredFile
from engine.runtime import Engine
from tests.api_helpers import Api, Caller, assert_error

pytest_plugins = ("tests.api_helpers",)


def png_bytes(color: str = "red") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(out, format="PNG")
    return out.getvalue()


def pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def upload(caller: Caller, number: str, *files: tuple[str, bytes], **form: str) -> Any:
    data: dict[str, Any] = {"files": [(io.BytesIO(content), name) for name, content in files], **form}
    return caller.post(f"/api/petitions/{number}/attachments", data=data, content_type="multipart/form-data")


def stored_counts(engine: Engine) -> tuple[int, int]:
    with engine.db.reading() as session:
        return (
            session.scalar(select(func.count()).select_from(StoredFile)) or 0,
            session.scalar(select(func.count()).select_from(Attachment)) or 0,
        )


def accepted(api: Api) -> str:
    """A registered petition, checked and accepted: the acceptance notice (notice_acceptance) is open."""
    number = api.register()["number"]
    api.as_("registrar").do(number, "register_check")
    api.as_("office").do(number, "acceptance_review", acceptanceDecision="accept", category="suggestion")
    return number


def outsider(api: Api) -> Caller:
    """A handler of another unit (区规划自然资源局, in the fixture organisation): the case is outside their
    jurisdiction, so to them it does not exist."""
    engine: Engine = api.client.application.extensions["petitionflow"]
    engine.accounts.create(
        "ghzy_handler", "ghzy_handler", display_name="规划局承办人", roles=["handler"], demo=True
    )
    return api.as_("ghzy_handler")


def test_attached_png_and_pdf_are_listed_previewed_and_downloads_audited(api: Api) -> None:
    number = api.register()["number"]
    registrar = api.as_("registrar")
    png, pdf = png_bytes(), pdf_bytes()
    response = upload(registrar, number, ("来信扫描.png", png), ("来信.pdf", pdf))
    assert response.status_code == 201, response.get_json()
    listed = registrar.ok("GET", f"/api/petitions/{number}/attachments")
    assert [(a["filename"], a["mediaType"], a["size"]) for a in listed] == [
        ("来信扫描.png", "image/png", len(png)),
        ("来信.pdf", "application/pdf", len(pdf)),
    ]
    first = registrar.get(f"/api/petitions/{number}/attachments/{listed[0]['id']}/content")
    assert first.status_code == 200 and first.data == png and first.mimetype == "image/png"
    assert first.headers["Content-Disposition"].startswith("inline;")
    assert "frame-ancestors 'self'" in first.headers["Content-Security-Policy"]
    download = registrar.get(f"/api/petitions/{number}/attachments/{listed[1]['id']}/content?download=true")
    assert download.data == pdf and download.headers["Content-Disposition"].startswith("attachment;")
    timeline = registrar.ok("GET", f"/api/petitions/{number}")["timeline"]
    kinds = [e["kind"] for e in timeline]
    assert kinds.count("attachment.added") == 2 and kinds.count("file.downloaded") == 2
    # An id no row can have is not found, on every database.
    assert_error(registrar.get(f"/api/petitions/{number}/attachments/23475948254/content"), 404, "not_found")
    assert_error(registrar.get(f"/api/petitions/{number}/documents/23475948254/content"), 404, "not_found")
    # A handler outside the case's jurisdiction sees neither the list nor a file: to them it does not exist.
    assert_error(outsider(api).get(f"/api/petitions/{number}/attachments"), 404, "not_found")
    assert_error(
        api.as_("ghzy_handler").get(f"/api/petitions/{number}/attachments/{listed[0]['id']}/content"), 404
    )


def test_an_executable_renamed_to_pdf_is_refused_and_nothing_is_stored(api: Api, deployed: Engine) -> None:
    number = api.register()["number"]
    response = upload(api.as_("registrar"), number, ("证据.pdf", Path("/bin/ls").read_bytes()))
    body = assert_error(response, 422, "file_refused")
    assert body["details"]["detected"] == "elf" and body["details"]["reason"] == "executable"
    assert "可执行程序" in body["message"] and "证据.pdf" in body["message"]
    # One good and one bad file: neither is kept.
    response = upload(
        api.as_("registrar"), number, ("a.png", png_bytes()), ("b.pdf", b"#!/bin/sh\necho hi\n")
    )
    assert assert_error(response, 422, "file_refused")["details"]["reason"] == "type"
    assert stored_counts(deployed) == (0, 0)


def test_the_same_file_twice_is_stored_once(api: Api, deployed: Engine) -> None:
    number = api.register()["number"]
    png = png_bytes("blue")
    assert upload(api.as_("registrar"), number, ("一.png", png)).status_code == 201
    assert upload(api.as_("registrar"), number, ("二.png", png)).status_code == 201
    assert stored_counts(deployed) == (1, 2)


def test_files_sent_with_a_failing_completion_leave_nothing_behind(api: Api, deployed: Engine) -> None:
    number = api.register()["number"]
    registrar = api.as_("registrar")
    task = registrar.task_at(number, "register_check")
    registrar.claim(task["id"])
    url = f"/api/tasks/{task['id']}/complete-with-files"
    files = {"files": [(io.BytesIO(png_bytes()), "身份证.png")]}
    bad = registrar.post(
        url, data={**files, "variables": '{"petitionerName": ""}'}, content_type="multipart/form-data"
    )
    assert_error(bad, 422, "validation_failed")
    assert stored_counts(deployed) == (0, 0)
    good = registrar.post(
        url,
        data={
            "files": [(io.BytesIO(png_bytes()), "身份证.png")],
            "variables": json.dumps(registrar.form_data("intake_check")),
        },
        content_type="multipart/form-data",
    )
    assert good.status_code == 200, good.get_json()
    (row,) = registrar.ok("GET", f"/api/petitions/{number}/attachments")
    assert (row["origin"], row["taskId"], row["elementId"]) == ("task", task["id"], "register_check")


def test_the_acceptance_notice_is_numbered_rendered_served_and_fills_in_its_step(
    api: Api, deployed: Engine
) -> None:
    number = accepted(api)
    office = api.as_("office")
    task = office.task_at(number, "notice_acceptance")
    office.claim(task["id"])
    url = f"/api/petitions/{number}/documents"
    # Only the person acting on a step of this petition issues its notices.
    assert_error(api.as_("handler").post(url, json={"kind": "acceptance", "taskId": task["id"]}), 404)
    doc = office.ok("POST", url, 201, json={"kind": "acceptance", "taskId": task["id"]})
    assert doc["number"] == "区信访局受告〔2026〕1号" and doc["elementId"] == "notice_acceptance"
    pdf = office.get(f"{url}/{doc['id']}/content")
    assert pdf.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    compact = "".join(text.split())
    assert "张三" in compact and number in compact and "受理告知书" in compact
    assert "六十日" in compact and "区信访局受告〔2026〕1号" in compact
    # The step's form shows the notice's number; not yet served, the petitioner's side has nothing.
    assert office.ok("GET", f"/api/tasks/{task['id']}")["variables"]["noticeNumber"] == doc["number"]
    assert services.served_notices(deployed, number) == []
    served = office.post(
        f"{url}/{doc['id']}/service",
        data={
            "method": "in_person",
            "servedOn": "2026-11-02",
            "receiver": "张三",
            "receipt": (io.BytesIO(png_bytes("green")), "送达回执.png"),
        },
        content_type="multipart/form-data",
    )
    assert served.status_code == 200, served.get_json()
    assert served.get_json()["servedOn"] == "2026-11-02" and served.get_json()["receiptId"]
    again = office.post(
        f"{url}/{doc['id']}/service",
        data={"method": "post", "servedOn": "2026-11-02", "receiver": "张三"},
        content_type="multipart/form-data",
    )
    assert_error(again, 409, "conflict")
    (public,) = services.served_notices(deployed, number)
    assert public.doc_number == doc["number"]
    assert services.served_notice_file(deployed, number, public.id)[1] == pdf.data
    variables = office.ok("GET", f"/api/tasks/{task['id']}")["variables"]
    assert variables["noticeServedAt"] == "2026-11-02"
    # The step completes with the recorded number and date even when the form sends others.
    office.complete(
        task["id"], office.form_data("intake_notice", noticeNumber="手填", noticeServedAt="2026-11-01")
    )
    submitted = [
        e
        for e in api.as_("registrar").ok("GET", f"/api/petitions/{number}")["timeline"]
        if e["kind"] == "task.completed" and e["elementId"] == "notice_acceptance"
    ]
    assert submitted[0]["data"]["noticeNumber"] == doc["number"]
    assert submitted[0]["data"]["noticeServedAt"] == "2026-11-02"
    # The next notice of the same organ and year takes the next number.
    second = api.register()["number"]
    api.as_("registrar").do(second, "register_check")
    office.do(second, "acceptance_review", acceptanceDecision="accept", category="suggestion")
    task2 = office.task_at(second, "notice_acceptance")
    office.claim(task2["id"])
    doc2 = office.ok(
        "POST", f"/api/petitions/{second}/documents", 201, json={"kind": "acceptance", "taskId": task2["id"]}
    )
    assert doc2["number"] == "区信访局受告〔2026〕2号"


def test_concurrent_notices_of_one_organ_get_consecutive_numbers(api: Api, deployed: Engine) -> None:
    number = api.register()["number"]
    petition = deployed.petitions.get(number)
    numbers: list[int] = []
    errors: list[BaseException] = []

    def issue() -> None:
        try:
            doc = deployed.documents.issue(
                petition, "supervision", organ="区信访局", actor="office", task=None, variables={}
            )
            numbers.append(doc.serial)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=issue) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(numbers) == [1, 2, 3, 4, 5, 6]


def test_the_case_file_holds_registration_papers_and_history_in_order(api: Api) -> None:
    number = accepted(api)
    office = api.as_("office")
    task = office.task_at(number, "notice_acceptance")
    office.claim(task["id"])
    png = png_bytes()
    assert upload(api.as_("registrar"), number, ("来信.png", png)).status_code == 201
    office.ok(
        "POST", f"/api/petitions/{number}/documents", 201, json={"kind": "acceptance", "taskId": task["id"]}
    )
    response = api.as_("registrar").get(f"/api/petitions/{number}/case-file")
    assert response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = archive.namelist()
    assert names[0] == "000-卷宗目录.pdf" and names[-1] == "SHA256SUMS.txt"
    assert names[1] == "001-来信.png" and names[2].startswith("002-受理告知书-区信访局受告")
    assert archive.read("001-来信.png") == png
    index = "".join(p.extract_text() for p in PdfReader(io.BytesIO(archive.read(names[0]))).pages)
    index = "".join(index.split())
    assert "张三" in index and "登记信息" in index and "出具文书" in index and "上传附件" in index
    assert_error(outsider(api).get(f"/api/petitions/{number}/case-file"), 404)


def test_exports_open_in_excel_with_the_lists_filters_and_visibility(api: Api) -> None:
    numbers = [api.register(subject=f"事项{i}")["number"] for i in range(3)]
    registrar = api.as_("registrar")
    xlsx = registrar.get("/api/petitions/export?format=xlsx")
    assert xlsx.status_code == 200, xlsx.get_json()
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("事项编号", "信访人", "渠道")
    assert sorted(r[0] for r in rows[1:]) == sorted(numbers)
    one = registrar.get(f"/api/petitions/export?format=csv&number={numbers[1]}")
    assert one.data.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(one.data.decode("utf-8-sig"))))
    assert [r[0] for r in table[1:]] == [numbers[1]] and table[1][11] == "办理中"
    # Tasks: each sees only their own list; the registrar's three registration checks.
    tasks = list(
        csv.reader(io.StringIO(registrar.get("/api/tasks/export?format=csv").data.decode("utf-8-sig")))
    )
    assert len(tasks) == 4 and {r[0] for r in tasks[1:]} == {"登记核对"}
    handler = list(
        csv.reader(
            io.StringIO(api.as_("handler").get("/api/tasks/export?format=csv").data.decode("utf-8-sig"))
        )
    )
    assert len(handler) == 1
    assert_error(api.as_("handler").get("/api/petitions/export"), 403)
    metrics = api.as_("supervisor").get("/api/metrics/export?format=xlsx")
    assert openpyxl.load_workbook(io.BytesIO(metrics.data)).active["A1"].value == "单位"


def test_chinese_numerals_of_periods() -> None:
    assert [cn_number(n) for n in (5, 10, 15, 30, 60, 90, 105, 2026)] == [
        "五",
        "十",
        "十五",
        "三十",
        "六十",
        "九十",
        "一百零五",
        "二千零二十六",
    ]
