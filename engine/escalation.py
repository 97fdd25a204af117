"""The escalation ladder for statutory deadlines (domain.md §10).

1. A warning some days before a deadline (configurable; not fixed by any source).
2. At the deadline, supervision (督办, Art. 40): a record, and a supervision procedure for the supervisor group
   unless the petition's own diagram already gave the supervisors a task.
3. Listing (挂牌, Art. 39; S003 #18): a unit with too many supervised cases in a half-year is listed.
4. The daily patrol (网巡, S001) records every case that is overdue or was handled irregularly, such as an
   acceptance notice not issued within 15 days.

Every step is written once (a unique key per step), so running the ladder again, from any process, adds
nothing; the scheduler runs it every minute and the patrol once a day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .calendar import StatutoryCalendar
from .db import Database
from .deadlines import DeadlineKeeper
from .errors import InvalidInput
from .models import Deadline, Escalation, Instance, Petition, Task, TaskCandidate
from .ports import InstanceCommands, Now

SUPERVISION_PROCESS = "supervision"
# Deadlines whose lapse means a notice the petitioner was owed was not issued in time.
NOTICE_DEADLINES = {
    "acceptance": "受理告知未在15日内出具",
    "transfer_objection": "转送异议未在5个工作日内提出",
}


@dataclass(frozen=True)
class LadderSettings:
    warn_before: timedelta = timedelta(days=3)
    listing_threshold: int = 3  # supervised cases of one unit in one half-year

    @classmethod
    def load(cls, path: Path) -> LadderSettings:
        if not path.exists():
            return cls()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                warn_before=timedelta(days=float(raw.get("warnBeforeDays", 3))),
                listing_threshold=int(raw.get("listingThreshold", 3)),
            )
        except (ValueError, TypeError, AttributeError) as error:
            raise InvalidInput(f"{path}: {error}") from error


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

    def _open_deadlines(self, session: Session) -> list[tuple[Deadline, str | None]]:
        rows = session.execute(
            select(Deadline, Petition.involved_unit)
            .join(Instance, Instance.id == Deadline.instance_id)
            .outerjoin(Petition, Petition.number == Deadline.business_key)
            # A deadline whose timer already fired ("overdue") still needs its supervision step.
            .where(Deadline.outcome.is_(None) | (Deadline.outcome == "overdue"))
            .where(Deadline.paused_at.is_(None), Instance.state == "active")
        )
        return [(d, unit) for d, unit in rows]

    def run(self) -> dict[str, int]:
        """Warnings and supervision for open deadlines, then listings; returns how many steps were new."""
        now = self.now()
        counts = {"warning": 0, "supervision": 0, "listing": 0}
        to_supervise: list[tuple[str, Deadline]] = []
        with self.db.transaction() as session:
            rules = self.deadlines.rules
            for record, unit in self._open_deadlines(session):
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
                if record.outcome is None and due - self.settings.warn_before <= now < due:
                    key = f"warning:{record.instance_id}:{record.name}"
                    reason = f"{self._title(record.name)}将于 {self._local(due)} 届满（{record.basis}）"
                    counts["warning"] += self._add(
                        session, dedupe_key=key, kind="warning", reason=reason, **common
                    )
                elif due <= now or record.outcome == "overdue":
                    key = f"supervision:{record.instance_id}:{record.name}"
                    reason = f"{self._title(record.name)}已于 {self._local(due)} 届满未办结（{record.basis}）"
                    if self._add(session, dedupe_key=key, kind="supervision", reason=reason, **common):
                        counts["supervision"] += 1
                        if record.business_key and not self._supervisors_have_it(
                            session, record.business_key
                        ):
                            to_supervise.append((record.business_key, record))
            counts["listing"] = self._list_units(session, now)
        for business_key, record in to_supervise:
            self.commands.start(
                SUPERVISION_PROCESS,
                business_key=business_key,
                actor="escalation",
                variables={
                    "deadlineName": record.name,
                    "deadlineBasis": record.basis,
                    "deadlineDue": self.deadlines.effective_due(record).isoformat(),
                },
            )
        return counts

    def _supervisors_have_it(self, session: Session, business_key: str) -> bool:
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
        )

    def _list_units(self, session: Session, now: datetime) -> int:
        period = half_year(now)
        start = datetime(now.year, 1 if now.month <= 6 else 7, 1, tzinfo=now.tzinfo)
        rows = session.execute(
            select(Escalation.unit, func.count())
            .where(
                Escalation.kind == "supervision",
                # Overdue work only: a supervision opened by a 不满意 evaluation is not a lapsed deadline.
                Escalation.deadline_name.is_not(None),
                Escalation.unit.is_not(None),
                Escalation.created_at >= start,
            )
            .group_by(Escalation.unit)
            .having(func.count() >= self.settings.listing_threshold)
        )
        added = 0
        for unit, count in rows:
            added += self._add(
                session,
                dedupe_key=f"listing:{unit}:{period}",
                kind="listing",
                unit=unit,
                reason=f"{half_year_title(period)}超期督办 {count} 件，达到挂牌整治标准（{self.settings.listing_threshold} 件）",
                details={"period": period, "supervised": count},
            )
        return added

    def patrol(self) -> int:
        """网巡: one finding per overdue or irregular case per day."""
        now = self.now()
        day = now.astimezone(self.calendar.tz).date().isoformat()
        found = 0
        with self.db.transaction() as session:
            rows = session.execute(
                select(Deadline, Petition.involved_unit)
                .outerjoin(Petition, Petition.number == Deadline.business_key)
                .where((Deadline.outcome == "overdue") | Deadline.outcome.is_(None))
            )
            rules = self.deadlines.rules
            for record, unit in rows:
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
                found += self._add(
                    session,
                    dedupe_key=f"patrol:{day}:{record.instance_id}:{record.name}",
                    kind="patrol",
                    business_key=record.business_key,
                    instance_id=record.instance_id,
                    deadline_name=record.name,
                    unit=unit,
                    due_at=due,
                    reason=reason,
                    details={"day": day},
                )
        return found
