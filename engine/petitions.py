"""The petition registry: registration, numbering, repeat and termination checks, and status.

A petition is registered once; the registry derives its flags from earlier petitions of the same person
about the same matter (repeat, first-turned-repeat, same matter still pending, matter terminated, how often a
resolved case came back) and starts the intake procedure with the record and the flags as its variables,
all in one transaction. When the procedure ends, the petition's status follows from how it ended.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import re
import unicodedata
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .calendar import StatutoryCalendar
from .counters import next_value
from .db import Database
from .errors import Conflict, InvalidInput, InvalidState, NotFound, ValidationFailed
from .forms import FormDefinition, FormValidationError
from .formstore import FormStore
from .models import AuditEvent, Petition
from .ports import InstanceCommands, Now

if TYPE_CHECKING:
    from .models import Task
    from .unit_of_work import CommandResult, UnitOfWork

INTAKE_PROCESS = "petition_intake"
# The registration is validated against the designers' own registration form, so the window, the API and the
# registration-check task all apply the same rules.
REGISTRATION_FORM = "intake_registration"
CATEGORIES = ("suggestion", "accusation", "complaint")
OPEN_STATUSES = ("registered", "in_progress")
RATINGS = ("satisfied", "basically_satisfied", "dissatisfied")
PACKAGE_FORM_PREFIX = "package_"
PACKAGE_RESOLUTION_FORM = "package_resolution"
RETURNED_MESSAGE = "petition_returned"
# No petition handled here was received before the office kept records in this system; an earlier receipt date
# is a typing error (0001-01-01 would also give the item the number XF1-000001).
EARLIEST_RECEIPT = date(2000, 1, 1)
# What _next_number issues: XF, the year of receipt, a dash, at least six digits.
ITEM_NUMBER = re.compile(r"XF\d+-\d{6,}")


def normal_text(text: str | None) -> str:
    """Case, width and punctuation do not make a different matter."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return re.sub(r"[\s\W_]+", "", text)


# Shown for a petition whose author is unknown (Art. 23 ¶2: name or address unclear).
ANONYMOUS_NAME = "匿名"
# How alike two matters of one petitioner must be to be proposed as the same matter: difflib's ratio (2 x the
# characters in common / the characters of both) over normalised Chinese text, the subject weighing 0.6 and
# the request and facts 0.4. "讨要工资" / "拖欠工资" alone score 0.5 on the subject; two different matters of
# one person ("夜间施工噪声扰民" / "物业费收费标准不合理") stay near 0 on it even with a similar request.
SUBJECT_WEIGHT, CONTENT_WEIGHT = 0.6, 0.4
SIMILAR_MATTER = 0.5


def identity_unclear(data: Mapping[str, Any]) -> bool:
    return bool(data.get("identityUnclear"))


def petitioner_key(data: Mapping[str, Any]) -> str:
    """Who the petitioner is, by the strongest identity given: ID number, else phone, else name and address.
    An anonymous or unclear letter matches nobody."""
    if identity_unclear(data):
        return f"unclear:{uuid.uuid4().hex}"[:64]
    number = data.get("idNumber") or data.get("otherIdNumber")
    if number:
        identity = f"id|{normal_text(number)}"
    elif data.get("phone"):
        identity = f"phone|{normal_text(data.get('phone'))}"
    else:
        identity = f"name|{normal_text(data.get('petitionerName'))}|{normal_text(data.get('address'))}"
    return hashlib.sha256(identity.encode()).hexdigest()


def matter_key(data: Mapping[str, Any]) -> str:
    """A new matter's key; a petition proposed or linked as the same matter takes the earlier one's key."""
    matter = f"{normal_text(data.get('involvedUnit'))}|{normal_text(data.get('subject'))}"
    return hashlib.sha256(matter.encode()).hexdigest()


