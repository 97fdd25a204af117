"""The petition registry: registration, numbering, repeat and termination checks, and status.

A petition is registered once; the registry derives its flags from earlier petitions of the same person
about the same matter (repeat, first-turned-repeat, same matter still pending, matter terminated, how often a
resolved case came back) and starts the intake procedure with the record and the flags as its variables,
all in one transaction. When the procedure ends, the petition's status follows from how it ended.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from .errors import NotFound, ValidationFailed
from .models import Counter, Petition

if TYPE_CHECKING:
    from .runtime import CommandResult, Engine, _UnitOfWork

INTAKE_PROCESS = "petition_intake"
CHANNELS = ("letter", "visit", "web", "phone", "fax")
CATEGORIES = ("suggestion", "accusation", "complaint")
ID_TYPES = ("id_card", "passport", "hk_macao_pass", "taiwan_pass", "other")
MOBILE_OR_LANDLINE = r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$"
ID_CARD = r"^\d{17}[\dXx]$"
OPEN_STATUSES = ("registered", "in_progress")


class RepresentativeSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(MOBILE_OR_LANDLINE))


class RegistrationSchema(Schema):
    """信访事项登记: the fields of domain.md §1, checked before anything is stored."""

    petitionerName = fields.String(required=True, validate=validate.Length(min=1, max=100))
    idType = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(ID_TYPES))
    idNumber = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(MOBILE_OR_LANDLINE))
    address = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=300))
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    receivedAt = fields.Date(required=True)
    subject = fields.String(required=True, validate=validate.Length(min=2, max=200))
    content = fields.String(required=True, validate=validate.Length(min=5, max=10_000))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    involvedUnit = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    place = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    peopleCount = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    representatives = fields.List(
        fields.Nested(RepresentativeSchema), load_default=list, validate=validate.Length(max=5)
    )
    agent = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    majorUrgent = fields.Boolean(load_default=False)
    skipLevel = fields.Boolean(load_default=False)

    @validates_schema
    def _rules(self, data: Mapping[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        if (
            data.get("idType") == "id_card"
            and data.get("idNumber")
            and not re.match(ID_CARD, data["idNumber"])
        ):
            errors["idNumber"] = ["a resident ID card number has 17 digits and a digit or X"]
        # Art. 20: a group visit elects at most five representatives.
        if (
            data.get("peopleCount", 1) >= 5
            and data.get("channel") == "visit"
            and not data.get("representatives")
        ):
            errors["representatives"] = [
                "a visit of five or more people names its representatives (at most 5)"
            ]
        if not (data.get("phone") or data.get("address")):
            errors["phone"] = ["give a phone number or an address, so that notices can reach the petitioner"]
        if errors:
            raise ValidationError(errors)


def _normal(text: str | None) -> str:
    """Case, width and punctuation do not make a different matter."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return re.sub(r"[\s\W_]+", "", text)


def petitioner_key(data: Mapping[str, Any]) -> str:
    identity = data.get("idNumber") or f"{_normal(data.get('petitionerName'))}|{_normal(data.get('phone'))}"
    return hashlib.sha256(_normal(identity).encode()).hexdigest()


def matter_key(data: Mapping[str, Any]) -> str:
    matter = f"{_normal(data.get('involvedUnit'))}|{_normal(data.get('subject'))}"
    return hashlib.sha256(matter.encode()).hexdigest()


@dataclass(frozen=True)
class MatterHistory:
    """What earlier petitions of the same person and matter say about a new one."""

    previous: Petition | None
    earlier: int
    pending: bool
    terminated: bool
    reflux_count: int

    @property
    def is_repeat(self) -> bool:
        return self.earlier > 0

    @property
    def first_turned_repeat(self) -> bool:
        # 初转重: the second petition of a matter, i.e. a first petition that turned into a repeat one.
        return self.earlier == 1


