"""Schemas and helpers the API modules share."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from marshmallow import Schema, fields

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


def json_safe(value: Any) -> Any:
    """Task data as JSON: dates as ISO text, anything unknown as its text."""
    return json.loads(
        json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, date | datetime) else str(v))
    )


class PageArgs(Schema):
    limit = fields.Integer(load_default=50, validate=lambda n: 1 <= n <= 500)
    offset = fields.Integer(load_default=0, validate=lambda n: 0 <= n <= 1_000_000)


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


class OkSchema(Schema):
    ok = fields.Boolean()
