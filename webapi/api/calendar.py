"""/api/calendar: the statutory calendar's years, and adding a year's official schedule."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from engine.calendar import YearFileInvalid, save_year_file, year_from_json, year_to_json
from engine.errors import InvalidInput, NotFound

from ..auth import engine, require
from .common import with_errors

blp = Blueprint(
    "calendar", __name__, url_prefix="/api/calendar", description="Working days, holidays and 调休"
)


class YearSummarySchema(Schema):
    year = fields.Integer()
    source = fields.String()
    holidays = fields.Integer()
    adjustedWorkdays = fields.Integer()


class YearSchema(Schema):
    year = fields.Integer(required=True)
    region = fields.String()
    source = fields.String()
    holidays = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    adjustedWorkdays = fields.Dict(keys=fields.String(), values=fields.String(), data_key="adjusted_workdays")


@blp.route("/years", methods=["GET"])
@require()
@blp.response(200, YearSummarySchema(many=True))
@with_errors(blp, 401)
def years() -> list[dict[str, Any]]:
    """Years the calendar knows; deadlines in other years fall back to weekends only, with a warning."""
    calendar = engine().calendar
    out = []
    for year in sorted(calendar.known_years()):
        data = calendar.year_data(year)
        if data is not None:
            out.append(
                {
                    "year": year,
                    "source": data.source,
                    "holidays": len(data.holidays),
                    "adjustedWorkdays": len(data.adjusted_workdays),
                }
            )
    return out


@blp.route("/years/<int:year>", methods=["GET"])
@require()
@blp.response(200, description="the year's schedule in the operator file format")
@with_errors(blp, 401, 404)
def year(year: int) -> dict[str, Any]:
    data = engine().calendar.year_data(year)
    if data is None:
        raise NotFound(f"the calendar has no data for {year}")
    return year_to_json(data)


@blp.route("/years/<int:year>", methods=["PUT"])
@require("admin")
@blp.arguments(Schema.from_dict({}, name="CalendarYear")(unknown="include"), location="json")
@blp.response(200, YearSummarySchema)
@with_errors(blp, 400, 401, 403, 422)
def put_year(data: dict[str, Any], year: int) -> dict[str, Any]:
    """Add or replace a year (the State Council's notice); stored in instance/calendar/<year>.json.

    The whole document is checked first (year, region, every date in the year, only known keys); a refused
    upload changes nothing, so no file can be written that would stop the service at its next start."""
    if data.get("year") != year:
        raise InvalidInput(
            f"{year} 年的日历数据未保存：请求体中的年份须为 {year}（与地址中的年份一致）",
            {"fields": {"year": [f"须为 {year}"]}},
        )
    calendar = engine().calendar
    region = data.get("region", "CN")
    if region != calendar.region:
        raise InvalidInput(
            f"{year} 年的日历数据未保存：地区 {region!r} 不是本系统日历的地区 {calendar.region!r}",
            {"fields": {"region": [f"须为 {calendar.region!r}"]}},
        )
    folder = engine().settings.instance_path / "calendar"
    try:
        parsed = year_from_json(data, folder / f"{year}.json")
    except YearFileInvalid as error:
        raise InvalidInput(
            f"{year} 年的日历数据有 {len(error.problems)} 处错误，未保存：请逐项改正后重新提交",
            {"problems": error.problems},
        ) from error
    save_year_file(folder, data)
    calendar.add_year(parsed)
    return {
        "year": year,
        "source": parsed.source,
        "holidays": len(parsed.holidays),
        "adjustedWorkdays": len(parsed.adjusted_workdays),
    }
