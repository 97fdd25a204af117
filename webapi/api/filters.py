"""/api/filters: each user's saved filters of a list (Camunda Tasklist's filters): a name and the list's
criteria (its query parameters), listed, applied by the page, deleted."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate

from engine import services

from ..auth import current, engine, require
from .common import OkSchema, with_errors

blp = Blueprint("filters", __name__, url_prefix="/api/filters", description="Saved filters of the lists")
LISTS = ("tasks", "petitions", "instances")


def _criterion(value: Any) -> None:
    """A criterion is one query parameter's value: text, a number, yes or no (marshmallow 4: raise, not False)."""
    if not (value is None or isinstance(value, str | bool | int | float)):
        raise ValidationError("筛选条件的值须为文字、数字或是否")


class FilterSchema(Schema):
    id = fields.Integer(dump_only=True)
    list = fields.String(
        attribute="list_name",
        required=True,
        validate=validate.OneOf(LISTS),
        metadata={"description": "the list"},
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    criteria = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=40)),
        values=fields.Raw(
            allow_none=True,
            validate=_criterion,
            metadata={"oneOf": [{"type": t} for t in ("string", "number", "boolean")], "nullable": True},
        ),
        required=True,
        validate=validate.Length(max=20),
        metadata={"description": 'the list\'s query parameters, e.g. {"overdue": true, "text": "拖欠工资"}'},
    )
    createdAt = fields.DateTime(attribute="created_at", dump_only=True)


class FilterQuery(Schema):
    list = fields.String(validate=validate.OneOf(LISTS))


@blp.route("")
class Filters(MethodView):
    @require()
    @blp.arguments(FilterQuery, location="query")
    @blp.response(200, FilterSchema(many=True))
    @with_errors(blp, 401, 422)
    def get(self, args: dict[str, Any]) -> list[Any]:
        """The caller's own filters (of one list with ``?list=``), by list and name."""
        return services.saved_filters(engine(), current(), args.get("list"))

    @require()
    @blp.arguments(FilterSchema)
    @blp.response(201, FilterSchema)
    @with_errors(blp, 400, 401, 403, 422)
    def post(self, data: dict[str, Any]) -> Any:
        """Save a filter; saving under a name the caller already uses for that list replaces it."""
        return services.save_filter(engine(), current(), data["list_name"], data["name"], data["criteria"])


@blp.route("/<int:filter_id>", methods=["DELETE"])
@require()
@blp.response(200, OkSchema)
@with_errors(blp, 401, 404)
def delete(filter_id: int) -> dict[str, bool]:
    """Delete one of the caller's own filters (another user's is unknown: 404)."""
    services.delete_filter(engine(), current(), filter_id)
    return {"ok": True}
