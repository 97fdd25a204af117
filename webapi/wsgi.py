"""The web application for production servers, built from the environment.

    petitionflow serve --workers 4      # what operators run: migrations, then gunicorn with these settings
    gunicorn 'webapi.wsgi:app' -k gthread --workers 4 --threads 4   # the same app under a gunicorn of your own

Everything comes from the environment (``engine.config.Settings.from_env``): ``DATABASE_URL``,
``PETITIONFLOW_INSTANCE``, ``PETITIONFLOW_SECRET_KEY``, ``PETITIONFLOW_ALLOW_SCRIPTS``; the server's own
settings from ``PETITIONFLOW_THREADS``, ``PETITIONFLOW_TIMEOUT``, ``PETITIONFLOW_ACCESS_LOG``,
``PETITIONFLOW_LOG_LEVEL`` (see docs/production.md).

Web workers never run the timer scheduler: ``petitionflow scheduler`` is its own process (one is active per
database; more wait as standbys). Each worker builds its own engine after the fork, so no database connection
is ever shared between processes.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from flask import Flask

LOG_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def configure_logging() -> None:
    """Application logs (engine, Flask) to stderr at PETITIONFLOW_LOG_LEVEL, unless the host configured them."""
    level = os.environ.get("PETITIONFLOW_LOG_LEVEL", "INFO").upper()
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    root.setLevel(level)


def build_app() -> Flask:
    """The Flask app over a new engine; call it in the process that serves (after any fork)."""
    from engine.runtime import Engine
    from webapi import create_app

    configure_logging()
    return create_app(Engine())


def __getattr__(name: str) -> Any:
    """``webapi.wsgi:app`` is built on first access, so importing this module (the CLI does) costs nothing."""
    if name in ("app", "application"):
        built = build_app()
        globals()["app"] = globals()["application"] = built
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def gunicorn_options(host: str, port: int, workers: int, threads: int | None = None) -> dict[str, Any]:
    """The gunicorn settings ``petitionflow serve --workers N`` uses."""
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        # Threads: requests wait on PostgreSQL much of the time; the engine and its pools are thread-safe.
        "worker_class": "gthread",
        "threads": threads or _int_env("PETITIONFLOW_THREADS", 4),
        # A worker silent this long (stuck) is killed and replaced by the master.
        "timeout": _int_env("PETITIONFLOW_TIMEOUT", 60),
        "graceful_timeout": _int_env("PETITIONFLOW_GRACEFUL_TIMEOUT", 30),
        "keepalive": _int_env("PETITIONFLOW_KEEPALIVE", 5),
        "max_requests": _int_env("PETITIONFLOW_MAX_REQUESTS", 0),
        "max_requests_jitter": _int_env("PETITIONFLOW_MAX_REQUESTS", 0) // 10,
        # Never preload: each worker opens its own database pool after the fork.
        "preload_app": False,
        "accesslog": os.environ.get("PETITIONFLOW_ACCESS_LOG") or None,
        "errorlog": "-",
        "loglevel": os.environ.get("PETITIONFLOW_LOG_LEVEL", "info").lower(),
        "proc_name": "petitionflow",
        # gunicorn's control socket defaults to one path per user: several services on a host would collide.
        "control_socket_disable": not os.environ.get("PETITIONFLOW_CONTROL_SOCKET"),
        **(
            {"control_socket": os.environ["PETITIONFLOW_CONTROL_SOCKET"]}
            if os.environ.get("PETITIONFLOW_CONTROL_SOCKET")
            else {}
        ),
    }


def serve(host: str, port: int, workers: int, threads: int | None = None) -> int:
    """Run gunicorn in this process (the master) with ``workers`` worker processes; returns on shutdown."""
    from gunicorn.app.base import BaseApplication

    options = gunicorn_options(host, port, workers, threads)

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return build_app()

    Server(prog="petitionflow serve").run()
    return 0
