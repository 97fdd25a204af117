"""Flask application factory for petitionflow's web API and pages."""

from __future__ import annotations

from flask import Flask, jsonify

from engine.errors import PetitionflowError
from engine.runtime import Engine


def create_app(engine: Engine | None = None) -> Flask:
    app = Flask(__name__)
    app.extensions["petitionflow"] = engine or Engine()

    @app.get("/healthz")
    def healthz() -> tuple[dict[str, str], int]:
        return {"status": "ok"}, 200

    @app.errorhandler(PetitionflowError)
    def petitionflow_error(error: PetitionflowError):  # type: ignore[no-untyped-def]
        return jsonify(error.to_dict()), 400

    return app
