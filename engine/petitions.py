"""The petition registry: registration, numbering, repeat and termination checks, and status.

A petition is registered once; the registry derives its flags from earlier petitions of the same person
about the same matter (repeat, first-turned-repeat, same matter still pending, matter terminated, how often a
resolved case came back) and starts the intake procedure with the record and the flags as its variables,
all in one transaction. When the procedure ends, the petition's status follows from how it ended.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .calendar import StatutoryCalendar
from .db import Database
from .errors import Conflict, InvalidState, NotFound, ValidationFailed
from .forms import FormDefinition, FormValidationError
from .formstore import FormStore
from .models import Counter, Petition
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


def _normal(text: str | None) -> str:
    """Case, width and punctuation do not make a different matter."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return re.sub(r"[\s\W_]+", "", text)


def petitioner_key(data: Mapping[str, Any]) -> str:
    number = data.get("idNumber") or data.get("otherIdNumber")
    identity = number or f"{_normal(data.get('petitionerName'))}|{_normal(data.get('phone'))}"
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
        return {**clean, "category": category}

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
        with self.db.reading() as session:
            return self.history(session, clean)

    def _next_number(self, session: Any, received: date) -> str:
        name = f"petition:{received.year}"
        # Create the year's counter if missing without racing another registration (a plain SELECT ... FOR
        # UPDATE locks nothing while the row does not exist yet).
        dialect_insert = sqlite_insert if self.db.is_sqlite else pg_insert
        session.execute(
            dialect_insert(Counter).values(name=name, value=0).on_conflict_do_nothing(index_elements=["name"])
        )
        query = select(Counter).where(Counter.name == name)
        if not self.db.is_sqlite:
            query = query.with_for_update()
        counter = session.scalars(query).one()
        counter.value += 1
        session.flush()
        return f"XF{received.year}-{counter.value:06d}"

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
                petitioner_name=clean["petitionerName"],
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
                skip_level=bool(data.get("skipLevel")),
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
            }
            result = self.commands.start_in(
                session, INTAKE_PROCESS, business_key=number, variables=variables, actor=actor
            )
            petition.instance_id = result.instance_id
            returned_to = seen.previous.instance_id if seen.previous else None
        self.commands.notify(result)
        if returned_to:
            self._tell_package(returned_to, petition)
        return petition, result

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
        """Keep the facts the metrics count: the satisfaction rating, packaging and its resolution."""
        form = task.form_ref or ""
        facts: dict[str, Any] = {}
        if data.get("rating") in RATINGS:
            facts["rating"] = data["rating"]
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
    if decision and decision != "accept":
        return "not_accepted", str(decision)
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
