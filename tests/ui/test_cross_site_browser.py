"""In Debian's chromium: a page served from another port of the same host cannot act with an official's cookie.

SameSite=Lax does not help here (another port is the same site, so chromium sends the cookie); the server's
same-origin check must refuse it. The service's own pages keep working (tests/ui/test_pages_browser.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from engine.models import Instance
from tests.ui.browser import LiveServer, login
from tests.ui.test_pages_browser import registered_and_checked

pytestmark = pytest.mark.browser


@contextmanager
def serve(page_html: str) -> Iterator[str]:
    """One page (a Response is a WSGI app of its own) on a free port of 127.0.0.1; yields its URL."""
    server = make_server("127.0.0.1", 0, Response(page_html, mimetype="text/html"), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="foreign-page", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_a_page_on_another_port_cannot_suspend_a_case(browser: Any, live_server: LiveServer) -> None:
    _, instance_id = registered_and_checked(live_server.engine)
    target = f"{live_server.url}/api/instances/{instance_id}/suspend"
    form = f'<form method="post" action="{target}"></form><script>document.forms[0].submit()</script>'
    context = browser.new_context()
    try:
        page = context.new_page()
        login(page, live_server, "supervisor")
        with serve(form) as foreign:
            with page.expect_response(lambda response: response.url == target) as answer:
                page.goto(foreign)
            assert answer.value.status == 403
            assert answer.value.json()["error"] == "cross_site_request"
    finally:
        context.close()
    with live_server.engine.db.reading() as session:
        assert session.get(Instance, instance_id).state == "active"
