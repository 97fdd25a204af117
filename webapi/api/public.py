"""/api/public: the petitioner's side without an account (engine/public.py), and the outbox for administrators.

Every write here comes from the public pages, so each POST must name this site as its origin (the same CSRF
rule as a signed-in page); the item number and the query code travel in the body, never in the address, so
neither reaches an access log. Attempts are limited per client address and per item number in the database.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, request
from flask_smorest import Blueprint
from flask_smorest.fields import Upload as UploadField
from marshmallow import INCLUDE, Schema, fields, validate

from engine import services
from engine.accounts import TooManyAttempts
from engine.documents import Upload, clean_filename
from engine.errors import InvalidInput
from engine.public import Issued

from ..auth import SAFE_METHODS, check_same_origin, current, engine, require
from ..body import BodyRefused, parse_json, refusal_text
from .common import binary, file_response, with_errors
from .documents import uploads

blp = Blueprint(
    "public_api",
    __name__,
    url_prefix="/api/public",
    description="网上信访: the petitioner's side, no account",
)
admin = Blueprint("outbox", __name__, url_prefix="/api/admin/outbox", description="Messages to petitioners")
RATINGS = ("satisfied", "basically_satisfied", "dissatisfied")


def _address() -> str | None:
    return request.remote_addr


@blp.before_request
def _same_origin() -> None:
    """Before anything is read: a write that does not name this site as its origin is refused (CSRF)."""
    if request.method not in SAFE_METHODS:
        check_same_origin(required=True)


def _limited(call: Any, *args: Any) -> Any:
    """Run a limited use case. A refusal's body is one and the same for every caller and item (the wait is in
    the Retry-After header alone, which webapi/auth.py sets), so no answer differs by what was asked."""
    try:
        return call(*args)
    except TooManyAttempts as error:
        g.retry_after = error.details["retryAfter"]
        raise TooManyAttempts(error.message) from None


class DeliverySchema(Schema):
    sent = fields.Boolean()
    note = fields.String()


class IssuedCodeSchema(Schema):
    """A registration's query code, online or at the counter, and whether a message carried it."""

    queryCode = fields.String(
        metadata={"description": "the petitioner's query code, shown once; only its hash is kept"}
    )
    delivery = fields.Nested(DeliverySchema)


def issued_fields(issued: Issued) -> dict[str, Any]:
    return {
        "queryCode": issued.shown,
        "delivery": {"sent": issued.delivery.sent, "note": issued.delivery.note},
    }


class RegistrationSchema(Schema):
    """The fields of forms/intake_registration.form by the keys the deployed form gives them: any key is taken
    here, and the form's own rules check each (422 naming every field that is wrong)."""

    class Meta:
        unknown = INCLUDE


class OnlinePetitionSchema(RegistrationSchema):
    """The petitioner's fields of the registration form (the office's own are ignored), with the consent to the
    use of their personal data and whether it is a suggestion."""

    consent = fields.Raw(metadata={"type": "boolean", "description": "true: agrees to the consent text"})
    suggestion = fields.Raw(
        metadata={"type": "boolean", "description": "true: a suggestion (no name needed)"}
    )


class OnlinePetitionUpload(Schema):
    """An online petition with files (multipart/form-data)."""

    petition = fields.String(
        required=True, metadata={"description": "the petition's fields as one JSON object (OnlinePetition)"}
    )
    files = fields.List(
        UploadField(),
        metadata={
            "description": "scans, photos, PDF: count, size and type within GET /api/public/form's uploads"
        },
    )


class SentFileSchema(Schema):
    filename = fields.String()
    size = fields.Integer()


class SubmittedSchema(IssuedCodeSchema):
    number = fields.String()
    attachments = fields.List(fields.Nested(SentFileSchema), metadata={"description": "the files taken"})


class UploadRulesSchema(Schema):
    maxFiles = fields.Integer()
    maxBytes = fields.Integer(metadata={"description": "per file"})
    mediaTypes = fields.List(fields.String())
    typeNames = fields.List(fields.String())
    dailyBytes = fields.Integer(metadata={"description": "per client address and day"})


class PublicFormSchema(Schema):
    key = fields.String()
    version = fields.Integer()
    schema = fields.Dict()
    consent = fields.String()
    uploads = fields.Nested(UploadRulesSchema)


class AccessSchema(Schema):
    number = fields.String(required=True, validate=validate.Length(min=1, max=30))
    code = fields.String(required=True, validate=validate.Length(min=1, max=40))


