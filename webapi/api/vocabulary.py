"""/api/vocabulary: what the pages show for the engine's keys, read from the server's own settings."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from engine.vocabulary import vocabulary

from ..auth import engine, require
from .common import with_errors

blp = Blueprint(
    "vocabulary",
    __name__,
    url_prefix="/api/vocabulary",
    description="Deadline titles, group names and the warning window the pages show",
)


class DeadlineWordsSchema(Schema):
    title = fields.String(metadata={"description": "what officials read, e.g. 受理期限"})
    length = fields.Integer()
    unit = fields.String(metadata={"description": "calendar or working (days)"})


class VocabularySchema(Schema):
    deadlines = fields.Dict(keys=fields.String(), values=fields.Nested(DeadlineWordsSchema))
    groups = fields.Dict(keys=fields.String(), values=fields.String())
    units = fields.Dict(
        keys=fields.String(), values=fields.String(), metadata={"description": "unit code -> its name"}
    )
    levels = fields.Dict(
        keys=fields.String(), values=fields.String(), metadata={"description": "level -> 省, 县, ..."}
    )
    kinds = fields.Dict(
        keys=fields.String(), values=fields.String(), metadata={"description": "kind -> 党委, ..."}
    )
    positions = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={"description": "position -> 负责人, 承办人, ..."},
    )
    supervisionReasons = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={
            "description": "why a supervisor starts a supervision by hand (POST /api/escalations/supervisions)"
        },
    )
    warnBeforeDays = fields.Float(
        metadata={"description": "the escalation ladder warns this many days before a deadline ends"}
    )


@blp.route("", methods=["GET"])
@require()
@blp.response(200, VocabularySchema)
@with_errors(blp, 401)
def read() -> dict[str, Any]:
    """Deadline titles (as an operator may have renamed them), candidate group names and the warning window."""
    return vocabulary(engine().deadlines.rules, engine().escalations.settings, engine().organisation.units())
