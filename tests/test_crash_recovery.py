"""A process killed with SIGKILL loses nothing it acknowledged, and a new process carries on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.config import Settings
from engine.models import Instance, Task
from engine.runtime import Engine
from tests.helpers import DATA, events, instance, only_task

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

# A worker that reports each command's result on stdout only after the command returned (was committed).
WORKER = textwrap.dedent(
    """
    import json, sys, itertools
    from pathlib import Path
    from engine.config import Settings
    from engine.definitions import read_files
    from engine.runtime import Engine
    from engine.queries import TaskFilter, list_tasks

    url, instance_path, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    engine = Engine(Settings(instance_path=instance_path, database_url=url))
    engine.migrate()
    data = Path(sys.argv[4])
    engine.deploy(read_files([data / "simple.bpmn", data / "simple_register.form"]))

    def say(**fields):
        print(json.dumps(fields), flush=True)

    if mode == "one":
        started = engine.start("simple", business_key="XF-KILL", variables={"origin": "child"}, actor="reg")
        say(event="started", instance=started.instance_id, task=started.created_tasks[0])
        done = engine.complete(started.created_tasks[0], {"name": "王五", "accepted": True, "handler": "bob", "wait": "P9D"}, actor="reg")
        say(event="completed", task=done.created_tasks[0])
        sys.stdin.readline()  # parked between two commands until the parent kills us
    else:
        for n in itertools.count():
            started = engine.start("simple", business_key=f"XF-{n}", actor="reg")
            say(event="started", instance=started.instance_id)
            engine.complete(started.created_tasks[0], {"name": f"n{n}", "accepted": n % 2 == 0, "handler": "bob", "wait": "P9D"})
            say(event="completed", instance=started.instance_id)
    """
)


def spawn(url: str, instance_path: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, url, str(instance_path), mode, str(DATA)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_sigkill_between_two_commands_loses_nothing(settings: Settings, clock) -> None:
    child = spawn(settings.database_url, settings.instance_path, "one")
    assert child.stdout is not None
    started = json.loads(child.stdout.readline())
    completed = json.loads(child.stdout.readline())
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    # A fresh process (this one never ran the instance) picks it up where it was.
    engine = Engine(settings, clock=clock)
    instance_id = started["instance"]
    handle = only_task(engine, instance_id, "handle")
    assert handle.id == completed["task"] and handle.assignee == "bob"
    engine.complete(handle.id, {}, actor="bob")
    row = instance(engine, instance_id)
    assert row.state == "completed" and row.business_key == "XF-KILL"
    history = [(e.kind, e.element_id, e.actor) for e in events(engine, instance_id)]
    assert [h for h in history if h[0] == "task.completed"] == [
        ("task.completed", "register", "reg"),
        ("task.completed", "handle", "bob"),
    ]
    submitted = next(e.data for e in events(engine, instance_id) if e.kind == "task.completed")
    assert submitted["name"] == "王五"
    assert '"origin":"child"' in row.state_json and '"name":"王五"' in row.state_json
    engine.db.dispose()


def test_sigkill_during_a_stream_of_commands_leaves_every_instance_consistent(
    settings: Settings, clock
) -> None:
    child = spawn(settings.database_url, settings.instance_path, "stream")
    assert child.stdout is not None
    acknowledged: dict[str, str] = {}
    deadline = time.monotonic() + 60
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        said = json.loads(child.stdout.readline())
        acknowledged[said["instance"]] = said["event"]
    child.send_signal(signal.SIGKILL)  # somewhere inside a command
    child.wait(timeout=30)

    engine = Engine(settings, clock=clock)
    with engine.db.reading() as session:
        rows = {i.id: i for i in session.scalars(select(Instance))}
        tasks = list(session.scalars(select(Task)))
    for instance_id, said in acknowledged.items():
        assert instance_id in rows, "an acknowledged start was lost"
        if said == "completed":
            assert not any(t.instance_id == instance_id and t.element_id == "register" for t in tasks)
    for row in rows.values():
        # Every stored instance loads, and its open-task projection is exactly what its workflow holds.
        with engine.db.transaction() as session:
            workflow = engine.executor.load(session, session.get(Instance, row.id))
        ready = {str(t.id) for t in workflow.get_tasks(state=TaskState.READY, manual=True)}
        assert ready == {t.id for t in tasks if t.instance_id == row.id}
    engine.db.dispose()
