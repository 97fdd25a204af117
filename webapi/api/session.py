"""/api/session, /api/me and /api/tokens: signing in."""

from __future__ import annotations

from typing import Any

from flask import session
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from ..auth import current, engine, require
from ..errors import Unauthorized
from .common import OkSchema, with_errors

blp = Blueprint("session", __name__, url_prefix="/api", description="Sign in, tokens, who am I")


class LoginArgs(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=100))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))


class MeSchema(Schema):
    username = fields.String()
    displayName = fields.String(attribute="display_name")
    roles = fields.List(fields.String())
    groups = fields.List(fields.String())
    unit = fields.String(allow_none=True)


class TokenArgs(Schema):
    name = fields.String(load_default=None, validate=validate.Length(max=100))


class TokenSchema(Schema):
    token = fields.String()


def _me(principal: Any) -> dict[str, Any]:
    return {
        "username": principal.username,
        "display_name": principal.display_name,
        "roles": sorted(principal.roles),
        "groups": list(principal.groups),
        "unit": principal.unit,
    }


@blp.route("/session", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(LoginArgs)
@blp.response(200, MeSchema)
@with_errors(blp, 401, 422)
def login(args: dict[str, Any]) -> dict[str, Any]:
    """Sign in for the web pages (a session cookie)."""
    principal = engine().accounts.authenticate(args["username"], args["password"])
    if principal is None:
        raise Unauthorized("wrong user name or password")
    session.clear()
    session["user"] = principal.username
    return _me(principal)


@blp.route("/session", methods=["DELETE"])
@blp.doc(security=[])
@blp.response(200, OkSchema)
def logout() -> dict[str, bool]:
    session.clear()
    return {"ok": True}


@blp.route("/me", methods=["GET"])
@require()
@blp.response(200, MeSchema)
@with_errors(blp, 401)
def me() -> dict[str, Any]:
    return _me(current())


@blp.route("/tokens", methods=["POST"])
@require()
@blp.arguments(TokenArgs, required=False)
@blp.response(201, TokenSchema)
@with_errors(blp, 401, 422)
def token(args: dict[str, Any]) -> dict[str, str]:
    """A bearer token for scripts, acting as you; shown once."""
    return {"token": engine().accounts.issue_token(current().username, args.get("name"))}
