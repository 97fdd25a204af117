"""Schemas and helpers the API modules share."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from flask import Response, stream_with_context
from marshmallow import Schema, fields, post_dump, validate

from engine import exports
from engine.policy import contact_fields

from ..auth import current
from ..errors import ApiErrorSchema

# Every endpoint may answer with these; documenting them keeps clients (and schemathesis) honest.
ERRORS = (400, 401, 403, 404, 409, 422)


def with_errors(blp: Any, *codes: int) -> Any:
    """Decorator documenting our error responses on an endpoint."""

    def decorate(view: Any) -> Any:
        for code in codes or ERRORS:
            view = blp.alt_response(code, schema=ApiErrorSchema, description="error")(view)
        return view

    return decorate


def source(schema: Schema, obj: Any) -> dict[str, Any]:
    """``obj``'s values under the attribute names ``schema`` reads, to extend and return from a view.

    A view's return value is dumped by its ``@blp.response`` schema; returning an already dumped dict would lose
    every field whose attribute differs from its name (``instanceId`` reads ``instance_id``) and fail on dates.
    """
    return {
        field.attribute or name: getattr(obj, field.attribute or name)
        for name, field in schema.fields.items()
        if not field.load_only and hasattr(obj, field.attribute or name)
    }


def json_safe(value: Any) -> Any:
    """Task data as JSON: dates as ISO text, anything unknown as its text."""
    return json.loads(
        json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, date | datetime) else str(v))
    )


class PageArgs(Schema):
    # marshmallow 4 ignores a validator's False: bounds must raise, so they are Range validators.
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))


# Every paged list answers how many rows its pages hold in all, for the pages' pagers.
TOTAL_HEADER = {
    "X-Total-Count": {
        "description": "how many rows all pages of the list hold",
        "schema": {"type": "integer"},
    }
}


def sort_arg(names: Iterable[str]) -> fields.String:
    """``?sort=`` over a list's whitelist of orders: a name ascending, ``-name`` descending."""
    allowed = sorted(names)
    return fields.String(
        validate=validate.OneOf([*allowed, *(f"-{n}" for n in allowed)]),
        metadata={"description": "order by one of the names, descending with a leading '-'"},
    )


def sort_order(value: str | None) -> list[tuple[str, bool]]:
    """``sort_arg``'s value as queries.Page takes it."""
    if not value:
        return []
    return [(value.lstrip("-"), value.startswith("-"))]


def with_total(rows: Any, total: int) -> tuple[Any, int, dict[str, str]]:
    """A list view's answer: its page and, in X-Total-Count, how many rows all its pages hold."""
    return rows, 200, {"X-Total-Count": str(total)}


class StepSchema(Schema):
    """One innermost active step of a case: in which (called) procedure, named in Chinese."""

    process = fields.String(metadata={"description": "the id of the (called) process the step is in"})
    processName = fields.String()
    elementId = fields.String()
    name = fields.String()


class AuditEventSchema(Schema):
    id = fields.Integer()
    instanceId = fields.String(attribute="instance_id")
    businessKey = fields.String(attribute="business_key", allow_none=True)
    taskId = fields.String(attribute="task_id", allow_none=True)
    elementId = fields.String(attribute="element_id", allow_none=True)
    kind = fields.String()
    actor = fields.String(allow_none=True)
    at = fields.DateTime()
    data = fields.Dict(allow_none=True)

    @post_dump
    def _mask_contact(self, event: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Started variables and submitted forms carry the petitioner's numbers: masked as everywhere else."""
        data = event.get("data")
        if isinstance(data, dict):
            data = contact_fields(current(), data)
            if isinstance(data.get("variables"), dict):
                data = {**data, "variables": contact_fields(current(), data["variables"])}
            event["data"] = data
        return event


class OkSchema(Schema):
    ok = fields.Boolean()


# A preview (an image or a PDF shown in the page's frame or a new tab) may load only itself, and be framed only
# by our own pages; a download keeps the data policy under which nothing runs.
PREVIEW_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'"


def disposition(kind: str, filename: str) -> str:
    """RFC 6266: an ASCII fallback name and the real (Chinese) one in RFC 5987 encoding."""
    fallback = "".join(c if (c.isascii() and c.isalnum()) or c in "._-" else "_" for c in filename) or "file"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def binary(*types: str) -> dict[str, Any]:
    """The OpenAPI answer of an operation that sends a file of one of ``types``."""
    return {"responses": {"200": {"description": "the file", "content": {t: {} for t in types}}}}


def file_response(data: bytes, filename: str, media_type: str, *, inline: bool) -> Response:
    response = Response(data, mimetype=media_type)
    response.headers["Content-Disposition"] = disposition("inline" if inline else "attachment", filename)
    response.headers["Cache-Control"] = "private, no-store"
    if inline:
        response.headers["Content-Security-Policy"] = PREVIEW_POLICY
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def export_response(chunks: Iterator[bytes], filename: str, media_type: str) -> Response:
    """A list export, sent as it is written."""
    response = Response(stream_with_context(chunks), mimetype=media_type)
    response.headers["Content-Disposition"] = disposition("attachment", filename)
    response.headers["Cache-Control"] = "private, no-store"
    return response


class ExportArgs(Schema):
    format = fields.String(load_default="xlsx", validate=validate.OneOf(exports.FORMATS))


def export_doc() -> dict[str, Any]:
    return {
        "responses": {
            "200": {
                "description": "the list as a file",
                "content": {t: {} for t in exports.MEDIA_TYPES.values()},
            }
        }
    }


def multipart(schema: type[Schema]) -> dict[str, Any]:
    """flask-smorest documents a form and its files as two bodies, the last one winning: one schema for both."""
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}
