"""The statutory calendar: calendar days, working days, holidays and 调休 make-up workdays.

A pure module (no database, no Flask) used by the deadline and timer code. Rules (domain.md §12):

* A bare "日" in the 信访工作条例 means calendar days; "个工作日" means working days.
* **Calendar days** (``add_calendar_days``) count from the day after the triggering event (民法典 Art. 201).
  If the last day is a statutory holiday the deadline moves to the first working day after the holiday
  (Art. 203). We treat the holiday as the whole *holiday block*: the HOLIDAY days plus any plain weekend days
  glued to them (e.g. the Saturday and Sunday before a Monday-only 端午 holiday), because the State Council's
  notices describe those as one rest period ("与周末连休"). A period that ends on a plain weekend, with no
  holiday in its run of rest days, does NOT roll by default: domain.md rates the "weekends are excluded" claim
  unsupported, so it is only available behind ``calendar_days_skip_weekends=True``.
* **Working days** (``add_working_days``) skip Saturdays, Sundays and HOLIDAY days, and count the weekend
  make-up workdays (调休上班, ``ADJUSTED_WORKDAY``).
* Official holiday data changes every year (the State Council publishes it each autumn). The PyPI package
  ``chinesecalendar`` 1.11.0 holds 2004–2026 and raises for later years, so operators add years themselves.
  Operator years override package years. A year nobody provides is NOT an error: its statutory holidays are
  still fixed by 《全国年节及纪念日放假办法》 (元旦 1, 春节 4 with 除夕, 清明 1, 劳动节 2, 端午 1, 中秋 1, 国庆 3
  days), which the ``holidays`` package computes for any year from its lunar tables, so the calendar skips
  those. Only the year's 调休 arrangement (the bridging days off and the weekend make-up workdays) is unknown:
  the calendar warns once per process and year (``CalendarYearMissing`` plus a log record on
  ``petitionflow.calendar``; ``estimate_notice`` is the sentence pages show), because a deadline that may be
  a day off is better than a crashed timer.

Operator year file (JSON, UTF-8), one file per year and region; it is the *complete* schedule of that year
(national holidays included), replacing any package data for the year::

    {
      "year": 2027,
      "region": "CN",
      "source": "国务院办公厅关于2027年部分节假日安排的通知",
      "holidays": {"2027-01-01": "元旦", "2027-01-02": "元旦", "2027-01-03": "元旦"},
      "adjusted_workdays": {"2027-02-07": "春节"}
    }

* ``year`` (required, integer): every date in the file must fall in this year.
* ``region`` (optional, default ``"CN"``): must match the calendar's region when added.
* ``source`` (optional): the notice the data was copied from; kept for audits.
* ``holidays`` (required): ``YYYY-MM-DD`` -> holiday name, every official day off, including weekend days
  inside the holiday period.
* ``adjusted_workdays`` (optional, default empty): ``YYYY-MM-DD`` -> name of the holiday the make-up day
  belongs to. Each must be a Saturday or Sunday and must not also be a holiday.

No other keys are accepted, so a typo such as ``"adjusted_workday"`` is reported instead of silently ignored.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import tempfile
import threading
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "CalendarYearMissing",
    "DayKind",
    "StatutoryCalendar",
    "YearData",
    "YearFileInvalid",
    "estimate_notice",
    "load_operator_years",
    "load_year_file",
    "save_year_file",
    "year_from_json",
    "year_to_json",
]

logger = logging.getLogger("petitionflow.calendar")

_ONE_DAY = timedelta(days=1)
# Strict on purpose: date.fromisoformat also accepts "20270101" and week dates, which an operator never means.
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FILE_KEYS = {"year", "region", "source", "holidays", "adjusted_workdays"}
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# The years this process already warned about: once per process, however many calendars it builds.
_warned: set[int] = set()
_warned_lock = threading.Lock()


class DayKind(StrEnum):
    """What one date is in the official schedule."""

    WORKDAY = "workday"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"
    ADJUSTED_WORKDAY = "adjusted_workday"  # a Saturday or Sunday worked to make up for a holiday (调休上班)


class YearFileInvalid(ValueError):
    """A year document with mistakes; ``problems`` names each bad entry (the message joins them)."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(problems))
        self.problems = problems


class CalendarYearMissing(Warning):
    """No official schedule is loaded for a year; the calendar counted weekends only."""