class RatingSchema(Schema):
    """An evaluation: 满意 / 基本满意 / 不满意, with the reason (required for 不满意, checked by the use case)."""

    rating = fields.String(required=True, validate=validate.OneOf(RATINGS))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class EvaluationSchema(AccessSchema, RatingSchema):
    pass


class FactSchema(Schema):
    at = fields.String()
    title = fields.String()
    lines = fields.List(fields.String())


class PublicDeadlineSchema(Schema):
    title = fields.String()
    basis = fields.String()
    length = fields.String()
    due = fields.String()
    extensionDays = fields.Integer()
    state = fields.String()


class ReplySchema(Schema):
    number = fields.String(allow_none=True)
    decision = fields.String(allow_none=True)
    request = fields.String(allow_none=True)
    facts = fields.String(allow_none=True)
    reasons = fields.String(allow_none=True)
    legalBasis = fields.String(allow_none=True)
    opinion = fields.String(allow_none=True)
    servedAt = fields.String()


class EvaluationStateSchema(Schema):
    open = fields.Boolean()
    unit = fields.String(allow_none=True)
    rating = fields.String(allow_none=True)
    ratingLabel = fields.String(allow_none=True)


class WindowSchema(Schema):
    open = fields.Boolean()
    lastDay = fields.String(allow_none=True)


class ServedNoticeSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    number = fields.String(metadata={"description": "文号"})
    servedOn = fields.String()


class PublicViewSchema(Schema):
    number = fields.String()
    subject = fields.String()
    receivedAt = fields.String()
    status = fields.String()
    statusLabel = fields.String()
    timeline = fields.List(fields.Nested(FactSchema))
    deadlines = fields.List(fields.Nested(PublicDeadlineSchema))
    reply = fields.Nested(ReplySchema, allow_none=True)
    evaluation = fields.Nested(EvaluationStateSchema)
    requests = fields.Dict(
        keys=fields.String(), values=fields.Nested(WindowSchema), metadata={"description": "review, recheck"}
    )
    canWithdraw = fields.Boolean()
    notices = fields.List(fields.Nested(ServedNoticeSchema), metadata={"description": "the notices served"})
    attachments = fields.List(
        fields.Nested(SentFileSchema), metadata={"description": "the files the petitioner sent online"}
    )


@blp.route("/form", methods=["GET"])
@blp.doc(security=[])
@blp.response(200, PublicFormSchema)
@with_errors(blp, 404)
def public_form() -> dict[str, Any]:
    """The registration form's fields a petitioner fills, and the consent text for their personal data."""
    return engine().public.public_form()


def _submission() -> tuple[Any, list[Upload]]:
    """The petition's fields and files: a JSON body, or multipart with the fields as JSON in ``petition``."""
    if request.mimetype != "multipart/form-data":
        return request.get_json(silent=True), []
    text = request.form.get("petition")
    if text is None:
        raise InvalidInput(
            "缺少 petition 部分（信访事项的各项内容，一个 JSON 对象）", {"fields": {"petition": ["必填"]}}
        )
    try:
        data = parse_json(text)
    except BodyRefused as error:
        raise InvalidInput(
            f"petition 部分无法读取：{refusal_text(error)}", {"fields": {"petition": [refusal_text(error)]}}
        ) from None
    return data, uploads([f for f in request.files.getlist("files") if f.filename])


@blp.route("/petitions", methods=["POST"])
@blp.doc(
    security=[],
    requestBody={
        "required": True,
        "content": {
            "application/json": {"schema": OnlinePetitionSchema},
            "multipart/form-data": {"schema": OnlinePetitionUpload},
        },
    },
)
@blp.response(201, SubmittedSchema)
@with_errors(blp, 400, 403, 404, 413, 422, 429)
def submit() -> dict[str, Any]:
    """Submit a petition online: the petitioner's fields of forms/intake_registration.form plus ``consent``
    (true) and ``suggestion`` (true: a suggestion, the name may be left out); with files, as multipart (the
    fields as JSON in ``petition``, each file a ``files`` part). A refused file (422 ``file_refused``, naming
    the file and why) leaves nothing stored. Limited per address and day, the files' bytes too."""
    data, files = _submission()
    petition, _, issued = _limited(services.submit_online, engine(), data, _address(), files)
    return {
        "number": petition.number,
        **issued_fields(issued),
        # Stored with the petition, all of them (or it would have been refused).
        "attachments": [{"filename": clean_filename(f.filename), "size": len(f.content)} for f in files],
    }


