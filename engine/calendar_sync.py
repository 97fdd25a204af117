"""Calendar years shared by every process through the database, and the alert that next year is missing.

An operator adds a year (the State Council's notice) through the API or the command line in one process; web
workers on other hosts and the scheduler must count with it too, without a restart. The year is stored in
``calendar_year`` with a generation one above the highest so far. Each process asks for ``max(generation)``
at most once every ``every`` seconds (one indexed read of a table with a row per year, whatever the number of
petitions) and reads only the newer rows. The scheduler then recomputes the open deadlines the change moves and
records, in ``calendar_applied``, the generation it recomputed for, so a change made while no scheduler ran is
applied when one starts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from .calendar import (
    StatutoryCalendar,
    YearData,
    YearFileInvalid,
    estimate_notice,
    save_year_file,
    year_from_json,
)
from .db import Database
from .errors import InvalidInput
from .models import CalendarApplied, CalendarYear

log = logging.getLogger("petitionflow.calendar")

REFRESH_EVERY = 5.0  # seconds between two looks at the generation in a web worker
# From this day of the year on, next year's schedule is expected (the State Council publishes it in autumn).
NEXT_YEAR_DUE = (11, 1)
_SAVE_LOCK_KEY = 0x6361_6C65_6E64_6172  # "calendar": saves take the next generation one at a time


class CalendarSync:
    """Keeps one process's calendar in step with the years stored in the database."""

    def __init__(
        self,
        db: Database,
        calendar: StatutoryCalendar,
        now: Callable[[], datetime],
        folder: Path,
        every: float = REFRESH_EVERY,
    ) -> None:
        self.db = db
        self.folder = folder
        self.calendar = calendar
        self.now = now
        self.every = every
        self.seen = 0  # the highest generation this process has added to its calendar
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    # -- saving ------------------------------------------------------------------------------------------------
    def put(self, year: int, raw: Mapping[str, Any], actor: str | None) -> YearData:
        """Add or replace ``year`` from a document in the operator file format, for every process.

        The whole document is checked first (year, region, every date in the year, only known keys); a refused
        document changes nothing. The year is stored in the database (what the other processes read) and, as
        the operator's copy, in instance/calendar/<year>.json (written atomically).
        """
        if raw.get("year") != year:
            raise InvalidInput(
                f"{year} 年的日历数据未保存：请求体中的年份须为 {year}（与地址中的年份一致）",
                {"fields": {"year": [f"须为 {year}"]}},
            )
        region = raw.get("region", "CN")
        if region != self.calendar.region:
            raise InvalidInput(
                f"{year} 年的日历数据未保存：地区 {region!r} 不是本系统日历的地区 {self.calendar.region!r}",
                {"fields": {"region": [f"须为 {self.calendar.region!r}"]}},
            )
        try:
            parsed = year_from_json(raw, self.folder / f"{year}.json")
        except YearFileInvalid as error:
            raise InvalidInput(
                f"{year} 年的日历数据有 {len(error.problems)} 处错误，未保存：请逐项改正后重新提交",
                {"problems": error.problems},
            ) from error
        self.save(raw, parsed, actor)
        save_year_file(self.folder, raw)
        return parsed

    def save(self, raw: Mapping[str, Any], parsed: YearData, actor: str | None) -> int:
        """Store a validated year document for every process; returns its generation."""
        with self.db.transaction() as session:
            if not self.db.is_sqlite:  # SQLite's BEGIN IMMEDIATE already serialises the writers
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SAVE_LOCK_KEY})
            generation = (session.scalar(select(func.max(CalendarYear.generation))) or 0) + 1
            row = session.get(CalendarYear, parsed.year) or CalendarYear(year=parsed.year)
            row.region, row.document, row.generation = parsed.region, dict(raw), generation
            row.saved_at, row.saved_by = self.now(), actor
            session.add(row)
        self.calendar.add_year(parsed)
        log.info("calendar year %d saved as generation %d by %s", parsed.year, generation, actor)
        return generation

    # -- following ---------------------------------------------------------------------------------------------
    def refresh(self, *, force: bool = False) -> bool:
        """Add the years saved since the last look (looking at most once every ``every`` seconds unless
        ``force``); True when the calendar changed."""
        with self._lock:
            moment = time.monotonic()
            if not force and moment - self._checked_at < self.every:
                return False
            self._checked_at = moment
            try:
                with self.db.reading() as session:
                    if session.scalar(select(func.max(CalendarYear.generation))) in (None, self.seen):
                        return False
                    rows = session.scalars(
                        select(CalendarYear).where(CalendarYear.generation > self.seen)
                    ).all()
            except SQLAlchemyError:
                # Before the first migration the table does not exist yet: the next look tries again.
                log.debug("calendar years not readable yet", exc_info=True)
                return False
            for row in sorted(rows, key=lambda r: r.generation):
                try:
                    self.calendar.add_year(year_from_json(row.document, Path(f"calendar_year/{row.year}")))
                except (YearFileInvalid, ValueError) as error:
                    log.warning("calendar year %d in the database skipped: %s", row.year, error)
                self.seen = max(self.seen, row.generation)
            return True

    def unapplied(self) -> int | None:
        """The newest generation the open deadlines were not yet recomputed for, or None."""
        with self.db.reading() as session:
            newest = session.scalar(select(func.max(CalendarYear.generation)))
            applied = session.scalar(select(CalendarApplied.generation).where(CalendarApplied.id == 1))
        return newest if newest is not None and newest != applied else None

    def mark_applied(self, generation: int) -> None:
        with self.db.transaction() as session:
            row = session.get(CalendarApplied, 1) or CalendarApplied(id=1)
            row.generation, row.applied_at = generation, self.now()
            session.add(row)

    # -- alerts ------------------------------------------------------------------------------------------------
    def missing_years(self) -> list[int]:
        """This year if it has no official schedule, and from 1 November next year too."""
        today = self.now().astimezone(self.calendar.tz).date()
        years = [today.year]
        if (today.month, today.day) >= NEXT_YEAR_DUE:
            years.append(today.year + 1)
        return [year for year in years if not self.calendar.has_year(year)]

    def warnings(self) -> list[dict[str, Any]]:
        """What the cockpit shows about the calendar: one entry per year counted without its notice."""
        today = self.now().astimezone(self.calendar.tz).date()
        out = []
        for year in self.missing_years():
            if year > today.year:
                message = (
                    f"{year}年节假日安排尚未录入：{year}年1月1日起的期限将只扣除法定节假日，不含调休。"
                    f"请在国务院办公厅公布{year}年部分节假日安排后，于“日历”中录入该年数据。"
                )
                out.append({"code": "calendar.next_year_missing", "year": year, "message": message})
            else:
                out.append(
                    {"code": "calendar.year_estimated", "year": year, "message": estimate_notice(year)}
                )
        return out

    def log_missing(self) -> None:
        """The scheduler's log line for each year without a notice (at start-up and every morning)."""
        for year in self.missing_years():
            log.warning(
                "no official holiday schedule for %d: deadlines in %d skip the statutory holidays only, "
                "without the year's 调休 arrangement; add the State Council's notice (PUT /api/calendar/years/%d)",
                year,
                year,
                year,
            )
