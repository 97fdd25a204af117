"""A petition's papers: attached files, written notices (文书) and their service (送达), and the case file (卷宗).

Files live in the database (table ``stored_file``, one row per SHA-256), not on a disk of one host: petitionflow
runs several stateless workers on several hosts, and a file is written in the transaction of the command that
attaches it, so an acknowledged upload is committed with the rest of the command (never lost) and a command
that fails leaves no file behind (no orphan to sweep). What a file is comes from its bytes (``filetype``'s
magic numbers), never from its name: an executable renamed to .pdf is refused, naming what it really is.

A written notice is rendered from an HTML template operators may edit (``instance/notices/<kind>.html`` takes
precedence over the shipped ``engine/notices/``) to PDF with WeasyPrint and a CJK font, numbered per organ and
year (文号) in the issuing transaction, and stored once: its checksum is its stored file's key.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import filetype
import jinja2
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .calendar import StatutoryCalendar
from .config import MB, Settings, UploadLimits
from .counters import next_value
from .db import Database
from .deadlines import DeadlineRule
from .errors import Conflict, FileRefused, InvalidInput, NotFound
from .models import Attachment, AuditEvent, Document, Petition, StoredFile, Task
from .ports import Now
from .vocabulary import CHANNEL_LABELS, EVENT_LABELS, STATUS_LABELS

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# The types a petition office files, by the extension filetype names them: media type and what readers call it.
FILE_TYPES: dict[str, tuple[str, str]] = {
    "png": ("image/png", "PNG 图片"),
    "jpg": ("image/jpeg", "JPEG 图片"),
    "pdf": ("application/pdf", "PDF 文档"),
    "tif": ("image/tiff", "TIFF 图片"),
    "docx": (DOCX, "Word 文档（DOCX）"),
}
# Shown in the browser rather than downloaded.
PREVIEWABLE = frozenset({"image/png", "image/jpeg", "application/pdf"})
EXECUTABLES = frozenset({"elf", "exe", "dex", "macho", "class", "wasm"})
ORIGINS = ("petition", "task", "petitioner", "receipt")
SERVICE_METHODS = {
    "in_person": "当面送达",
    "post": "邮寄送达",
    "online": "网上告知",
    "sms": "短信告知",
    "phone": "电话告知",
}
SHIPPED_TEMPLATES = Path(__file__).resolve().parent / "notices"


@dataclass(frozen=True)
class NoticeKind:
    key: str
    title: str
    code: str  # in the 文号: 区信访局受告〔2026〕1号
    # The form fields of the step that records this notice: its number, and the service date the deadline
    # that runs from service (the review window after a reply, ...) reads.
    number_field: str | None = None
    served_field: str | None = None


NOTICE_KINDS: dict[str, NoticeKind] = {
    k.key: k
    for k in (
        NoticeKind("acceptance", "受理告知书", "受告", "noticeNumber", "noticeServedAt"),
        NoticeKind("non_acceptance", "不予受理告知书", "不受告", "noticeNumber", "noticeServedAt"),
        NoticeKind("not_again", "不再受理告知书", "不再受告", "noticeNumber", "noticeServedAt"),
        NoticeKind("transfer", "转送（交办）函", "转函", "meetingRecord"),
        NoticeKind("extension", "延期办理告知书", "延告", "extensionNoticeNumber", "extensionNoticeServedAt"),
        NoticeKind("handling_opinion", "信访处理意见书", "处意", None, "replyServedAt"),
        NoticeKind("review_opinion", "复查意见书", "复查", None, "reviewServedAt"),
        NoticeKind("recheck_opinion", "复核意见书", "复核", None, "recheckServedAt"),
        NoticeKind("hearing_notice", "听证通知书", "听通"),
        NoticeKind("supervision", "督办函", "督函"),
    )
}


@dataclass(frozen=True)
class Upload:
    """A file as received: the name the sender gave it (kept for people, never trusted) and its bytes."""

    filename: str
    content: bytes


def clean_filename(name: str) -> str:
    """The last part of the sender's name, without control characters, at most 255 characters."""
    name = re.split(r"[\\/]", name or "")[-1]
    name = "".join(c for c in unicodedata.normalize("NFC", name) if unicodedata.category(c)[0] != "C")
    return name.strip()[:255] or "附件"


