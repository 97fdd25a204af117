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
from .common import AuditEventSchema, PageArgs, json_safe, source, with_errors
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


class InstanceDetailSchema(InstanceSchema):
    tasks = fields.List(fields.Nested(TaskSchema))
    variables = fields.Dict()
    history = fields.List(fields.Nested(AuditEventSchema))


class InstanceQuery(PageArgs):
    definitionKey = fields.String()
    state = fields.String(validate=validate.OneOf(STATES))
    businessKey = fields.String()
    overdue = fields.Boolean(metadata={"description": "with an open task whose due time has come"})
    dueSoon = fields.Boolean(metadata={"description": "with an open task inside the warning window"})
    assignee = fields.String()


class CancelArgs(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=500))


@blp.route("")
class Instances(MethodView):
    @require(*INSTANCE_READERS)
    @blp.arguments(InstanceQuery, location="query")
    @blp.response(200, InstanceSchema(many=True))
    @with_errors(blp, 401, 403, 422)
    def get(self, args: dict[str, Any]) -> list[Any]:
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
        )
        return services.read(engine(), queries.list_instances, f, engine().now())


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
        return {**source(InstanceSchema(), row), "tasks": tasks, "variables": variables, "history": events}


@blp.route("/<instance_id>/suspend", methods=["POST"])
@require(*policy.INSTANCE_MANAGERS)
@blp.response(200, CompleteResultSchema)
@with_errors(blp, 401, 403, 404, 409)
def suspend(instance_id: str) -> Any:
    return services.suspend(engine(), current(), instance_id)


@blp.route("/<instance_id>/resume", methods=["POST"])
@require(*policy.INSTANCE_MANAGERS)
@blp.response(200, CompleteResultSchema)
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
