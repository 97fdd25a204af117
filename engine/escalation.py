"""The escalation ladder for statutory deadlines (domain.md §10).

1. A warning inside the configurable window before a deadline (engine/urgency.py; not fixed by any source).
2. At the deadline, supervision (督办, Art. 40): a record, and a supervision procedure for the responsible
   unit unless the supervisors already have the case. Supervisors also start one by hand for important items
   (S003 #11), and the daily patrol (网巡, S001) for each case it finds overdue or handled irregularly.
3. The supervision's reply deadline lapsing: 约谈 / 通报 / 挂牌督办 with a rectification deadline (Art. 39 ¶3),
   a step of the supervision diagram, recorded here as a sanction.
4. The rectification deadline lapsing: a recommendation for accountability (Art. 40 ¶3; Art. 43–45).
Listing (挂牌, S003 #18): a unit whose half-year counts of supervised cases, skip-level trips, group visits,
repeat petitions or dissatisfied evaluations reach their thresholds is listed.
Every step is recorded under the unit responsible for the item (``unit``), with the unit complained about in
its details (``involvedUnit``) as a second dimension; a supervision is addressed to the head of the responsible
unit with a copy to the petition bureau.

Every step is written once (a unique key per step), so running the ladder again, from any process, adds
nothing; the scheduler runs it every minute and the patrol once a day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import case, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .calendar import StatutoryCalendar
from .db import Database
from .deadlines import DeadlineKeeper
from .errors import InvalidInput, NotFound
from .inbox import announce, open_task_addressees
from .models import Deadline, Escalation, Instance, Petition, Task, TaskCandidate
from .organisation import unit_group
from .ports import InstanceCommands, Now
from .unit_of_work import CommandResult
from .urgency import DEFAULT_WARN_BEFORE, is_due_soon, is_overdue

SUPERVISION_PROCESS = "supervision"
# Who gets a copy of every supervision: the county petition bureau (its county-wide supervisor group).
BUREAU_COPY = "supervisor"
# The unit a petition's supervision, listing and counts are charged to: the unit responsible for the item.
RESPONSIBLE_UNIT = Petition.responsible_unit
# Which step of the ladder a lapsed deadline leads to (domain.md §10): the supervision's own reply deadline
# lapsing brings 约谈/通报/挂牌督办, the rectification deadline lapsing the recommendation for accountability;
# any other statutory deadline brings supervision (督办).
NEXT_STEP = {"supervision": "sanction", "rectification": "accountability", "accountability": "accountability"}
STEP_WORDS = {
    "supervision": "未办结",
    "sanction": "未书面答复，应约谈、通报或挂牌督办并限期整改",
    "accountability": "仍未整改，应提出追究责任的建议",
}
# Why a supervisor starts a supervision by hand (S003 #11; Art. 38).
MANUAL_REASONS = {
    "assigned_from_above": "上级交办的重要事项",
    "leader_reception": "领导接访事项",
    "long_unresolved": "久拖未决事项",
    "wide_impact": "群众反映强烈、社会关注度高的事项",
}


def supervision_recipient(unit: str | None) -> str:
    """The group whose members receive a supervision of ``unit``'s case and reply to it: the head of the unit
    responsible for the item; an item no unit answers for yet is the petition bureau's own."""
    return unit_group(unit, "head") if unit else "petition_office"


# Deadlines whose lapse means a notice the petitioner was owed was not issued in time.
NOTICE_DEADLINES = {
    "acceptance": "受理告知未在15日内出具",
    "transfer_objection": "转送异议未在5个工作日内提出",
}


@dataclass(frozen=True)
class LadderSettings:
    warn_before: timedelta = DEFAULT_WARN_BEFORE
    # Listing (挂牌, S003 #18): per unit and half-year, any count reaching its threshold (GK, configurable).
    listing_threshold: int = 3  # supervised cases
    skip_level_threshold: int = 3  # skip-level trips
    group_visit_threshold: int = 2  # group visits (5 people or more, Art. 20)
    repeat_threshold: int = 5  # repeat petitions
    dissatisfied_threshold: int = 3  # dissatisfied evaluations (handling quality)

    @classmethod
    def load(cls, path: Path) -> LadderSettings:
        if not path.exists():
            return cls()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                warn_before=timedelta(days=float(raw.get("warnBeforeDays", 3))),
                **{field: int(raw[key]) for key, field in LISTING_KEYS.items() if key in raw},
            )
        except (ValueError, TypeError, AttributeError) as error:
            raise InvalidInput(f"{path}: {error}") from error


