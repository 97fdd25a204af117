"""Operator year files: an upload is checked whole before anything is written, written atomically, and a bad
file already on disk never stops the service from starting."""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.calendar import DayKind, load_year_file
from engine.config import Settings
from engine.runtime import Engine
from tests.api_helpers import Api, assert_error

pytest_plugins = ("tests.api_helpers",)

# Files and the web layer are what these check; the database plays no part.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def deployed(engine: Engine) -> Engine:
    """Nothing deployed: the calendar needs no diagrams (tests/api_helpers builds the app over this)."""
    return engine


def year_2032(**changes: Any) -> dict[str, Any]:
    return {
        "year": 2032,
        "source": "国务院办公厅关于2032年部分节假日安排的通知",
        "holidays": {"2032-01-01": "元旦"},
        "adjusted_workdays": {"2032-01-04": "元旦"},  # a Sunday
        **changes,
    }


def folder_of(engine: Engine) -> Path:
    return engine.settings.instance_path / "calendar"


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (year_2032(region="cn"), "region"),
        (year_2032(year=2031), "year"),
        (year_2032(holidays={"2033-01-01": "元旦"}), "problems"),
        (year_2032(holidays={"2032-02-30": "春节"}), "problems"),
        (year_2032(adjusted_workday={}), "problems"),  # a mistyped kind of day
        (year_2032(adjusted_workdays={"2032-01-05": "元旦"}), "problems"),  # a Monday
    ],
    ids=["region", "year", "date in another year", "no such date", "unknown key", "make-up day on a weekday"],
)
def test_a_refused_year_changes_nothing_and_the_service_still_starts(
    api: Api, engine: Engine, settings: Settings, body: dict[str, Any], field: str
) -> None:
    admin = api.as_("admin")
    admin.ok("PUT", "/api/calendar/years/2032", json=year_2032())
    stored = (folder_of(engine) / "2032.json").read_text(encoding="utf-8")

    error = assert_error(admin.put("/api/calendar/years/2032", json=body), 400, "invalid_input")
    assert "2032 年的日历数据" in error["message"] and "未保存" in error["message"]
    assert field in error["details"] or field in error["details"].get("fields", {})
    assert files_in(folder_of(engine)) == ["2032.json"]
    assert (folder_of(engine) / "2032.json").read_text(encoding="utf-8") == stored
    restarted = Engine(settings)
    assert restarted.calendar.day_kind(date(2032, 1, 4)) is DayKind.ADJUSTED_WORKDAY
    restarted.db.dispose()


def test_an_accepted_year_is_written_whole_and_read_back_the_same(api: Api, engine: Engine) -> None:
    summary = api.as_("admin").ok("PUT", "/api/calendar/years/2032", json=year_2032(region="CN"))
    assert (summary["year"], summary["holidays"], summary["adjustedWorkdays"]) == (2032, 1, 1)
    assert files_in(folder_of(engine)) == ["2032.json"]  # no temporary file left behind
    path = folder_of(engine) / "2032.json"
    assert json.loads(path.read_text(encoding="utf-8")) == year_2032(region="CN")
    assert load_year_file(path).adjusted_workdays == {date(2032, 1, 4): "元旦"}
    assert engine.calendar.day_kind(date(2032, 1, 1)) is DayKind.HOLIDAY


def test_bad_year_files_are_skipped_with_a_warning_and_the_good_ones_load(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    folder = settings.instance_path / "calendar"
    folder.mkdir(parents=True)
    (folder / "2032.json").write_text(json.dumps({**year_2032(), "region": "cn"}), encoding="utf-8")
    (folder / "2033.json").write_text('{"year": 2033,', encoding="utf-8")
    (folder / "2034.json").write_text(json.dumps(year_2032(year=2034)), encoding="utf-8")  # 2032 dates
    (folder / "2035.json").write_text(
        json.dumps(year_2032(year=2035, holidays={"2035-01-01": "元旦"}, adjusted_workdays={})),
        encoding="utf-8",
    )
    # What an interrupted write leaves: never read as a year.
    (folder / ".2036.json.x1.tmp").write_text("{", encoding="utf-8")
    caplog.set_level(logging.WARNING, logger="petitionflow.calendar")

    engine = Engine(settings)

    assert engine.calendar.has_year(2035) and not engine.calendar.has_year(2032)
    warned = [r.getMessage() for r in caplog.records if r.name == "petitionflow.calendar"]
    for name in ("2032.json", "2033.json", "2034.json"):
        assert any(name in message and "skipped" in message for message in warned), (name, warned)
    assert not any("2036" in message for message in warned)
    engine.db.dispose()
