"""/api/petitions: registration, search and each petition's whole timeline."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, post_dump, validate

from engine import exports, policy, queries, services
from engine.policy import contact_fields
from engine.queries import PetitionFilter

from ..auth import current, engine, require
from .common import (
    TOTAL_HEADER,
    AuditEventSchema,
    ExportArgs,
    PageArgs,
    StepSchema,
    export_doc,
    export_response,
    sort_arg,
    sort_order,
    source,
    with_errors,
    with_total,
)
from .instances import InstanceSchema, PersonSchema
from .public import (
    IssuedCodeSchema,
    PublicViewSchema,
    RatingSchema,
    RegistrationSchema,
    issued_fields,
)
from .tasks import CompleteResultSchema

blp = Blueprint("petitions", __name__, url_prefix="/api/petitions", description="Petitions (信访事项)")
STATUSES = (
    "registered",
    "in_progress",
    "closed",
    "not_accepted",
    "terminated",
    "cancelled",
    "withdrawn",
    "channelled",
    "merged",
)


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
    responsibleUnit = fields.String(
        attribute="responsible_unit",
        allow_none=True,
        metadata={"description": "the code of the unit responsible"},
    )
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


class PetitionListSchema(PetitionSchema):
    current = fields.List(
        fields.Nested(StepSchema), metadata={"description": "the innermost active steps of its procedure"}
    )


class PetitionDetailSchema(PetitionSchema):
    instances = fields.List(fields.Nested(InstanceSchema))
    deadlines = fields.List(fields.Nested(DeadlineSchema))
    timeline = fields.List(fields.Nested(AuditEventSchema))
    people = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(PersonSchema),
        metadata={"description": "the display name and unit of every login the timeline names"},
    )


class PetitionSearch(Schema):
    number = fields.String()
    petitioner = fields.String(validate=validate.Length(min=1, max=100))
    status = fields.String(validate=validate.OneOf(STATUSES))
    unit = fields.String(metadata={"description": "the responsible unit's code"})
    involvedUnit = fields.String(metadata={"description": "the unit complained about"})
    overdue = fields.Boolean(metadata={"description": "with an open task whose due time has come"})
    dueSoon = fields.Boolean(metadata={"description": "with an open task inside the warning window"})
    text = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "words of the subject or content (three characters or more use an index)"},
    )
    phone = fields.String(
        validate=validate.Length(min=3, max=30),
        metadata={"description": "the beginning of the petitioner's phone (for roles that see phones)"},
    )
    idNumber = fields.String(
        validate=validate.Length(min=6, max=40),
        metadata={"description": "the petitioner's identity number, exactly (for roles that see it)"},
    )
    sort = sort_arg(queries.PETITION_SORTS)


class PetitionQuery(PetitionSearch, PageArgs):
    pass


class PetitionExportArgs(PetitionSearch, ExportArgs):
    pass


def petition_filter(args: dict[str, Any], limit: int, offset: int = 0) -> PetitionFilter:
    return PetitionFilter(
        number=args.get("number"),
        petitioner=args.get("petitioner"),
        status=args.get("status"),
        unit=args.get("unit"),
        involved_unit=args.get("involvedUnit"),
        overdue=args.get("overdue"),
        due_soon=args.get("dueSoon"),
        limit=limit,
        offset=offset,
        text=args.get("text"),
        phone=args.get("phone"),
        id_number=args.get("idNumber"),
        sort=sort_order(args.get("sort")),
    )


class RegisterResultSchema(PetitionSchema, IssuedCodeSchema):
    firstTasks = fields.List(fields.String())


class CheckResultSchema(Schema):
    isRepeat = fields.Boolean()
    firstTurnedRepeat = fields.Boolean()
    sameMatterPending = fields.Boolean()
    matterTerminated = fields.Boolean()
    previousNumber = fields.String(allow_none=True)
    warning = fields.String(allow_none=True)
    # Earlier petitions of the same person on a similar matter, best first: the registrar links or unlinks them.
    proposals = fields.List(fields.Dict())


@blp.route("")
class Petitions(MethodView):
    @require(*policy.PETITION_READERS)
    @blp.arguments(PetitionQuery, location="query")
    @blp.response(200, PetitionListSchema(many=True), headers=TOTAL_HEADER)
    @with_errors(blp, 401, 403, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """Search within the caller's jurisdiction by number, petitioner (name prefix), phone, identity number,
        words of the subject or content, status, unit, overdue; each with its innermost active steps;
        X-Total-Count over all pages."""
        f = petition_filter(args, args["limit"], args["offset"])
        found = services.visible_petitions(engine(), current(), f)
        total = services.petition_total(engine(), current(), f)
        places = services.positions(engine(), [p.instance_id for p in found if p.instance_id])
        rows = [
            {**source(PetitionSchema(), p), "current": services.step_rows(places.get(p.instance_id or ""))}
            for p in found
        ]
        return with_total(rows, total)

    @require("registrar", "admin")
    @blp.arguments(RegistrationSchema, location="json")
    @blp.response(201, RegisterResultSchema)
    @with_errors(blp, 400, 401, 403, 404, 422)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Register a petition (the fields of forms/intake_registration.form); starts its intake procedure."""
        petition, result, issued = services.register(engine(), current(), data)
        return {
            **source(PetitionSchema(), petition),
            "firstTasks": result.created_tasks,
            **issued_fields(issued),
        }


