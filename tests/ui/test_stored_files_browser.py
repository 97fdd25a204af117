"""A designer's file opened in the browser of someone else (an admin following a link): nothing in it runs."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.test_xml_safety import with_script_in_documentation
from tests.ui.browser import LiveServer, login

pytestmark = pytest.mark.browser


def test_a_script_in_a_stored_diagram_never_runs_in_the_viewers_session(
    page: Any, context: Any, live_server: LiveServer
) -> None:
    deployment = live_server.engine.deploy(with_script_in_documentation("modeler_demo.bpmn"))
    [definition] = deployment.definitions
    login(page, live_server, "admin")
    url = f"{live_server.url}/api/definitions/{definition.id}/xml"

    # The definition page still shows the diagram under the pages' policy (the fixture fails on any refusal).
    page.goto(f"{live_server.url}/definitions/{definition.id}")
    expect(page.locator("#diagram[data-ready=true]")).to_be_visible()
    expect(page.locator('g.djs-element[data-element-id="Task_review"]')).to_be_visible()

    # Followed as a link, the file is a download: it never becomes a document of the service.
    with page.expect_download() as download, contextlib.suppress(PlaywrightError):
        page.goto(url)
    assert download.value.suggested_filename == "modeler_demo.bpmn"

    # Even if a browser ignored the download header, the policy sent with the file keeps the script from running.
    # (A page of its own: the guarded one fails on the refusal this provokes.)
    inline = context.new_page()
    inline.route(
        url,
        lambda route: route.fulfill(
            response=(fetched := route.fetch()),
            headers={k: v for k, v in fetched.headers.items() if k.lower() != "content-disposition"},
        ),
    )
    inline.goto(url)
    assert inline.evaluate("document.documentElement.localName") == "definitions"
    assert inline.evaluate("document.documentElement.getAttribute('data-script-ran')") is None
    inline.close()
    assert not any("script-ran" in u for u in live_server.requests), live_server.requests
