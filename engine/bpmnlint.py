"""bpmnlint, the linter Camunda Modeler runs, on diagrams a designer uploads before deploying them.

It runs as a Node.js program from ``node_modules`` (``make setup`` installs it) with the repository's
``.bpmnlintrc``, one process per diagram under a time limit, in a private temporary folder: an uploaded
file's name never reaches the file system and a hanging run is stopped. Every text a designer reads is Chinese.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["MAX_BYTES", "MAX_FILES", "command", "lint"]

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_SECONDS = 30
MAX_FILES = 20
MAX_BYTES = 5 * 1024 * 1024
LINE = re.compile(
    r"^\s+(?P<element>\S+)\s+(?P<severity>error|warning|warn)\s+(?P<message>.+?)\s+(?P<rule>\S+)\s*$"
)


def command(node_modules: Path) -> tuple[list[str] | None, str | None]:
    """How to run bpmnlint here, or why it cannot run (in words for the designer)."""
    node = shutil.which("node")
    if node is None:
        return None, "服务器上没有安装 Node.js（node），无法运行 bpmnlint；请运行 make setup。"
    script = node_modules / "bpmnlint" / "bin" / "bpmnlint.js"
    if not script.is_file():
        return None, "没有安装 bpmnlint（node_modules/bpmnlint）；请运行 make setup。"
    return [node, str(script)], None


def lint(node_modules: Path, diagrams: Sequence[tuple[str, bytes]]) -> dict[str, Any]:
    """Each diagram's findings, as (file name as uploaded, content) in; the /ui/lint answer out."""
    run, missing = command(node_modules)
    if run is None:
        return {"available": False, "message": missing, "results": []}
    config = ROOT / ".bpmnlintrc"
    results = []
    with tempfile.TemporaryDirectory(prefix="petitionflow-lint-") as folder:
        if not config.is_file():
            config = Path(folder) / ".bpmnlintrc"
            config.write_text('{"extends": "bpmnlint:recommended"}', encoding="utf-8")
        for index, (original, content) in enumerate(diagrams):
            if len(content) > MAX_BYTES:
                results.append({"file": original, "ok": False, "problems": [], "message": "文件超过 5 MiB"})
                continue
            # A fixed, safe name per upload: the user's file name never reaches the file system.
            path = Path(folder) / f"{index:02d}.bpmn"
            path.write_bytes(content)
            results.append(_run(run, config, path, original))
    return {"available": True, "message": None, "results": results}


def _parse(output: str) -> list[dict[str, str]]:
    problems = []
    for line in output.splitlines():
        match = LINE.match(line)
        if match:
            severity = "warning" if match["severity"].startswith("warn") else "error"
            problems.append(
                {
                    "element": match["element"],
                    "severity": severity,
                    "message": match["message"],
                    "rule": match["rule"],
                }
            )
    return problems


def _run(run: list[str], config: Path, path: Path, original: str) -> dict[str, Any]:
    env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"}
    try:
        done = subprocess.run(
            [*run, "--config", str(config), str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {
            "file": original,
            "ok": False,
            "problems": [],
            "message": f"bpmnlint 超过 {TIMEOUT_SECONDS} 秒未完成，已中止",
        }
    except OSError as error:
        return {"file": original, "ok": False, "problems": [], "message": f"无法运行 bpmnlint：{error}"}
    output = (done.stdout or "") + (done.stderr or "")
    problems = _parse(done.stdout or "")
    message = None
    if done.returncode not in (0, 1) or (done.returncode == 1 and not problems):
        # Not findings but a failure (an unparsable file, a broken configuration): show what it said.
        message = "bpmnlint 运行失败：" + output.replace(str(path), original).strip()[:2000]
    return {
        "file": original,
        "ok": done.returncode == 0 and not problems,
        "problems": problems,
        "message": message,
    }
