"""The documents service below the API: what the bytes of a file are, operators' own notice templates, and the
reply deadline running from the service date a notice's service record holds."""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from engine import policy, services
from engine.clock import FrozenClock
from engine.config import Settings
from engine.documents import ServiceRecord, Upload, sniff, sniff_all
from engine.errors import FileRefused
from engine.runtime import Engine
from engine.testing import FORM_DATA, Walk
from tests.test_documents import pdf_bytes, png_bytes
from tests.test_scenarios_handling import HANDLING_VARIABLES


def jpeg_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, format="JPEG")
    return out.getvalue()


def tiff_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (8, 8)).save(out, format="TIFF")
    return out.getvalue()


def zip_bytes(*members: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in members:
            archive.writestr(name, "<x/>")
    return out.getvalue()


@pytest.mark.parametrize(
    ("content", "media_type"),
    [
        (png_bytes(), "image/png"),
        (jpeg_bytes(), "image/jpeg"),
        (tiff_bytes(), "image/tiff"),
        (pdf_bytes(), "application/pdf"),
        (
            zip_bytes("[Content_Types].xml", "word/document.xml"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
    ],
)
def test_the_type_comes_from_the_bytes_whatever_the_name(content: bytes, media_type: str) -> None:
    assert sniff(Upload("无扩展名", content), Settings().upload_limits()) == media_type


@pytest.mark.parametrize(
    ("content", "reason", "words"),
    [
        (Path("/bin/ls").read_bytes(), "executable", "可执行程序"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64, "executable", "可执行程序"),
        (zip_bytes("payload.txt"), "type", "zip"),
        (b"%!PS-Adobe-3.0\n", "type", "ps"),
        (b"just some text\n", "type", "无法识别"),
        (b"", "empty", "空文件"),
    ],
)
def test_what_the_office_does_not_file_is_refused_by_name(content: bytes, reason: str, words: str) -> None:
    with pytest.raises(FileRefused) as refused:
        sniff(Upload("扫描件.pdf", content), Settings().upload_limits())
    assert refused.value.details["reason"] == reason and refused.value.details["file"] == "扫描件.pdf"
    assert words in refused.value.message


def test_size_and_types_are_configurable() -> None:
    small = Settings(upload_max_bytes=100, upload_types=("pdf",)).upload_limits()
    with pytest.raises(FileRefused) as too_big:
        sniff(Upload("a.png", png_bytes() + b"\x00" * 200), small)
    assert too_big.value.details["reason"] == "size"
    with pytest.raises(FileRefused) as not_taken:
        sniff(Upload("a.png", png_bytes()), Settings(upload_types=("pdf",)).upload_limits())
    assert "只收 PDF 文档" in not_taken.value.message
    public = Settings(public_upload_files=2, public_upload_types=("png",)).upload_limits(public=True)
    with pytest.raises(FileRefused) as too_many:
        sniff_all([Upload("a.png", png_bytes())] * 3, public)
    assert too_many.value.details == {"reason": "count", "limit": 2, "count": 3}
    assert "最多上传 2 个" in too_many.value.message
    assert sniff_all([Upload("a.png", png_bytes())] * 2, public) == ["image/png"] * 2


def test_an_operators_own_template_is_used_for_the_notice(deployed: Engine) -> None:
    folder = deployed.settings.instance_path / "notices"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "supervision.html").write_text(
        '{% extends "_base.html" %}{% block body %}<p>本地督办函模板：{{ petition.subject }}</p>{% endblock %}',
        encoding="utf-8",
    )
    petition, _ = deployed.petitions.register(FORM_DATA["intake_registration"], actor="registrar")
    doc = deployed.documents.issue(petition, "supervision", organ=None, actor="s", task=None, variables={})
    assert doc.doc_number == "信访工作机构督函〔2026〕1号"
    text = "".join(
        PdfReader(io.BytesIO(deployed.documents.content(doc.sha256))).pages[0].extract_text().split()
    )
    assert "本地督办函模板：小区夜间施工噪声扰民" in text


def test_the_reply_deadlines_run_from_the_recorded_service_date(deployed: Engine, clock: FrozenClock) -> None:
    petition, _ = deployed.petitions.register(FORM_DATA["intake_registration"], actor="registrar")
    walk = Walk(
        deployed, clock, "ordinary_handling", **{**HANDLING_VARIABLES, "petitionNumber": petition.number}
    )
    walk.do("receive_assignment").do("investigate")
    draft = walk.task("draft_opinion")
    opinion = deployed.documents.issue(
        petition, "handling_opinion", organ="区住房城乡建委", actor="alice", task=draft, variables={}
    )
    walk.do("draft_opinion", decision="support")
    clock.advance(timedelta(days=3))  # the service is recorded on 11-05, for a receipt signed on 11-03
    deployed.documents.record_service(
        petition.number, opinion.id, ServiceRecord("post", date(2026, 11, 3), "张三"), actor="alice"
    )
    serve = walk.task("serve_reply")
    typed = walk.form_data(serve, {"replyServedAt": "2026-11-05"})
    services.complete(deployed, policy.operator("alice"), serve.id, typed)
    assert walk.submitted("serve_reply")["replyServedAt"] == "2026-11-03"
    started = [e.data["deadline"] for e in walk.events() if e.kind == "deadline.started"]
    from_service = [name for name in ("evaluation", "review_request") if name in started]
    assert from_service, started
    for name in from_service:
        assert walk.deadline(name).anchor == date(2026, 11, 3)
