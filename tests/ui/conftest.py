"""Browser fixtures: the Flask app on a real port, Debian's chromium through playwright, and a guard that every
request any page makes goes to the service itself.

The browser tests run on SQLite only (the engine suite covers PostgreSQL); they are marked ``browser`` and are
skipped when /usr/bin/chromium is missing (``make setup`` installs it as root).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from engine.runtime import Engine
from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS, LiveServer
from webapi import create_app


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("PETITIONFLOW_REQUIRE_BROWSER") and any(i.get_closest_marker("browser") for i in items):
        raise pytest.UsageError(f"PETITIONFLOW_REQUIRE_BROWSER is set but there is no chromium at {CHROMIUM}")
    skip = pytest.mark.skip(reason=f"no chromium at {CHROMIUM}: run make setup (as root) to install it")
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(skip)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only here: overrides the sqlite/postgresql parametrisation of tests/conftest.py."""
    return f"sqlite:///{tmp_path / 'petitionflow.db'}"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_context_args,
        "viewport": {"width": 1440, "height": 900},
        "locale": "zh-CN",
        "timezone_id": "Asia/Shanghai",
    }


@pytest.fixture
def live_server(deployed: Engine) -> Iterator[LiveServer]:
    """The whole app (API and pages) over the deployed engine, on 127.0.0.1 and a free port."""
    deployed.accounts.seed_demo()
    app = create_app(deployed)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", deployed)
    finally:
        server.shutdown()
        thread.join(timeout=10)


# Chromium's own PDF viewer (and the browser resources it loads), which shows a previewed PDF inside the page:
# part of the browser, not another host.
CHROMIUM_PDF_VIEWER = ("chrome-extension://mhjfbmdgcfjbbpaeojofohoefgiehjai/", "chrome://resources/")


@pytest.fixture
def context(context: Any, live_server: LiveServer) -> Iterator[Any]:
    """Every request of every page of the test is recorded; after the test each must be to the service itself."""
    context.on("request", lambda request: live_server.requests.append(request.url))
    context.set_default_timeout(15_000)
    yield context
    origin = live_server.url + "/"
    outside = [url for url in live_server.requests if not url.startswith((origin, *CHROMIUM_PDF_VIEWER))]
    assert not outside, f"pages requested other hosts: {outside}"


@pytest.fixture
def page(context: Any) -> Iterator[Any]:
    """A page that fails the test on any uncaught script error or Content-Security-Policy refusal."""
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    yield page
    assert not problems, problems