def sniff(upload: Upload, limits: UploadLimits) -> str:
    """The media type of the upload's bytes, if ``limits`` take it; FileRefused naming the problem if not."""
    name = clean_filename(upload.filename)
    details: dict[str, Any] = {"file": name}
    if not upload.content:
        raise FileRefused(f"文件“{name}”是空文件", {**details, "reason": "empty"})
    if len(upload.content) > limits.max_bytes:
        raise FileRefused(
            f"文件“{name}”超过 {size_text(limits.max_bytes)} 的上限",
            {**details, "reason": "size", "limit": limits.max_bytes},
        )
    kind = filetype.guess(upload.content)
    found = kind.extension if kind else None
    if found in ("zip", "docx"):
        found = "docx" if _is_docx(upload.content) else "zip"
    details["detected"] = found
    if found in EXECUTABLES:
        raise FileRefused(
            f"文件“{name}”的内容是可执行程序（{found}），与文件名不符，已拒收",
            {**details, "reason": "executable"},
        )
    allowed = [t for t in limits.types if t in FILE_TYPES]
    if found not in allowed:
        names = "、".join(FILE_TYPES[t][1] for t in allowed)
        what = f"内容类型为 {found}" if found else "内容类型无法识别"
        raise FileRefused(f"文件“{name}”{what}，只收 {names}", {**details, "reason": "type"})
    return FILE_TYPES[found][0]


def sniff_all(uploads: Sequence[Upload], limits: UploadLimits) -> list[str]:
    """Every upload's media type (as ``sniff``), once their number is within ``limits``: all are checked
    before any is stored."""
    if limits.max_files is not None and len(uploads) > limits.max_files:
        raise FileRefused(
            f"一次最多上传 {limits.max_files} 个附件，本次选择了 {len(uploads)} 个",
            {"reason": "count", "limit": limits.max_files, "count": len(uploads)},
        )
    return [sniff(u, limits) for u in uploads]


def size_text(size: int) -> str:
    """A size as people read it: 10 MB, 1.5 MB, 800 KB."""
    if size >= MB:
        return f"{size / MB:.1f}".removesuffix(".0") + " MB"
    return f"{max(1, round(size / 1024))} KB"


