"""Tests for engine.calendar: the statutory calendar (domain.md §12)."""

from __future__ import annotations

import json
import logging
import re
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import engine.calendar
from engine.calendar import (
    CalendarYearMissing,
    DayKind,
    StatutoryCalendar,
    YearData,
    load_year_file,
    year_to_json,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")

# What an operator would load for 2027 in the test: 元旦 Fri 01-01 .. Sun 01-03, no make-up day.
YEAR_2027 = YearData(
    year=2027,
    holidays={date(2027, 1, 1): "元旦", date(2027, 1, 2): "元旦", date(2027, 1, 3): "元旦"},
    adjusted_workdays={},
    source="test 2027 schedule",
)


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The calendar warns once per process and year: start each test as a new process would."""
    monkeypatch.setattr(engine.calendar, "_warned", set())


@pytest.fixture
def cal() -> StatutoryCalendar:
    return StatutoryCalendar()


@pytest.fixture
def strict_warnings():
    """Years the package or operator provides must never warn."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalendarYearMissing)
        yield


# --- package data ---


@pytest.mark.usefixtures("strict_warnings")
class TestPackageData:
    def test_day_kinds_around_national_day_2024(self, cal: StatutoryCalendar) -> None:
        assert cal.day_kind(date(2024, 9, 27)) is DayKind.WORKDAY  # Friday
        assert cal.day_kind(date(2024, 9, 28)) is DayKind.WEEKEND  # plain Saturday
        assert cal.day_kind(date(2024, 9, 29)) is DayKind.ADJUSTED_WORKDAY  # make-up Sunday
        assert cal.day_kind(date(2024, 10, 1)) is DayKind.HOLIDAY
        assert cal.day_kind(date(2024, 10, 5)) is DayKind.HOLIDAY  # a Saturday inside the holiday
        assert cal.day_kind(date(2024, 10, 12)) is DayKind.ADJUSTED_WORKDAY  # make-up Saturday
        assert cal.is_working_day(date(2024, 9, 29))
        assert cal.is_working_day(date(2024, 9, 27))
        assert not cal.is_working_day(date(2024, 9, 28))
        assert not cal.is_working_day(date(2024, 10, 1))

    def test_day_kind_values(self) -> None:
        assert [k.value for k in DayKind] == ["workday", "weekend", "holiday", "adjusted_workday"]
        assert DayKind("adjusted_workday") is DayKind.ADJUSTED_WORKDAY

    def test_package_year_data_uses_chinese_names_and_names_its_source(self, cal: StatutoryCalendar) -> None:
        data = cal.year_data(2024)
        assert data is not None
        assert data.source == "chinesecalendar 1.11.0"
        assert data.holidays[date(2024, 10, 1)] == "国庆节"
        assert data.holidays[date(2024, 2, 10)] == "春节"
        assert data.adjusted_workdays == {
            date(2024, 2, 4): "春节",
            date(2024, 2, 18): "春节",
            date(2024, 4, 7): "清明",
            date(2024, 4, 28): "劳动节",
            date(2024, 5, 11): "劳动节",
            date(2024, 9, 14): "中秋",
            date(2024, 9, 29): "国庆节",
            date(2024, 10, 12): "国庆节",
        }

    def test_known_years(self, cal: StatutoryCalendar) -> None:
        assert cal.known_years() == set(range(2004, 2027))
        assert cal.has_year(2026)
        assert not cal.has_year(2027)
        assert not cal.has_year(2003)
        cal.add_year(YEAR_2027)
        assert cal.has_year(2027)
        assert cal.known_years() == set(range(2004, 2028))

    def test_without_package_only_operator_years_are_known(self) -> None:
        cal = StatutoryCalendar([YEAR_2027], use_package=False)
        assert cal.known_years() == {2027}
        assert not cal.has_year(2024)


# --- worked examples (domain.md §12) ---


@pytest.mark.usefixtures("strict_warnings")
class TestWorkedExamples:
    def test_15_calendar_days_from_2024_09_20_rolls_past_national_day(self, cal: StatutoryCalendar) -> None:
        # Day 1 is 09-21 (Art. 201); day 15 is 10-05, inside the 10-01..10-07 holiday (Art. 203).
        assert date(2024, 9, 20) + timedelta(days=15) == date(2024, 10, 5)
        assert cal.add_calendar_days(date(2024, 9, 20), 15) == date(2024, 10, 8)

    def test_5_working_days_after_2024_09_27_counts_the_make_up_sunday(self, cal: StatutoryCalendar) -> None:
        # 09-29 (Sun, 调休上班), 09-30, 10-08, 10-09, 10-10.
        assert cal.add_working_days(date(2024, 9, 27), 5) == date(2024, 10, 10)
        assert cal.add_working_days(date(2024, 9, 27), 1) == date(2024, 9, 29)
        assert cal.add_working_days(date(2024, 9, 27), 2) == date(2024, 9, 30)
        assert cal.add_working_days(date(2024, 9, 27), 3) == date(2024, 10, 8)

    def test_2026_official_schedule_as_loaded(self, cal: StatutoryCalendar) -> None:
        # The facts the 2026 examples below rely on.
        assert cal.day_kind(date(2026, 9, 20)) is DayKind.ADJUSTED_WORKDAY  # Sunday make-up for 国庆
        for day in range(25, 28):  # 中秋 Fri 09-25 .. Sun 09-27
            assert cal.day_kind(date(2026, 9, day)) is DayKind.HOLIDAY
        for day in range(1, 8):  # 国庆 10-01 .. 10-07
            assert cal.day_kind(date(2026, 10, day)) is DayKind.HOLIDAY
        assert cal.day_kind(date(2026, 10, 8)) is DayKind.WORKDAY  # Thursday
        assert cal.day_kind(date(2026, 10, 10)) is DayKind.ADJUSTED_WORKDAY  # Saturday make-up
        assert cal.day_kind(date(2026, 10, 11)) is DayKind.WEEKEND

    def test_15_calendar_days_from_2026_09_20_rolls_past_national_day(self, cal: StatutoryCalendar) -> None:
        # Nominal end 10-05 is a National Day holiday; the first working day after the block is Thu 10-08.
        assert cal.add_calendar_days(date(2026, 9, 20), 15) == date(2026, 10, 8)

    def test_5_working_days_after_2026_09_25_skip_mid_autumn_and_national_day(
        self, cal: StatutoryCalendar
    ) -> None:
        # Start is a holiday and never counts: 09-28, 09-29, 09-30, (10-01..07 off), 10-08, 10-09.
        assert cal.add_working_days(date(2026, 9, 25), 5) == date(2026, 10, 9)
        # The 6th is the make-up Saturday 10-10.
        assert cal.add_working_days(date(2026, 9, 25), 6) == date(2026, 10, 10)
        # Weekends-only counting would wrongly land inside the holiday.
        weekends_only = StatutoryCalendar(use_package=False)
        with pytest.warns(CalendarYearMissing):
            assert weekends_only.add_working_days(date(2026, 9, 25), 5) == date(2026, 10, 2)

    def test_5_working_days_after_2026_09_29_counts_make_up_saturday(self, cal: StatutoryCalendar) -> None:
        # 09-30, 10-08, 10-09, 10-10 (Sat make-up), 10-12 (Mon).
        assert cal.add_working_days(date(2026, 9, 29), 5) == date(2026, 10, 12)

    def test_10_working_days_from_2026_12_28_with_operator_2027(self) -> None:
        # 12-29, 12-30, 12-31, (01-01..01-03 元旦), 01-04 .. 01-08, (weekend), 01-11, 01-12.
        cal = StatutoryCalendar([YEAR_2027])
        assert cal.add_working_days(date(2026, 12, 28), 10) == date(2027, 1, 12)
        assert cal.day_kind(date(2027, 1, 1)) is DayKind.HOLIDAY

    def test_operator_2027_replaces_the_statutory_estimate(self) -> None:
        # The estimate knows 清明 (Mon 04-05) but not the notice's make-up Saturday 04-10: the notice decides.
        notice = YearData(
            2027,
            {date(2027, 4, 3): "清明节", date(2027, 4, 4): "清明节", date(2027, 4, 5): "清明节"},
            {date(2027, 4, 10): "清明节"},
            "test notice",
        )
        with pytest.warns(CalendarYearMissing):
            estimated = StatutoryCalendar().add_working_days(date(2027, 4, 2), 5)
        official = StatutoryCalendar([notice]).add_working_days(date(2027, 4, 2), 5)
        assert estimated == date(2027, 4, 12)  # 04-06 .. 04-09, 04-12: the Saturday counts only by notice
        assert official == date(2027, 4, 10)


# --- missing years ---


class TestMissingYear:
    def test_three_working_days_from_2026_12_30_skip_new_year_without_a_2027_file(
        self, cal: StatutoryCalendar, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.WARNING, logger="petitionflow.calendar")
        assert not cal.has_year(2027)
        with pytest.warns(CalendarYearMissing, match="2027"):
            # 12-31, (01-01 元旦, 01-02/03 weekend), 01-04, 01-05.
            assert cal.add_working_days(date(2026, 12, 30), 3) == date(2027, 1, 5)
        records = [r for r in caplog.records if r.name == "petitionflow.calendar"]
        assert len(records) == 1
        assert records[0].levelno == logging.WARNING
        assert "2027" in records[0].getMessage() and "调休" in records[0].getMessage()

    def test_the_estimate_has_the_thirteen_statutory_days_and_no_make_up_days(
        self, cal: StatutoryCalendar
    ) -> None:
        with pytest.warns(CalendarYearMissing):
            off = [date(2027, 1, 1) + timedelta(days=i) for i in range(365)]
            off = [d for d in off if cal.day_kind(d) is DayKind.HOLIDAY]
        assert [d.isoformat()[5:] for d in off] == [
            "01-01", "02-05", "02-06", "02-07", "02-08", "04-05", "05-01", "05-02",
            "06-09", "09-15", "10-01", "10-02", "10-03",
        ]  # fmt: skip
        assert all(cal.day_kind(d) is not DayKind.ADJUSTED_WORKDAY for d in off)

    def test_a_day_that_is_two_holidays_counts_once_and_names_both(self, cal: StatutoryCalendar) -> None:
        with pytest.warns(CalendarYearMissing):
            assert cal.day_kind(date(2028, 10, 3)) is DayKind.HOLIDAY
        # 15 days from 2028-09-18 end on 10-03 (中秋 and 国庆 at once): the first working day after is 10-04.
        assert cal.add_calendar_days(date(2028, 9, 18), 15) == date(2028, 10, 4)

    def test_warns_once_per_year_per_process(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.WARNING, logger="petitionflow.calendar")
        cal = StatutoryCalendar()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cal.add_working_days(date(2027, 1, 1), 30)
            cal.add_calendar_days(date(2027, 3, 1), 60)
            cal.working_days_between(date(2027, 1, 1), date(2027, 12, 31))
            cal.day_kind(date(2028, 6, 1))
            cal.day_kind(date(2028, 6, 2))
            # Another calendar of the same process (a second engine) does not warn again.
            StatutoryCalendar().day_kind(date(2027, 1, 1))
        missing = [w for w in caught if issubclass(w.category, CalendarYearMissing)]
        assert sorted(re.search(r"for (\d{4}) in", str(w.message)).group(1) for w in missing) == [
            "2027",
            "2028",
        ]
        assert len(caplog.records) == 2

    def test_has_year_never_warns(self, cal: StatutoryCalendar) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error", CalendarYearMissing)
            assert not cal.has_year(2030)
            assert cal.year_data(2030) is None

    def test_adding_the_year_replaces_the_estimate(self, cal: StatutoryCalendar) -> None:
        with pytest.warns(CalendarYearMissing):
            assert cal.is_working_day(date(2027, 1, 4))
        cal.add_year(
            YearData(
                2027, {date(2027, 1, d): "元旦" for d in range(1, 5)}, {}, "test notice with a bridge day"
            )
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error", CalendarYearMissing)
            assert not cal.is_working_day(date(2027, 1, 4))

    def test_no_package_means_weekends_only_everywhere(self) -> None:
        cal = StatutoryCalendar(use_package=False)
        with pytest.warns(CalendarYearMissing, match="2024"):
            assert cal.day_kind(date(2024, 10, 1)) is DayKind.WORKDAY
        assert cal.day_kind(date(2024, 9, 29)) is DayKind.WEEKEND
        assert cal.add_calendar_days(date(2024, 9, 20), 15) == date(2024, 10, 5)  # Saturday, no roll


# --- operator years ---


@pytest.mark.usefixtures("strict_warnings")
class TestOperatorYears:
    def test_operator_year_overrides_package(self, cal: StatutoryCalendar) -> None:
        assert cal.day_kind(date(2026, 10, 1)) is DayKind.HOLIDAY
        override = YearData(
            2026, {date(2026, 10, 2): "国庆节"}, {date(2026, 10, 10): "国庆节"}, "operator correction"
        )
        cal.add_year(override)
        assert cal.day_kind(date(2026, 10, 1)) is DayKind.WORKDAY  # Thursday, no longer listed
        assert cal.day_kind(date(2026, 10, 2)) is DayKind.HOLIDAY
        assert cal.day_kind(date(2026, 9, 20)) is DayKind.WEEKEND  # package make-up day is gone too
        assert cal.year_data(2026) is override
        # Other years still come from the package.
        assert cal.day_kind(date(2025, 10, 1)) is DayKind.HOLIDAY

    def test_region_mismatch_is_refused(self) -> None:
        cal = StatutoryCalendar(region="CN")
        tibet = YearData(2027, {}, {}, "xz notice", region="CN-XZ")
        with pytest.raises(ValueError, match="CN-XZ"):
            cal.add_year(tibet)
        assert not cal.has_year(2027)
        assert StatutoryCalendar([tibet], region="CN-XZ").has_year(2027)

    def test_year_data_is_validated(self) -> None:
        with pytest.raises(ValueError, match=r"holidays\[2028-01-01\].*not 2027"):
            YearData(2027, {date(2028, 1, 1): "元旦"}, {}, "x")
        with pytest.raises(ValueError, match=r"2027-02-10 is a Wednesday"):
            YearData(2027, {}, {date(2027, 2, 10): "春节"}, "x")
        with pytest.raises(ValueError, match="also listed as a holiday"):
            YearData(2027, {date(2027, 2, 6): "春节"}, {date(2027, 2, 6): "春节"}, "x")
        with pytest.raises(ValueError, match="must be a date"):
            YearData(2027, {datetime(2027, 1, 1): "元旦"}, {}, "x")  # type: ignore[dict-item]


# --- calendar days ---


@pytest.mark.usefixtures("strict_warnings")
class TestCalendarDays:
    def test_starts_the_day_after(self, cal: StatutoryCalendar) -> None:
        # Art. 201: the event day is day 0, so one day after Monday is Tuesday.
        assert cal.add_calendar_days(date(2024, 3, 4), 1) == date(2024, 3, 5)

    def test_sixty_days_plain(self, cal: StatutoryCalendar) -> None:
        # 60 days after Mon 2024-03-04 is Fri 2024-05-03, a Labour Day holiday (05-01..05-05) -> Mon 05-06.
        assert date(2024, 3, 4) + timedelta(days=60) == date(2024, 5, 3)
        assert cal.add_calendar_days(date(2024, 3, 4), 60) == date(2024, 5, 6)
        # 30 days after 2024-03-04 is Wed 04-03, an ordinary working day: no roll.
        assert cal.add_calendar_days(date(2024, 3, 4), 30) == date(2024, 4, 3)

    def test_zero_returns_start_and_negative_is_refused(self, cal: StatutoryCalendar) -> None:
        assert cal.add_calendar_days(date(2024, 10, 1), 0) == date(2024, 10, 1)
        with pytest.raises(ValueError):
            cal.add_calendar_days(date(2024, 10, 1), -1)

    def test_plain_saturday_does_not_roll_by_default(self, cal: StatutoryCalendar) -> None:
        # 15 days after 2024-10-04 is Sat 10-19, a plain weekend with no holiday next to it.
        assert cal.day_kind(date(2024, 10, 19)) is DayKind.WEEKEND
        assert cal.add_calendar_days(date(2024, 10, 4), 15) == date(2024, 10, 19)
        # Also a plain Sunday.
        assert cal.add_calendar_days(date(2024, 10, 4), 16) == date(2024, 10, 20)

    def test_weekend_switch_rolls_plain_saturday(self) -> None:
        cal = StatutoryCalendar(calendar_days_skip_weekends=True)
        assert cal.add_calendar_days(date(2024, 10, 4), 15) == date(2024, 10, 21)
        assert cal.add_calendar_days(date(2024, 10, 4), 16) == date(2024, 10, 21)
        # A make-up Saturday is a working day: it does not roll even with the switch on.
        assert cal.add_calendar_days(date(2024, 10, 4), 8) == date(2024, 10, 12)
        # Holidays still roll.
        assert cal.add_calendar_days(date(2024, 9, 20), 15) == date(2024, 10, 8)

    def test_weekend_glued_to_a_holiday_rolls_by_default(self, cal: StatutoryCalendar) -> None:
        # 端午 2024 is Monday 06-10 only ("与周末连休"): Sat 06-08 and Sun 06-09 are plain weekend days in the
        # data but belong to the holiday block, so a period ending there moves to Tue 06-11.
        assert cal.day_kind(date(2024, 6, 8)) is DayKind.WEEKEND
        assert cal.day_kind(date(2024, 6, 10)) is DayKind.HOLIDAY
        assert cal.add_calendar_days(date(2024, 5, 24), 15) == date(2024, 6, 11)
        assert cal.add_calendar_days(date(2024, 5, 24), 16) == date(2024, 6, 11)
        # The next weekend is plain again.
        assert cal.add_calendar_days(date(2024, 5, 31), 15) == date(2024, 6, 15)

    def test_weekend_after_a_holiday_rolls(self, cal: StatutoryCalendar) -> None:
        # 2016 New Year: holiday Fri 01-01 only; the weekend after it (01-02/03) is plain in the data but
        # belongs to the block, and the period crosses the year boundary.
        assert cal.day_kind(date(2016, 1, 1)) is DayKind.HOLIDAY
        assert cal.day_kind(date(2016, 1, 3)) is DayKind.WEEKEND
        assert cal.add_calendar_days(date(2015, 12, 19), 15) == date(2016, 1, 4)
        # One week later the weekend is plain: no roll.
        assert cal.add_calendar_days(date(2015, 12, 26), 15) == date(2016, 1, 10)

    def test_holiday_rolls_onto_make_up_day(self) -> None:
        # If the first working day after the holiday is a make-up weekend day, that is the deadline.
        # Made-up schedule: holiday Fri 2027-10-01 .. Fri 10-08, make-up Saturday 10-09.
        data = YearData(
            2027,
            {date(2027, 10, d): "国庆节" for d in range(1, 9)},
            {date(2027, 10, 9): "国庆节"},
            "test schedule",
        )
        cal = StatutoryCalendar([data])
        assert cal.day_kind(date(2027, 10, 9)) is DayKind.ADJUSTED_WORKDAY
        assert cal.add_calendar_days(date(2027, 9, 26), 10) == date(2027, 10, 9)  # nominal end 10-06
        assert cal.add_calendar_days(date(2027, 9, 28), 10) == date(2027, 10, 9)  # nominal end 10-08


# --- working days ---


@pytest.mark.usefixtures("strict_warnings")
class TestWorkingDays:
    def test_start_never_counts_and_zero_returns_start(self, cal: StatutoryCalendar) -> None:
        assert cal.add_working_days(date(2024, 3, 4), 0) == date(2024, 3, 4)
        assert cal.add_working_days(date(2024, 3, 4), 1) == date(2024, 3, 5)  # Mon -> Tue
        assert cal.add_working_days(date(2024, 3, 8), 1) == date(2024, 3, 11)  # Fri -> Mon
        assert cal.add_working_days(date(2024, 3, 9), 1) == date(2024, 3, 11)  # Sat -> Mon
        with pytest.raises(ValueError):
            cal.add_working_days(date(2024, 3, 4), -1)
        with pytest.raises(TypeError):
            cal.add_working_days(date(2024, 3, 4), 1.5)  # type: ignore[arg-type]

    def test_working_days_between(self, cal: StatutoryCalendar) -> None:
        assert cal.working_days_between(date(2024, 9, 27), date(2024, 10, 10)) == 5
        assert cal.working_days_between(date(2024, 9, 27), date(2024, 9, 27)) == 0
        # (start, end]: the end counts, the start does not.
        assert cal.working_days_between(date(2024, 9, 27), date(2024, 9, 29)) == 1
        assert cal.working_days_between(date(2024, 9, 26), date(2024, 9, 27)) == 1
        # The whole National Day holiday contains no working day.
        assert cal.working_days_between(date(2024, 9, 30), date(2024, 10, 7)) == 0
        # Reversed order gives the negative count.
        assert cal.working_days_between(date(2024, 10, 10), date(2024, 9, 27)) == -5

    def test_working_days_between_inverts_add_working_days(self, cal: StatutoryCalendar) -> None:
        start = date(2024, 1, 1)
        for offset in range(0, 366, 7):
            s = start + timedelta(days=offset)
            for n in (1, 3, 5, 10, 20):
                assert cal.working_days_between(s, cal.add_working_days(s, n)) == n

    def test_2024_has_the_official_number_of_working_days(self, cal: StatutoryCalendar) -> None:
        # 366 days - 104 weekend days - 19 holidays on weekdays + 8 make-up weekend days = 251.
        assert cal.working_days_between(date(2023, 12, 31), date(2024, 12, 31)) == 251

    def test_datetimes_are_refused(self, cal: StatutoryCalendar) -> None:
        with pytest.raises(TypeError, match="astimezone"):
            cal.day_kind(datetime(2024, 10, 1, 12, 0))  # type: ignore[arg-type]


# --- due_at ---


class TestDueAt:
    def test_midnight_ending_the_day_in_shanghai(self, cal: StatutoryCalendar) -> None:
        due = cal.due_at(date(2024, 10, 8))
        assert due == datetime(2024, 10, 9, 0, 0, tzinfo=SHANGHAI)
        assert due.utcoffset() == timedelta(hours=8)
        assert due.astimezone(UTC) == datetime(2024, 10, 8, 16, 0, tzinfo=UTC)
        # Met by anything before midnight ending 10-08; missed at midnight.
        assert datetime(2024, 10, 8, 23, 59, 59, 999999, tzinfo=SHANGHAI) < due
        assert not datetime(2024, 10, 9, 0, 0, tzinfo=SHANGHAI) < due
        # 15:59:59 UTC on 10-08 is still 10-08 in Shanghai: on time.
        assert datetime(2024, 10, 8, 15, 59, 59, tzinfo=UTC) < due

    def test_other_zone(self) -> None:
        cal = StatutoryCalendar(tz=ZoneInfo("Asia/Urumqi"))  # UTC+6
        due = cal.due_at(date(2024, 10, 8))
        assert due.utcoffset() == timedelta(hours=6)
        assert due.astimezone(UTC) == datetime(2024, 10, 8, 18, 0, tzinfo=UTC)

    def test_end_of_year_and_month(self, cal: StatutoryCalendar) -> None:
        assert cal.due_at(date(2026, 12, 31)) == datetime(2027, 1, 1, tzinfo=SHANGHAI)
        assert cal.due_at(date(2024, 2, 29)) == datetime(2024, 3, 1, tzinfo=SHANGHAI)


# --- operator files ---


def write(tmp_path: Path, payload: object, name: str = "2027.json") -> Path:
    path = tmp_path / name
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    return path


def good_2027() -> dict:
    return {
        "year": 2027,
        "region": "CN",
        "source": "国务院办公厅关于2027年部分节假日安排的通知",
        "holidays": {"2027-01-01": "元旦", "2027-01-02": "元旦", "2027-01-03": "元旦"},
        "adjusted_workdays": {"2027-02-07": "春节"},  # a Sunday
    }


class TestLoadYearFile:
    def test_loads_a_good_file(self, tmp_path: Path) -> None:
        path = write(tmp_path, good_2027())
        data = load_year_file(path)
        assert data.year == 2027
        assert data.region == "CN"
        assert data.holidays == {date(2027, 1, d): "元旦" for d in (1, 2, 3)}
        assert data.adjusted_workdays == {date(2027, 2, 7): "春节"}
        assert str(path) in data.source
        assert "国务院办公厅关于2027年部分节假日安排的通知" in data.source
        cal = StatutoryCalendar([data])
        assert cal.day_kind(date(2027, 2, 7)) is DayKind.ADJUSTED_WORKDAY

    def test_adjusted_workdays_and_region_are_optional(self, tmp_path: Path) -> None:
        payload = good_2027()
        del payload["adjusted_workdays"], payload["region"], payload["source"]
        data = load_year_file(write(tmp_path, payload))
        assert data.adjusted_workdays == {}
        assert data.region == "CN"

    def test_round_trip_through_year_to_json(self, tmp_path: Path, cal: StatutoryCalendar) -> None:
        original = cal.year_data(2026)
        assert original is not None
        exported = year_to_json(original)
        assert exported["year"] == 2026
        assert exported["holidays"]["2026-10-01"] == "国庆节"
        assert exported["adjusted_workdays"]["2026-09-20"] == "国庆节"
        assert list(exported["holidays"]) == sorted(exported["holidays"])
        loaded = load_year_file(write(tmp_path, exported, "2026.json"))
        assert loaded.holidays == original.holidays
        assert loaded.adjusted_workdays == original.adjusted_workdays
        assert loaded.year == original.year

    @pytest.mark.parametrize(
        ("mutate", "pattern"),
        [
            (
                lambda p: p["holidays"].update({"2027-02-30": "春节"}),
                r"holidays\['2027-02-30'\]: not a valid date",
            ),
            (
                lambda p: p["holidays"].update({"2027/02/10": "春节"}),
                r"holidays\['2027/02/10'\]: not a YYYY-MM-DD",
            ),
            (lambda p: p["holidays"].update({"2028-01-01": "元旦"}), r"holidays\[2028-01-01\]: .*not 2027"),
            (
                lambda p: p["adjusted_workdays"].update({"2027-02-10": "春节"}),
                r"adjusted_workdays\[2027-02-10\]: 2027-02-10 is a Wednesday",
            ),
            (
                lambda p: p["holidays"].update({"2027-02-07": "春节"}),
                r"adjusted_workdays\[2027-02-07\]: 2027-02-07 is also listed as a holiday",
            ),
            (lambda p: p["holidays"].update({"2027-05-01": ""}), r"holidays\[2027-05-01\]: holiday name"),
            (lambda p: p["holidays"].update({"2027-05-01": 1}), r"holidays\['2027-05-01'\]: holiday name"),
            (lambda p: p.update({"year": "2027"}), r"'year' must be an integer"),
            (lambda p: p.pop("holidays"), r"'holidays' is missing"),
            (lambda p: p.update({"holidays": ["2027-01-01"]}), r"holidays must be an object"),
            (lambda p: p.update({"adjusted_workday": {}}), r"unknown key\(s\) adjusted_workday"),
        ],
    )
    def test_bad_entries_name_file_and_entry(self, tmp_path: Path, mutate, pattern: str) -> None:
        payload = good_2027()
        mutate(payload)
        path = write(tmp_path, payload)
        with pytest.raises(ValueError, match=pattern) as info:
            load_year_file(path)
        assert str(info.value).startswith(f"{path}: ")

    def test_invalid_json(self, tmp_path: Path) -> None:
        path = write(tmp_path, '{"year": 2027,')
        with pytest.raises(ValueError, match="not valid UTF-8 JSON") as info:
            load_year_file(path)
        assert str(path) in str(info.value)

    def test_not_an_object(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="top level must be a JSON object"):
            load_year_file(write(tmp_path, [2027]))

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="cannot read") as info:
            load_year_file(tmp_path / "2099.json")
        assert "2099.json" in str(info.value)
