"""The narrow interfaces domain services are given by the composition root, instead of the Engine.

The registry and the ladder start instances and deliver messages; the timer service fires timers and runs the
ladder. Each needs those few things and nothing else of the engine, and naming just those here keeps them from
importing the module that runs commands (which would import them back).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from .calendar import StatutoryCalendar
from .clock import Clock
from .config import Settings
from .db import Database
from .unit_of_work import CommandResult, Listener

# The current time, as the engine's clock tells it (a frozen clock in tests and the demo).
Now = Callable[[], datetime]


class InstanceCommands(Protocol):
    """The commands a domain service may run on instances, with just the arguments the services pass."""

    def start(
        self, key: str, *, business_key: str | None, variables: Mapping[str, Any] | None, actor: str | None
    ) -> CommandResult: ...

    def start_in(
        self,
        session: Session,
        key: str,
        *,
        business_key: str | None,
        variables: dict[str, Any],
        actor: str | None,
    ) -> CommandResult: ...

    def deliver_message(
        self, name: str, *, instance_id: str | None, payload: Mapping[str, Any] | None, actor: str | None
    ) -> CommandResult: ...

    def cancel(
        self, instance_id: str, *, actor: str | None, reason: str | None, outcome: str | None
    ) -> CommandResult: ...

    def notify(self, result: CommandResult) -> None: ...


class CalendarAlerts(Protocol):
    def log_missing(self) -> None: ...


class TimerHost(Protocol):
    """What the timer service needs of the engine: where the data and the lock live, the office's time zone,
    the after-commit listeners it joins, the ladder it runs each morning (with the purge of ended attempt
    windows), the timer commands, the calendar it follows and the background migrations it works off; its
    clock says whether timers fire by the system time (then on PostgreSQL in processes of their own)."""

    settings: Settings
    db: Database
    clock: Clock
    calendar: StatutoryCalendar
    listeners: list[Listener]
    escalations: Ladder
    calendar_years: CalendarAlerts

    def fire_timers(self, instance_id: str) -> CommandResult | None: ...

    def fire_due(self, instance_ids: Sequence[str]) -> tuple[list[CommandResult], dict[str, Exception]]: ...

    def follow_calendar(self) -> int: ...

    def record_failure(
        self, instance_id: str, kind: str, error: Exception, *, audit: bool = True
    ) -> int | None: ...

    def purge_attempts(self) -> int: ...

    def work_migrations(self, stopping: Callable[[], bool]) -> int: ...

    def send_mail(self) -> dict[str, int]: ...


class Ladder(Protocol):
    """The escalation ladder's two daily passes, as the timer service runs them."""

    def run(self) -> dict[str, int]: ...

    def patrol(self) -> int: ...
