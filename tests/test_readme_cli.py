"""README's command-line section, run as written against the demo data, and the command line answering the way a
shell user expects (exit status, typed --var values, closed pipes, refusals that say what was wrong).

All on one SQLite database that holds the demo office (loaded once for the module: it takes about fifteen
seconds). README's lines each run in their own process through the installed console script, as a newcomer
types them; the other checks call the command in this process, which saves a second of start-up per call.
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

from engine.models import Task
from engine.runtime import Engine
from webapi.cli import main

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
    assert loaded.returncode == 0 and "已结束" in loaded.stdout, loaded.stdout + loaded.stderr
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
        shlex.split(command, comments=True),
        cwd=ROOT,
        env=shell,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert scheduler.stdout is not None
        said = [scheduler.stdout.readline(), scheduler.stdout.readline()]  # "" once the process has ended
        assert said == ["scheduler started; waiting for leadership\n", "scheduler active\n"]
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


@pytest.fixture
def here(shell: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The command run in this process, on the module's demo database (no start-up cost per command)."""
    for name in ("DATABASE_URL", "PETITIONFLOW_INSTANCE"):
        monkeypatch.setenv(name, shell[name])
    monkeypatch.chdir(ROOT)
    return Engine()


def test_var_values_take_the_type_their_form_field_wants(
    here: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = "[" * 5000 + "]" * 5000  # JSON no request may carry (too deep): text, not a crash
    given = ["phone=13800138000", "peopleCount=2", "isMajor=false", "channel=visit", "note=true", "tag=x"]
    given.append(f"deep={deep}")
    assert main(["start", "petition_intake", *(a for v in given for a in ("--var", v))]) == 0
    instance = re.search(rf"^instance ({UUID})", capsys.readouterr().out, re.MULTILINE)
    assert instance
    seen = here.variables(instance.group(1))
    assert {name: seen[name] for name in ("phone", "peopleCount", "isMajor", "channel")} == {
        "phone": "13800138000",
        "peopleCount": 2,
        "isMajor": False,
        "channel": "visit",
    }
    # No form has them: JSON when it is JSON the API would take, else text.
    assert (seen["note"], seen["tag"], seen["deep"]) == (True, "x", deep)
    with pytest.raises(SystemExit) as shown:
        main(["complete", "--help"])
    assert shown.value.code == 0 and "phone=13800138000 stays text" in " ".join(
        capsys.readouterr().out.split()
    )


def test_refused_input_exits_1_and_says_what_usage_exits_2(
    here: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["complete", "00000000-0000-0000-0000-000000000000", "--var", "x=1"]) == 1
    assert capsys.readouterr().err.startswith("error: no ")
    assert main(["start", "petition_intake"]) == 0
    check = re.search(rf"^task ({UUID})$", capsys.readouterr().out, re.MULTILINE)
    assert check
    corrected = ("checkResult=corrected", 'correctedItems=["people"]', "peopleCount=many")
    assert main(["complete", check.group(1), *(a for v in corrected for a in ("--var", v))]) == 1
    assert "\n  peopleCount: " in capsys.readouterr().err  # the field, then what is wrong with it
    with here.db.reading() as session:
        assert session.get(Task, check.group(1)) is not None  # refused input changes nothing
    for argv, says in (
        (
            ["instances", "--state", "bogus"],
            "unknown state 'bogus': one of active, suspended, completed, cancelled",
        ),
        (["start", "petition_intake", "--var", "channel"], "expected NAME=VALUE, got 'channel'"),
    ):
        with pytest.raises(SystemExit) as usage:
            main(argv)
        refused = capsys.readouterr()
        assert (usage.value.code, refused.out) == (2, ""), argv
        assert says in refused.err, argv


def test_a_listing_read_by_head_ends_quietly(shell: dict[str, str]) -> None:
    # `petitionflow tasks | head`: whether head is gone before the listing is written is a race; a pipe nobody
    # reads at all makes the closed pipe certain.
    reader, writer = os.pipe()
    os.close(reader)
    try:
        unread = subprocess.run(
            ["petitionflow", "tasks"],
            cwd=ROOT,
            env=shell,
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(writer)
    assert (unread.returncode, unread.stderr) == (141, "")


def test_validate_names_what_it_checked_and_deploy_says_which_forms_are_new(
    here: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    form = tmp_path / "intake_notice.form"
    original = (ROOT / "forms/intake_notice.form").read_text(encoding="utf-8")
    form.write_text(original.replace("告知", "书面告知", 1), encoding="utf-8")
    assert main(["validate", str(form)]) == 0
    assert capsys.readouterr().out == "ok: 0 diagrams and 1 forms, no problems\n"
    assert main(["deploy", str(form), "forms/intake_acceptance.form"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "form intake_acceptance version 1 (unchanged)",
        "form intake_notice version 2 (new)",
    ]
