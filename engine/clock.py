"""The engine's notion of "now", and the calendar functions diagrams call in timer expressions.

SpiffWorkflow compares timers with ``datetime.now(timezone.utc)`` inside its timer module and offers no way to
inject a clock. We route that module's ``datetime.now`` through the engine's clock, so the whole engine (our
code and SpiffWorkflow's timers) agrees on one time: the system time in production, a controlled one in tests.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import SpiffWorkflow.bpmn.specs.event_definitions.timer as spiff_timer

from .calendar import StatutoryCalendar


class Clock:
    """System time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock(Clock):
    """A clock that moves only when told to; for tests and for replaying cases."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("the clock needs an aware datetime")
        with self._lock:
            self._now = moment

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        with self._lock:
            self._now = self._now + (delta or timedelta(**parts))
            return self._now


_active: Clock = Clock()


class _EngineDatetime(datetime):
    """What SpiffWorkflow's timer module sees as ``datetime``: identical, except that now() asks our clock."""

    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        moment = _active.now()
        return moment.astimezone(tz) if tz is not None else moment.astimezone().replace(tzinfo=None)


def install(clock: Clock) -> None:
    """Make ``clock`` the time every engine and SpiffWorkflow timer in this process uses."""
    global _active
    _active = clock
    spiff_timer.datetime = _EngineDatetime  # type: ignore[misc]


def as_date(value: Any) -> date:
    """A date from an ISO date/datetime text or a date; ValueError naming the value otherwise."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            pass
    raise ValueError(f"expected a date (YYYY-MM-DD), got {value!r}")


class CalendarFunctions:
    """``working_days(n, anchor)`` and ``calendar_days(n, anchor)`` for timer expressions.

    Both return the moment the period ends (the start of the day after its last day, in the calendar's
    zone) as ISO text, which is what SpiffWorkflow's timers accept.
    """

    def __init__(self, calendar: StatutoryCalendar) -> None:
        self.calendar = calendar

    def working_days(self, n: int, anchor: Any) -> str:
        return self.calendar.due_at(self.calendar.add_working_days(as_date(anchor), int(n))).isoformat()

    def calendar_days(self, n: int, anchor: Any) -> str:
        return self.calendar.due_at(self.calendar.add_calendar_days(as_date(anchor), int(n))).isoformat()
