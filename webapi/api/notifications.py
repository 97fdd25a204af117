"""/api/notifications: the signed-in official's inbox (new tasks, warnings, supervisions) and e-mail choice."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine import services
from engine.inbox import EMAIL

from ..auth import current, engine, require
from .common import PageArgs, with_errors

blp = Blueprint(
    "notifications", __name__, url_prefix="/api/notifications", description="The official's own inbox"
)


class NotificationSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "task | warning | supervision"})
    title = fields.String()
    businessKey = fields.String(attribute="business_key", allow_none=True)
    instanceId = fields.String(attribute="instance_id", allow_none=True)
    taskId = fields.String(attribute="task_id", allow_none=True)
    createdAt = fields.DateTime(attribute="created_at")
    read = fields.Boolean()


class InboxSchema(Schema):
    items = fields.List(fields.Nested(NotificationSchema))
    unread = fields.Integer()


class InboxQuery(PageArgs):
    unread = fields.Boolean(load_default=False, metadata={"description": "only the entries not read yet"})


class CountSchema(Schema):
    unread = fields.Integer()


class ReadArgs(Schema):
    ids = fields.List(
        fields.Integer(validate=validate.Range(min=1, max=2147483647)),
        required=True,
        allow_none=True,
        validate=validate.Length(min=1, max=500),
        metadata={"description": "the entries to mark read; null marks every unread entry read"},
    )


class ReadSchema(Schema):
    marked = fields.Integer()
    unread = fields.Integer()


class EmailArgs(Schema):
    email = fields.String(
        required=True,
        allow_none=True,
        validate=[
            validate.Length(max=254),
            # The engine's own check (engine/inbox.py), stated in the document; empty clears the address.
            validate.Regexp(f"^$|{EMAIL.pattern}", error="电子邮箱地址格式不正确"),
        ],
        metadata={"description": "the address for e-mail copies; null or empty for none"},
    )


class EmailSchema(Schema):
    email = fields.String(allow_none=True)
    available = fields.Boolean(metadata={"description": "whether the operator configured an SMTP server"})


@blp.route("", methods=["GET"])
@require()
@blp.arguments(InboxQuery, location="query")
@blp.response(200, InboxSchema)
@with_errors(blp, 401, 422)
def inbox(args: dict[str, Any]) -> dict[str, Any]:
    """The caller's entries, newest first, with the number not read yet."""
    return services.inbox(
        engine(), current(), unread_only=args["unread"], limit=args["limit"], offset=args["offset"]
    )


@blp.route("/count", methods=["GET"])
@require()
@blp.response(200, CountSchema)
@with_errors(blp, 401)
def count() -> dict[str, int]:
    """The number the page header shows."""
    return {"unread": services.inbox_unread(engine(), current())}


@blp.route("/read", methods=["POST"])
@require()
@blp.arguments(ReadArgs, location="json")
@blp.response(200, ReadSchema)
@with_errors(blp, 400, 401, 404, 422)
def mark_read(args: dict[str, Any]) -> dict[str, int]:
    """Mark entries read (the caller's own; another's id is 404)."""
    return services.mark_inbox_read(engine(), current(), args["ids"])


@blp.route("/email", methods=["GET"])
@require()
@blp.response(200, EmailSchema)
@with_errors(blp, 401)
def email() -> dict[str, Any]:
    """The caller's address for e-mail copies, and whether e-mail is set up at all."""
    return services.inbox_email(engine(), current())


@blp.route("/email", methods=["PUT"])
@require()
@blp.arguments(EmailArgs, location="json")
@blp.response(200, EmailSchema)
@with_errors(blp, 400, 401, 422)
def set_email(args: dict[str, Any]) -> dict[str, Any]:
    """Choose (or clear) the caller's address for e-mail copies of their inbox."""
    return services.set_inbox_email(engine(), current(), args["email"])
