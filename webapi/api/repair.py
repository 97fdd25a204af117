"""Repairing running cases: /api/incidents (failed timer fires, retried one or many), the modification of an
instance (/api/instances/{id}/modification, Camunda 7's instructions, and /move-back) and /api/migrations
(a dry run, then the migration in batches, or in the background as a batch the scheduler works off, followed
at /api/migrations/{id}). Every change names its reason, kept in the case's history."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine import services
from engine.batches import BATCH_TYPE
from engine.policy import REPAIRERS
from engine.repair import INSTRUCTION_TYPES, MigrationPlan

from ..auth import current, engine, require
from .common import PageArgs, with_errors
from .tasks import CompleteResultSchema

blp = Blueprint("repair", __name__, url_prefix="/api", description="Incidents, modification and migration")


class IncidentSchema(Schema):
    id = fields.Integer(attribute="incident.id")
    type = fields.String(attribute="incident.kind", metadata={"description": "failedTimer"})
    message = fields.String(attribute="incident.message")
    elementId = fields.String(attribute="incident.element_id", allow_none=True)
    elementName = fields.String(attribute="element_name", allow_none=True)
    instanceId = fields.String(attribute="incident.instance_id")
    businessKey = fields.String(attribute="incident.business_key", allow_none=True)
    definitionId = fields.String(attribute="definition_id")
    definitionKey = fields.String(attribute="definition_key")
    attempts = fields.Integer(attribute="incident.attempts")
    createdAt = fields.DateTime(attribute="incident.created_at")
    failedAt = fields.DateTime(attribute="incident.failed_at")


class IncidentQuery(PageArgs):
    instanceId = fields.String()


class RetryArgs(Schema):
    ids = fields.List(
        fields.Integer(validate=validate.Range(min=1, max=2**31 - 1)),
        required=True,
        validate=validate.Length(min=1, max=200),
    )


class RetryResultSchema(Schema):
    id = fields.Integer()
    resolved = fields.Boolean()
    message = fields.String(allow_none=True, metadata={"description": "the new error when it failed again"})
    reason = fields.String(
        allow_none=True,
        metadata={"description": "why it was not resolved, as an official reads it (Chinese)"},
    )
    attempts = fields.Integer()


class InstructionSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(INSTRUCTION_TYPES))
    activityId = fields.String(load_default=None)
    activityInstanceId = fields.String(load_default=None, metadata={"description": "an open task's id"})


# Why a case was repaired: kept in its history, so it must say something.
REASON = {
    "validate": [validate.Length(min=1, max=500), validate.Regexp(r"[\s\S]*\S")],
    "metadata": {"description": "kept in the case's history"},
}


class ModificationArgs(Schema):
    instructions = fields.List(
        fields.Nested(InstructionSchema), required=True, validate=validate.Length(min=1, max=50)
    )
    reason = fields.String(required=True, **REASON)


class MoveBackArgs(Schema):
    reason = fields.String(required=True, **REASON)
    taskId = fields.String(load_default=None, metadata={"description": "which step, when several are open"})


class MigrationArgs(Schema):
    sourceDefinitionId = fields.String(required=True)
    targetDefinitionId = fields.String(required=True)
    mapping = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        load_default=dict,
        metadata={"description": "source element id -> target element id; elements not named match by id"},
    )
    instanceIds = fields.List(fields.String(), load_default=None)
    dryRun = fields.Boolean(load_default=True)
    batchSize = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    reason = fields.String(load_default=None, metadata={"description": "required unless dryRun"})
    async_ = fields.Boolean(
        data_key="async",
        load_default=False,
        metadata={
            "description": "with dryRun false: answer 202 with a batch at once and migrate in the background, "
            "batchSize cases per tick of the scheduler (Camunda 7's executeAsync)"
        },
    )


class MigrationFailureSchema(Schema):
    instanceId = fields.String(attribute="instance_id")
    businessKey = fields.String(attribute="business_key", allow_none=True)
    reason = fields.String(attribute="error", metadata={"description": "why the case did not move"})


class MigrationBatchSchema(Schema):
    """Camunda 7's Batch of an asynchronous migration, with its progress."""

    id = fields.String(attribute="batch.id")
    type = fields.Constant(BATCH_TYPE)
    state = fields.String(attribute="batch.state", metadata={"description": "running, completed"})
    sourceDefinitionId = fields.String(attribute="batch.source_definition_id")
    targetDefinitionId = fields.String(attribute="batch.target_definition_id")
    mapping = fields.Dict(keys=fields.String(), values=fields.String(), attribute="batch.mapping")
    reason = fields.String(attribute="batch.reason")
    createUserId = fields.String(attribute="batch.actor", allow_none=True)
    startTime = fields.DateTime(attribute="batch.created_at")
    endTime = fields.DateTime(attribute="batch.finished_at", allow_none=True)
    invocationsPerBatchJob = fields.Integer(
        attribute="batch.batch_size", metadata={"description": "per tick"}
    )
    suspended = fields.Constant(False)
    totalJobs = fields.Integer(attribute="total", metadata={"description": "cases in the batch"})
    migrated = fields.Integer()
    failed = fields.Integer()
    pending = fields.Integer()
    failures = fields.List(fields.Nested(MigrationFailureSchema))


class ActivityMoveSchema(Schema):
    sourceActivityId = fields.String(attribute="from")
    sourceActivityName = fields.String(attribute="fromName", allow_none=True)
    targetActivityId = fields.String(attribute="to")
    targetActivityName = fields.String(attribute="toName", allow_none=True)
    state = fields.String()


