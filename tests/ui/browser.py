"""What the browser tests share: the served app, logging in and out, screenshots."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from engine.runtime import Engine

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("PETITIONFLOW_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-results" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class LiveServer:
    url: str
    engine: Engine
    requests: list[str] = field(default_factory=list)


def screenshot(page: Any, name: str) -> Path:
    """Save the whole page under test-results/screenshots/ (gitignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page: Any, server: LiveServer, username: str, password: str | None = None) -> None:
    page.goto(f"{server.url}/login")
    page.fill("#username", username)
    page.fill("#password", password or username)
    page.click("#login-submit")
    page.wait_for_url(lambda url: "/login" not in url)


def logout(page: Any) -> None:
    page.click("#logout")
    page.wait_for_url("**/login")


def open_scan_and_pdf(page: Any, png_name: str, pdf_name: str, pdf: bytes) -> Any:
    """On a papers panel that lists two attachments, a 32-pixel-wide PNG ``png_name`` and the PDF ``pdf_name``
    (``pdf`` its bytes): preview both. The image is drawn, and the frame chromium shows its PDF viewer in holds
    the file's own bytes. Returns the list's items."""
    items = page.locator("#attachment-list li")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text(png_name)
    expect(items.nth(1)).to_contain_text(pdf_name)
    items.nth(0).get_by_role("button", name="预览").click()
    expect(page.get_by_test_id("image-preview")).to_be_visible()
    page.wait_for_function("() => document.querySelector('[data-testid=image-preview]').naturalWidth === 32")
    with page.expect_response(
        lambda r: "/attachments/" in r.url and r.request.resource_type == "document"
    ) as seen:
        items.nth(1).get_by_role("button", name="预览").click()
    opened = seen.value
    assert opened.status == 200 and opened.headers["content-type"] == "application/pdf"
    expect(page.get_by_test_id("pdf-preview")).to_be_visible()
    assert page.request.get(opened.url).body() == pdf
    return items
