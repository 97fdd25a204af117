"""/api/petitions: registration, search and each petition's whole timeline."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, post_dump, validate

from engine import policy, queries, services
from engine.policy import contact_fields
from engine.queries import PetitionFilter

from ..auth import current, engine, require
from .common import AuditEventSchema, PageArgs, source, with_errors
from .instances import InstanceSchema
from .public import DeliverySchema, PublicViewSchema, RatingSchema
from .tasks import CompleteResultSchema

blp = Blueprint("petitions", __name__, url_prefix="/api/petitions", description="Petitions (信访事项)")
STATUSES = ("registered", "in_progress", "closed", "not_accepted", "terminated", "cancelled", "withdrawn")


class PetitionSchema(Schema):
    number = fields.String()
    petitionerName = fields.String(attribute="petitioner_name")
    idType = fields.String(attribute="id_type", allow_none=True)
    idNumber = fields.String(attribute="id_number", allow_none=True)
    phone = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    channel = fields.String()
    receivedAt = fields.Date(attribute="received_at")
    subject = fields.String()
    content = fields.String()
    category = fields.String(allow_none=True)
    involvedUnit = fields.String(attribute="involved_unit", allow_none=True)
    place = fields.String(allow_none=True)
    peopleCount = fields.Integer(attribute="people_count")
    representatives = fields.List(fields.String())
    majorUrgent = fields.Boolean(attribute="major_urgent")
    isRepeat = fields.Boolean(attribute="is_repeat")
    firstTurnedRepeat = fields.Boolean(attribute="first_turned_repeat")
    sameMatterPending = fields.Boolean(attribute="same_matter_pending")
    matterTerminated = fields.Boolean(attribute="matter_terminated")
    refluxCount = fields.Integer(attribute="reflux_count")
    previousNumber = fields.String(attribute="previous_number", allow_none=True)
    status = fields.String()
    outcome = fields.String(allow_none=True)
    instanceId = fields.String(attribute="instance_id", allow_none=True)
    registeredBy = fields.String(attribute="registered_by", allow_none=True)
    registeredAt = fields.DateTime(attribute="registered_at")
    closedAt = fields.DateTime(attribute="closed_at", allow_none=True)

    @post_dump
    def _mask_contact(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return contact_fields(current(), data)


class DeadlineSchema(Schema):
    name = fields.String()
    basis = fields.String()
    unit = fields.String()
    length = fields.Integer()
    anchor = fields.Date()
    due = fields.DateTime(attribute="effective_due")
    pausedAt = fields.DateTime(attribute="paused_at", allow_none=True)
    extensionDays = fields.Integer(attribute="extension_days")
    outcome = fields.String(allow_none=True)
    closedAt = fields.DateTime(attribute="closed_at", allow_none=True)


class PetitionDetailSchema(PetitionSchema):
    instances = fields.List(fields.Nested(InstanceSchema))
    deadlines = fields.List(fields.Nested(DeadlineSchema))
    timeline = fields.List(fields.Nested(AuditEventSchema))


class PetitionQuery(PageArgs):
    number = fields.String()
    petitioner = fields.String(validate=validate.Length(min=1, max=100))
    status = fields.String(validate=validate.OneOf(STATUSES))
    unit = fields.String()
    overdue = fields.Boolean()


class RegisterResultSchema(PetitionSchema):
    firstTasks = fields.List(fields.String())
    queryCode = fields.String(metadata={"description": "the petitioner's query code, shown once"})
    delivery = fields.Nested(DeliverySchema)


class CheckResultSchema(Schema):
    isRepeat = fields.Boolean()
    firstTurnedRepeat = fields.Boolean()
    sameMatterPending = fields.Boolean()
    matterTerminated = fields.Boolean()
    previousNumber = fields.String(allow_none=True)
    warning = fields.String(allow_none=True)


@blp.route("")
class Petitions(MethodView):
    @require("registrar", "supervisor", "leader", "admin")
    @blp.arguments(PetitionQuery, location="query")
    @blp.response(200, PetitionSchema(many=True))
    @with_errors(blp, 401, 403, 422)
    def get(self, args: dict[str, Any]) -> list[Any]:
        """Search by number, petitioner (name prefix), status, unit, overdue."""
        f = PetitionFilter(
            number=args.get("number"),
            petitioner=args.get("petitioner"),
            status=args.get("status"),
            unit=args.get("unit"),
            overdue=args.get("overdue"),
            limit=args["limit"],
            offset=args["offset"],
        )
        return services.read(engine(), queries.list_petitions, f, engine().now())

    @require("registrar", "admin")
    @blp.arguments(Schema.from_dict({}, name="Registration")(unknown="include"), location="json")
    @blp.response(201, RegisterResultSchema)
    @with_errors(blp, 400, 401, 403, 404, 422)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Register a petition (the fields of forms/intake_registration.form); starts its intake procedure."""
        petition, result, issued = services.register(engine(), current(), data)
        return {
            **source(PetitionSchema(), petition),
            "firstTasks": result.created_tasks,
            "queryCode": issued.shown,
            "delivery": {"sent": issued.delivery.sent, "note": issued.delivery.note},
        }


