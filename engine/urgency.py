"""The one definition of "overdue" and "due soon", for every list, board, count and filter.

A step is overdue once its due time has come (a deadline ends at 24:00 of its last day, stored as the next
day's 00:00, so at that instant it has lapsed); it is due soon from its warning moment (the escalation
ladder's window before the due time, escalation.json ``warnBeforeDays``) until then. The open-task
projection stores both moments, so task lists, the cockpit, the petition list, the instance page, the
escalation board, the metrics and the API filters all ask the same SQL question: a case is overdue when one
of its open steps is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_

from .models import Task

DEFAULT_WARN_BEFORE = timedelta(days=3)


@dataclass(frozen=True)
class Urgency:
    """The ladder's warning window, and the moments it gives a due time."""

    warn_before: timedelta = DEFAULT_WARN_BEFORE

    def warn_at(self, due: datetime | None) -> datetime | None:
        return due - self.warn_before if due is not None else None


def overdue(due: Any, now: datetime) -> ColumnElement[bool]:
    """SQL: the due time has come."""
    return and_(due.is_not(None), due <= now)


def not_overdue(due: Any, now: datetime) -> ColumnElement[bool]:
    return or_(due.is_(None), due > now)


def due_soon(due: Any, warn_at: Any, now: datetime) -> ColumnElement[bool]:
    """SQL: inside the warning window, not yet overdue."""
    return and_(warn_at.is_not(None), warn_at <= now, due > now)


def is_overdue(due: datetime | None, now: datetime) -> bool:
    return due is not None and due <= now


def is_due_soon(due: datetime | None, warn_at: datetime | None, now: datetime) -> bool:
    return due is not None and warn_at is not None and warn_at <= now < due


def has_overdue_step(match: ColumnElement[bool], now: datetime) -> ColumnElement[bool]:
    """SQL: an open step matching ``match`` (its case, e.g. ``Task.business_key == Petition.number``) is
    overdue: the one test for a case, an instance or a supervision being overdue."""
    return exists().where(match, overdue(Task.due_at, now))


def has_step_due_soon(match: ColumnElement[bool], now: datetime) -> ColumnElement[bool]:
    return exists().where(match, due_soon(Task.due_at, Task.warn_at, now))