class InstanceMigrationSchema(Schema):
    instanceId = fields.String(attribute="move.instance_id")
    businessKey = fields.String(attribute="move.business_key", allow_none=True)
    canMigrate = fields.Boolean(attribute="move.movable")
    activities = fields.List(fields.Nested(ActivityMoveSchema), attribute="move.activities")
    problems = fields.List(fields.String(), attribute="move.problems")
    unmappedActivities = fields.List(
        fields.Dict(), attribute="move.unmapped", metadata={"description": "active steps ({id, name}) to map"}
    )
    migrated = fields.Boolean()
    error = fields.String(allow_none=True)


class MigrationReportSchema(Schema):
    dryRun = fields.Boolean(attribute="dry_run")
    batches = fields.Integer()
    instances = fields.List(fields.Nested(InstanceMigrationSchema))
    targetActivities = fields.List(
        fields.Dict(),
        attribute="target_activities",
        metadata={"description": "the named elements of the target version ({id, name}), to map onto"},
    )


@blp.route("/incidents")
class Incidents(MethodView):
    @require(*REPAIRERS)
    @blp.arguments(IncidentQuery, location="query")
    @blp.response(200, IncidentSchema(many=True))
    @with_errors(blp, 401, 403, 422)
    def get(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """Failed timer fires of running cases within the jurisdiction, the latest failure first."""
        return services.incidents(
            engine(),
            current(),
            instance_id=args.get("instanceId"),
            limit=args["limit"],
            offset=args["offset"],
        )


@blp.route("/incidents/retry", methods=["POST"])
@require(*REPAIRERS)
@blp.arguments(RetryArgs)
@blp.response(200, RetryResultSchema(many=True))
@with_errors(blp, 401, 403, 404, 422)
def retry_many(args: dict[str, Any]) -> Any:
    """Retry several incidents, each in a transaction of its own; each answers resolved or its new error."""
    return services.retry_incidents(engine(), current(), args["ids"])


@blp.route("/incidents/<int(max=2147483647):incident_id>/retry", methods=["POST"])
@require(*REPAIRERS)
@blp.response(200, RetryResultSchema)
@with_errors(blp, 401, 403, 404)
def retry_one(incident_id: int) -> Any:
    """Retry one incident: fire its instance's due timers now."""
    return services.retry_incidents(engine(), current(), [incident_id])[0]


@blp.route("/instances/<instance_id>/modification", methods=["POST"])
@require(*REPAIRERS)
@blp.arguments(ModificationArgs)
@blp.response(200, CompleteResultSchema)
@with_errors(blp, 400, 401, 403, 404, 409, 422)
def modification(args: dict[str, Any], instance_id: str) -> Any:
    """Camunda 7's process instance modification: cancel, startBeforeActivity, startAfterActivity, in order."""
    return services.modify(engine(), current(), instance_id, args["instructions"], args["reason"])


@blp.route("/instances/<instance_id>/move-back", methods=["POST"])
@require(*REPAIRERS)
@blp.arguments(MoveBackArgs)
@blp.response(200, CompleteResultSchema)
@with_errors(blp, 400, 401, 403, 404, 409, 422)
def move_back(args: dict[str, Any], instance_id: str) -> Any:
    """退回上一环节: the case waits again at the human step before its current one."""
    return services.move_back(engine(), current(), instance_id, args["reason"], args.get("taskId"))


@blp.route("/migrations")
class Migrations(MethodView):
    @require(*REPAIRERS)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, MigrationBatchSchema(many=True))
    @with_errors(blp, 401, 403, 422)
    def get(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """The background migrations, the latest first, each with its progress."""
        return services.migration_batches(engine(), current(), limit=args["limit"], offset=args["offset"])

    @require(*REPAIRERS)
    @blp.arguments(MigrationArgs)
    @blp.response(200, MigrationReportSchema)
    @blp.alt_response(202, schema=MigrationBatchSchema, description="the batch, with async", success=True)
    @with_errors(blp, 400, 401, 403, 404, 409, 422)
    def post(self, args: dict[str, Any]) -> Any:
        """Migrate the running instances of one version to another: a dry run lists what each would become and
        which cannot move; without dryRun those that can are moved in batches, each in a transaction of its
        own; with async the migration is recorded as a batch, answered at once (202) and worked off in the
        background."""
        plan = MigrationPlan(args["sourceDefinitionId"], args["targetDefinitionId"], dict(args["mapping"]))
        if args["async_"] and not args["dryRun"]:
            batch = services.start_migration(
                engine(),
                current(),
                plan,
                instance_ids=args.get("instanceIds"),
                batch_size=args["batchSize"],
                reason=args.get("reason"),
            )
            return jsonify(MigrationBatchSchema().dump(batch)), 202
        return services.migrate(
            engine(),
            current(),
            plan,
            instance_ids=args.get("instanceIds"),
            dry_run=args["dryRun"],
            batch_size=args["batchSize"],
            reason=args.get("reason"),
        )


@blp.route("/migrations/<batch_id>")
@require(*REPAIRERS)
@blp.response(200, MigrationBatchSchema)
@with_errors(blp, 401, 403, 404)
def migration_batch(batch_id: str) -> Any:
    """A background migration: its state, totals, and each failed case with its reason."""
    return services.migration_batch(engine(), current(), batch_id)