@blp.route("/export", methods=["GET"])
@require(*policy.PETITION_EXPORTERS)
@blp.arguments(PetitionExportArgs, location="query")
@blp.doc(**export_doc())
@with_errors(blp, 401, 403, 422)
def export(args: dict[str, Any]) -> Any:
    """The petition list with the same filters, as .xlsx or .csv (UTF-8 with BOM), all pages at once."""
    rows = services.visible_petitions(engine(), current(), petition_filter(args, exports.EXPORT_LIMIT))
    fmt = args["format"]
    chunks = exports.petitions(fmt, rows, engine().calendar.tz)
    return export_response(chunks, f"信访事项.{fmt}", exports.MEDIA_TYPES[fmt])


@blp.route("/check", methods=["POST"])
@require("registrar", "admin")
@blp.arguments(RegistrationSchema, location="json")
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
        "proposals": [{"number": number, "similarity": score} for number, score in seen.proposals],
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
            "people": services.people(engine(), [e.actor for e in events]),
        }


def _reason() -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=1, max=2000))


def act(
    path: str,
    schema: type[Schema],
    response: Any = CompleteResultSchema,
    *,
    roles: Any = None,
    status: int = 200,
) -> Any:
    """A POST on one petition that records an act (``/api/petitions/<number>/<path>``): its guard, body
    schema, answer and error responses, one list for every such route."""
    guard = roles or policy.PETITIONER_PROXIES

    def decorate(view: Any) -> Any:
        view = with_errors(blp, 400, 401, 403, 404, 409, 422)(view)
        view = blp.response(status, response)(view)
        view = blp.arguments(schema)(view)
        view = require(*guard)(view)
        return blp.route(f"/<number>/{path}", methods=["POST"])(view)

    return decorate


class ReviewRequestArgs(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(("review", "recheck")))
    request = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    facts = fields.String(load_default=None, validate=validate.Length(max=5000))
    reasons = fields.String(load_default=None, validate=validate.Length(max=5000))
    requestedAt = fields.Date(load_default=None)


class WithdrawalArgs(Schema):
    reason = _reason()


class ExtensionRequestArgs(Schema):
    reason = _reason()
    days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=30))


class LinkArgs(Schema):
    other = fields.String(required=True, validate=validate.Length(min=1, max=30))
    reason = _reason()
    linked = fields.Boolean(load_default=True)


class MergeArgs(Schema):
    into = fields.String(required=True, validate=validate.Length(min=1, max=30))
    reason = _reason()


class SplitArgs(Schema):
    subject = fields.String(required=True, validate=validate.Length(min=1, max=100))
    request = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    facts = fields.String(load_default=None, validate=validate.Length(max=5000))
    reasons = fields.String(load_default=None, validate=validate.Length(max=5000))
    reason = _reason()


def _given(args: dict[str, Any], *leave: str) -> dict[str, Any]:
    """The body's fields that were given, dates as ISO text, without ``leave``."""
    return {
        k: v.isoformat() if hasattr(v, "isoformat") else v
        for k, v in args.items()
        if v is not None and k not in leave
    }


@act("review-requests", ReviewRequestArgs)
def request_review(args: dict[str, Any], number: str) -> Any:
    """Record the petitioner's request for 复查 (kind review) or 复核 (kind recheck) and deliver it to the
    petition's procedure; 409 when nothing was served yet, the 30-day window has passed or it was asked."""
    return services.request_review(engine(), current(), number, args["kind"], _given(args, "kind"))


@act("evaluation", RatingSchema, PublicViewSchema)
def evaluate_for(args: dict[str, Any], number: str) -> dict[str, Any]:
    """Record the petitioner's evaluation given at the counter or by letter (the same rules as online)."""
    return services.evaluate_for(engine(), current(), number, args["rating"], args.get("reason"))


@act("withdrawal", WithdrawalArgs)
def withdraw(args: dict[str, Any], number: str) -> Any:
    """Record that the petitioner withdrew the petition (撤回): its procedure ends, its status is withdrawn."""
    return services.withdraw(engine(), current(), number, args["reason"])


@act("extension-requests", ExtensionRequestArgs, roles=("handler", "admin"))
def request_extension(args: dict[str, Any], number: str) -> Any:
    """The handling unit asks, within the 60 days, for the one extension of at most 30 days (Art. 34); the
    organ's head approves it while the work goes on. 409 after the period, or when one was asked already."""
    return services.request_extension(engine(), current(), number, dict(args))


@act("links", LinkArgs, PetitionSchema)
def link(args: dict[str, Any], number: str) -> Any:
    """The registrar links the petition to an earlier one as the same matter (linked true) or takes it out of
    that matter (linked false), with the reason; the repeat flags follow and the audit keeps the decision."""
    return services.link_petition(
        engine(), current(), number, args["other"], args["reason"], linked=args["linked"]
    )


@act("merge", MergeArgs)
def merge(args: dict[str, Any], number: str) -> Any:
    """合并办理: handle the petition together with ``into`` (received no later, whose deadlines then bind
    both); the petition's own procedure ends with the status merged, the reason in both audits."""
    return services.merge(engine(), current(), number, args["into"], args["reason"])


@act("split", SplitArgs, PetitionSchema, status=201)
def split(args: dict[str, Any], number: str) -> Any:
    """拆分办理: register one matter of the petition on its own, with the original receipt date (its
    acceptance and handling periods run from it); answers the new petition (201)."""
    return services.split(engine(), current(), number, _given(args))
