"""What the browser tests share: the served app, logging in and out, screenshots."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
