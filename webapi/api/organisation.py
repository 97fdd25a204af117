"""/api/units and /api/users: the organisation (docs/organisation.md) as the admin page and scripts edit it."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine import policy, services
from engine.accounts import ROLES, AuthPolicy
from engine.orgadmin import UnitSpec
from engine.organisation import KINDS, LEVELS, POSITIONS, RANKS, Membership

from ..auth import current, engine, require
from .common import OkSchema, with_errors

blp = Blueprint(
    "organisation",
    __name__,
    url_prefix="/api",
    description="The organisation: units in a tree, people and their positions in units",
)

# The default policy's shortest password (PETITIONFLOW_PASSWORD_MIN_LENGTH may ask for more).
PASSWORD = validate.Length(min=AuthPolicy.password_min_length, max=200)
CODE = validate.Regexp(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$", error="单位代码由小写字母、数字、下划线和点组成")


class UnitSchema(Schema):
    code = fields.String(required=True, validate=[validate.Length(min=1, max=100), CODE])
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    parent = fields.String(attribute="parent_code", allow_none=True, load_default=None)
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    reviewOrgan = fields.String(
        attribute="review_organ_code",
        allow_none=True,
        load_default=None,
        metadata={"description": "its 上一级机关 for 复查; the parent when left out"},
    )


class UnitUpdateSchema(UnitSchema):
    class Meta:
        exclude = ("code",)


class MemberSchema(Schema):
    login = fields.String(required=True, validate=validate.Length(min=1, max=100))
    unit = fields.String(attribute="unit_code", dump_only=True)
    position = fields.String(required=True, validate=validate.OneOf(POSITIONS))
    rank = fields.Integer(allow_none=True, load_default=None, validate=validate.OneOf(list(RANKS)))


class StaffQuery(Schema):
    position = fields.String(validate=validate.OneOf(POSITIONS))


class UserSchema(Schema):
    username = fields.String()
    displayName = fields.String(attribute="display_name")
    roles = fields.List(fields.String())
    groups = fields.List(fields.String())
    active = fields.Boolean()
    memberships = fields.List(fields.Nested(MemberSchema))


class UserCreateSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=100))
    password = fields.String(required=True, load_only=True, validate=PASSWORD)
    displayName = fields.String(required=True, validate=validate.Length(min=1, max=100))
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), load_default=list)
    groups = fields.List(fields.String(validate=validate.Length(min=1, max=100)), load_default=list)


class StrictBoolean(fields.Boolean):
    """JSON true or false only (marshmallow's Boolean takes 0, 1, "yes", ... as well)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class UserUpdateSchema(Schema):
    # Required, so that a request always says something (the name as it stays, at least).
    displayName = fields.String(required=True, validate=validate.Length(min=1, max=100))
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)))
    groups = fields.List(fields.String(validate=validate.Length(min=1, max=100)))
    active = StrictBoolean()
    password = fields.String(
        load_only=True,
        validate=PASSWORD,
        metadata={"description": "a new password; the user's sessions and tokens end"},
    )

    @validates_schema
    def changes_something(self, data: dict[str, Any], **_: Any) -> None:
        """A request with no body (or an empty one) changes nothing: refused, naming what it may set."""
        if not data:
            raise ValidationError(f"name at least one of {', '.join(self.fields)}", "_schema")


def _spec(code: str, args: dict[str, Any]) -> UnitSpec:
    return UnitSpec(
        code=code,
        name=args["name"],
        level=args["level"],
        kind=args["kind"],
        parent=args.get("parent_code"),
        review_organ=args.get("review_organ_code"),
        where=code,
    )


# -- units -------------------------------------------------------------------------------------------------------
@blp.route("/units", methods=["GET"])
@require()
@blp.response(200, UnitSchema(many=True))
@with_errors(blp, 401)
def list_units() -> list[Any]:
    """Every unit, by code."""
    return services.units(engine(), current())


