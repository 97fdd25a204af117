"""Commands racing on one instance: exactly one wins, the others get a conflict, nothing is half-done."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from engine.errors import Conflict
from engine.runtime import Engine
from tests.helpers import deploy_data, events, instance, only_task

THREADS = 20


def race(action, n: int = THREADS) -> Counter[str]:
    barrier = threading.Barrier(n)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        try:
            action(i)
            outcome = "ok"
        except Conflict:
            outcome = "conflict"
        except Exception as error:  # anything else is a bug the assertion will show
            outcome = f"{type(error).__name__}: {error}"
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes


@pytest.fixture
def started(engine: Engine) -> tuple[Engine, str, str]:
    deploy_data(engine, "simple.bpmn", "simple_register.form")
    instance_id = engine.start("simple").instance_id
    return engine, instance_id, only_task(engine, instance_id, "register").id


def test_twenty_threads_completing_one_task(started) -> None:
    engine, instance_id, task_id = started
    data = {"name": "赵六", "accepted": True, "handler": "bob", "wait": "P9D"}
    outcomes = race(lambda i: engine.complete(task_id, {**data, "name": f"赵六{i}"}, actor=f"user{i}"))
    assert outcomes == Counter({"ok": 1, "conflict": THREADS - 1})
    completions = [e for e in events(engine, instance_id) if e.kind == "task.completed"]
    assert len(completions) == 1
    # The one completion recorded is the one whose data the instance holds, and it moved on exactly once.
    winner = completions[0]
    assert winner.data["name"] == f"赵六{winner.actor.removeprefix('user')}"
    assert f'"name":"{winner.data["name"]}"' in instance(engine, instance_id).state_json
    assert only_task(engine, instance_id, "handle").assignee == "bob"
    assert [e.kind for e in events(engine, instance_id)].count("task.created") == 2


def test_two_users_claiming_one_task(started) -> None:
    engine, instance_id, task_id = started
    outcomes = race(lambda i: engine.claim(task_id, f"user{i}"), n=2)
    assert outcomes == Counter({"ok": 1, "conflict": 1})
    claims = [e for e in events(engine, instance_id) if e.kind == "task.claimed"]
    assert len(claims) == 1
    assert only_task(engine, instance_id, "register").assignee == claims[0].data["assignee"]
