"""Files sent with an online petition (POST /api/public/petitions as multipart): sniffed from their bytes within
the public side's limits (count, size, type, bytes per address and day), stored in the registration's
transaction, seen and opened by officials like any attachment, listed (name and size) on the petitioner's
lookup. A refused or failed submission leaves no stored file behind."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.definitions import latest_definition
from engine.models import AuditEvent, OutboxMessage, Petition
from engine.runtime import Engine
from tests.api_helpers import Api, assert_error
from tests.public_helpers import ONLINE, ORIGIN
from tests.test_documents import pdf_bytes, png_bytes, stored_counts

pytest_plugins = ("tests.api_helpers",)
pytestmark = pytest.mark.filterwarnings("ignore::engine.calendar.CalendarYearMissing")


def send(api: Api, *files: tuple[str, bytes], address: str = "127.0.0.1", **changes: Any) -> Any:
    """An online petition with ``files``, as the public page sends it."""
    data = {
        "petition": json.dumps({**ONLINE, **changes}, ensure_ascii=False),
        "files": [(io.BytesIO(content), name) for name, content in files],
    }
    return api.anonymous.post(
        "/api/public/petitions",
        data=data,
        content_type="multipart/form-data",
        headers=ORIGIN,
        environ_base={"REMOTE_ADDR": address},
    )


def nothing_kept(engine: Engine) -> None:
    """No petition, no file, no message: the refused submission left no trace."""
    assert stored_counts(engine) == (0, 0)
    with engine.db.reading() as session:
        assert session.scalars(select(Petition)).first() is None
        assert session.scalars(select(OutboxMessage)).first() is None


def test_a_petitioner_sends_a_scan_and_a_pdf_which_officials_open_and_the_lookup_lists(
    api: Api, deployed: Engine
) -> None:
    png, pdf = png_bytes(), pdf_bytes()
    response = send(api, ("来信扫描.png", png), ("证据材料.pdf", pdf))
    assert response.status_code == 201, response.get_data(as_text=True)
    done = response.get_json()
    number = done["number"]
    assert done["attachments"] == [
        {"filename": "来信扫描.png", "size": len(png)},
        {"filename": "证据材料.pdf", "size": len(pdf)},
    ]
    assert stored_counts(deployed) == (2, 2)

    # The registrar sees them on the petition, as the petitioner's, and opens each: the bytes sent.
    registrar = api.as_("registrar")
    listed = registrar.ok("GET", f"/api/petitions/{number}/attachments")
    assert [(a["filename"], a["mediaType"], a["origin"], a["uploadedBy"]) for a in listed] == [
        ("来信扫描.png", "image/png", "petitioner", None),
        ("证据材料.pdf", "application/pdf", "petitioner", None),
    ]
    for row, content in zip(listed, (png, pdf), strict=True):
        opened = registrar.get(f"/api/petitions/{number}/attachments/{row['id']}/content")
        assert opened.status_code == 200 and opened.get_data() == content
    with deployed.db.reading() as session:
        kinds = [
            (e.kind, e.actor)
            for e in session.scalars(
                select(AuditEvent).where(
                    AuditEvent.business_key == number,
                    AuditEvent.kind.in_(("attachment.added", "file.downloaded")),
                )
            )
        ]
    assert kinds == [("attachment.added", None)] * 2 + [("file.downloaded", "registrar")] * 2
    # Nobody without the case in their jurisdiction reads them.
    assert api.anonymous.get(f"/api/petitions/{number}/attachments").status_code == 401

    # The petitioner's lookup lists what they sent, by name and size, and nothing else of the files.
    view = api.anonymous.ok(
        "POST", "/api/public/lookup", json={"number": number, "code": done["queryCode"]}, headers=ORIGIN
    )
    assert view["attachments"] == done["attachments"]


def test_a_petition_without_files_is_taken_as_multipart_too(api: Api, deployed: Engine) -> None:
    response = send(api)
    assert response.status_code == 201 and response.get_json()["attachments"] == []
    assert stored_counts(deployed) == (0, 0)


def test_an_executable_renamed_to_pdf_is_refused_and_nothing_is_kept(api: Api, deployed: Engine) -> None:
    response = send(api, ("照片.png", png_bytes()), ("证据.pdf", Path("/bin/ls").read_bytes()))
    body = assert_error(response, 422, "file_refused")
    assert body["details"]["file"] == "证据.pdf" and body["details"]["reason"] == "executable"
    assert "证据.pdf" in body["message"] and "可执行程序" in body["message"]
    nothing_kept(deployed)


def test_a_type_the_public_side_does_not_take_is_refused(api: Api, deployed: Engine) -> None:
    # TIFF is taken from officials, not with an online petition (PETITIONFLOW_PUBLIC_UPLOAD_TYPES).
    tiff = b"II*\x00\x08\x00\x00\x00" + b"\x00" * 64
    body = assert_error(send(api, ("扫描.tif", tiff)), 422, "file_refused")
    assert body["details"]["reason"] == "type" and "只收 PNG 图片、JPEG 图片、PDF 文档" in body["message"]
    nothing_kept(deployed)


def test_too_big_and_too_many_files_are_refused(
    api: Api, deployed: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = deployed.documents
    monkeypatch.setattr(
        documents,
        "settings",
        replace(documents.settings, public_upload_max_bytes=4096, public_upload_files=2),
    )
    rules = api.anonymous.ok("GET", "/api/public/form")["uploads"]
    assert (rules["maxFiles"], rules["maxBytes"]) == (2, 4096)
    big = png_bytes() + b"\x00" * 5000
    body = assert_error(send(api, ("大照片.png", big)), 422, "file_refused")
    assert body["details"] == {"file": "大照片.png", "reason": "size", "limit": 4096}
    assert "大照片.png" in body["message"] and "4 KB" in body["message"]
    three = [(f"照片{i}.png", png_bytes()) for i in range(3)]
    body = assert_error(send(api, *three), 422, "file_refused")
    assert body["details"] == {"reason": "count", "limit": 2, "count": 3}
    assert "最多上传 2 个附件" in body["message"]
    nothing_kept(deployed)
    # Refused files cost no submission of the day.
    daily = deployed.public.limits.submissions.attempts
    for _ in range(daily):
        assert send(api, *three[:2]).status_code == 201


def test_the_bytes_per_address_and_day_are_limited(
    api: Api, deployed: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = deployed.public
    monkeypatch.setattr(
        desk, "limits", replace(desk.limits, upload_kib=replace(desk.limits.upload_kib, attempts=100))
    )

    def scan(n: int) -> bytes:  # about 40 KiB, each its own file
        return png_bytes() + bytes([n]) * 40_000

    assert send(api, ("一.png", scan(1)), address="203.0.113.5").status_code == 201
    assert send(api, ("二.png", scan(2)), address="203.0.113.5").status_code == 201
    refused = send(api, ("三.png", scan(3)), address="203.0.113.5")
    body = assert_error(refused, 429, "too_many_attempts")
    assert "上传的附件已达" in body["message"] and int(refused.headers["Retry-After"]) > 3600
    assert stored_counts(deployed) == (2, 2)
    # Another address has its own allowance; a petition without files is not held back.
    assert send(api, ("三.png", scan(3)), address="198.51.100.7").status_code == 201
    assert send(api, address="203.0.113.5").status_code == 201


def test_a_submission_that_fails_after_its_files_were_stored_leaves_none(api: Api, deployed: Engine) -> None:
    # The intake procedure is gone: the registration fails when it starts it, after the files were written in
    # its transaction.
    with deployed.db.reading() as session:
        intake = latest_definition(session, "petition_intake")
    assert intake is not None
    deployed.undeploy(definition_id=intake.id)
    response = send(api, ("来信扫描.png", png_bytes()), ("证据材料.pdf", pdf_bytes()))
    assert response.status_code == 404, response.get_data(as_text=True)
    nothing_kept(deployed)


def test_bad_multipart_bodies_are_refused_with_what_was_wrong(api: Api, deployed: Engine) -> None:
    def post(data: dict[str, Any]) -> Any:
        return api.anonymous.post(
            "/api/public/petitions", data=data, content_type="multipart/form-data", headers=ORIGIN
        )

    body = assert_error(post({"files": [(io.BytesIO(png_bytes()), "a.png")]}), 400)
    assert "petition" in body["details"]["fields"]
    body = assert_error(post({"petition": "{not json"}), 400)
    assert "petition" in body["message"] and "JSON" in body["message"]
    nothing_kept(deployed)