def same_person(a: Mapping[str, Any], b: Petition) -> bool:
    """ID number when both have one, else phone when both have one, else name and address."""
    number = a.get("idNumber") or a.get("otherIdNumber")
    if number and b.id_number:
        return normal_text(number) == normal_text(b.id_number)
    if a.get("phone") and b.phone:
        return normal_text(a.get("phone")) == normal_text(b.phone)
    return bool(a.get("address")) and (
        normal_text(a.get("petitionerName")),
        normal_text(a.get("address")),
    ) == (normal_text(b.petitioner_name), normal_text(b.address))


def _ratio(a: str, b: str) -> float:
    a, b = normal_text(a), normal_text(b)
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() if a and b else 0.0


def matter_similarity(data: Mapping[str, Any], earlier: Petition) -> float:
    """0..1: how alike the new petition's matter is to an earlier one's (SIMILAR_MATTER and up: the same)."""
    subject = _ratio(str(data.get("subject") or ""), earlier.subject)
    content = _ratio(petition_content(data), earlier.content)
    return SUBJECT_WEIGHT * subject + CONTENT_WEIGHT * content


@dataclass(frozen=True)
class MatterHistory:
    """What earlier petitions of the same person and matter say about a new one."""

    previous: Petition | None
    earlier: int
    pending: bool
    terminated: bool
    reflux_count: int
    matter_key: str | None = None  # the matter the earlier petitions share, taken by the new one
    proposals: tuple[tuple[str, float], ...] = ()  # (number, similarity) of earlier petitions, best first

    @property
    def is_repeat(self) -> bool:
        return self.earlier > 0

    @property
    def first_turned_repeat(self) -> bool:
        # 初转重: a matter first raised as a first petition that has turned into a repeat one. It stays so for
        # every later petition of the matter, which the joint conference keeps (not only the second one).
        return self.earlier > 0