def supervision_addressees(unit: str | None) -> dict[str, Any]:
    """A supervision goes to the head of the unit responsible for the item with a copy to the petition bureau."""
    return {"to": supervision_recipient(unit), "copyTo": BUREAU_COPY}


LISTING_KEYS = {
    "listingThreshold": "listing_threshold",
    "skipLevelThreshold": "skip_level_threshold",
    "groupVisitThreshold": "group_visit_threshold",
    "repeatThreshold": "repeat_threshold",
    "dissatisfiedThreshold": "dissatisfied_threshold",
}
GROUP_VISIT = 5  # people: a group visit elects representatives (Art. 20)


def half_year(moment: datetime) -> str:
    return f"{moment.year}H{1 if moment.month <= 6 else 2}"


def half_year_title(period: str) -> str:
    """2026H2 as people write it: 2026年下半年."""
    year, half = period.split("H")
    return f"{year}年{'上' if half == '1' else '下'}半年"


class EscalationLadder:
    def __init__(
        self,
        *,
        db: Database,
        now: Now,
        calendar: StatutoryCalendar,
        deadlines: DeadlineKeeper,
        commands: InstanceCommands,
        settings: LadderSettings,
    ) -> None:
        self.db = db
        self.now = now
        self.calendar = calendar
        self.deadlines = deadlines
        self.commands = commands
        self.settings = settings

    def _title(self, deadline: str) -> str:
        rule = self.deadlines.rules.get(deadline)
        return rule.label if rule else deadline

    def _local(self, due: datetime) -> str:
        """A deadline's end in office time. One that ends at midnight is its last day's 24:00, as the Civil
        Code counts it (Art. 203), not the next day's 00:00, which reads as a day more."""
        local = due.astimezone(self.calendar.tz)
        if (local.hour, local.minute) == (0, 0):
            return f"{(local - timedelta(days=1)):%Y-%m-%d} 24:00"
        return f"{local:%Y-%m-%d %H:%M}"

    def _add(self, session: Session, **fields: Any) -> bool:
        """Insert a step unless it exists; True when it is new."""
        if session.scalar(select(Escalation.id).where(Escalation.dedupe_key == fields["dedupe_key"])):
            return False
        try:
            with session.begin_nested():
                session.add(Escalation(created_at=self.now(), **fields))
        except IntegrityError:  # another process wrote the same step a moment ago
            return False
        return True

    def _open_deadlines(self, session: Session) -> list[tuple[Deadline, str | None, str | None]]:
        rows = session.execute(
            select(Deadline, RESPONSIBLE_UNIT, Petition.involved_unit)
            .join(Instance, Instance.id == Deadline.instance_id)
            .outerjoin(Petition, Petition.number == Deadline.business_key)
            # A deadline whose timer already fired ("overdue") still needs its supervision step.
            .where(Deadline.outcome.is_(None) | (Deadline.outcome == "overdue"))
            # A paused clock waits, unless its timer fired all the same: that deadline has lapsed.
            .where(Deadline.paused_at.is_(None) | (Deadline.outcome == "overdue"), Instance.state == "active")
        )
        return [(d, unit, involved) for d, unit, involved in rows]

    def run(self) -> dict[str, int]:
        """Warnings and the step each lapsed deadline leads to, then listings; returns how many were new."""
        now = self.now()
        counts = {"warning": 0, "supervision": 0, "sanction": 0, "accountability": 0, "listing": 0}
        to_supervise: list[tuple[Deadline, str | None]] = []
        with self.db.transaction() as session:
            rules = self.deadlines.rules
            for record, unit, involved in self._open_deadlines(session):
                if record.name in rules and rules[record.name].petitioner_window:
                    continue
                due = self.deadlines.effective_due(record)
                common = {
                    "business_key": record.business_key,
                    "instance_id": record.instance_id,
                    "deadline_name": record.name,
                    "unit": unit,
                    "due_at": due,
                }
                warn_at = self.deadlines.urgency.warn_at(due)
                if record.outcome is None and is_due_soon(due, warn_at, now):
                    key = f"warning:{record.instance_id}:{record.name}"
                    reason = f"{self._title(record.name)}将于 {self._local(due)} 届满（{record.basis}）"
                    if self._add(
                        session,
                        dedupe_key=key,
                        kind="warning",
                        reason=reason,
                        details={"involvedUnit": involved},
                        **common,
                    ):
                        counts["warning"] += 1
                        # Whoever has the case's open steps hears of it in their inbox.
                        announce(
                            session,
                            "warning",
                            open_task_addressees(session, record.instance_id),
                            f"临期预警：{reason}",
                            now,
                            business_key=record.business_key,
                            instance_id=record.instance_id,
                        )
                elif is_overdue(due, now) or record.outcome == "overdue":
                    kind = NEXT_STEP.get(record.name, "supervision")
                    key = f"{kind}:{record.instance_id}:{record.name}:{record.period}"
                    if record.period == 1 and kind == "supervision":
                        key = f"supervision:{record.instance_id}:{record.name}"  # as written before periods
                    reason = f"{self._title(record.name)}已于 {self._local(due)} 届满{STEP_WORDS[kind]}（{record.basis}）"
                    details = {"involvedUnit": involved, **supervision_addressees(unit)}
                    if self._add(
                        session, dedupe_key=key, kind=kind, reason=reason, details=details, **common
                    ):
                        counts[kind] += 1
                        announce(
                            session,
                            "supervision",
                            (details["to"], details["copyTo"]),
                            f"督办：{reason}",
                            now,
                            business_key=record.business_key,
                            instance_id=record.instance_id,
                        )
                        # Sanctions and accountability are the supervision procedure's own later steps.
                        if (
                            kind == "supervision"
                            and record.business_key
                            and not self._supervised(session, record.business_key)
                        ):
                            to_supervise.append((record, unit))
            counts["listing"] = self._list_units(session, now)
        for record, unit in to_supervise:
            self._start_supervision(
                record.business_key,
                unit,
                {
                    "supervisionSource": "deadline",
                    "deadlineName": record.name,
                    "deadlineBasis": record.basis,
                    "deadlineDue": self.deadlines.effective_due(record).isoformat(),
                },
            )
        return counts

    def _start_supervision(
        self, business_key: str | None, unit: str | None, variables: dict[str, Any], actor: str = "escalation"
    ) -> CommandResult:
        return self.commands.start(
            SUPERVISION_PROCESS,
            business_key=business_key,
            actor=actor,
            # The unit that answers the supervision (docs/organisation.md); None before one is named.
            variables={**variables, "responsibleUnit": unit},
        )

    def _supervised(self, session: Session, business_key: str) -> bool:
        """The supervisors already have the case: a task of theirs is open, or a supervision runs."""
        return bool(
            session.scalar(
                select(
                    exists().where(
                        Task.business_key == business_key,
                        TaskCandidate.task_id == Task.id,
                        TaskCandidate.kind == "group",
                        TaskCandidate.name == "supervisor",
                    )
                )
            )
            or session.scalar(
                select(
                    exists().where(
                        Instance.business_key == business_key,
                        Instance.definition_key == SUPERVISION_PROCESS,
                        Instance.state == "active",
                    )
                )
            )
        )

    def supervise(self, business_key: str, reason: str, note: str | None, actor: str) -> CommandResult:
        """督办 of an important item started by a supervisor (S003 #11): recorded on the board, and a
        supervision procedure for it."""
        if reason not in MANUAL_REASONS:
            raise InvalidInput(
                f"unknown supervision reason '{reason}'",
                {"fields": {"reason": [f"one of {', '.join(MANUAL_REASONS)}"]}},
            )
        now = self.now()
        with self.db.transaction() as session:
            found = session.execute(
                select(Petition.number, RESPONSIBLE_UNIT).where(Petition.number == business_key)
            ).first()
            if found is None:
                raise NotFound(f"no petition '{business_key}'", {"petition": business_key})
            unit = found[1]
            text = MANUAL_REASONS[reason] + (f"：{note}" if note else "")
            self._add(
                session,
                dedupe_key=f"manual:{business_key}:{now.isoformat()}",
                kind="manual",
                business_key=business_key,
                unit=unit,
                reason=f"重要事项督办（{text}）",
                details={"reason": reason, "by": actor},
            )
        variables = {
            "supervisionSource": "manual",
            "supervisionReason": reason,
            "supervisionNote": note or "",
        }
        return self._start_supervision(business_key, unit, variables, actor=actor)

    def _list_units(self, session: Session, now: datetime) -> int:
        """挂牌 (S003 #18): in the half-year, per responsible unit, supervised cases, skip-level trips, group
        visits, repeat petitions and dissatisfied evaluations; a unit reaching any threshold is listed."""
        period = half_year(now)
        start = datetime(now.year, 1 if now.month <= 6 else 7, 1, tzinfo=now.tzinfo)
        counts: dict[str, dict[str, int]] = {}
        supervised = session.execute(
            select(Escalation.unit, func.count())
            .where(
                Escalation.kind == "supervision",
                # Overdue work only: a supervision opened by a 不满意 evaluation is not a lapsed deadline.
                Escalation.deadline_name.is_not(None),
                Escalation.unit.is_not(None),
                Escalation.created_at >= start,
            )
            .group_by(Escalation.unit)
        )
        for unit, count in supervised:
            counts.setdefault(unit, {})["supervised"] = count
        petitions = session.execute(
            select(
                RESPONSIBLE_UNIT,
                func.sum(case((Petition.skip_level, 1), else_=0)),
                func.sum(case((Petition.people_count >= GROUP_VISIT, 1), else_=0)),
                func.sum(case((Petition.is_repeat, 1), else_=0)),
                func.sum(case((Petition.rating == "dissatisfied", 1), else_=0)),
            )
            .where(RESPONSIBLE_UNIT.is_not(None), Petition.registered_at >= start)
            .group_by(RESPONSIBLE_UNIT)
        )
        for unit, skip, group, repeat, dissatisfied in petitions:
            counts.setdefault(unit, {}).update(
                skipLevel=int(skip or 0),
                groupVisits=int(group or 0),
                repeats=int(repeat or 0),
                dissatisfied=int(dissatisfied or 0),
            )
        settings = self.settings
        criteria = (
            ("supervised", settings.listing_threshold, "超期督办"),
            ("skipLevel", settings.skip_level_threshold, "越级走访"),
            ("groupVisits", settings.group_visit_threshold, "集体访"),
            ("repeats", settings.repeat_threshold, "重复信访"),
            ("dissatisfied", settings.dissatisfied_threshold, "群众不满意"),
        )
        added = 0
        for unit, found in sorted(counts.items()):
            reached = [
                f"{words} {found[key]} 件" for key, limit, words in criteria if found.get(key, 0) >= limit
            ]
            if not reached:
                continue
            details = {"period": period, **{key: value for key, value in found.items() if value}}
            added += self._add(
                session,
                dedupe_key=f"listing:{unit}:{period}",
                kind="listing",
                unit=unit,
                reason=f"{half_year_title(period)}{'、'.join(reached)}，达到挂牌整治标准",
                details=details,
            )
        return added

    def patrol(self) -> int:
        """网巡: one finding per overdue or irregular case per day, and a supervision task for each finding
        whose case the supervisors do not have yet."""
        now = self.now()
        day = now.astimezone(self.calendar.tz).date().isoformat()
        found = 0
        to_supervise: list[tuple[Deadline, str | None, str]] = []
        with self.db.transaction() as session:
            rows = session.execute(
                select(Deadline, RESPONSIBLE_UNIT, Petition.involved_unit)
                .join(Instance, Instance.id == Deadline.instance_id)
                .outerjoin(Petition, Petition.number == Deadline.business_key)
                .where((Deadline.outcome == "overdue") | Deadline.outcome.is_(None))
            )
            rules = self.deadlines.rules
            for record, unit, involved in rows:
                if record.name in rules and rules[record.name].petitioner_window:
                    continue
                due = self.deadlines.effective_due(record)
                if record.outcome is None and (due > now or record.paused_at is not None):
                    continue
                if (
                    record.outcome == "overdue"
                    and record.closed_at
                    and now - record.closed_at > timedelta(days=1)
                ):
                    continue  # reported on the day it lapsed already
                reason = NOTICE_DEADLINES.get(
                    record.name, f"{self._title(record.name)}超期（{record.basis}）"
                )
                new = self._add(
                    session,
                    dedupe_key=f"patrol:{day}:{record.instance_id}:{record.name}",
                    kind="patrol",
                    business_key=record.business_key,
                    instance_id=record.instance_id,
                    deadline_name=record.name,
                    unit=unit,
                    due_at=due,
                    reason=reason,
                    details={"day": day, "involvedUnit": involved},
                )
                found += new
                if new and record.business_key and not self._supervised(session, record.business_key):
                    to_supervise.append((record, unit, reason))
        started: set[str] = set()
        for record, unit, reason in to_supervise:
            if record.business_key in started:
                continue  # one supervision per case, whatever the number of its findings
            started.add(record.business_key)
            variables = {
                "supervisionSource": "patrol",
                "patrolFinding": reason,
                "deadlineName": record.name,
                "deadlineBasis": record.basis,
            }
            self._start_supervision(record.business_key, unit, variables)
        return found
