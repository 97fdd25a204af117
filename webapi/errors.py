"""One error shape for every failure: ``{"error": code, "message": text, "details": {...}}``."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from engine import errors
from engine.accounts import TooManyAttempts

STATUS: dict[type[errors.PetitionflowError], int] = {
    errors.NotFound: 404,
    errors.InvalidInput: 400,
    errors.DeploymentInvalid: 400,
    errors.ValidationFailed: 422,
    errors.Conflict: 409,
    errors.InvalidState: 409,
    errors.Forbidden: 403,
    errors.ProcessError: 422,
    errors.FileRefused: 422,
}


class Unauthorized(errors.PetitionflowError):
    code = "unauthorized"


class CrossSiteRefused(errors.Forbidden):
    """A cookie-signed request that did not come from our own pages (CSRF)."""

    code = "cross_site_request"


STATUS[Unauthorized] = 401
STATUS[TooManyAttempts] = 429


class ApiErrorSchema(Schema):
    error = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict(required=True)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": code, "message": message, "details": details or {}}


def http_error(error: HTTPException) -> ResponseReturnValue:
    """Werkzeug and webargs errors (404 route, 405, 422 from argument parsing) in our shape."""
    details: dict[str, Any] = {}
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if messages:
        # webargs nests by location (json, query, files); callers care about the fields.
        merged: dict[str, Any] = {}
        for value in messages.values():
            if isinstance(value, dict):
                merged.update(value)
        details["fields"] = merged or messages
    code = (error.name or "error").lower().replace(" ", "_")
    status = error.code or 500
    response = jsonify(error_body(code, error.description or error.name or "error", details))
    # Keep the headers the error carries, such as Allow on a 405 (RFC 9110).
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="petitionflow"'
    return response, status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(errors.PetitionflowError)
    def _domain(error: errors.PetitionflowError) -> ResponseReturnValue:
        status = next((s for cls, s in STATUS.items() if isinstance(error, cls)), 400)
        response = jsonify(error.to_dict())
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="petitionflow"'
        return response, status
