"""/api/escalations: warnings, supervision, listings and patrol findings."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine import queries, services
from engine.escalation import MANUAL_REASONS
from engine.queries import EscalationFilter

from ..auth import current, engine, require
from .common import TOTAL_HEADER, PageArgs, sort_arg, sort_order, with_errors, with_total

blp = Blueprint("escalations", __name__, url_prefix="/api/escalations", description="The escalation ladder")
KINDS = ("warning", "supervision", "sanction", "accountability", "listing", "patrol", "manual")


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
    overdue = fields.Boolean(
        metadata={"description": "steps of cases with an open task whose due time has come"}
    )
    dueSoon = fields.Boolean(
        metadata={"description": "steps of cases with an open task inside the warning window"}
    )
    sort = sort_arg(queries.ESCALATION_SORTS)


@blp.route("", methods=["GET"])
@require("supervisor", "leader", "admin")
@blp.arguments(EscalationQuery, location="query")
@blp.response(200, EscalationSchema(many=True), headers=TOTAL_HEADER)
@with_errors(blp, 401, 403, 422)
def escalations(args: dict[str, Any]) -> Any:
    """Newest first (or in the order asked for), within the caller's jurisdiction; ``unit`` is the responsible
    unit's code; X-Total-Count over all pages."""
    f = EscalationFilter(
        kind=args.get("kind"),
        unit=args.get("unit"),
        business_key=args.get("businessKey"),
        within=services.within(engine(), current()),
        limit=args["limit"],
        offset=args["offset"],
        overdue=args.get("overdue"),
        due_soon=args.get("dueSoon"),
        sort=sort_order(args.get("sort")),
    )
    found = services.read(engine(), queries.list_escalations, f, engine().now())
    return with_total(found, services.read(engine(), queries.count_escalations, f, engine().now()))


class SupervisionArgs(Schema):
    businessKey = fields.String(required=True, validate=validate.Length(min=1, max=100))
    reason = fields.String(
        required=True,
        validate=validate.OneOf(tuple(MANUAL_REASONS)),
        metadata={"description": "assigned_from_above | leader_reception | long_unresolved | wide_impact"},
    )
    note = fields.String(load_default=None, validate=validate.Length(max=500))


class SupervisionStartedSchema(Schema):
    instanceId = fields.String(attribute="instance_id")
    businessKey = fields.String(attribute="business_key", allow_none=True)
    createdTasks = fields.List(fields.String(), attribute="created_tasks")


@blp.route("/supervisions", methods=["POST"])
@require("supervisor", "admin")
@blp.arguments(SupervisionArgs)
@blp.response(201, SupervisionStartedSchema)
@with_errors(blp, 400, 401, 403, 404, 422)
def supervise(args: dict[str, Any]) -> Any:
    """督办 of an important item (items assigned from above, from leaders' reception, long unresolved):
    recorded on the board as a manual step and a supervision procedure started for it."""
    return services.supervise(engine(), current(), args["businessKey"], args["reason"], args.get("note"))