def _is_docx(content: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return "word/document.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def cn_number(n: int) -> str:
    """0..9999 in Chinese numerals, as a notice writes a period: 60 -> 六十, 15 -> 十五, 105 -> 一百零五."""
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n % 10] if n % 10 else "")
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = (n // value) % 10
        if d:
            out += ("零" if zero and out else "") + digits[d] + unit
            zero = False
        elif out:
            zero = True
    return out


def cn_date(day: date | datetime | None) -> str:
    if day is None:
        return ""
    return f"{day.year}年{day.month}月{day.day}日"


def period_text(rule: DeadlineRule) -> str:
    """六十日 / 五个工作日, as the regulation words it."""
    return f"{cn_number(rule.length)}{'个工作日' if rule.unit == 'working' else '日'}"


def store_file(session: Session, content: bytes, media_type: str, now: datetime, *, is_sqlite: bool) -> str:
    """Put the bytes in the store once (their SHA-256 is the key) inside the caller's transaction."""
    sha = hashlib.sha256(content).hexdigest()
    dialect_insert = sqlite_insert if is_sqlite else pg_insert
    session.execute(
        dialect_insert(StoredFile)
        .values(sha256=sha, media_type=media_type, size=len(content), content=content, created_at=now)
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    return sha


@dataclass(frozen=True)
class ServiceRecord:
    """送达: how, when, to whom, and the scan of the signed receipt (an attachment), if any."""

    method: str
    served_on: date
    receiver: str
    receipt: Upload | None = None


class Documents:
    """Attachments, notices and the case file of petitions, each change in one transaction with its audit."""

    def __init__(
        self,
        *,
        db: Database,
        now: Now,
        settings: Settings,
        calendar: StatutoryCalendar,
        rules: Mapping[str, DeadlineRule],
    ) -> None:
        self.db = db
        self.now = now
        self.settings = settings
        self.calendar = calendar
        self.rules = rules
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader([settings.instance_path / "notices", SHIPPED_TEMPLATES]),
            autoescape=True,
        )
        self.templates.filters.update(cn_date=cn_date, cn_number=cn_number)

    # -- attachments -------------------------------------------------------------------------------------------
    def attach_in(
        self,
        session: Session,
        petition: Petition,
        uploads: Sequence[Upload],
        *,
        actor: str | None,
        origin: str,
        task: Task | None = None,
        limits: UploadLimits | None = None,
    ) -> list[Attachment]:
        """Store and attach ``uploads`` inside the caller's transaction (its command's, when there is one),
        within ``limits`` (the officials' by default)."""
        if origin not in ORIGINS:
            raise InvalidInput(f"unknown attachment origin '{origin}'")
        typed = sniff_all(uploads, limits or self.settings.upload_limits())
        now = self.now()
        rows = []
        for upload, media_type in zip(uploads, typed, strict=True):
            sha = store_file(session, upload.content, media_type, now, is_sqlite=self.db.is_sqlite)
            row = Attachment(
                petition_number=petition.number,
                origin=origin,
                task_id=task.id if task else None,
                element_id=task.element_id if task else None,
                filename=clean_filename(upload.filename),
                sha256=sha,
                media_type=media_type,
                size=len(upload.content),
                uploaded_by=actor,
                uploaded_at=now,
            )
            session.add(row)
            session.flush()
            self.audit(
                session, petition, "attachment.added", actor, task, attachment=row.id, file=row.filename
            )
            rows.append(row)
        return rows

    def attach(
        self,
        number: str,
        uploads: Sequence[Upload],
        *,
        actor: str | None,
        origin: str = "petition",
        task: Task | None = None,
    ) -> list[Attachment]:
        if not uploads:
            raise InvalidInput("no file was sent", {"fields": {"files": ["至少选择一个文件"]}})
        with self.db.transaction() as session:
            return self.attach_in(
                session, self.petition(session, number), uploads, actor=actor, origin=origin, task=task
            )

    def attachments(self, number: str) -> list[Attachment]:
        with self.db.reading() as session:
            return list(
                session.scalars(
                    select(Attachment).where(Attachment.petition_number == number).order_by(Attachment.id)
                )
            )

    def attachment(self, number: str, attachment_id: int) -> Attachment:
        with self.db.reading() as session:
            row = _get(session, Attachment, attachment_id)
        if row is None or row.petition_number != number:
            raise NotFound(
                f"no attachment {attachment_id} on petition '{number}'", {"attachment": attachment_id}
            )
        return row

    def content(self, sha256: str) -> bytes:
        with self.db.reading() as session:
            data = session.scalar(select(StoredFile.content).where(StoredFile.sha256 == sha256))
        if data is None:
            raise NotFound("the stored file is missing", {"sha256": sha256})
        return bytes(data)

    # -- notices -----------------------------------------------------------------------------------------------
    def issue(
        self,
        petition: Petition,
        kind: str,
        *,
        organ: str | None,
        actor: str | None,
        task: Task | None,
        variables: Mapping[str, Any],
        text: str = "",
    ) -> Document:
        """Number, render and store a notice, all or nothing: a render that fails gives its number back."""
        notice = NOTICE_KINDS.get(kind)
        if notice is None:
            raise InvalidInput(
                f"unknown document kind '{kind}'", {"fields": {"kind": [f"one of {', '.join(NOTICE_KINDS)}"]}}
            )
        organ = (organ or self.settings.organ).strip()
        now = self.now()
        issued_on = now.astimezone(self.calendar.tz).date()
        with self.db.transaction() as session:
            counter = f"doc:{issued_on.year}:{hashlib.sha256(organ.encode()).hexdigest()[:32]}"
            serial = next_value(session, counter, is_sqlite=self.db.is_sqlite)
            doc_number = f"{organ}{notice.code}〔{issued_on.year}〕{serial}号"
            html = self.templates.get_template(f"{kind}.html").render(
                kind=notice,
                petition=petition,
                organ=organ,
                doc_number=doc_number,
                issued_on=issued_on,
                v=variables,
                text=text,
                limits={name: period_text(rule) for name, rule in self.rules.items()},
                bases={name: rule.basis for name, rule in self.rules.items()},
            )
            pdf = render_pdf(html)
            sha = store_file(session, pdf, "application/pdf", now, is_sqlite=self.db.is_sqlite)
            row = Document(
                petition_number=petition.number,
                kind=kind,
                title=notice.title,
                organ=organ,
                year=issued_on.year,
                serial=serial,
                doc_number=doc_number,
                sha256=sha,
                size=len(pdf),
                instance_id=task.instance_id if task else petition.instance_id,
                task_id=task.id if task else None,
                element_id=task.element_id if task else None,
                issued_by=actor,
                issued_at=now,
            )
            session.add(row)
            session.flush()
            self.audit(session, petition, "document.issued", actor, task, document=row.id, number=doc_number)
        return row

    def record_service(
        self, number: str, document_id: int, record: ServiceRecord, *, actor: str | None
    ) -> Document:
        """送达 is recorded once; the receipt scan is attached in the same transaction."""
        if record.method not in SERVICE_METHODS:
            raise InvalidInput(
                f"unknown service method '{record.method}'",
                {"fields": {"method": [f"one of {', '.join(SERVICE_METHODS)}"]}},
            )
        today = self.now().astimezone(self.calendar.tz).date()
        if record.served_on > today:
            raise InvalidInput("送达日期不能晚于今天", {"fields": {"servedOn": ["不能晚于今天"]}})
        with self.db.transaction() as session:
            petition = self.petition(session, number)
            row = _get(session, Document, document_id)
            if row is None or row.petition_number != number:
                raise NotFound(f"no document {document_id} on petition '{number}'", {"document": document_id})
            if row.served_on is not None:
                raise Conflict("该文书的送达已登记，不能再改", {"document": document_id})
            if record.served_on < row.issued_at.astimezone(self.calendar.tz).date():
                raise InvalidInput("送达日期不能早于签发日期", {"fields": {"servedOn": ["早于签发日期"]}})
            if record.receipt is not None:
                (receipt,) = self.attach_in(
                    session, petition, [record.receipt], actor=actor, origin="receipt"
                )
                row.receipt_id = receipt.id
            row.served_on = record.served_on
            row.service_method = record.method
            row.receiver = record.receiver
            row.service_recorded_by = actor
            row.service_recorded_at = self.now()
            self.audit(
                session,
                petition,
                "document.served",
                actor,
                None,
                document=row.id,
                number=row.doc_number,
                servedOn=record.served_on.isoformat(),
                method=record.method,
            )
        return row

    def documents(self, number: str, *, served_only: bool = False) -> list[Document]:
        query = select(Document).where(Document.petition_number == number)
        if served_only:
            query = query.where(Document.served_on.is_not(None))
        with self.db.reading() as session:
            return list(session.scalars(query.order_by(Document.id)))

    def document(self, number: str, document_id: int) -> Document:
        with self.db.reading() as session:
            row = _get(session, Document, document_id)
        if row is None or row.petition_number != number:
            raise NotFound(f"no document {document_id} on petition '{number}'", {"document": document_id})
        return row

    def recorded_fields(self, task: Task, form_keys: Iterable[str]) -> dict[str, Any]:
        """What the notices of the task's petition fill in on the task's form: the number of the notice this step
        issued, and the service date recorded for the notice a deadline runs from (the record wins over typing)."""
        keys = set(form_keys)
        wanted = {k.key: k for k in NOTICE_KINDS.values() if {k.number_field, k.served_field} & keys}
        if not wanted or not task.business_key:
            return {}
        with self.db.reading() as session:
            rows = list(
                session.scalars(
                    select(Document)
                    .where(Document.petition_number == task.business_key, Document.kind.in_(list(wanted)))
                    .order_by(Document.id)
                )
            )
        filled: dict[str, Any] = {}
        for row in rows:  # the latest of each kind wins
            kind = wanted[row.kind]
            if kind.number_field in keys and row.task_id == task.id:
                filled[kind.number_field] = row.doc_number
            if kind.served_field in keys and row.served_on is not None:
                filled[kind.served_field] = row.served_on.isoformat()
        return filled

    # -- the case file -----------------------------------------------------------------------------------------
    def case_file(self, petition: Petition, events: Sequence[AuditEvent]) -> bytes:
        """卷宗 as a ZIP: an index PDF (registration, the list of papers with checksums, the history), then every
        notice and every attachment in the order they were filed, byte for byte, and their SHA-256 sums."""
        documents = self.documents(petition.number)
        attachments = self.attachments(petition.number)
        # In the order they were filed, as the history recorded it (times can tie; event ids cannot).
        filed = {
            (e.kind, (e.data or {}).get("attachment") or (e.data or {}).get("document")): e.id
            for e in events
            if e.kind in ("attachment.added", "document.issued")
        }
        papers: list[
            tuple[int, datetime, str, str, str]
        ] = []  # order, when, name in the archive, sha256, what
        for d in documents:
            order = filed.get(("document.issued", d.id), 0)
            papers.append((order, d.issued_at, f"{d.title}-{d.doc_number}.pdf", d.sha256, d.title))
        for a in attachments:
            order = filed.get(("attachment.added", a.id), 0)
            papers.append((order, a.uploaded_at, a.filename, a.sha256, "附件"))
        papers.sort(key=lambda p: (p[0], p[1]))
        named = [
            (f"{i:03d}-{_safe_member(name)}", sha, what, when)
            for i, (_, when, name, sha, what) in enumerate(papers, 1)
        ]
        index = self.templates.get_template("case_file.html").render(
            petition=petition,
            papers=named,
            documents=documents,
            events=events,
            made_on=self.now().astimezone(self.calendar.tz),
            tz=self.calendar.tz,
            labels={
                "channels": CHANNEL_LABELS,
                "statuses": STATUS_LABELS,
                "events": EVENT_LABELS,
                "methods": SERVICE_METHODS,
            },
        )
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("000-卷宗目录.pdf", render_pdf(index))
            sums = io.StringIO()
            writer = csv.writer(sums, delimiter=" ", lineterminator="\n")
            for member, sha, _what, _when in named:
                archive.writestr(member, self.content(sha))
                writer.writerow([sha, member])
            archive.writestr("SHA256SUMS.txt", sums.getvalue())
        return out.getvalue()

    # -- shared ------------------------------------------------------------------------------------------------
    def petition(self, session: Session, number: str) -> Petition:
        petition = session.scalars(select(Petition).where(Petition.number == number)).first()
        if petition is None:
            raise NotFound(f"no petition '{number}'", {"petition": number})
        return petition

    def audit(
        self,
        session: Session,
        petition: Petition,
        kind: str,
        actor: str | None,
        task: Task | None,
        **data: Any,
    ) -> None:
        session.add(
            AuditEvent(
                instance_id=(task.instance_id if task else petition.instance_id) or "",
                business_key=petition.number,
                task_id=task.id if task else None,
                element_id=task.element_id if task else None,
                kind=kind,
                actor=actor,
                at=self.now(),
                data=data,
            )
        )

    def record_download(self, number: str, actor: str | None, **data: Any) -> None:
        """Every download of a case's paper is in its history: who took what, when."""
        with self.db.transaction() as session:
            self.audit(session, self.petition(session, number), "file.downloaded", actor, None, **data)


# The ids of attachments and documents are the database's 32-bit integers: a larger one names nothing (and
# PostgreSQL would refuse to compare it).
MAX_ID = 2**31 - 1


def _get(session: Session, model: type[Attachment] | type[Document], row_id: int) -> Any:
    return session.get(model, row_id) if 0 < row_id <= MAX_ID else None


def _safe_member(name: str) -> str:
    return re.sub(r'[\\/:*?"<>|]', "_", name)


def render_pdf(html: str) -> bytes:
    """HTML to PDF on the server (WeasyPrint; imported on first use, so processes that never print skip it)."""
    from weasyprint import HTML

    return HTML(string=html).write_pdf()