class PetitionRegistry:
    """Registers petitions and keeps their status in step with their procedures."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        engine.end_hooks.append(self._on_instance_end)

    def validate(self, data: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            raise ValidationFailed("a registration is an object of field -> value", {"fields": {}})
        messages: dict[str, Any] = {}
        try:
            clean = RegistrationSchema().load(dict(data))
        except ValidationError as error:
            messages = dict(error.normalized_messages())
            clean = error.valid_data or {}
        today = self.engine.now().astimezone(self.engine.calendar.tz).date()
        if isinstance(clean.get("receivedAt"), date) and clean["receivedAt"] > today:
            messages["receivedAt"] = ["the receipt date cannot be in the future"]
        if messages:
            raise ValidationFailed(f"{len(messages)} field(s) are invalid", {"fields": messages})
        return clean

    def history(self, session: Any, data: Mapping[str, Any]) -> MatterHistory:
        earlier = list(
            session.scalars(
                select(Petition)
                .where(
                    Petition.petitioner_key == petitioner_key(data), Petition.matter_key == matter_key(data)
                )
                .order_by(Petition.registered_at.desc(), Petition.id.desc())
            )
        )
        previous = earlier[0] if earlier else None
        return MatterHistory(
            previous=previous,
            earlier=len(earlier),
            pending=any(p.status in OPEN_STATUSES for p in earlier),
            terminated=any(p.status == "terminated" for p in earlier),
            # A return after a resolved packaged case counts towards raising it to a higher leader.
            reflux_count=sum(1 for p in earlier if p.status == "closed" and p.outcome == "resolved"),
        )

    def check(self, data: Mapping[str, Any]) -> MatterHistory:
        """The repeat/terminated warning a registrar sees before saving."""
        clean = self.validate(data)
        with self.engine.db.reading() as session:
            return self.history(session, clean)

    def _next_number(self, session: Any, received: date) -> str:
        name = f"petition:{received.year}"
        query = select(Counter).where(Counter.name == name)
        if not self.engine.db.is_sqlite:
            query = query.with_for_update()
        counter = session.scalars(query).first()
        if counter is None:
            counter = Counter(name=name, value=0)
            session.add(counter)
        counter.value += 1
        session.flush()
        return f"XF{received.year}-{counter.value:06d}"

    def register(
        self, data: Mapping[str, Any], *, actor: str | None = None
    ) -> tuple[Petition, CommandResult]:
        """Validate, number and store the petition and start its intake procedure, all or nothing."""
        clean = self.validate(data)
        with self.engine.db.transaction() as session:
            seen = self.history(session, clean)
            number = self._next_number(session, clean["receivedAt"])
            petition = Petition(
                number=number,
                petitioner_name=clean["petitionerName"],
                id_type=clean["idType"],
                id_number=clean["idNumber"],
                phone=clean["phone"],
                address=clean["address"],
                channel="letter" if clean["channel"] == "fax" else clean["channel"],
                received_at=clean["receivedAt"],
                subject=clean["subject"],
                content=clean["content"],
                category=clean["category"],
                involved_unit=clean["involvedUnit"],
                place=clean["place"],
                people_count=clean["peopleCount"],
                representatives=clean["representatives"],
                agent=clean["agent"],
                major_urgent=clean["majorUrgent"],
                skip_level=clean["skipLevel"],
                petitioner_key=petitioner_key(clean),
                matter_key=matter_key(clean),
                is_repeat=seen.is_repeat,
                first_turned_repeat=seen.first_turned_repeat,
                same_matter_pending=seen.pending,
                matter_terminated=seen.terminated,
                reflux_count=seen.reflux_count,
                previous_number=seen.previous.number if seen.previous else None,
                status="in_progress",
                registered_by=actor,
                registered_at=self.engine.now(),
            )
            session.add(petition)
            session.flush()
            result = self.engine.start_in(
                session, INTAKE_PROCESS, business_key=number, variables=start_variables(petition), actor=actor
            )
            petition.instance_id = result.instance_id
        self.engine.notify(result)
        return petition, result

    def get(self, number: str) -> Petition:
        with self.engine.db.reading() as session:
            petition = session.scalars(select(Petition).where(Petition.number == number)).first()
        if petition is None:
            raise NotFound(f"no petition '{number}'", {"petition": number})
        return petition

    def _on_instance_end(self, work: _UnitOfWork) -> None:
        """The petition's status follows from how its intake procedure ended (same transaction)."""
        row = work.row
        if row.definition_key != INTAKE_PROCESS or row.business_key is None:
            return
        petition = work.session.scalars(select(Petition).where(Petition.number == row.business_key)).first()
        if petition is None:
            return
        data = work.workflow.last_task.data if work.workflow and work.workflow.last_task else {}
        petition.status, petition.outcome = petition_status(row.state, data)
        petition.closed_at = work.now


def petition_status(state: str, data: Mapping[str, Any]) -> tuple[str, str | None]:
    """(status, outcome) of a petition whose procedure ended in ``state`` with final variables ``data``."""
    if state == "cancelled":
        return "cancelled", None
    if data.get("terminated"):
        return "terminated", "terminated"
    decision = data.get("acceptanceDecision")
    if decision and decision != "accept":
        return "not_accepted", str(decision)
    if data.get("packageResolved"):
        return "closed", "resolved"
    return "closed", data.get("handlingDecision") or data.get("outcome")


def start_variables(p: Petition) -> dict[str, Any]:
    """What the intake procedure starts with: the record and the registry's flags."""
    return {
        "petitionNumber": p.number,
        "petitionerName": p.petitioner_name,
        "idType": p.id_type,
        "idNumber": p.id_number,
        "phone": p.phone,
        "address": p.address,
        "channel": p.channel,
        "receivedAt": p.received_at.isoformat(),
        "subject": p.subject,
        "content": p.content,
        "category": p.category,
        "involvedUnit": p.involved_unit,
        "place": p.place,
        "peopleCount": p.people_count,
        "representatives": p.representatives,
        "agent": p.agent,
        "majorUrgent": p.major_urgent,
        "skipLevel": p.skip_level,
        "isRepeat": p.is_repeat,
        "firstTurnedRepeat": p.first_turned_repeat,
        "sameMatterPending": p.same_matter_pending,
        "matterTerminated": p.matter_terminated,
        "refluxCount": p.reflux_count,
        "previousNumber": p.previous_number,
    }
