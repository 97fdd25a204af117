"""/api/instances: where each case stands, for supervisors."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine import policy, queries, services
from engine.policy import INSTANCE_READERS
from engine.queries import InstanceFilter

from ..auth import current, engine, require
from .common import (
    TOTAL_HEADER,
    AuditEventSchema,
    PageArgs,
    StepSchema,
    json_safe,
    sort_arg,
    sort_order,
    source,
    with_errors,
    with_total,
)
from .tasks import CompleteResultSchema, TaskSchema

blp = Blueprint("instances", __name__, url_prefix="/api/instances", description="Process instances")
STATES = ("active", "suspended", "completed", "cancelled")


class InstanceSchema(Schema):
    id = fields.String()
    definitionId = fields.String(attribute="definition_id")
    definitionKey = fields.String(attribute="definition_key")
    businessKey = fields.String(attribute="business_key", allow_none=True)
    state = fields.String()
    startedAt = fields.DateTime(attribute="started_at")
    startedBy = fields.String(attribute="started_by", allow_none=True)
    endedAt = fields.DateTime(attribute="ended_at", allow_none=True)
    nextTimerAt = fields.DateTime(attribute="next_timer_at", allow_none=True)
    activeElements = fields.List(fields.String(), attribute="active_elements")


class ResumeResultSchema(CompleteResultSchema):
    incidentId = fields.Integer(
        attribute="incident",
        allow_none=True,
        metadata={
            "description": "a timer due while suspended failed to fire: its incident (the case is resumed)"
        },
    )
    message = fields.String(
        metadata={"description": "what the official reads: resumed, or which step failed"}
    )


class CaseUnitsSchema(Schema):
    involvedUnit = fields.String(allow_none=True)
    responsibleUnit = fields.String(allow_none=True, metadata={"description": "the responsible unit's code"})


class InstanceListSchema(InstanceSchema):
    current = fields.List(
        fields.Nested(StepSchema),
        metadata={"description": "the innermost active steps, in called procedures too"},
    )
    tasks = fields.List(fields.Nested(TaskSchema), metadata={"description": "the case's open tasks"})
    case = fields.Nested(CaseUnitsSchema, allow_none=True)


class LevelSchema(Schema):
    process = fields.String(
        metadata={"description": "the id of the process: the instance's own, or a called one"}
    )
    name = fields.String()
    definitionId = fields.String(allow_none=True, metadata={"description": "the definition to draw it from"})
    parent = fields.String(allow_none=True, metadata={"description": "the process that called it"})
    via = fields.String(allow_none=True, metadata={"description": "the call activity of the parent"})
    steps = fields.List(fields.String(), metadata={"description": "its innermost active elements"})


class PersonSchema(Schema):
    name = fields.String()
    unit = fields.String(allow_none=True)


class InstanceDetailSchema(InstanceSchema):
    tasks = fields.List(fields.Nested(TaskSchema))
    variables = fields.Dict()
    history = fields.List(fields.Nested(AuditEventSchema))
    levels = fields.List(
        fields.Nested(LevelSchema),
        metadata={"description": "the procedures the case is in, outermost first (the instance tree)"},
    )
    people = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(PersonSchema),
        metadata={"description": "the display name and unit of every login the history names"},
    )


class InstanceQuery(PageArgs):
    definitionKey = fields.String()
    state = fields.String(validate=validate.OneOf(STATES))
    businessKey = fields.String()
    overdue = fields.Boolean(metadata={"description": "with an open task whose due time has come"})
    dueSoon = fields.Boolean(metadata={"description": "with an open task inside the warning window"})
    assignee = fields.String()
    unit = fields.String(metadata={"description": "the responsible unit's code"})
    sort = sort_arg(queries.INSTANCE_SORTS)


class CancelArgs(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=500))


@blp.route("")
class Instances(MethodView):
    @require(*INSTANCE_READERS)
    @blp.arguments(InstanceQuery, location="query")
    @blp.response(200, InstanceListSchema(many=True), headers=TOTAL_HEADER)
    @with_errors(blp, 401, 403, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """Newest first (``sort=due``: the soonest due step first), each with its innermost active steps, its
        case's open tasks and units; X-Total-Count over all pages."""
        f = InstanceFilter(
            definition_key=args.get("definitionKey"),
            state=args.get("state"),
            business_key=args.get("businessKey"),
            overdue=args.get("overdue"),
            due_soon=args.get("dueSoon"),
            assignee=args.get("assignee"),
            within=services.within(engine(), current()),
            limit=args["limit"],
            offset=args["offset"],
            unit=args.get("unit"),
            sort=sort_order(args.get("sort")),
        )
        found = services.read(engine(), queries.list_instances, f, engine().now())
        total = services.read(engine(), queries.count_instances, f, engine().now())
        return with_total(instance_rows(found), total)


def instance_rows(found: list[Any]) -> list[dict[str, Any]]:
    """Each listed instance with its innermost active steps, its case's open tasks and its units."""
    places = services.positions(engine(), [i.id for i in found])
    tasks, cases = services.read(engine(), queries.case_overview, found)
    return [
        {
            **source(InstanceSchema(), i),
            "current": services.step_rows(places.get(i.id)),
            "tasks": tasks.get(i.id, []),
            "case": cases.get(i.business_key or ""),
        }
        for i in found
    ]


@blp.route("/<instance_id>")
class InstanceItem(MethodView):
    @require()
    @blp.response(200, InstanceDetailSchema)
    @with_errors(blp, 401, 403, 404)
    def get(self, instance_id: str) -> dict[str, Any]:
        """An instance with its open tasks, variables and the history of what happened."""
        row = services.readable_instance(engine(), current(), instance_id)
        tasks = services.read(engine(), queries.instance_tasks, instance_id)
        events = services.instance_history(engine(), current(), row)
        variables = json_safe(services.instance_variables(engine(), current(), instance_id))
        return {
            **source(InstanceSchema(), row),
            "tasks": tasks,
            "variables": variables,
            "history": events,
            "levels": services.instance_levels(engine(), row),
            "people": services.people(engine(), [e.actor for e in events]),
        }


@blp.route("/<instance_id>/suspend", methods=["POST"])
@require(*policy.INSTANCE_MANAGERS)
@blp.response(200, CompleteResultSchema)
@with_errors(blp, 401, 403, 404, 409)
def suspend(instance_id: str) -> Any:
    return services.suspend(engine(), current(), instance_id)


@blp.route("/<instance_id>/resume", methods=["POST"])
@require(*policy.INSTANCE_MANAGERS)
@blp.response(200, ResumeResultSchema)
@with_errors(blp, 401, 403, 404, 409)
def resume(instance_id: str) -> Any:
    return services.resume(engine(), current(), instance_id)


@blp.route("/<instance_id>/cancel", methods=["POST"])
@require(*policy.INSTANCE_MANAGERS)
@blp.arguments(CancelArgs, required=False)
@blp.response(200, CompleteResultSchema)
@with_errors(blp, 400, 401, 403, 404, 409, 422)
def cancel(args: dict[str, Any], instance_id: str) -> Any:
    return services.cancel(engine(), current(), instance_id, args.get("reason"))