@dataclass(frozen=True)
class YearData:
    """One year's official schedule for one region.

    ``holidays`` maps every official day off to its holiday name (e.g. "国庆节"), weekend days inside the
    holiday period included. ``adjusted_workdays`` maps the weekend dates that are make-up workdays to the
    holiday they belong to. ``source`` says where the data came from, for audits. The constructor validates
    the data (dates in ``year``, make-up days on weekends, no date in both maps) and raises ValueError.
    """

    year: int
    holidays: dict[date, str]
    adjusted_workdays: dict[date, str]
    source: str
    region: str = "CN"

    def __post_init__(self) -> None:
        problems = _year_data_problems(self)
        if problems:
            raise ValueError(f"invalid calendar data for {self.region} {self.year}: " + "; ".join(problems))


def _year_data_problems(data: YearData) -> list[str]:
    """Every inconsistency in ``data``, each naming the offending entry."""
    problems: list[str] = []
    if isinstance(data.year, bool) or not isinstance(data.year, int):
        return [f"year must be an integer, got {data.year!r}"]
    for field_name, entries in (("holidays", data.holidays), ("adjusted_workdays", data.adjusted_workdays)):
        for d, name in entries.items():
            entry = f"{field_name}[{d!s}]"
            # datetime is a date subclass but never equal to one, so it would silently never match.
            if not isinstance(d, date) or isinstance(d, datetime):
                problems.append(f"{entry}: key must be a date, got {type(d).__name__}")
                continue
            if d.year != data.year:
                problems.append(f"{entry}: date is in {d.year}, not {data.year}")
            if not isinstance(name, str) or not name.strip():
                problems.append(f"{entry}: holiday name must be a non-empty string, got {name!r}")
    for d in data.adjusted_workdays:
        if isinstance(d, date) and d.weekday() < 5:
            problems.append(
                f"adjusted_workdays[{d}]: {d} is a {_WEEKDAY_NAMES[d.weekday()]}; "
                "a make-up workday must fall on a Saturday or Sunday"
            )
    for d in sorted(set(data.holidays) & set(data.adjusted_workdays)):
        problems.append(f"adjusted_workdays[{d}]: {d} is also listed as a holiday")
    return problems


@functools.cache
def _package_year_range() -> tuple[int, int] | None:
    """The years chinesecalendar knows (it raises NotImplementedError outside them)."""
    try:
        import chinese_calendar
    except ImportError:  # a hard dependency, but a missing package must degrade to warnings, not crash
        logger.warning("chinesecalendar is not installed; package holiday data is unavailable")
        return None
    keys = list(chinese_calendar.holidays) + list(chinese_calendar.workdays)
    return min(keys).year, max(keys).year


@functools.cache
def _package_year(year: int) -> YearData | None:
    """Build (once per process) the YearData for ``year`` from chinesecalendar, or None if it lacks the year.

    Reading the package's public ``holidays``/``workdays`` dicts is far cheaper than calling
    ``get_holiday_detail`` for 365 dates, and it never raises for unknown years.
    """
    span = _package_year_range()
    if span is None or not span[0] <= year <= span[1]:
        return None
    import chinese_calendar
    from chinese_calendar import Holiday

    # The package names holidays in English; operators and notices use Chinese names, so translate.
    chinese = {h.value: h.chinese for h in Holiday}
    return YearData(
        year=year,
        holidays={d: chinese.get(n, n) for d, n in chinese_calendar.holidays.items() if d.year == year},
        adjusted_workdays={
            d: chinese.get(n, n) for d, n in chinese_calendar.workdays.items() if d.year == year
        },
        source=f"chinesecalendar {chinese_calendar.__version__}",
    )


@functools.cache
def _statutory_year(year: int) -> YearData | None:
    """The statutory holidays of 《全国年节及纪念日放假办法》 for ``year`` without its 调休 arrangement, or None
    when the ``holidays`` package is missing or has no lunar table for the year.

    ``observed=False``: the package's default adds substitute days (补假) that do not exist in China. A day that
    is two holidays at once (中秋 on 国庆, 2028-10-03) comes as one key with the names joined by "; ".
    """
    try:
        import holidays
    except ImportError:  # a hard dependency, but a missing package must degrade to weekends only, not crash
        logger.warning("the holidays package is not installed; years without a schedule count weekends only")
        return None
    try:
        days = holidays.China(years=year, observed=False, language="zh_CN")
    except (KeyError, ValueError, NotImplementedError):  # outside the package's lunar tables (1901–2100)
        return None
    if not days:
        return None
    return YearData(
        year=year,
        holidays={d: "、".join(name.split("; ")) for d, name in sorted(days.items())},
        adjusted_workdays={},
        source=f"《全国年节及纪念日放假办法》推算（holidays {holidays.__version__}，未含调休）",
    )


