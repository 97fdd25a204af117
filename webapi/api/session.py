"""/api/session, /api/me and /api/tokens: signing in."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import session
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.accounts import AuthPolicy, TokenInfo, token_id

from ..auth import check_same_origin, current, engine, require, sign_in
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
    units = fields.List(fields.String(), metadata={"description": "the codes of the units the caller is in"})
    positions = fields.List(
        fields.Dict(keys=fields.String(), values=fields.String()),
        metadata={"description": "the caller's positions: {unit, position}"},
    )


class TokenArgs(Schema):
    name = fields.String(load_default=None, validate=validate.Length(max=100))
    days = fields.Integer(
        load_default=None,
        # The default policy's longest lifetime (PETITIONFLOW_TOKEN_MAX_DAYS may allow less).
        validate=validate.Range(min=1, max=AuthPolicy.token_max_days),
        metadata={"description": "lifetime in days"},
    )


class TokenInfoSchema(Schema):
    id = fields.String(metadata={"description": "the handle to revoke it by"})
    username = fields.String()
    name = fields.String(allow_none=True)
    createdAt = fields.DateTime(attribute="created_at")
    expiresAt = fields.DateTime(attribute="expires_at")
    revokedAt = fields.DateTime(attribute="revoked_at", allow_none=True)


class TokenSchema(TokenInfoSchema):
    token = fields.String(metadata={"description": "shown this once; only its hash is kept"})


def _me(principal: Any) -> dict[str, Any]:
    return {
        "username": principal.username,
        "display_name": principal.display_name,
        "roles": sorted(principal.roles),
        "groups": list(principal.groups),
        "unit": principal.unit,
        "units": sorted(principal.units),
        "positions": [{"unit": u, "position": p} for u, p in sorted(principal.positions)],
    }


@blp.route("/session", methods=["POST"])
@blp.doc(security=[])
@blp.arguments(LoginArgs)
@blp.response(200, MeSchema)
@with_errors(blp, 401, 403, 422, 429)
def login(args: dict[str, Any]) -> dict[str, Any]:
    """Sign in for the web pages (a session cookie). After a few wrong passwords: 429 with Retry-After."""
    # A foreign page may not sign a browser into an account of its choosing (login CSRF).
    check_same_origin(required=False)
    principal = sign_in(args["username"], args["password"])
    if principal is None:
        raise Unauthorized("用户名或密码错误")
    accounts = engine().accounts
    if session.get("sid"):
        accounts.close_session(session["sid"])
    session.clear()
    session["sid"] = accounts.open_session(principal.username)
    return _me(principal)


@blp.route("/session", methods=["DELETE"])
@blp.doc(security=[])
@blp.response(200, OkSchema)
def logout() -> dict[str, bool]:
    """Sign out: the session ends on the server, so a copy of the cookie no longer works either."""
    # No same-origin check: the worst a foreign page can do here is sign someone out.
    if session.get("sid"):
        engine().accounts.close_session(session["sid"])
    session.clear()
    return {"ok": True}


@blp.route("/me", methods=["GET"])
@require()
@blp.response(200, MeSchema)
@with_errors(blp, 401)
def me() -> dict[str, Any]:
    return _me(current())


class PasswordArgs(Schema):
    currentPassword = fields.String(required=True, validate=validate.Length(min=1, max=200))
    newPassword = fields.String(required=True, validate=validate.Length(min=1, max=200))


@blp.route("/me/password", methods=["PUT"])
@require()
@blp.arguments(PasswordArgs)
@blp.response(200, OkSchema)
@with_errors(blp, 400, 401, 403, 422, 429)
def change_password(args: dict[str, Any]) -> dict[str, bool]:
    """Change your own password. Every session and token of yours ends; this browser gets a fresh session."""
    principal = current()
    # The current password again: a browser left signed in is not enough to take over the account.
    if sign_in(principal.username, args["currentPassword"]) is None:
        raise Unauthorized("当前密码（currentPassword）不正确")
    accounts = engine().accounts
    accounts.check_password_policy(args["newPassword"], field="newPassword")
    accounts.set_password(principal.username, args["newPassword"])
    if session.get("sid"):
        session["sid"] = accounts.open_session(principal.username)
    return {"ok": True}


@blp.route("/tokens", methods=["POST"])
@require()
@blp.arguments(TokenArgs, required=False)
@blp.response(201, TokenSchema)
@with_errors(blp, 400, 401, 403, 422)
def token(args: dict[str, Any]) -> dict[str, Any]:
    """A bearer token for scripts, acting as you until it expires or is revoked; shown once."""
    accounts = engine().accounts
    username = current().username
    secret = accounts.issue_token(username, args.get("name"), args.get("days"))
    (info,) = [t for t in accounts.tokens(username) if t.id == token_id(secret)]
    return {**asdict(info), "token": secret}


@blp.route("/tokens", methods=["GET"])
@require()
@blp.response(200, TokenInfoSchema(many=True))
@with_errors(blp, 401)
def tokens() -> list[TokenInfo]:
    """Your tokens, newest first, expired and revoked ones included; an admin sees everyone's."""
    principal = current()
    everyone = "admin" in principal.roles
    return engine().accounts.tokens(None if everyone else principal.username)


@blp.route("/tokens/<token_handle>", methods=["DELETE"])
@require()
@blp.response(200, OkSchema)
@with_errors(blp, 401, 403, 404)
def revoke(token_handle: str) -> dict[str, bool]:
    """Revoke one of your tokens (an admin: anyone's); it answers 401 from then on."""
    engine().accounts.revoke_token(token_handle, current())
    return {"ok": True}
