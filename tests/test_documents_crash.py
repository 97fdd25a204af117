"""An acknowledged upload survives a SIGKILL of the service: `petitionflow serve` in a real subprocess takes a
file, answers 201, is killed before the next command, and a new process serves the same bytes and carries on."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from engine.config import Settings
from engine.definitions import read_files
from engine.runtime import Engine
from engine.testing import FORM_DATA
from tests.test_documents import pdf_bytes, png_bytes
from tests.test_readme_cli import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


class Server:
    """`petitionflow serve` on a free port, over the test's database."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "PETITIONFLOW_INSTANCE": str(settings.instance_path),
            "PYTHONPATH": str(ROOT),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "webapi.cli", "serve", "--port", str(self.port), "--no-scheduler"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):
                    return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise AssertionError("the service did not start") from None
                time.sleep(0.2)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, method: str, path: str, user: str, body: bytes | None = None, **headers: str) -> Any:
        token = base64.b64encode(f"{user}:{user}".encode()).decode()
        request = urllib.request.Request(
            self.url + path, data=body, method=method, headers={"Authorization": f"Basic {token}", **headers}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            data = response.read()
            return json.loads(data) if response.headers.get_content_type() == "application/json" else data

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


def multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, content in files:
        out.write(f"--{boundary}\r\n".encode())
        out.write(f'Content-Disposition: form-data; name="files"; filename="{name}"\r\n'.encode())
        out.write(b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def test_an_acknowledged_upload_survives_a_sigkill_before_the_next_command(settings: Settings) -> None:
    engine = Engine(settings)
    try:
        engine.migrate()
        engine.deploy(read_files([ROOT / "workflows", ROOT / "forms"]), name="shipped")
        engine.accounts.seed_demo()
    finally:
        engine.db.dispose()
    png, pdf = png_bytes(), pdf_bytes()
    first = Server(settings)
    try:
        registration = json.dumps(FORM_DATA["intake_registration"]).encode()
        number = first.call(
            "POST", "/api/petitions", "registrar", registration, **{"Content-Type": "application/json"}
        )["number"]
        body, content_type = multipart([("来信.png", png), ("来信.pdf", pdf)])
        stored = first.call(
            "POST",
            f"/api/petitions/{number}/attachments",
            "registrar",
            body,
            **{"Content-Type": content_type},
        )
        assert [a["filename"] for a in stored] == ["来信.png", "来信.pdf"]
    finally:
        first.kill()
    assert first.process.returncode == -signal.SIGKILL

    second = Server(settings)
    try:
        listed = second.call("GET", f"/api/petitions/{number}/attachments", "registrar")
        assert [(a["id"], a["sha256"]) for a in listed] == [(a["id"], a["sha256"]) for a in stored]
        assert (
            second.call("GET", f"/api/petitions/{number}/attachments/{listed[0]['id']}/content", "registrar")
            == png
        )
        assert (
            second.call("GET", f"/api/petitions/{number}/attachments/{listed[1]['id']}/content", "registrar")
            == pdf
        )
        # The next command runs on the new process, and the files stay with the case.
        tasks = second.call("GET", f"/api/tasks?businessKey={number}", "registrar")
        (check,) = [t for t in tasks if t["elementId"] == "register_check"]
        headers = {"Content-Type": "application/json"}
        second.call(
            "POST", f"/api/tasks/{check['id']}/claim", "registrar", b'{"userId": "registrar"}', **headers
        )
        done = json.dumps({"variables": FORM_DATA["intake_check"]}).encode()
        try:
            second.call("POST", f"/api/tasks/{check['id']}/complete", "registrar", done, **headers)
        except urllib.error.HTTPError as error:
            raise AssertionError(error.read().decode()) from None
        assert len(second.call("GET", f"/api/petitions/{number}/attachments", "registrar")) == 2
    finally:
        second.kill()
