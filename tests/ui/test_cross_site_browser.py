"""In Debian's chromium: a page served from another port of the same host cannot act with an official's cookie.

SameSite=Lax does not help here (another port is the same site, so chromium sends the cookie); the server's
same-origin check must refuse it. The service's own pages keep working (tests/ui/test_pages_browser.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.models import Instance
from tests.ui.browser import LiveServer, login
from tests.ui.test_pages_browser import registered_and_checked

pytestmark = pytest.mark.browser

# Chromium gets this page from playwright itself (nothing listens there); to chromium it is simply
# another origin on the service's host.
FOREIGN = "http://127.0.0.1:9/"


def test_a_page_on_another_port_cannot_suspend_a_case(browser: Any, live_server: LiveServer) -> None:
    _, instance_id = registered_and_checked(live_server.engine)
    target = f"{live_server.url}/api/instances/{instance_id}/suspend"
    form = f'<form method="post" action="{target}"></form><script>document.forms[0].submit()</script>'
    context = browser.new_context()
    try:
        context.route(FOREIGN, lambda route: route.fulfill(body=form, content_type="text/html"))
        page = context.new_page()
        login(page, live_server, "supervisor")
        with page.expect_response(lambda response: response.url == target) as answer:
            page.goto(FOREIGN)
        assert answer.value.request.headers.get("origin") == FOREIGN.rstrip("/")
        assert answer.value.status == 403
        assert answer.value.json()["error"] == "cross_site_request"
    finally:
        context.close()
    with live_server.engine.db.reading() as session:
        assert session.get(Instance, instance_id).state == "active"
