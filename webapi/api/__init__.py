"""The REST API under /api, documented at /api/openapi.json (flask-smorest, marshmallow schemas)."""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from engine.errors import NotFound, ValidationFailed

from ..auth import identify
from ..errors import ApiErrorSchema, http_error
from . import (
    calendar,
    definitions,
    documents,
    escalations,
    filters,
    instances,
    metrics,
    notifications,
    organisation,
    petitions,
    public,
    repair,
    session,
    tasks,
    vocabulary,
)

BLUEPRINTS = (
    session,
    petitions,
    documents,
    tasks,
    instances,
    definitions,
    metrics,
    escalations,
    filters,
    calendar,
    vocabulary,
    organisation,
    public,
    repair,
    notifications,
)
# The operations anyone may call (signing in and out, the petitioner's side); every other one answers 401 to
# strangers first.
PUBLIC = ("/api/session",)
PUBLIC_PREFIX = "/api/public/"


class PetitionflowApi(Api):
    """flask-smorest with our error shape for HTTP errors it raises itself (webargs 422, 404, 405)."""

    ERROR_SCHEMA = ApiErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Any:
        return http_error(error)


def _nul_fields(value: Any, path: str = "") -> list[str]:
    """Where a JSON value holds a NUL character (key paths joined with '.'; '' for the value itself)."""
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    if isinstance(value, dict):
        found = [path or "_schema"] if any("\x00" in str(k) for k in value) else []
        for key, item in value.items():
            found += _nul_fields(item, f"{path}.{key}" if path else str(key))
        return found
    if isinstance(value, list):
        return [f for item in value for f in _nul_fields(item, path)]
    return []


def refuse_nul_characters() -> None:
    """PostgreSQL text cannot hold NUL (U+0000): refused up front, on every route (/api, /engine-rest, the
    pages' own JSON under /ui), instead of failing in the database."""
    in_path = "\x00" in request.path
    bad = [name for name, value in request.args.items(multi=True) if "\x00" in f"{name}{value}"]
    if request.is_json:
        bad += _nul_fields(request.get_json(silent=True))
    # A malformed multipart part may come without a name (None): format, never concatenate.
    bad += [str(name) for name, value in request.form.items(multi=True) if "\x00" in f"{name}{value}"]
    if not (in_path or bad):
        return
    if identify() is None and request.path not in PUBLIC and not request.path.startswith(PUBLIC_PREFIX):
        return  # the view answers 401 before it reads anything
    if in_path:
        raise NotFound("nothing here has a NUL character in its name")
    message = ["text may not contain NUL characters (U+0000)"]
    raise ValidationFailed(
        f"{len(bad)} field(s) are invalid", {"fields": {f or "_schema": message for f in bad}}
    )


def init_api(app: Flask) -> Api:
    app.config.setdefault("API_TITLE", "petitionflow")
    app.config.setdefault("API_VERSION", "1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "components": {
                "securitySchemes": {
                    "basic": {"type": "http", "scheme": "basic"},
                    "bearer": {"type": "http", "scheme": "bearer"},
                    "session": {"type": "apiKey", "in": "cookie", "name": "session"},
                }
            },
            "security": [{"basic": []}, {"bearer": []}, {"session": []}],
        },
    )
    app.before_request(refuse_nul_characters)
    api = PetitionflowApi(app)
    for module in BLUEPRINTS:
        api.register_blueprint(module.blp)
    api.register_blueprint(public.admin)
    return api