@blp.route("/lookup", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(AccessSchema, location="json")
@blp.response(200, PublicViewSchema)
@with_errors(blp, 403, 404, 422, 429)
def lookup(args: dict[str, Any]) -> dict[str, Any]:
    """An item's public facts by number and query code; a wrong number and a wrong code answer alike."""
    return _limited(services.public_lookup, engine(), args["number"], args["code"], _address())


@blp.route("/evaluation", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(EvaluationSchema, location="json")
@blp.response(200, PublicViewSchema)
@with_errors(blp, 403, 404, 409, 422, 429)
def evaluate(args: dict[str, Any]) -> dict[str, Any]:
    """Rate the unit that first handled the item, once, while the evaluation is open (a reason for 不满意)."""
    return _limited(
        services.public_evaluate,
        engine(),
        args["number"],
        args["code"],
        _address(),
        args["rating"],
        args.get("reason"),
    )


class NoticeArgs(AccessSchema):
    document = fields.Integer(required=True, validate=validate.Range(min=1, max=2147483647))


@blp.route("/notice", methods=["POST"])
@blp.doc(security=[], **binary("application/pdf"))
@blp.arguments(NoticeArgs, location="json")
@with_errors(blp, 403, 404, 422, 429)
def notice(args: dict[str, Any]) -> Response:
    """The PDF of a written notice served on the petitioner (the number and the code in the body, never in
    the address)."""
    row, data = _limited(
        services.public_notice_file, engine(), args["number"], args["code"], _address(), args["document"]
    )
    return file_response(data, f"{row.title}-{row.doc_number}.pdf", "application/pdf", inline=False)


class ReviewSchema(AccessSchema):
    kind = fields.String(required=True, validate=validate.OneOf(("review", "recheck")))
    request = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    facts = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    reasons = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class WithdrawalSchema(AccessSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


@blp.route("/review-requests", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(ReviewSchema, location="json")
@blp.response(200, PublicViewSchema)
@with_errors(blp, 400, 403, 404, 409, 422, 429)
def request_review(args: dict[str, Any]) -> dict[str, Any]:
    """Ask for 复查 (kind review) or 复核 (kind recheck) within the 30-day window, with the request, its facts
    and reasons (domain.md §9); delivered to the running procedure, whose reviewing organ then decides."""
    fields_ = {k: args[k] for k in ("request", "facts", "reasons")}
    return _limited(
        services.public_request_review,
        engine(),
        args["number"],
        args["code"],
        _address(),
        args["kind"],
        fields_,
    )


@blp.route("/withdrawal", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(WithdrawalSchema, location="json")
@blp.response(200, PublicViewSchema)
@with_errors(blp, 400, 403, 404, 409, 422, 429)
def withdraw(args: dict[str, Any]) -> dict[str, Any]:
    """Withdraw the item (撤回): its procedure ends where it stands."""
    return _limited(
        services.public_withdraw, engine(), args["number"], args["code"], _address(), args["reason"]
    )


# -- the outbox ------------------------------------------------------------------------------------------------
class OutboxSchema(Schema):
    id = fields.Integer()
    channel = fields.String()
    recipient = fields.String()
    kind = fields.String()
    businessKey = fields.String(attribute="business_key", allow_none=True)
    text = fields.String()
    status = fields.String()
    createdAt = fields.DateTime(attribute="created_at")
    sentAt = fields.DateTime(attribute="sent_at", allow_none=True)


class OutboxQuery(Schema):
    status = fields.String(validate=validate.OneOf(("pending", "sent", "failed")))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))


class MarkSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(("sent", "failed")))


@admin.route("", methods=["GET"])
@require("admin")
@admin.arguments(OutboxQuery, location="query")
@admin.response(200, OutboxSchema(many=True))
@with_errors(admin, 401, 403, 422)
def outbox(args: dict[str, Any]) -> list[Any]:
    """Messages to petitioners, newest first; the SMS gateway reads ``status=pending``."""
    return services.outbox(engine(), current(), args.get("status"), args["limit"], args["offset"])


@admin.route("/<int(max=2147483647):message_id>", methods=["POST"])
@require("admin")
@admin.arguments(MarkSchema, location="json")
@admin.response(200, OutboxSchema)
@with_errors(admin, 400, 401, 403, 404, 422)
def mark(args: dict[str, Any], message_id: int) -> Any:
    """The gateway reports a message sent (or failed)."""
    return services.mark_outbox(engine(), current(), message_id, args["status"])
