"""A dry run of a deployed diagram for its designer: walk its paths with the forms' example data and report
where each path ends or where it stops, before anyone works a real case on it.

The walk runs on the real engine, against a scratch SQLite database in a temporary folder that holds a copy of
the definition, the latest version of every other process (call activities) and every form: the same parser,
form validation, conditions and deadlines as production, and nothing written where cases live. Each open task
is completed with its form's example data (engine/testing.py's ``form_values``); a choice field (options or a
checkbox) that can take other values forks the walk, one value at a time, within a budget of paths and steps.
Timers are not waited for: a path whose only way on is a timer or a message stops there, and says so.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from .config import Settings
from .definitions import DeployFile
from .errors import DeploymentInvalid, NotFound, PetitionflowError, ValidationFailed
from .models import FormVersion, ProcessDefinition, Resource
from .queries import TaskFilter, get_instance, history, latest_versions, list_tasks
from .testing import form_values, today_of

if TYPE_CHECKING:
    from .runtime import Engine

MAX_PATHS = 10
MAX_STEPS = 60
MAX_CHOICES = 4  # variants of one task's submission: the example, then one other value per choice field


@dataclass
class PathReport:
    """One way through the diagram: the steps taken (element id, name, the choice that forked here) and how it
    ended: ``completed`` (an end event), ``waiting`` (for a timer or message), ``refused`` (the example data did
    not pass a form) or ``failed`` (the diagram failed)."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    outcome: str = "completed"
    stopped_at: str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "outcome": self.outcome,
            "stoppedAt": self.stopped_at,
            "message": self.message,
        }


def _files(engine: Engine, definition_id: str) -> tuple[str, list[DeployFile]]:
    """The definition's own file, the latest file of every other process, and the latest version of every form."""
    with engine.db.reading() as session:
        definition = session.get(ProcessDefinition, definition_id)
        if definition is None:
            raise NotFound(f"no process definition '{definition_id}'")
        latest = latest_versions()
        others = session.execute(
            select(Resource.name, Resource.content)
            .join(ProcessDefinition, ProcessDefinition.resource_id == Resource.id)
            .join(latest, (latest.c.key == ProcessDefinition.key) & (latest.c.v == ProcessDefinition.version))
            .where(ProcessDefinition.key != definition.key)
        ).all()
        own = session.execute(
            select(Resource.name, Resource.content).where(Resource.id == definition.resource_id)
        ).one()
        newest = (
            select(FormVersion.form_key, func.max(FormVersion.version).label("v"))
            .group_by(FormVersion.form_key)
            .subquery()
        )
        forms = session.execute(
            select(FormVersion.form_key, FormVersion.schema_json).join(
                newest, (newest.c.form_key == FormVersion.form_key) & (newest.c.v == FormVersion.version)
            )
        ).all()
    files = [DeployFile(f"forms/{key}.form", schema.encode()) for key, schema in forms]
    files.append(DeployFile(f"diagrams/own-{own.name}", own.content.encode()))
    files += [
        DeployFile(f"diagrams/{i:03d}-{name}", content.encode()) for i, (name, content) in enumerate(others)
    ]
    return definition.key, files


def _deploy(scratch: Engine, files: list[DeployFile]) -> None:
    """Deploy the copy; another process's file that today's rules refuse is left out (unless it is the one run)."""
    try:
        scratch.deploy(files, name="dry run")
    except DeploymentInvalid as error:
        bad = {p["file"] for p in error.details.get("problems", [])}
        if any(name.startswith(("diagrams/own-", "forms/")) for name in bad):
            raise
        scratch.deploy([f for f in files if f.name not in bad], name="dry run")


