"""The REST API under /api, documented at /api/openapi.json (flask-smorest, marshmallow schemas)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from ..errors import ApiErrorSchema, http_error
from . import calendar, definitions, escalations, instances, metrics, petitions, session, tasks

BLUEPRINTS = (session, petitions, tasks, instances, definitions, metrics, escalations, calendar)


class PetitionflowApi(Api):
    """flask-smorest with our error shape for HTTP errors it raises itself (webargs 422, 404, 405)."""

    ERROR_SCHEMA = ApiErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Any:
        return http_error(error)


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
    api = PetitionflowApi(app)
    for module in BLUEPRINTS:
        api.register_blueprint(module.blp)
    return api
