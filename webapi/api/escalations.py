"""/api/escalations: warnings, supervision, listings and patrol findings."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine import queries, services
from engine.queries import EscalationFilter

from ..auth import current, engine, require
from .common import PageArgs, with_errors

blp = Blueprint("escalations", __name__, url_prefix="/api/escalations", description="The escalation ladder")
KINDS = ("warning", "supervision", "listing", "patrol")


class EscalationSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    businessKey = fields.String(attribute="business_key", allow_none=True)
    instanceId = fields.String(attribute="instance_id", allow_none=True)
    deadline = fields.String(attribute="deadline_name", allow_none=True)
    unit = fields.String(allow_none=True)
    reason = fields.String()
    due = fields.DateTime(attribute="due_at", allow_none=True)
    createdAt = fields.DateTime(attribute="created_at")
    details = fields.Dict(allow_none=True)


class EscalationQuery(PageArgs):
    kind = fields.String(validate=validate.OneOf(KINDS))
    unit = fields.String()
    businessKey = fields.String()


@blp.route("", methods=["GET"])
@require("supervisor", "leader", "admin")
@blp.arguments(EscalationQuery, location="query")
@blp.response(200, EscalationSchema(many=True))
@with_errors(blp, 401, 403, 422)
def escalations(args: dict[str, Any]) -> list[Any]:
    """Newest first, within the caller's jurisdiction; ``unit`` is the responsible unit's code."""
    where = (args.get("kind"), args.get("unit"), args.get("businessKey"))
    within = services.within(engine(), current())
    f = EscalationFilter(*where, within, args["limit"], args["offset"])
    return services.read(engine(), queries.list_escalations, f)