@blp.route("/units", methods=["POST"])
@require(*policy.ORG_ADMINS)
@blp.arguments(UnitSchema)
@blp.response(201, UnitSchema)
@with_errors(blp, 400, 401, 403, 404, 409, 422)
def create_unit(args: dict[str, Any]) -> Any:
    """A new unit (audited)."""
    return services.save_unit(engine(), current(), _spec(args["code"], args), new=True)


@blp.route("/units/<code>", methods=["GET"])
@require()
@blp.response(200, UnitSchema)
@with_errors(blp, 401, 404)
def get_unit(code: str) -> Any:
    return services.unit(engine(), current(), code)


@blp.route("/units/<code>", methods=["PUT"])
@require(*policy.ORG_ADMINS)
@blp.arguments(UnitUpdateSchema)
@blp.response(200, UnitSchema)
@with_errors(blp, 400, 401, 403, 404, 409, 422)
def update_unit(args: dict[str, Any], code: str) -> Any:
    """Rename, reclassify or move a unit (a new parent); a move that would make a cycle is refused."""
    return services.save_unit(engine(), current(), _spec(code, args), new=False)


@blp.route("/units/<code>/staff", methods=["GET"])
@require()
@blp.arguments(StaffQuery, location="query")
@blp.response(200, MemberSchema(many=True))
@with_errors(blp, 401, 404, 422)
def unit_staff(args: dict[str, Any], code: str) -> list[Any]:
    """The unit's members, for the 承办人 picker and reassignment."""
    return services.staff(engine(), current(), code, args.get("position"))


@blp.route("/units/<code>/members", methods=["POST"])
@require(*policy.ORG_ADMINS)
@blp.arguments(MemberSchema)
@blp.response(200, OkSchema)
@with_errors(blp, 400, 401, 403, 404, 422)
def add_member(args: dict[str, Any], code: str) -> dict[str, bool]:
    """Give a person a position in the unit (audited)."""
    member = Membership(args["login"], code, args["position"], args.get("rank"))
    services.add_member(engine(), current(), member)
    return {"ok": True}


@blp.route("/units/<code>/members/<login>/<position>", methods=["DELETE"])
@require(*policy.ORG_ADMINS)
@blp.response(200, OkSchema)
@with_errors(blp, 401, 403, 404)
def remove_member(code: str, login: str, position: str) -> dict[str, bool]:
    """End a person's position in the unit (audited)."""
    services.remove_member(engine(), current(), login, code, position)
    return {"ok": True}


# -- users -------------------------------------------------------------------------------------------------------
@blp.route("/users", methods=["GET"])
@require(*policy.ORG_ADMINS)
@blp.response(200, UserSchema(many=True))
@with_errors(blp, 401, 403)
def list_users() -> list[Any]:
    """Every account with its memberships."""
    return services.users(engine(), current())


@blp.route("/users", methods=["POST"])
@require(*policy.ORG_ADMINS)
@blp.arguments(UserCreateSchema)
@blp.response(201, UserSchema)
@with_errors(blp, 400, 401, 403, 409, 422)
def create_user(args: dict[str, Any]) -> Any:
    """A new account (audited); positions are given through /api/units/<code>/members."""
    return services.create_user(
        engine(),
        current(),
        args["username"],
        args["password"],
        display_name=args["displayName"],
        roles=args["roles"],
        groups=args["groups"],
    )


@blp.route("/users/<login>", methods=["GET"])
@require(*policy.ORG_ADMINS)
@blp.response(200, UserSchema)
@with_errors(blp, 401, 403, 404)
def get_user(login: str) -> Any:
    return services.user(engine(), current(), login)


@blp.route("/users/<login>", methods=["PUT"])
@require(*policy.ORG_ADMINS)
@blp.arguments(UserUpdateSchema)
@blp.response(200, UserSchema)
@with_errors(blp, 400, 401, 403, 404, 422)
def update_user(args: dict[str, Any], login: str) -> Any:
    """Change an account's name, roles, groups, password or whether it may sign in (audited)."""
    names = {
        "displayName": "display_name",
        "roles": "roles",
        "groups": "groups",
        "active": "active",
        "password": "password",
    }
    return services.update_user(engine(), current(), login, **{names[k]: v for k, v in args.items()})
