"""A Camunda 7 REST API under /engine-rest, so Camunda Modeler deploys here and Camunda clients (pycamunda,
scripts written for Camunda) start processes and work on tasks, with the native API's permissions.

Plain Flask views, not part of /api/openapi.json. Register with ``app.register_blueprint(camunda.blp)``.
"""

from __future__ import annotations

from typing import NoReturn

from engine.errors import NotFound

from . import definitions, history, instances, messages, tasks
from .common import blp

__all__ = ["blp", "definitions", "history", "instances", "messages", "tasks"]


@blp.route("/", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
@blp.route("/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
def unknown(rest: str = "") -> NoReturn:
    """Anything else under /engine-rest answers in Camunda's error shape."""
    raise NotFound(f"/engine-rest/{rest} is not part of the Camunda REST API offered here")
