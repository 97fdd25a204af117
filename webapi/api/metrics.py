"""/api/metrics: the statutory metrics per unit and month."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from engine import services
from engine.metrics import MetricQuery, compute

from ..auth import engine, require
from .common import with_errors

blp = Blueprint(
    "metrics",
    __name__,
    url_prefix="/api/metrics",
    description="化解率, 按期办结率, 及时受理率, 满意率, 参评率",
)


class MetricArgs(Schema):
    since = fields.Date()
    until = fields.Date()
    unit = fields.String()
    byUnit = fields.Boolean(load_default=True)
    byMonth = fields.Boolean(load_default=True)


class MetricRowSchema(Schema):
    unit = fields.String()
    month = fields.String()
    registered = fields.Integer()
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


@blp.route("", methods=["GET"])
@require("supervisor", "leader", "admin")
@blp.arguments(MetricArgs, location="query")
@blp.response(200, MetricRowSchema(many=True))
@with_errors(blp, 401, 403, 422)
def metrics(args: dict[str, Any]) -> list[dict[str, Any]]:
    """Each rate with its numerator and denominator, so the figure can be checked."""
    q = MetricQuery(
        since=args.get("since"),
        until=args.get("until"),
        unit=args.get("unit"),
        by_unit=args["byUnit"],
        by_month=args["byMonth"],
    )
    return services.read(engine(), compute, q)
