"""/api/calendar: the statutory calendar's years, and adding a year's official schedule."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from engine.calendar import year_to_json
from engine.errors import NotFound

from ..auth import current, engine, require
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
    """Add or replace a year (the State Council's notice), for every web worker and the scheduler.

    The whole document is checked first (year, region, every date in the year, only known keys); a refused
    upload changes nothing. The scheduler then recomputes the open deadlines the year moves, each recorded in
    the instance's history with the old and the new due time."""
    parsed = engine().calendar_years.put(year, data, current().username)
    return {
        "year": year,
        "source": parsed.source,
        "holidays": len(parsed.holidays),
        "adjustedWorkdays": len(parsed.adjusted_workdays),
    }


class CalendarWarningSchema(Schema):
    code = fields.String()
    year = fields.Integer()
    message = fields.String()


class CalendarStatusSchema(Schema):
    warnings = fields.List(fields.Nested(CalendarWarningSchema))


@blp.route("/status", methods=["GET"])
@require()
@blp.response(200, CalendarStatusSchema)
@with_errors(blp, 401)
def status() -> dict[str, Any]:
    """What the cockpit warns about: this year counted without its official schedule, and from 1 November
    next year's schedule not yet added."""
    return {"warnings": engine().calendar_years.warnings()}