class PetitionRegistry:
    """Registers petitions and keeps their status in step with their procedures."""

    def __init__(
        self,
        *,
        db: Database,
        now: Now,
        calendar: StatutoryCalendar,
        commands: InstanceCommands,
        reflux_threshold: int,
        forms: FormStore,
    ) -> None:
        self.db = db
        self.now = now
        self.calendar = calendar
        self.commands = commands
        self.reflux_threshold = reflux_threshold
        self.forms = forms

    def registration_form(self) -> FormDefinition:
        form = self.forms.get(REGISTRATION_FORM)
        if form is None:
            raise NotFound(f"the registration form '{REGISTRATION_FORM}' is not deployed")
        return form.definition

    def validate(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The registration as its form cleans it; every field error at once, nothing stored."""
        if not isinstance(data, Mapping):
            raise ValidationFailed("a registration is an object of field -> value", {"fields": {}})
        messages: dict[str, list[str]] = {}
        try:
            clean = self.registration_form().validate(data)
        except FormValidationError as error:
            messages = dict(error.errors)
            clean = {}
        for name in ("linkedNumbers", "unlinkedNumbers"):
            value = data.get(name)
            if value is not None and (
                not isinstance(value, list) or not all(isinstance(v, str) and v for v in value)
            ):
                messages[name] = ["应为事项编号的列表"]
        if (data.get("linkedNumbers") or data.get("unlinkedNumbers")) and not str(
            data.get("linkReason") or ""
        ).strip():
            messages["linkReason"] = ["关联或取消关联时须说明理由"]
        category = data.get("category")
        if category is not None and category not in CATEGORIES:
            messages["category"] = [f"must be one of: {', '.join(CATEGORIES)}"]
        today = self.now().astimezone(self.calendar.tz).date()
        received = date.fromisoformat(str(clean["receivedAt"])[:10]) if clean.get("receivedAt") else None
        if received and received > today:
            messages["receivedAt"] = ["the receipt date cannot be in the future"]
        elif received and received < EARLIEST_RECEIPT:
            messages["receivedAt"] = [f"收到日期不能早于 {EARLIEST_RECEIPT.isoformat()}"]
        if messages:
            raise ValidationFailed(f"{len(messages)} field(s) are invalid", {"fields": messages})
        return {
            **clean,
            "category": category,
            **{k: data[k] for k in ("linkedNumbers", "unlinkedNumbers", "linkReason") if data.get(k)},
        }

    def _same_persons_petitions(self, session: Any, data: Mapping[str, Any]) -> list[Petition]:
        if identity_unclear(data):
            return []
        number = data.get("idNumber") or data.get("otherIdNumber")
        either = []
        if number:
            either.append(Petition.id_number == number)
        if data.get("phone"):
            either.append(Petition.phone == data["phone"])
        if data.get("address") and data.get("petitionerName"):
            either.append(
                (Petition.petitioner_name == data["petitionerName"]) & (Petition.address == data["address"])
            )
        if not either:
            return []
        rows = session.scalars(select(Petition).where(or_(*either)))
        return [p for p in rows if same_person(data, p)]

    def history(self, session: Any, data: Mapping[str, Any]) -> MatterHistory:
        """Earlier petitions of the same person on a similar matter, and every petition linked to them."""
        mine = self._same_persons_petitions(session, data)
        scored = sorted(
            ((matter_similarity(data, p), p) for p in mine), key=lambda pair: (-pair[0], -pair[1].id)
        )
        similar = [(score, p) for score, p in scored if score >= SIMILAR_MATTER]
        keys = {p.matter_key for _, p in similar}
        for number in data.get("linkedNumbers") or ():
            linked = session.scalars(select(Petition).where(Petition.number == number)).first()
            if linked is None:
                raise ValidationFailed(
                    f"没有编号为 {number} 的信访事项", {"fields": {"linkedNumbers": [f"{number} 不存在"]}}
                )
            keys.add(linked.matter_key)
        unlinked = set(data.get("unlinkedNumbers") or ())
        earlier = sorted(
            (
                p
                for p in (
                    session.scalars(select(Petition).where(Petition.matter_key.in_(keys))) if keys else ()
                )
                if p.number not in unlinked
            ),
            key=lambda p: (p.registered_at, p.id),
            reverse=True,
        )
        previous = earlier[0] if earlier else None
        return MatterHistory(
            previous=previous,
            earlier=len(earlier),
            matter_key=earlier[-1].matter_key if earlier else None,
            proposals=tuple((p.number, round(score, 2)) for score, p in similar),
            pending=any(p.status in OPEN_STATUSES for p in earlier),
            terminated=any(p.status == "terminated" for p in earlier),
            # A return after a resolved packaged case counts towards raising it to a higher leader.
            reflux_count=sum(1 for p in earlier if p.status == "closed" and p.outcome == "resolved"),
        )

    def check(self, data: Mapping[str, Any]) -> MatterHistory:
        """The repeat/terminated warning a registrar sees before saving."""
        clean = self.validate(data)
        with self.db.reading() as session:
            return self.history(session, clean)

    def _next_number(self, session: Any, received: date) -> str:
        value = next_value(session, f"petition:{received.year}", is_sqlite=self.db.is_sqlite)
        return f"XF{received.year}-{value:06d}"

    def register(
        self,
        data: Mapping[str, Any],
        *,
        actor: str | None = None,
        within: Callable[[Session, Petition], None] | None = None,
    ) -> tuple[Petition, CommandResult]:
        """Validate, number and store the petition and start its intake procedure, all or nothing;
        ``within`` runs in the same transaction once the petition has its number (the query code)."""
        clean = self.validate(data)
        with self.db.transaction() as session:
            seen = self.history(session, clean)
            number = self._next_number(session, date.fromisoformat(str(clean["receivedAt"])[:10]))
            petition = Petition(
                number=number,
                petitioner_name=clean.get("petitionerName") or ANONYMOUS_NAME,
                id_type=clean.get("idType"),
                id_number=clean.get("idNumber") or clean.get("otherIdNumber"),
                phone=clean.get("phone"),
                address=clean.get("address"),
                channel=clean["channel"],
                received_at=date.fromisoformat(str(clean["receivedAt"])[:10]),
                subject=clean["subject"],
                content=petition_content(clean),
                category=clean.get("category"),
                involved_unit=clean.get("involvedUnit"),
                place=clean.get("place"),
                people_count=int(clean.get("peopleCount") or 1),
                representatives=representatives(clean),
                agent=clean.get("agentName"),
                major_urgent=bool(clean.get("isMajor") or clean.get("isUrgent")),
                skip_level=bool(clean.get("skipLevel")),
                petitioner_key=petitioner_key(clean),
                matter_key=seen.matter_key or matter_key(clean),
                is_repeat=seen.is_repeat,
                first_turned_repeat=seen.first_turned_repeat,
                same_matter_pending=seen.pending,
                matter_terminated=seen.terminated,
                reflux_count=seen.reflux_count,
                previous_number=seen.previous.number if seen.previous else None,
                status="in_progress",
                registered_by=actor,
                registered_at=self.now(),
            )
            session.add(petition)
            session.flush()
            if within is not None:
                within(session, petition)
            variables = {
                **clean,
                **start_variables(petition),
                "refluxThreshold": self.reflux_threshold,
                # Art. 23 ¶2: no notice is owed when the petitioner's name or address is unclear.
                "noticeWaived": identity_unclear(clean),
                # The handling opinion states the request, facts and reasons (Art. 32): it opens with them.
                "opinionRequest": clean.get("request"),
                "opinionFacts": clean.get("facts"),
                "opinionReasons": clean.get("reasons"),
            }
            result = self.commands.start_in(
                session, INTAKE_PROCESS, business_key=number, variables=variables, actor=actor
            )
            petition.instance_id = result.instance_id
            self._audit_links(session, petition, clean, seen, actor)
            returned_to = seen.previous.instance_id if seen.previous else None
        self.commands.notify(result)
        if returned_to:
            self._tell_package(returned_to, petition)
        return petition, result

    def _audit_links(
        self,
        session: Any,
        petition: Petition,
        clean: Mapping[str, Any],
        seen: MatterHistory,
        actor: str | None,
    ) -> None:
        """What the registrar decided about the proposed earlier petitions, with the reason, in the audit."""
        data = {
            "proposed": [{"number": n, "similarity": score} for n, score in seen.proposals],
            "linked": list(clean.get("linkedNumbers") or ()),
            "unlinked": list(clean.get("unlinkedNumbers") or ()),
            "reason": clean.get("linkReason"),
        }
        if data["proposed"] or data["linked"] or data["unlinked"]:
            self._audit(session, petition, "petition.matter", actor, data)

    def _audit(
        self, session: Any, petition: Petition, kind: str, actor: str | None, data: dict[str, Any]
    ) -> None:
        session.add(
            AuditEvent(
                instance_id=petition.instance_id or "",
                business_key=petition.number,
                kind=kind,
                actor=actor,
                at=self.now(),
                data=data,
            )
        )

    def record(self, number: str, kind: str, actor: str | None, data: dict[str, Any]) -> None:
        """An act on a petition outside its procedure (merged, split), kept in its audit."""
        with self.db.transaction() as session:
            petition = session.scalars(select(Petition).where(Petition.number == number)).one()
            self._audit(session, petition, kind, actor, data)

    def registration_of(self, petition: Petition) -> dict[str, Any]:
        """The registration a stored petition was made from, as the registration form has it."""
        unclear = petition.petitioner_name == ANONYMOUS_NAME and not petition.phone and not petition.address
        data: dict[str, Any] = {
            "identityUnclear": unclear,
            "channel": petition.channel,
            "receivedAt": petition.received_at.isoformat(),
            "subject": petition.subject,
            "involvedUnit": petition.involved_unit,
            "place": petition.place,
            "peopleCount": petition.people_count,
            "skipLevel": petition.skip_level,
            "isMajor": petition.major_urgent,
        }
        for line in petition.content.splitlines():
            label, _, text = line.partition("：")
            key = {"请求": "request", "事实": "facts", "理由": "reasons"}.get(label)
            if key:
                data[key] = text
        if not unclear:
            id_type = petition.id_type or "none"
            data.update(
                petitionerName=petition.petitioner_name,
                idType=id_type,
                phone=petition.phone,
                address=petition.address,
            )
            if id_type == "resident_id":
                data["idNumber"] = petition.id_number
            elif id_type != "none":
                data["otherIdNumber"] = petition.id_number
        if petition.representatives:
            data["representatives"] = "、".join(map(str, petition.representatives))
        return {k: v for k, v in data.items() if v is not None}

    def link(self, number: str, other: str, reason: str, *, linked: bool, actor: str | None) -> Petition:
        """Link a petition to an earlier one as the same matter (``linked``), or take it out of that matter;
        the repeat flags follow, and the decision with its reason goes into the audit."""
        if not isinstance(reason, str) or not reason.strip() or len(reason) > 2000:
            raise ValidationFailed("须说明理由", {"fields": {"reason": ["1 至 2000 字"]}})
        with self.db.transaction() as session:
            rows = {
                p.number: p
                for p in session.scalars(select(Petition).where(Petition.number.in_((number, other))))
            }
            for wanted in (number, other):
                if wanted not in rows:
                    raise NotFound(f"没有编号为 {wanted} 的信访事项", {"petition": wanted})
            petition, earlier = rows[number], rows[other]
            if number == other or (linked and earlier.registered_at > petition.registered_at):
                raise InvalidInput(
                    "只能关联到更早登记的另一件信访事项", {"fields": {"other": ["应为更早登记的事项编号"]}}
                )
            if linked:
                petition.matter_key = earlier.matter_key
            elif petition.matter_key == earlier.matter_key:
                petition.matter_key = hashlib.sha256(f"{petition.number}|own".encode()).hexdigest()
            same = [
                p
                for p in session.scalars(select(Petition).where(Petition.matter_key == petition.matter_key))
                if p.registered_at < petition.registered_at
                or (p.registered_at == petition.registered_at and p.id < petition.id)
            ]
            latest = max(same, key=lambda p: (p.registered_at, p.id)) if same else None
            petition.is_repeat = petition.first_turned_repeat = bool(same)
            petition.previous_number = latest.number if latest else None
            self._audit(
                session,
                petition,
                "petition.linked" if linked else "petition.unlinked",
                actor,
                {"other": other, "reason": reason.strip()},
            )
        return petition

    def _tell_package(self, instance_id: str, petition: Petition) -> None:
        """A packaged case waiting out its confirmation period hears that the matter came back."""
        # A case that is not packaged, or already written off, is not waiting for returns: nothing to tell.
        with contextlib.suppress(Conflict, InvalidState, NotFound):
            self.commands.deliver_message(
                RETURNED_MESSAGE,
                instance_id=instance_id,
                actor="registry",
                payload={"returnedNumber": petition.number, "returnedAt": petition.received_at.isoformat()},
            )

    def refuse_item_number(self, business_key: str | None) -> None:
        """Item numbers are issued by the registry alone. A procedure started from outside it (a designer's test
        start, the command line) under an item's number would show in that petition's timeline, so such a
        start may use neither an issued number nor one in the form the registry will issue."""
        if business_key is None:
            return
        with self.db.reading() as session:
            issued = session.scalar(select(Petition.id).where(Petition.number == business_key)) is not None
        if issued or ITEM_NUMBER.fullmatch(business_key):
            raise Conflict(
                f"事项编号（如 XF2026-000001）只由登记系统编发，不能用作其他流程的业务键：{business_key}",
                {"businessKey": business_key},
            )

    def get(self, number: str) -> Petition:
        with self.db.reading() as session:
            petition = session.scalars(select(Petition).where(Petition.number == number)).first()
        if petition is None:
            raise NotFound(f"no petition '{number}'", {"petition": number})
        return petition

    def on_task_completed(self, work: UnitOfWork, task: Task, data: Mapping[str, Any]) -> None:
        """Keep the facts the metrics count: the satisfaction rating, packaging and its resolution, and the
        unit responsible for the item whenever a form names it (process variable responsibleUnit)."""
        form = task.form_ref or ""
        facts: dict[str, Any] = {}
        if data.get("responsibleUnit"):
            facts["responsible_unit"] = data["responsibleUnit"]
        if data.get("rating") in RATINGS:
            facts["rating"] = data["rating"]
        # The category as classified (acceptance review): no longer 待定, and an accuser is protected while the
        # item is handled.
        if data.get("category") in CATEGORIES:
            facts["category"] = data["category"]
        if form.startswith(PACKAGE_FORM_PREFIX):
            facts["packaged"] = True
            if form == PACKAGE_RESOLUTION_FORM and "resolved" in data:
                facts["resolved"] = bool(data["resolved"])
        if facts and work.row.business_key:
            petition = work.session.scalars(
                select(Petition).where(Petition.number == work.row.business_key)
            ).first()
            for name, value in facts.items() if petition else ():
                setattr(petition, name, value)

    def on_instance_end(self, work: UnitOfWork) -> None:
        """The petition's status follows from how its intake procedure ended (same transaction)."""
        row = work.row
        if row.definition_key != INTAKE_PROCESS or row.business_key is None:
            return
        petition = work.session.scalars(select(Petition).where(Petition.number == row.business_key)).first()
        if petition is None:
            return
        data = work.workflow.last_task.data if work.workflow and work.workflow.last_task else {}
        cancelled_as = next(
            (
                (event["data"] or {}).get("outcome")
                for event in work.pending_audit
                if event["kind"] == "instance.cancelled"
            ),
            None,
        )
        petition.status, petition.outcome = petition_status(row.state, data, cancelled_as)
        petition.category = data.get("category") or petition.category
        petition.closed_at = work.now


def petition_status(
    state: str, data: Mapping[str, Any], cancelled_as: str | None = None
) -> tuple[str, str | None]:
    """(status, outcome) of a petition whose procedure ended in ``state`` with final variables ``data``;
    ``cancelled_as``: why a cancelled one was ended (withdrawn by the petitioner, merged into another)."""
    if state == "cancelled":
        return (cancelled_as, cancelled_as) if cancelled_as else ("cancelled", None)
    if data.get("terminated"):
        return "terminated", "terminated"
    decision = data.get("acceptanceDecision")
    # 导入: an item for another statutory channel (Art. 31 (1)-(5), arbitration, reconsideration, ...) goes
    # there; it was not refused, so it does not count as 不予受理.
    if decision == "other_channel":
        return "channelled", "other_channel"
    if decision and decision != "accept":
        return "not_accepted", str(decision)
    route = data.get("statutoryRoute")
    if route and route != "other":
        return "channelled", str(route)
    if data.get("resolved") and data.get("caseClosed"):
        return "closed", "resolved"
    return "closed", data.get("handlingDecision") or data.get("outcome")


def petition_content(clean: Mapping[str, Any]) -> str:
    """请求、事实、理由 as one text (Art. 19), for lists and search."""
    parts = [("请求", clean.get("request")), ("事实", clean.get("facts")), ("理由", clean.get("reasons"))]
    return "\n".join(f"{label}：{text}" for label, text in parts if text)


def representatives(clean: Mapping[str, Any]) -> list[str]:
    return [name for name in re.split(r"[、,，]", clean.get("representatives") or "") if name.strip()]


# Variables the registry gives the intake procedure besides the registration form's fields.
REGISTRY_VARIABLES = frozenset(
    {
        "petitionNumber",
        "receivedAt",
        "category",
        "majorUrgent",
        "skipLevel",
        "isRepeat",
        "firstTurnedRepeat",
        "sameMatterPending",
        "matterTerminated",
        "refluxCount",
        "previousNumber",
        "refluxThreshold",
        "noticeWaived",
        "opinionRequest",
        "opinionFacts",
        "opinionReasons",
    }
)


def start_variables(p: Petition) -> dict[str, Any]:
    """The registry's part of the intake procedure's variables: number and flags."""
    return {
        "petitionNumber": p.number,
        "receivedAt": p.received_at.isoformat(),
        "category": p.category,
        "majorUrgent": p.major_urgent,
        "skipLevel": p.skip_level,
        "isRepeat": p.is_repeat,
        "firstTurnedRepeat": p.first_turned_repeat,
        "sameMatterPending": p.same_matter_pending,
        "matterTerminated": p.matter_terminated,
        "refluxCount": p.reflux_count,
        "previousNumber": p.previous_number,
    }
