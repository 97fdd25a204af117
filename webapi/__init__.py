"""Flask application factory for petitionflow's web API and pages."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from flask import Flask

from engine.runtime import Engine

from . import body, camunda
from .api import init_api
from .auth import init_auth
from .errors import register_error_handlers
from .pages import bp as pages_blueprint
from .public_pages import bp as public_blueprint
from .security import install_security_headers


def secret_key(instance_path: Path) -> str:
    """From PETITIONFLOW_SECRET_KEY, or generated once and kept in the instance folder (shared by workers)."""
    configured = os.environ.get("PETITIONFLOW_SECRET_KEY")
    if configured:
        return configured
    path = instance_path / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under a private name, then linked into place: a process starting at the same moment
        # reads either no file or the whole key, and the first link wins.
        fd, draft = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
            with contextlib.suppress(FileExistsError):
                os.link(draft, path)
        finally:
            os.unlink(draft)
    return path.read_text().strip()


def create_app(engine: Engine | None = None) -> Flask:
    engine = engine or Engine()
    app = Flask(__name__)
    app.extensions["petitionflow"] = engine
    app.config.update(
        SECRET_KEY=secret_key(engine.settings.instance_path),
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
        JSON_AS_ASCII=False,
    )
    body.install(app)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    init_auth(app)
    register_error_handlers(app)
    install_security_headers(app)
    init_api(app)
    app.register_blueprint(camunda.blp)
    app.register_blueprint(pages_blueprint)
    app.register_blueprint(public_blueprint)

    @app.before_request
    def follow_calendar() -> None:
        # A year another process saved counts here too, looked up at most every few seconds, not per request.
        engine.calendar_years.refresh()

    @app.get("/healthz")
    def healthz() -> tuple[dict[str, str], int]:
        return {"status": "ok"}, 200

    return app