@blp.route("/check", methods=["POST"])
@require("registrar", "admin")
@blp.arguments(Schema.from_dict({}, name="RegistrationCheck")(unknown="include"), location="json")
@blp.response(200, CheckResultSchema)
@with_errors(blp, 400, 401, 403, 404, 422)
def check(data: dict[str, Any]) -> dict[str, Any]:
    """Before saving: is this a repeat, is the same matter still pending, was it terminated?"""
    seen = engine().petitions.check(data)
    warning = None
    if seen.terminated:
        warning = "该事项已终结（复核或期满未申请），同一事实和理由不再受理"
    elif seen.pending:
        warning = "同一事项正在办理期限内"
    elif seen.is_repeat:
        warning = "重复信访"
    return {
        "isRepeat": seen.is_repeat,
        "firstTurnedRepeat": seen.first_turned_repeat,
        "sameMatterPending": seen.pending,
        "matterTerminated": seen.terminated,
        "previousNumber": seen.previous.number if seen.previous else None,
        "warning": warning,
    }


@blp.route("/<number>")
class PetitionItem(MethodView):
    @require()
    @blp.response(200, PetitionDetailSchema)
    @with_errors(blp, 401, 403, 404)
    def get(self, number: str) -> dict[str, Any]:
        """One petition with its procedures, deadlines and timeline."""
        petition, instances, events, deadlines = services.readable_petition(engine(), current(), number)
        return {
            **source(PetitionSchema(), petition),
            "instances": instances,
            "deadlines": deadlines,
            "timeline": events,
        }


@blp.route("/<number>/evaluation", methods=["POST"])
@require(*policy.PETITIONER_PROXIES)
@blp.arguments(RatingSchema, location="json")
@blp.response(200, PublicViewSchema)
@with_errors(blp, 401, 403, 404, 409, 422)
def evaluate_for(args: dict[str, Any], number: str) -> dict[str, Any]:
    """Record the petitioner's evaluation given at the counter or by letter (the same rules as online)."""
    return services.evaluate_for(engine(), current(), number, args["rating"], args.get("reason"))


class ReviewRequestArgs(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(("review", "recheck")))
    request = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    facts = fields.String(load_default=None, validate=validate.Length(max=5000))
    reasons = fields.String(load_default=None, validate=validate.Length(max=5000))
    requestedAt = fields.Date(load_default=None)


class WithdrawalArgs(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


@blp.route("/<number>/review-requests", methods=["POST"])
@require(*policy.PETITIONER_PROXIES)
@blp.arguments(ReviewRequestArgs)
@blp.response(200, CompleteResultSchema)
@with_errors(blp, 400, 401, 403, 404, 409, 422)
def request_review(args: dict[str, Any], number: str) -> Any:
    """Record the petitioner's request for 复查 (kind review) or 复核 (kind recheck) and deliver it to the
    petition's procedure; 409 when nothing was served yet, the 30-day window has passed or it was asked."""
    fields_ = {k: v for k, v in args.items() if k != "kind" and v is not None}
    if "requestedAt" in fields_:
        fields_["requestedAt"] = fields_["requestedAt"].isoformat()
    return services.request_review(engine(), current(), number, args["kind"], fields_)


@blp.route("/<number>/withdrawal", methods=["POST"])
@require(*policy.PETITIONER_PROXIES)
@blp.arguments(WithdrawalArgs)
@blp.response(200, CompleteResultSchema)
@with_errors(blp, 400, 401, 403, 404, 409, 422)
def withdraw(args: dict[str, Any], number: str) -> Any:
    """Record that the petitioner withdrew the petition (撤回): its procedure ends, its status is withdrawn."""
    return services.withdraw(engine(), current(), number, args["reason"])