class _Walker:
    def __init__(self, scratch: Engine, key: str) -> None:
        self.scratch = scratch
        self.key = key
        self.runs = 0

    def variants(self, form: Any) -> list[tuple[str | None, dict[str, Any]]]:
        """The example submission, then the same with one choice field set to another value."""
        today = today_of(self.scratch)
        base = form_values(form, today)
        out: list[tuple[str | None, dict[str, Any]]] = [(None, base)]
        for f in form.fields:
            if len(out) >= MAX_CHOICES or len(f.path) != 1 or f.disabled:
                continue
            options = list(f.values) if f.values and f.type in ("radio", "select") else []
            if f.type == "checkbox":
                options = [True, False]
            for value in options:
                if value != base.get(f.key) and len(out) < MAX_CHOICES:
                    out.append((f"{f.label or f.key} = {value}", {**base, f.key: value}))
        return out

    def end_of(self, instance_id: str) -> str | None:
        """The end event the instance finished at."""
        with self.scratch.db.reading() as session:
            ends = [
                e.element_id
                for e in history(session, instance_id)
                if e.kind == "activity.completed" and (e.data or {}).get("type") == "EndEvent"
            ]
        return ends[-1] if ends else None

    def start_values(self) -> dict[str, Any]:
        with self.scratch.db.reading() as session:
            definition = session.scalars(
                select(ProcessDefinition)
                .where(ProcessDefinition.key == self.key)
                .order_by(ProcessDefinition.version.desc())
            ).first()
            assert definition is not None
            form = self.scratch.start_form(session, definition.id)
        return form_values(form.definition, today_of(self.scratch)) if form is not None else {}

    def replay(self, choices: list[int]) -> tuple[PathReport, list[list[int]]]:
        """Run one path choosing ``choices`` at the first tasks, then the example; returns its report and, for
        every task reached after the given choices, the choices that fork from it."""
        self.runs += 1
        report = PathReport()
        try:
            result = self.scratch.start(self.key, variables=self.start_values())
        except ValidationFailed as error:
            fields = ", ".join(error.details.get("fields", {}))
            report.outcome, report.message = "refused", f"开始表单的示例数据未通过校验：{fields}"
            return report, []
        except PetitionflowError as error:
            # A process that needs its caller's variables (a called procedure) stops at once.
            report.outcome, report.stopped_at = "failed", (error.details or {}).get("element")
            report.message = f"启动即出错（被调用的流程需要调用方的变量）：{error}"
            return report, []
        instance_id = result.instance_id
        position = 0
        forks: list[list[int]] = []
        while len(report.steps) < MAX_STEPS:
            with self.scratch.db.reading() as session:
                tasks = sorted(
                    list_tasks(session, TaskFilter(instance_id=instance_id)), key=lambda t: t.element_id
                )
                row = get_instance(session, instance_id)
                state, waiting = row.state, list(row.active_elements or [])
                form = self.scratch.form_for(session, tasks[0]) if tasks else None
            if state != "active":
                report.outcome = "completed" if state == "completed" else state
                report.stopped_at = self.end_of(instance_id)
                break
            if not tasks:
                report.outcome, report.stopped_at = "waiting", ", ".join(waiting) or None
                report.message = "等待定时器或消息（试运行不等待）"
                break
            task = tasks[0]
            variants = self.variants(form) if form is not None else [(None, {})]
            pick = choices[position] if position < len(choices) else 0
            if position >= len(choices):
                forks += [
                    [*choices[:position], *([0] * (position - len(choices))), i]
                    for i in range(1, len(variants))
                ]
            label, values = variants[min(pick, len(variants) - 1)]
            report.steps.append({"element": task.element_id, "name": task.name, "choice": label})
            position += 1
            try:
                self.scratch.complete(task.id, values)
            except ValidationFailed as error:
                report.outcome, report.stopped_at = "refused", task.element_id
                report.message = f"示例数据未通过表单校验：{', '.join(error.details.get('fields', {}))}"
                break
            except PetitionflowError as error:
                report.outcome, report.stopped_at = "failed", task.element_id
                report.message = f"流程出错：{error}"
                break
        else:
            report.outcome, report.message = "too_long", f"超过 {MAX_STEPS} 步，可能有循环，已停止"
        return report, forks


def dry_run(engine: Engine, definition_id: str) -> dict[str, Any]:
    """Every path found within the budget, each with its steps and its end."""
    key, files = _files(engine, definition_id)
    with tempfile.TemporaryDirectory(prefix="petitionflow-dryrun-") as folder:
        settings = Settings(
            instance_path=Path(folder),
            database_url=f"sqlite:///{Path(folder) / 'dryrun.db'}",
            allow_scripts=engine.settings.allow_scripts,
        )
        scratch = type(engine)(settings, clock=engine.clock, calendar=engine.calendar)
        try:
            scratch.migrate()
            _deploy(scratch, files)
            walker = _Walker(scratch, key)
            queue: list[list[int]] = [[]]
            seen: set[tuple[str, ...]] = set()
            paths: list[dict[str, Any]] = []
            while queue and len(paths) < MAX_PATHS and walker.runs < 2 * MAX_PATHS:
                choices = queue.pop(0)
                report, forks = walker.replay(choices)
                queue += forks
                signature = (*(s["element"] for s in report.steps), report.outcome, report.stopped_at or "")
                if signature not in seen:
                    seen.add(signature)
                    paths.append(report.to_dict())
        finally:
            scratch.db.dispose()
    return {"definition": definition_id, "paths": paths, "complete": not queue}