def estimate_notice(year: int) -> str:
    """What pages say about a year counted without its official schedule."""
    return (
        f"{year}年国务院节假日安排（调休）尚未录入：该年期限只扣除《全国年节及纪念日放假办法》规定的法定节假日，"
        f"未计调休放假和调休上班日，可能与正式安排相差一至两天。请在{year}年安排公布后录入该年日历。"
    )


class StatutoryCalendar:
    """Working-day and calendar-day arithmetic over the official schedule of one region.

    Thread-safe: the timer code may share one instance between scheduler threads.
    """

    def __init__(
        self,
        years: Iterable[YearData] = (),
        *,
        region: str = "CN",
        use_package: bool = True,
        tz: ZoneInfo = ZoneInfo("Asia/Shanghai"),  # noqa: B008 - ZoneInfo instances are cached and immutable
        calendar_days_skip_weekends: bool = False,
    ) -> None:
        """Create a calendar.

        ``years``: operator data, added with ``add_year``. ``use_package``: use chinesecalendar for the years
        it knows (the national schedule; a regional calendar adds its ethnic holidays through operator files)
        and the statutory holidays the ``holidays`` package computes for the other years (off: weekends only).
        ``tz``: the zone deadlines end in. ``calendar_days_skip_weekends``: also roll a calendar-day period
        that ends on a plain weekend (off by default, see the module docstring).
        """
        self.region = region
        self.use_package = use_package
        self.tz = tz
        self.calendar_days_skip_weekends = calendar_days_skip_weekends
        self._operator: dict[int, YearData] = {}
        self._lock = threading.Lock()
        for data in years:
            self.add_year(data)

    # --- data ---

    def add_year(self, data: YearData) -> None:
        """Add (or replace) an operator-provided year; it overrides package data for that year."""
        if not isinstance(data, YearData):
            raise TypeError(f"expected YearData, got {type(data).__name__}")
        if data.region != self.region:
            raise ValueError(
                f"calendar data for region {data.region!r} ({data.source}) cannot be added to the "
                f"{self.region!r} calendar"
            )
        with self._lock:
            self._operator[data.year] = data

    def known_years(self) -> set[int]:
        """The years with an official schedule (operator or package); other years count weekends only."""
        with self._lock:
            years = set(self._operator)
        if self.use_package and (span := _package_year_range()) is not None:
            years.update(range(span[0], span[1] + 1))
        return years

    def has_year(self, year: int) -> bool:
        """Whether ``year`` has an official schedule. Never warns: use it to alert before a year runs out."""
        return self.year_data(year) is not None

    def year_data(self, year: int) -> YearData | None:
        """The schedule used for ``year`` (operator first, then package), or None if weekends-only."""
        with self._lock:
            data = self._operator.get(year)
        if data is None and self.use_package:
            data = _package_year(year)
        return data

    def _schedule(self, year: int) -> YearData | None:
        """Like ``year_data``, but a year without an official schedule gets its statutory holidays alone,
        with a warning (once per process and year) that its 调休 arrangement is unknown."""
        data = self.year_data(year)
        if data is not None:
            return data
        estimate = _statutory_year(year) if self.use_package else None
        with _warned_lock:
            first = year not in _warned
            _warned.add(year)
        if first:
            counted = "statutory holidays only, without" if estimate is not None else "weekends only, without"
            message = (
                f"no official holiday schedule for {year} in region {self.region!r}; counting {counted} the "
                f"year's 调休 arrangement. Add the State Council's {year} holiday notice as a calendar year"
            )
            logger.warning(message)
            warnings.warn(message, CalendarYearMissing, stacklevel=3)
        return estimate

    # --- days ---

    def day_kind(self, d: date) -> DayKind:
        """Classify one date. A year without a schedule gives its statutory holidays, else WEEKEND on Sat/Sun and
        WORKDAY on other days (and a warning that the year's 调休 is unknown)."""
        _check_date(d)
        data = self._schedule(d.year)
        if data is not None:
            if d in data.holidays:
                return DayKind.HOLIDAY
            if d in data.adjusted_workdays:
                return DayKind.ADJUSTED_WORKDAY
        return DayKind.WEEKEND if d.weekday() >= 5 else DayKind.WORKDAY

    def is_working_day(self, d: date) -> bool:
        """True for WORKDAY and ADJUSTED_WORKDAY (调休上班 days count as working days)."""
        return self.day_kind(d) in (DayKind.WORKDAY, DayKind.ADJUSTED_WORKDAY)

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after ``start``; ``start`` itself never counts, even if it is a working day.

        ``n == 0`` returns ``start`` unchanged. Example: 5 working days after Fri 2024-09-27 is 2024-10-10
        (09-29 make-up Sunday, 09-30, 10-08, 10-09, 10-10).
        """
        _check_date(start)
        _check_count(n)
        d = start
        remaining = n
        while remaining:
            d += _ONE_DAY
            if self.is_working_day(d):
                remaining -= 1
        return d

    def add_calendar_days(self, start: date, n: int) -> date:
        """The last day of an n-calendar-day period that starts on the day after ``start`` (民法典 Art. 201).

        If that day falls in a holiday block (a HOLIDAY, or a plain weekend day in the same run of rest days
        as a HOLIDAY) it moves to the first working day after the block (Art. 203). A plain weekend last day
        moves only when ``calendar_days_skip_weekends`` is on. ``n == 0`` returns ``start`` unchanged.
        Example: 15 days from receipt on 2024-09-20 ends nominally on 10-05 (National Day), so 2024-10-08.
        """
        _check_date(start)
        _check_count(n)
        if n == 0:
            return start
        last = start + timedelta(days=n)
        if self._rolls(last):
            last = self.add_working_days(last, 1)
        return last

    def _rolls(self, last: date) -> bool:
        """Whether a calendar-day period ending on ``last`` moves to the next working day (Art. 203)."""
        kind = self.day_kind(last)
        if kind is DayKind.HOLIDAY:
            return True
        if kind is not DayKind.WEEKEND:
            return False
        if self.calendar_days_skip_weekends:
            return True
        # A weekend day counts as part of a holiday when its run of consecutive rest days contains a HOLIDAY.
        for step in (_ONE_DAY, -_ONE_DAY):
            d = last + step
            while (k := self.day_kind(d)) in (DayKind.WEEKEND, DayKind.HOLIDAY):
                if k is DayKind.HOLIDAY:
                    return True
                d += step
        return False

    def working_days_between(self, start: date, end: date) -> int:
        """The number of working days in (start, end]: start excluded, end included.

        So ``working_days_between(s, add_working_days(s, n)) == n``. If ``end`` is before ``start`` the result
        is the negative count of (end, start], which makes "working days overdue" a plain subtraction.
        """
        _check_date(start)
        _check_date(end)
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        d = start
        while d < end:
            d += _ONE_DAY
            if self.is_working_day(d):
                count += 1
        return count

    def due_at(self, day: date) -> datetime:
        """The instant a deadline "on ``day``" expires: 00:00 of the next day in the calendar's zone (aware).

        A deadline on day D is met by anything strictly before midnight ending D, so compare with
        ``moment < due_at(D)``. Midnight is used instead of 23:59:59.999999 so no instant falls in a gap and
        the value survives databases that truncate microseconds.
        """
        _check_date(day)
        return datetime.combine(day + _ONE_DAY, time(0), tzinfo=self.tz)


def _check_date(d: object) -> None:
    # A datetime would never match the date keys and its zone may differ from the calendar's: refuse it.
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(
            f"expected a datetime.date, got {type(d).__name__}; for a datetime pass "
            "moment.astimezone(calendar.tz).date()"
        )


def _check_count(n: object) -> None:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"day count must be an integer, got {type(n).__name__}")
    if n < 0:
        raise ValueError(f"day count must be >= 0, got {n}")


# --- operator files ---


def load_year_file(path: Path) -> YearData:
    """Read an operator year file (format in the module docstring).

    Raises ValueError naming the file and every bad entry; the source recorded is the file plus its notice.
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read calendar file: {exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not valid UTF-8 JSON: {exc}") from exc
    return year_from_json(raw, path)


def year_from_json(raw: Any, path: Path) -> YearData:
    """Validate a whole year document (the file format) as it would be stored at ``path``, without touching
    the disk, so an upload is checked completely before anything is written.

    Raises :class:`YearFileInvalid` (a ValueError) starting with ``path`` and naming every bad entry.
    """
    if not isinstance(raw, dict):
        raise YearFileInvalid(path, [f"top level must be a JSON object, got {type(raw).__name__}"])

    problems: list[str] = []
    unknown = sorted(set(raw) - _FILE_KEYS)
    if unknown:
        problems.append(f"unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(_FILE_KEYS))})")
    year = raw.get("year")
    if isinstance(year, bool) or not isinstance(year, int):
        raise YearFileInvalid(path, [f"'year' must be an integer, got {year!r}"])
    region = raw.get("region", "CN")
    if not isinstance(region, str) or not region.strip():
        problems.append(f"region must be a non-empty string, got {region!r}")
        region = "CN"
    notice = raw.get("source", "")
    if not isinstance(notice, str):
        problems.append(f"source must be a string, got {notice!r}")
        notice = ""
    if "holidays" not in raw:
        problems.append("'holidays' is missing")
    holidays = _parse_dates(raw.get("holidays", {}), "holidays", problems)
    adjusted = _parse_dates(raw.get("adjusted_workdays", {}), "adjusted_workdays", problems)
    if problems:
        raise YearFileInvalid(path, problems)

    source = f"operator file {path}" + (f" ({notice})" if notice else "")
    try:
        return YearData(year, holidays, adjusted, source, region)
    except ValueError as exc:
        raise YearFileInvalid(path, [str(exc)]) from None


def save_year_file(folder: Path, raw: Mapping[str, Any]) -> Path:
    """Write a validated year document as ``folder/<year>.json``, atomically.

    The document goes to a private temporary file first (named ``.*.tmp``, which start-up never reads) and is
    renamed over the old file: a crash or a full disk leaves the previous year file whole, never half of one.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{raw['year']}.json"
    fd, staged = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(raw, handle, ensure_ascii=False, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staged, target)
    except BaseException:
        Path(staged).unlink(missing_ok=True)
        raise
    return target


def load_operator_years(calendar: StatutoryCalendar, folder: Path) -> list[Path]:
    """Add every year file in ``folder`` to ``calendar``; returns the files skipped.

    A bad file (edited by hand, another region's, left by an older release) is skipped with a warning instead of
    stopping the service: its year then counts weekends only, which the calendar already warns about.
    """
    skipped: list[Path] = []
    for path in sorted(folder.glob("[!.]*.json")) if folder.is_dir() else []:
        try:
            calendar.add_year(load_year_file(path))
        except ValueError as error:
            logger.warning("calendar year file skipped until it is fixed or removed: %s", error)
            skipped.append(path)
    return skipped


def _parse_dates(value: Any, field_name: str, problems: list[str]) -> dict[date, str]:
    """Parse a ``{"YYYY-MM-DD": name}`` object, appending one problem per bad entry."""
    if not isinstance(value, Mapping):
        problems.append(f'{field_name} must be an object of "YYYY-MM-DD": name, got {type(value).__name__}')
        return {}
    out: dict[date, str] = {}
    for key, name in value.items():
        entry = f"{field_name}[{key!r}]"
        if not _ISO_DATE.match(key):
            problems.append(f"{entry}: not a YYYY-MM-DD date")
            continue
        try:
            d = date.fromisoformat(key)
        except ValueError as exc:
            problems.append(f"{entry}: not a valid date ({exc})")
            continue
        if not isinstance(name, str):
            problems.append(f"{entry}: holiday name must be a string, got {name!r}")
            continue
        out[d] = name
    return out


def year_to_json(data: YearData) -> dict[str, Any]:
    """``data`` in the operator file format (dates sorted), e.g. to export a package year as a template."""
    return {
        "year": data.year,
        "region": data.region,
        "source": data.source,
        "holidays": {d.isoformat(): n for d, n in sorted(data.holidays.items())},
        "adjusted_workdays": {d.isoformat(): n for d, n in sorted(data.adjusted_workdays.items())},
    }
