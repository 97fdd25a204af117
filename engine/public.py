"""The petitioner's side (网上信访, Art. 21): online submission, the query code, the public view of an item and
the satisfaction evaluation it leads to.

* A query code (查询码) is issued with every item, online or at the counter: ten characters of Crockford's
  base 32 (50 bits), shown once and sent through the notifier; only a salted PBKDF2 hash is stored, compared
  in constant time. A wrong item number and a wrong code get the same answer after the same work.
* Attempts are limited per client address and per item number in the database (engine/ratelimit.py), so the
  limits hold across workers and hosts; submissions, and the bytes of the files sent with them, are limited
  per address and day.
* Files sent with an online petition go through the attachment store (engine/documents.py) within the public
  side's stricter limits (Settings.upload_limits(public=True)), in the registration's transaction, filed as
  the petitioner's; the public view lists them by name and size only.
* The public view holds public facts only: when the item was received, whether it was accepted and why, where
  it was transferred, the time limits with their legal basis, an extension and its reason, the written reply
  once served, and the petitioner's own evaluation. Nothing an official wrote for colleagues, and no name of
  an official, is ever read out of the audit trail: each fact names the fields it shows.
* The evaluation (满意度评价) of the unit that first handled the item (MYD14 Arts. 4-5) opens when the reply
  is served and is recorded once, whichever way it arrives (online, or by the office completing the
  evaluation task); a 不满意 puts a supervision step on the supervisors' board (S003 #16).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import os
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .calendar import StatutoryCalendar
from .config import UploadLimits
from .db import Database
from .deadlines import DeadlineKeeper
from .documents import FILE_TYPES, Documents, Upload, sniff_all
from .errors import NotFound, ValidationFailed
from .formstore import FormStore
from .models import AuditEvent, Deadline, Escalation, Evaluation, OrgUnit, Petition, QueryCode, Task
from .notifier import Delivery, Message, Notifier
from .petitions import RATINGS, REGISTRATION_FORM, PetitionRegistry
from .ratelimit import Limit, RateLimiter
from .vocabulary import CHANNEL_LABELS, STATUS_LABELS

if TYPE_CHECKING:
    from .ports import Now
    from .unit_of_work import CommandResult, UnitOfWork

# -- query codes --------------------------------------------------------------------------------------------
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
CODE_LENGTH = 10  # 10 x 5 bits = 50 bits
CODE_ITERATIONS = 60_000
MOBILE = re.compile(r"1[3-9]\d{9}")
# The same answer for a wrong number and a wrong code.
NO_MATCH = "事项编号或查询码不正确"


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def shown_code(code: str) -> str:
    """As printed and sent: two groups of five (7K3M9-QXD2F)."""
    return f"{code[:5]}-{code[5:]}"


def normal_code(text: str) -> str:
    """What the petitioner typed, read as Crockford reads it: case, dashes and spaces do not matter, O is 0
    and I or L is 1."""
    text = re.sub(r"[\s\-_]", "", str(text or "")).upper()
    return text.translate(str.maketrans("OIL", "011"))[:40]


def _derive(code: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", code.encode(), salt, CODE_ITERATIONS)


def hash_code(code: str) -> str:
    salt = secrets.token_bytes(16)
    return "pbkdf2$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(_derive(code, salt)).decode()


# Compared against when the number is unknown, so an unknown number costs what a wrong code costs.
_DUMMY_HASH = hash_code(new_code())


def code_matches(code: str, stored: str | None) -> bool:
    known = stored is not None
    _, salt, digest = (stored or _DUMMY_HASH).split("$")
    same = hmac.compare_digest(_derive(code, base64.b64decode(salt)), base64.b64decode(digest))
    return same and known


# -- limits ---------------------------------------------------------------------------------------------------
def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, "").strip() or default)


@dataclass(frozen=True)
class PublicLimits:
    """Attempts per window; the operator sets them in the environment (docs/security.md). ``upload_kib``
    counts the kibibytes of the files sent with online petitions, per address and day."""

    per_address: Limit
    per_item: Limit
    submissions: Limit
    upload_kib: Limit

    @classmethod
    def from_env(cls) -> PublicLimits:
        daily_mb = _env_int("PETITIONFLOW_PUBLIC_DAILY_UPLOAD_MB", 50)
        return cls(
            Limit(
                "public-address", _env_int("PETITIONFLOW_PUBLIC_ADDRESS_ATTEMPTS", 30), timedelta(minutes=10)
            ),
            Limit("public-item", _env_int("PETITIONFLOW_PUBLIC_ITEM_ATTEMPTS", 20), timedelta(hours=1)),
            Limit(
                "public-submit",
                _env_int("PETITIONFLOW_PUBLIC_DAILY_SUBMISSIONS", 5),
                timedelta(days=1),
                "今天从本网络提交的次数已达上限，请明天再试，或到信访接待场所当面提出",
            ),
            Limit(
                "public-upload",
                daily_mb * 1024,
                timedelta(days=1),
                f"今天从本网络上传的附件已达 {daily_mb} MB 的上限，请明天再试，或到信访接待场所递交材料",
            ),
        )


# -- submission -------------------------------------------------------------------------------------------------
ONLINE_CHANNEL = "web"
# A suggestion may come without a name (domain.md §1: notice duties lapse when the name is unclear).
UNNAMED = "未署名"
# Fields of the registration form the office fills, never the petitioner.
OFFICE_FIELDS = frozenset(
    {
        "channel",
        "receivedAt",
        "isMajor",
        "isUrgent",
        "hasAgent",
        "agentName",
        "agentPhone",
        "authorisationReceived",
    }
)
CONSENT_TEXT = (
    "本人同意信访部门为登记、办理、答复和评价本信访事项收集、使用本人填写的姓名、证件号码、联系电话和地址；"
    "上述信息仅用于办理本事项，依法保密，不对外公开。"
)


@dataclass
class Issued:
    """A query code just issued: the only moment it exists in clear."""

    code: str
    delivery: Delivery

    @property
    def shown(self) -> str:
        return shown_code(self.code)


# -- the public view ----------------------------------------------------------------------------------------
TRANSFER_DECISIONS = ("office_decide", "county_decide", "conference_decide")
REPLY_FORMS = ("handling_reply", "simple_service")
EVALUATION_FORMS = ("handling_evaluation", "simple_evaluation")
EVALUATION_TASKS = ("evaluate_satisfaction", "simple_evaluate")
OPINION_TASKS = ("draft_opinion", "draft_opinion_after_supervision")
SIMPLE_ANSWERS = ("simple_decide", "simple_answer")
UNKNOWN_UNIT = "(未指定)"
# The audit events a public fact is read from (each fact names the fields it shows).
PUBLIC_EVENTS = ("task.completed", "message.delivered", "instance.cancelled")
REQUESTS = {"review_requested": "已请求复查", "recheck_requested": "已请求复核"}
# The petitioner's windows for asking 复查 / 复核 (deadline records the procedure starts when it waits).
REQUEST_WINDOWS = {"review": "review_request", "recheck": "recheck_request"}
OPEN_STATUSES = ("registered", "in_progress")
# Limits between organs (the receiving unit's objection, an assignment's feedback, a supervision's answer, a
# rectification, an accountability proposal, the discipline organ's feedback, a packaging leader's period),
# not owed to the petitioner.
ORGANS_DEADLINES = frozenset(
    {
        "transfer_objection",
        "assignment_feedback",
        "supervision",
        "rectification",
        "accountability",
        "discipline_feedback",
        "package",
    }
)
RATING_LABELS = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}


@dataclass
class Fact:
    at: datetime | date
    title: str
    lines: list[str] = field(default_factory=list)


def option_label(schema: Mapping[str, Any] | None, key: str, value: Any) -> str:
    """The Chinese label a form shows for one of its option values (the value itself when it has none)."""

    def walk(components: Iterable[Mapping[str, Any]]) -> str | None:
        for c in components:
            found = walk(c.get("components") or ())
            if found:
                return found
            if c.get("key") == key:
                for option in c.get("values") or ():
                    if option.get("value") == value:
                        return str(option.get("label"))
        return None

    return (walk((schema or {}).get("components") or ()) if value is not None else None) or str(value or "")


def first_unit(session: Session, number: str, petition: Petition | None) -> str:
    """The code of the unit that first handled the item: the first one it was transferred or assigned to, else
    the unit responsible for it."""
    for data in session.scalars(
        select(AuditEvent.data)
        .where(
            AuditEvent.business_key == number,
            AuditEvent.kind == "task.completed",
            AuditEvent.element_id.in_(TRANSFER_DECISIONS),
        )
        .order_by(AuditEvent.id)
    ):
        if isinstance(data, dict) and data.get("responsibleUnit"):
            return str(data["responsibleUnit"])[:100]
    return (petition.responsible_unit if petition else None) or UNKNOWN_UNIT


# The fields of the public facts that hold a unit's code (shown by the unit's name).
UNIT_FIELDS = ("responsibleUnit", "reviewOrgan")


def unit_names(session: Session, events: Iterable[AuditEvent], *more: str | None) -> dict[str, str]:
    """Code -> name of the units the public facts name (a code the organisation lacks is shown as it is)."""
    codes = {str(e.data[k]) for e in events if isinstance(e.data, dict) for k in UNIT_FIELDS if e.data.get(k)}
    codes |= {c for c in more if c}
    if not codes:
        return {}
    rows = session.execute(select(OrgUnit.code, OrgUnit.name).where(OrgUnit.code.in_(sorted(codes))))
    return {code: name for code, name in rows}


class PublicDesk:
    """What the public pages and the registrar's counter do for a petitioner."""

    def __init__(
        self,
        *,
        db: Database,
        now: Now,
        calendar: StatutoryCalendar,
        registry: PetitionRegistry,
        deadlines: DeadlineKeeper,
        forms: FormStore,
        documents: Documents,
        notifier: Notifier,
        limiter: RateLimiter,
        limits: PublicLimits,
    ) -> None:
        self.db = db
        self.now = now
        self.calendar = calendar
        self.registry = registry
        self.deadlines = deadlines
        self.forms = forms
        self.documents = documents
        self.notifier = notifier
        self.limiter = limiter
        self.limits = limits

    # -- codes ----------------------------------------------------------------------------------------------
    def issue_code(self, session: Session, petition: Petition) -> Issued:
        """A fresh code for ``petition`` (inside its registration's transaction), queued for its phone."""
        code = new_code()
        session.merge(QueryCode(number=petition.number, code_hash=hash_code(code), created_at=self.now()))
        phone = (petition.phone or "").replace("-", "")
        if not MOBILE.fullmatch(phone):
            return Issued(
                code, Delivery(False, "未发送短信：登记的联系电话不是手机号码，请记下本页显示的查询码。")
            )
        text = (
            f"【信访事项】您的信访事项已登记，编号{petition.number}，查询码{shown_code(code)}。"
            "凭编号和查询码可在网上查询办理进度、查看答复并评价。请妥善保管，勿告知他人。"
        )
        return Issued(code, self.notifier.queue(session, Message(phone, "query_code", text, petition.number)))

    def register(
        self, data: Mapping[str, Any], *, actor: str | None, uploads: Sequence[Upload] = ()
    ) -> tuple[Petition, CommandResult, Issued]:
        """Register at the counter (or online) and issue the item's query code in the same transaction, with
        the files the petitioner sent online: all of it is stored, or none."""
        issued: list[Issued] = []

        def within(session: Session, petition: Petition) -> None:
            issued.append(self.issue_code(session, petition))
            if uploads:
                self.documents.attach_in(
                    session, petition, uploads, actor=actor, origin="petitioner", limits=self.upload_limits
                )

        petition, result = self.registry.register(data, actor=actor, within=within)
        return petition, result, issued[0]

    @property
    def upload_limits(self) -> UploadLimits:
        return self.documents.settings.upload_limits(public=True)

    def public_form(self) -> dict[str, Any]:
        """The registration form as the petitioner sees it: the designers' form without the office's fields."""
        deployed = self.forms.get(REGISTRATION_FORM)
        if deployed is None:
            raise NotFound(f"the registration form '{REGISTRATION_FORM}' is not deployed")

        def keep(components: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
            kept = []
            for c in components:
                if c.get("key") in OFFICE_FIELDS:
                    continue
                c = dict(c)
                if c.get("components"):
                    c["components"] = keep(c["components"])
                kept.append(c)
            return kept

        schema = dict(deployed.schema)
        schema["components"] = keep(schema.get("components") or ())
        limits = self.upload_limits
        return {
            "key": deployed.key,
            "version": deployed.version,
            "schema": schema,
            "consent": CONSENT_TEXT,
            "uploads": {
                "maxFiles": limits.max_files,
                "maxBytes": limits.max_bytes,
                "mediaTypes": [FILE_TYPES[t][0] for t in limits.types if t in FILE_TYPES],
                "typeNames": [FILE_TYPES[t][1] for t in limits.types if t in FILE_TYPES],
                "dailyBytes": self.limits.upload_kib.attempts * 1024,
            },
        }

    def submit(
        self, data: Mapping[str, Any], *, address: str | None, uploads: Sequence[Upload] = ()
    ) -> tuple[Petition, CommandResult, Issued]:
        """An online petition: the petitioner's fields of the registration form, validated by its rules, and
        the files sent with it, within the public side's limits (count, size, type; bytes per address and day).
        The files are stored in the registration's transaction: a refused submission leaves none behind."""
        if not isinstance(data, Mapping):
            raise ValidationFailed("a petition is an object of field -> value", {"fields": {}})
        problems: dict[str, list[str]] = {}
        if data.get("consent") is not True:
            problems["consent"] = ["请阅读并同意个人信息使用说明"]
        suggestion = data.get("suggestion") is True
        # Only the petitioner's fields of the form: nothing the office decides (channel, flags) comes from here.
        own = self.registry.registration_form().keys - OFFICE_FIELDS
        fields = {k: v for k, v in data.items() if k in own}
        if suggestion and not str(fields.get("petitionerName") or "").strip():
            fields["petitionerName"] = UNNAMED
        registration = {
            **fields,
            "channel": ONLINE_CHANNEL,
            "receivedAt": self.now().astimezone(self.calendar.tz).date().isoformat(),
            "category": "suggestion" if suggestion else None,
            "hasAgent": False,
            "isMajor": False,
            "isUrgent": False,
        }
        try:
            self.registry.validate(registration)
        except ValidationFailed as error:
            problems = {**error.details.get("fields", {}), **problems}
        if problems:
            raise ValidationFailed(f"{len(problems)} field(s) are invalid", {"fields": problems})
        sniff_all(uploads, self.upload_limits)  # a refused file costs no submission of the day
        self.limiter.hit(self.limits.submissions, address or "")
        if uploads:
            size = sum(len(u.content) for u in uploads)
            self.limiter.hit(self.limits.upload_kib, address or "", math.ceil(size / 1024))
        return self.register(registration, actor=None, uploads=uploads)

    # -- looking an item up -----------------------------------------------------------------------------
    def authenticate(self, number: str, code: str, address: str | None) -> Petition:
        """The petition if ``code`` is its query code. Every attempt counts against the client address and
        against the number as typed (whether or not it exists); a wrong number and a wrong code are one
        answer (NotFound, NO_MATCH) after the same hashing work."""
        number = str(number or "").strip().upper()[:30]
        self.limiter.hit(self.limits.per_address, address or "")
        self.limiter.hit(self.limits.per_item, number)
        with self.db.reading() as session:
            petition = session.scalars(select(Petition).where(Petition.number == number)).first()
            stored = session.scalar(select(QueryCode.code_hash).where(QueryCode.number == number))
        if not code_matches(normal_code(code), stored) or petition is None:
            raise NotFound(NO_MATCH)
        return petition

    def view(self, petition: Petition) -> dict[str, Any]:
        """The public facts of one item, for the petitioner (see the module's docstring)."""
        number = petition.number
        with self.db.reading() as session:
            events = list(
                session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.business_key == number, AuditEvent.kind.in_(PUBLIC_EVENTS))
                    .order_by(AuditEvent.id)
                )
            )
            deadlines = list(
                session.scalars(
                    select(Deadline)
                    .where(Deadline.business_key == number, Deadline.name.not_in(ORGANS_DEADLINES))
                    .order_by(Deadline.started_at)
                )
            )
            evaluation = session.scalars(select(Evaluation).where(Evaluation.business_key == number)).first()
            open_elements = set(session.scalars(select(Task.element_id).where(Task.business_key == number)))
            names = unit_names(session, events, evaluation.unit if evaluation else None)
        facts = [
            Fact(
                petition.received_at,
                "收到信访事项",
                [
                    f"渠道：{CHANNEL_LABELS.get(petition.channel, petition.channel)}",
                    f"标题：{petition.subject}",
                ],
            )
        ]
        facts += self._facts(events, names)
        reply = self._reply(events)
        facts.sort(key=lambda f: f.at if isinstance(f.at, datetime) else self._start_of(f.at))
        return {
            "number": number,
            "subject": petition.subject,
            "receivedAt": petition.received_at.isoformat(),
            "status": petition.status,
            "statusLabel": STATUS_LABELS.get(petition.status, petition.status),
            "timeline": [
                {"at": self._day(f.at), "title": f.title, "lines": [line for line in f.lines if line]}
                for f in facts
            ],
            "deadlines": [self._deadline(d) for d in deadlines],
            "reply": reply,
            "evaluation": {
                "open": bool(open_elements & set(EVALUATION_TASKS))
                and not (evaluation and evaluation.rating),
                "unit": names.get(evaluation.unit, evaluation.unit) if evaluation else None,
                "rating": evaluation.rating if evaluation else None,
                "ratingLabel": RATING_LABELS.get(evaluation.rating or "") if evaluation else None,
            },
            "requests": {kind: self._window(deadlines, name) for kind, name in REQUEST_WINDOWS.items()},
            "canWithdraw": petition.status in OPEN_STATUSES,
        }

    def _window(self, deadlines: list[Deadline], name: str) -> dict[str, Any]:
        """Whether the petitioner may ask for 复查/复核 now, and until which day."""
        found = [d for d in deadlines if d.name == name]
        if not found:
            return {"open": False, "lastDay": None}
        window = found[-1]
        public = self._deadline(window)
        still = window.outcome is None and self.deadlines.effective_due(window) > self.now()
        return {"open": still, "lastDay": public["due"]}

    def _start_of(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=self.calendar.tz)

    def _day(self, moment: datetime | date) -> str:
        if isinstance(moment, datetime):
            return moment.astimezone(self.calendar.tz).date().isoformat()
        return moment.isoformat()

    def _label(self, form: str | None, key: str, value: Any) -> str:
        deployed = self.forms.get(form) if form else None
        return option_label(deployed.schema if deployed else None, key, value)

    def _facts(self, events: list[AuditEvent], names: Mapping[str, str]) -> list[Fact]:
        facts: list[Fact] = []
        extension: dict[str, Any] = {}
        for event in events:
            data = event.data if isinstance(event.data, dict) else {}
            element = event.element_id or ""
            fact: Fact | None = None
            if event.kind == "message.delivered" and data.get("message") in REQUESTS:
                fact = Fact(event.at, REQUESTS[data["message"]], [])
            elif event.kind == "instance.cancelled":
                if data.get("outcome") == "withdrawn":
                    fact = Fact(event.at, "信访人已撤回", [])
            elif event.kind != "task.completed":
                pass
            elif element == "acceptance_review":
                decision = data.get("acceptanceDecision")
                label = self._label("intake_acceptance", "acceptanceDecision", decision)
                fact = Fact(
                    event.at,
                    "已受理" if decision == "accept" else "不予受理",
                    [
                        "" if decision == "accept" else f"处理结果：{label}",
                        f"依据和理由：{data['decisionReason']}" if data.get("decisionReason") else "",
                    ],
                )
            elif element == "notice_acceptance":
                fact = Fact(event.at, "受理告知书已出具", [])
            elif element in ("transfer_political_legal", "transfer_discipline", "transfer_accusation"):
                fact = Fact(event.at, "已转送", [f"转送机关：{data.get('transferTo') or ''}"])
            elif element in TRANSFER_DECISIONS and data.get("responsibleUnit"):
                disposal = self._label("transfer_office_decision", "disposal", data.get("disposal"))
                fact = Fact(
                    event.at,
                    "已转送交办",
                    [
                        f"方式：{disposal}",
                        f"办理机关：{names.get(data['responsibleUnit'], data['responsibleUnit'])}",
                    ],
                )
            elif element == "unit_respond" and data.get("unitResponse") == "accept":
                fact = Fact(event.at, "办理机关已接收办理", [])
            elif element == "request_extension":
                extension = {"reason": data.get("extensionReason")}
            elif element == "approve_extension" and data.get("extensionApproved"):
                extension["days"] = data.get("extensionDays")
            elif element == "notify_extension" and extension:
                fact = Fact(
                    event.at,
                    "办理期限已延长",
                    [
                        f"延长 {extension.get('days')} 日（《信访工作条例》第三十四条）",
                        f"延期理由：{extension.get('reason') or ''}",
                    ],
                )
            elif element in EVALUATION_TASKS:
                rating = RATING_LABELS.get(str(data.get("rating")), "")
                fact = Fact(event.at, "满意度评价", [f"评价结果：{rating}"])
            elif element in ("serve_reply", "simple_serve_reply"):
                fact = Fact(event.at, "书面答复已送达", [])
            elif element == "study_suggestion":
                adoption = self._label("intake_suggestion_reply", "adoption", data.get("adoption"))
                fact = Fact(
                    event.at, "建议意见已答复", [f"采纳情况：{adoption}", data.get("replyContent") or ""]
                )
            elif element == "review_eligibility":
                eligible = all(
                    data.get(k)
                    for k in (
                        "ordinaryHandlingMatter",
                        "hasConcreteRequest",
                        "withinOriginalScope",
                        "notAlreadyAccepted",
                        "filedInTime",
                    )
                )
                fact = Fact(
                    event.at,
                    "复查申请已受理" if eligible else "复查申请不予受理",
                    [f"复查机关：{names.get(data.get('reviewOrgan') or '', data.get('reviewOrgan') or '')}"],
                )
            elif element == "serve_review":
                fact = Fact(event.at, "复查意见书已送达", [])
            elif element == "serve_recheck":
                fact = Fact(event.at, "复核意见书已送达", [])
            if fact:
                facts.append(fact)
        return facts

    def _reply(self, events: list[AuditEvent]) -> dict[str, Any] | None:
        """The written reply (信访处理意见书) as served: nothing before it is served."""
        opinion: dict[str, Any] | None = None
        served: dict[str, Any] | None = None
        for event in events:
            data = event.data if isinstance(event.data, dict) else {}
            element = event.element_id or ""
            if element in OPINION_TASKS:
                opinion = {
                    "number": data.get("opinionNumber"),
                    "decision": self._label("handling_opinion", "decision", data.get("decision")),
                    "request": data.get("opinionRequest"),
                    "facts": data.get("opinionFacts"),
                    "reasons": data.get("opinionReasons"),
                    "legalBasis": data.get("legalBasis"),
                    "opinion": data.get("guidance"),
                }
            elif element in SIMPLE_ANSWERS and data.get("answerOpinion"):
                opinion = {
                    "number": None,
                    "decision": self._label("simple_decision", "decision", data.get("decision")),
                    "request": None,
                    "facts": None,
                    "reasons": None,
                    "legalBasis": None,
                    "opinion": data.get("answerOpinion"),
                }
            elif element in ("serve_reply", "simple_serve_reply") and opinion:
                served = {**opinion, "servedAt": data.get("replyServedAt") or self._day(event.at)}
        return served

    def _deadline(self, d: Deadline) -> dict[str, Any]:
        rule = self.deadlines.rules.get(d.name)
        due = self.deadlines.effective_due(d).astimezone(self.calendar.tz)
        # A period ending at midnight ends on the day before, at 24:00 (Civil Code Art. 203).
        last_day = (due - timedelta(days=1)).date() if (due.hour, due.minute) == (0, 0) else due.date()
        state = {"on_time": "已按期完成", "overdue": "已超过期限"}.get(d.outcome or "", "进行中")
        if d.paused_at and not d.outcome:
            state = "暂停计算（听证期间不计入）"
        return {
            "title": rule.label if rule else d.name,
            "basis": d.basis,
            "length": f"{d.length}{'个工作日' if d.unit == 'working' else '日'}",
            "due": last_day.isoformat(),
            "extensionDays": d.extension_days,
            "state": state,
        }

    # -- evaluation ---------------------------------------------------------------------------------------
    def on_task_completed(self, work: UnitOfWork, task: Task, data: Mapping[str, Any]) -> None:
        """The reply served opens the evaluation; a rating closes it (once); 不满意 goes on the board."""
        number = work.row.business_key
        # Only the reply and evaluation forms concern the evaluation: every other completion reads nothing.
        if not number or task.form_ref not in (*REPLY_FORMS, *EVALUATION_FORMS):
            return
        session = work.session
        row = session.scalars(select(Evaluation).where(Evaluation.business_key == number)).first()
        if task.form_ref in REPLY_FORMS and row is None:
            petition = session.scalars(select(Petition).where(Petition.number == number)).first()
            session.add(
                Evaluation(
                    business_key=number, unit=first_unit(session, number, petition), eligible_at=work.now
                )
            )
        elif task.form_ref in EVALUATION_FORMS and data.get("rating") in RATINGS and row and not row.rating:
            row.rating = data["rating"]
            row.reason = data.get("evaluationComment")
            row.rated_at = work.now
            row.channel = row.channel or "office"
            if row.rating == "dissatisfied":
                session.add(
                    Escalation(
                        dedupe_key=f"dissatisfied:{number}",
                        kind="supervision",
                        business_key=number,
                        instance_id=work.row.id,
                        unit=row.unit,
                        reason=f"群众评价不满意，督查问题解决和首办责任落实：{row.reason or ''}"[:300],
                        created_at=work.now,
                        details={"rating": row.rating},
                    )
                )

    def mark_online(self, number: str) -> None:
        """The evaluation just recorded came from the petitioner online."""
        with self.db.transaction() as session:
            row = session.scalars(select(Evaluation).where(Evaluation.business_key == number)).first()
            if row is not None:
                row.channel = "web"


def evaluation_task(tasks: Iterable[Task]) -> Task | None:
    return next((t for t in tasks if t.element_id in EVALUATION_TASKS), None)
