"""README's command-line section, run as written against the demo data, and the command line answering the way a
shell user expects (exit status, typed --var values, closed pipes, refusals that say what was wrong).

Every command runs in its own process through the installed console script, as a newcomer would type it, on one
SQLite database that holds the demo office (loaded once for the module: it takes about fifteen seconds).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# The ids a command prints, by the placeholder README uses for them in the commands that follow.
PRINTED_IDS = {
    "INSTANCE_ID": re.compile(rf"^instance ({UUID}) ", re.MULTILINE),
    # "task ID" after start and complete, or the first row of a task list ("ID  process/element  ...").
    "TASK_ID": re.compile(rf"^(?:task ({UUID})$|({UUID})  [\w-]+/)", re.MULTILINE),
}


def readme_commands() -> list[str]:
    """The lines of the shell block that follows README's "Command line" item, exactly as a shell reads them."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"^- Command line\b.*?^```sh\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert block, "README has no shell block under its Command line item"
    lines = block.group(1).replace("\\\n", " ").splitlines()  # a trailing backslash continues the line
    return [line for line in lines if line.strip()]


def words(line: str) -> str:
    """The line as the command sees it: one space between arguments, no quotes, no comment."""
    return " ".join(shlex.split(line, comments=True))


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a shell in the checkout, its database holding the demo office."""
    folder = tmp_path_factory.mktemp("readme")
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "DATABASE_URL": f"sqlite:///{folder / 'petitionflow.db'}",
        "PETITIONFLOW_INSTANCE": str(folder / "instance"),
    }
    loaded = subprocess.run(["petitionflow", "demo"], cwd=ROOT, env=env, capture_output=True, text=True)
    # Exit 1 with the summary means a scenario stopped short of its point (test_demo.py judges that); the
    # office, its users and petitions are there all the same, which is all these tests need.
    assert loaded.returncode in (0, 1) and "已结束" in loaded.stdout, loaded.stdout + loaded.stderr
    return env


def run(shell: dict[str, str], command: str, **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=shell, capture_output=True, text=True, timeout=60, **options
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serves(command: str, shell: dict[str, str]) -> None:
    """`petitionflow serve` answers pages until told to stop (on a free port, not README's 5000)."""
    port = free_port()
    server = subprocess.Popen(
        [*shlex.split(command, comments=True), "--port", str(port)],
        cwd=ROOT,
        env=shell,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as response:
                    assert "信访事项办理系统" in response.read().decode()
                    return
            except OSError:
                assert server.poll() is None, f"{command} ended with {server.returncode}"
                time.sleep(0.2)
        pytest.fail(f"{command} did not answer on port {port}")
    finally:
        server.terminate()
        server.wait(timeout=20)


def schedules(command: str, shell: dict[str, str]) -> None:
    """`petitionflow scheduler` takes the lead on the demo database and stops cleanly on SIGTERM."""
    scheduler = subprocess.Popen(
        shlex.split(command, comments=True), cwd=ROOT, env=shell, stderr=subprocess.PIPE, text=True
    )
    try:
        assert scheduler.stderr is not None
        log = iter(scheduler.stderr.readline, "")  # ends when the process does
        assert any("scheduler active: " in line for line in log), "the scheduler never took the lead"
        scheduler.send_signal(signal.SIGTERM)
        assert scheduler.wait(timeout=20) == 0
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
            scheduler.wait()


def test_every_readme_command_runs_as_written_on_the_demo_data(shell: dict[str, str]) -> None:
    commands = readme_commands()
    assert words(commands[0]) == ". .venv/bin/activate"
    activated = run(shell, ". .venv/bin/activate && command -v petitionflow")
    assert activated.returncode == 0 and activated.stdout.strip() == str(ROOT / ".venv/bin/petitionflow")
    ids: dict[str, str] = {}
    outputs: dict[str, str] = {}
    for line in commands[1:]:
        written = words(line)
        assert written.startswith("petitionflow "), written
        command = line
        for placeholder, value in ids.items():
            command = command.replace(placeholder, value)
        assert not any(p in command for p in PRINTED_IDS), f"no id printed before: {written}"
        if written.startswith("petitionflow serve"):
            serves(command, shell)
            continue
        if written.startswith("petitionflow scheduler"):
            schedules(command, shell)
            continue
        done = run(shell, command)
        assert done.returncode == 0, f"{written}\n{done.stdout}{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
        outputs[written] = done.stdout
        for placeholder, pattern in PRINTED_IDS.items():
            found = pattern.search(done.stdout)
            if found:
                ids[placeholder] = found.group(1) or found.group(2)

    assert outputs["petitionflow validate workflows/ forms/"].startswith("ok: 8 diagrams and ")
    deployed = outputs["petitionflow deploy workflows/ forms/"].splitlines()
    assert deployed and all(line.endswith("(unchanged)") or "(unchanged) id=" in line for line in deployed)
    starts = [out for cmd, out in outputs.items() if cmd.startswith("petitionflow start ")]
    assert len(starts) == 1 and re.match(rf"instance {UUID} active\ntask {UUID}\n$", starts[0])
    checks = [out for cmd, out in outputs.items() if cmd.startswith("petitionflow tasks --instance")]
    assert "petition_intake/register_check" in checks[0] and "petition_intake/acceptance_review" in checks[1]
    ended = outputs["petitionflow instances --state ended"].splitlines()
    assert len(ended) >= 10 and all("  completed  " in line for line in ended)
    active = outputs["petitionflow instances --key petition_intake --state active --limit 5"].splitlines()
    assert len(active) == 5 and all("  active  " in line for line in active)
    users = [out for cmd, out in outputs.items() if cmd.startswith("petitionflow user ")]
    assert users == ["user wangfang created\n"]


def test_var_values_take_the_type_their_form_field_wants(shell: dict[str, str]) -> None:
    started = run(
        shell,
        "petitionflow start petition_intake --var phone=13800138000 --var peopleCount=2 --var isMajor=false"
        " --var channel=visit --var note=true",
    )
    assert started.returncode == 0, started.stderr
    instance = re.search(rf"^instance ({UUID})", started.stdout, re.MULTILINE)
    assert instance
    python = (
        "from engine.runtime import Engine; import json, sys; "
        f"print(json.dumps(Engine().variables('{instance.group(1)}'), sort_keys=True))"
    )
    seen = run(shell, f"{shlex.quote(sys.executable)} -c {shlex.quote(python)}")
    assert seen.returncode == 0, seen.stderr
    assert '"phone": "13800138000"' in seen.stdout and '"peopleCount": 2' in seen.stdout
    assert '"isMajor": false' in seen.stdout and '"channel": "visit"' in seen.stdout
    assert '"note": true' in seen.stdout  # no form has it: JSON when it is JSON
    help_text = run(shell, "petitionflow complete --help").stdout
    assert "phone=13800138000 stays text" in " ".join(help_text.split())


def test_refused_input_exits_1_and_says_what_usage_exits_2(shell: dict[str, str]) -> None:
    unknown = run(shell, "petitionflow complete 00000000-0000-0000-0000-000000000000 --var x=1")
    assert (
        unknown.returncode == 1 and unknown.stderr.startswith("error: ") and "Traceback" not in unknown.stderr
    )
    invalid_form = run(
        shell,
        "id=$(petitionflow tasks --group petition_office --limit 100 | grep -m1 acceptance_review | cut -d' ' -f1)"
        ' && petitionflow complete "$id" --var acceptanceDecision=maybe',
    )
    assert invalid_form.returncode == 1, invalid_form.stdout + invalid_form.stderr
    assert "acceptanceDecision:" in invalid_form.stderr
    state = run(shell, "petitionflow instances --state bogus")
    assert state.returncode == 2 and state.stdout == ""
    assert "unknown state 'bogus': one of active, suspended, completed, cancelled" in state.stderr
    malformed = run(shell, "petitionflow start petition_intake --var channel")
    assert malformed.returncode == 2 and "expected NAME=VALUE" in malformed.stderr


def test_a_listing_read_by_head_ends_quietly(shell: dict[str, str]) -> None:
    # Enough lines that the pipe is closed while the command is still writing.
    piped = run(shell, "petitionflow tasks --limit 1000 | head -n 1; echo status=${PIPESTATUS[0]}")
    assert piped.stderr == ""
    first, status = piped.stdout.splitlines()
    assert re.match(UUID, first) and status == "status=141"


def test_validate_names_what_it_checked_and_deploy_says_which_forms_are_new(
    shell: dict[str, str], tmp_path: Path
) -> None:
    form = tmp_path / "intake_notice.form"
    original = (ROOT / "forms/intake_notice.form").read_text(encoding="utf-8")
    form.write_text(original.replace("告知", "书面告知", 1), encoding="utf-8")
    checked = run(shell, f"petitionflow validate {form}")
    assert (checked.returncode, checked.stdout) == (0, "ok: 0 diagrams and 1 forms, no problems\n")
    deployed = run(shell, f"petitionflow deploy {form} forms/intake_acceptance.form")
    assert deployed.returncode == 0, deployed.stderr
    assert deployed.stdout.splitlines() == [
        "form intake_acceptance version 1 (unchanged)",
        "form intake_notice version 2 (new)",
    ]
