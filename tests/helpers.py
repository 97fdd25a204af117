"""Small helpers the engine tests share."""

from __future__ import annotations

from pathlib import Path

from engine.definitions import DeployFile, read_files
from engine.models import AuditEvent, Instance, Task
from engine.queries import TaskFilter, history, list_tasks
from engine.runtime import Engine

DATA = Path(__file__).resolve().parent / "data"


def deploy_data(engine: Engine, *names: str) -> None:
    engine.deploy(read_files([DATA / n for n in names]))


def with_text(name: str, text: str) -> DeployFile:
    return DeployFile(name, text.encode())


def open_tasks(engine: Engine, instance_id: str) -> list[Task]:
    with engine.db.reading() as session:
        return list_tasks(session, TaskFilter(instance_id=instance_id))


def only_task(engine: Engine, instance_id: str, element: str) -> Task:
    tasks = open_tasks(engine, instance_id)
    assert [t.element_id for t in tasks] == [element], f"open tasks: {[t.element_id for t in tasks]}"
    return tasks[0]


def events(engine: Engine, instance_id: str) -> list[AuditEvent]:
    with engine.db.reading() as session:
        return history(session, instance_id)


def kinds(engine: Engine, instance_id: str) -> list[tuple[str, str | None]]:
    return [(e.kind, e.element_id) for e in events(engine, instance_id)]


def instance(engine: Engine, instance_id: str) -> Instance:
    with engine.db.reading() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        return row
