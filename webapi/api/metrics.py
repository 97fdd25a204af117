"""/api/metrics: the statutory metrics per unit and month."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from engine import exports, services

from ..auth import current, engine, require
from .common import ExportArgs, export_doc, export_response, with_errors

blp = Blueprint(
    "metrics",
    __name__,
    url_prefix="/api/metrics",
    description="化解率, 按期办结率, 及时受理率, 满意率, 参评率",
)


class MetricArgs(Schema):
    """The filters of engine/metrics.py's MetricQuery, under their names there (the query string's, data_key, are camelCase)."""

    since = fields.Date()
    until = fields.Date()
    unit = fields.String(metadata={"description": "the responsible unit's code"})
    involved_unit = fields.String(
        data_key="involvedUnit", metadata={"description": "the unit complained about"}
    )
    by_unit = fields.Boolean(
        data_key="byUnit", load_default=True, metadata={"description": "a row per responsible unit"}
    )
    by_involved = fields.Boolean(
        data_key="byInvolvedUnit",
        load_default=False,
        metadata={"description": "a row per unit complained about"},
    )
    by_month = fields.Boolean(data_key="byMonth", load_default=True)


class MetricRowSchema(Schema):
    unit = fields.String()
    involvedUnit = fields.String()
    month = fields.String()
    registered = fields.Integer()
    overdueNow = fields.Integer(metadata={"description": "petitions with an open step overdue now"})
    resolutionRate = fields.Float(allow_none=True)
    resolved = fields.Integer()
    packaged = fields.Integer()
    onTimeRate = fields.Float(allow_none=True)
    handledOnTime = fields.Integer()
    handlingClosed = fields.Integer()
    timelyAcceptanceRate = fields.Float(allow_none=True)
    acceptedOnTime = fields.Integer()
    acceptanceClosed = fields.Integer()
    satisfactionRate = fields.Float(allow_none=True)
    satisfied = fields.Integer()
    evaluations = fields.Integer()
    evaluationRate = fields.Float(allow_none=True, metadata={"description": "参评率: evaluations ÷ eligible"})
    eligible = fields.Integer(metadata={"description": "items whose written reply was served"})


class MetricExportArgs(MetricArgs, ExportArgs):
    pass


@blp.route("", methods=["GET"])
@require("supervisor", "leader", "admin")
@blp.arguments(MetricArgs, location="query")
@blp.response(200, MetricRowSchema(many=True))
@with_errors(blp, 401, 403, 422)
def metrics(args: dict[str, Any]) -> list[dict[str, Any]]:
    """Each rate with its numerator and denominator, so the figure can be checked; by the unit responsible for
    each item, within the caller's jurisdiction."""
    return services.metrics(engine(), current(), **args)


@blp.route("/export", methods=["GET"])
@require("supervisor", "leader", "admin")
@blp.arguments(MetricExportArgs, location="query")
@blp.doc(**export_doc())
@with_errors(blp, 401, 403, 422)
def export(args: dict[str, Any]) -> Any:
    """The metrics with the same filters, as .xlsx or .csv (UTF-8 with BOM)."""
    fmt = args.pop("format")
    rows = services.metrics(engine(), current(), **args)
    chunks = exports.metrics(fmt, rows, engine().calendar.tz)
    return export_response(chunks, f"统计指标.{fmt}", exports.MEDIA_TYPES[fmt])
