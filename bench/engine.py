# ruff: noqa: E402  (sys.path is fixed before the imports, see below)
"""Latency of the engine's start and complete commands, against bare in-memory SpiffWorkflow (the floor).

    python bench/engine.py [--runs N] [--pg URL | --no-pg] [--profile]

Runs the 23-node diagram bench/data/engine_bench.bpmn through ``Engine.start`` / ``Engine.complete`` on a
fresh SQLite file and (if reachable) on a fresh PostgreSQL schema, then does the same steps on SpiffWorkflow
alone: the floor deserializes the workflow with SpiffWorkflow's own serializer (spec embedded), completes the
task, runs the engine steps and serializes again, all in memory. The "codec floor" repeats that with the
engine's own codec (cached spec objects, instance state only), which is exactly the SpiffWorkflow work an
engine command does, so engine minus codec floor is the cost of the database and the engine's bookkeeping. Prints markdown tables: latencies (p50/p95), engine/floor ratios, where one engine
complete spends its time (self time per phase, SQL statements), and the machine.
"""

from __future__ import annotations

import os
import sys

# Run as a script, this file's folder (bench/) comes first on sys.path, and bench/engine.py would shadow
# the engine package it measures.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse
import cProfile
import io
import math
import pstats
import re
import shutil
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from engine.config import Settings
from engine.definitions import read_files
from engine.models import Instance, Task
from engine.parsing import BPMN_NS, PetitionParser
from engine.runtime import Engine
from engine.serialization import WorkflowCodec
from engine.unit_of_work import UnitOfWork

# The engine package is imported by now, so bench/ may join the path for the shared helpers.
sys.path.append(_HERE)
from support import machine_rows, pg_schema

DIAGRAM = Path(__file__).resolve().parent / "data" / "engine_bench.bpmn"
KEY = "engine_bench"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WARMUP_INSTANCES = 3

START_VARIABLES = {"receivedAt": "2026-11-02", "petitioner": "张三", "channel": "letter"}
# The happy path, one user task per completion, with the form data each step submits.
PATH: dict[str, dict[str, Any]] = {
    "Task_Register": {"summary": "反映小区冬季供暖温度不达标", "category": "urban"},
    "Task_Review": {"decision": "accept"},
    "Task_Assign": {"handlerOrg": "市住房和城乡建设局"},
    "Task_DeptA": {"opinionA": "已现场核查，情况属实"},
    "Task_DeptB": {"opinionB": "供热企业已整改"},
    "Task_DeptC": {"opinionC": "无异议"},
    "Task_DraftReply": {"reply": "经核查，供热温度已恢复至18摄氏度以上。"},
    "Task_Approve": {"score": 4},
}
ORDER = list(PATH)
FLOW_NODE_TAGS = {
    f"{{{BPMN_NS}}}{tag}"
    for tag in (
        "startEvent",
        "endEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
        "task",
        "userTask",
        "manualTask",
        "serviceTask",
        "scriptTask",
        "sendTask",
        "receiveTask",
        "businessRuleTask",
        "callActivity",
        "subProcess",
        "exclusiveGateway",
        "parallelGateway",
        "inclusiveGateway",
        "eventBasedGateway",
    )
}


# -- statistics ---------------------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile, in the unit of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Series:
    name: str
    samples: list[float] = field(default_factory=list)  # seconds

    def add(self, seconds: float) -> None:
        self.samples.append(seconds)

    @property
    def p50(self) -> float:
        return pct(self.samples, 0.50) * 1000

    @property
    def p95(self) -> float:
        return pct(self.samples, 0.95) * 1000

    @property
    def mean(self) -> float:
        return sum(self.samples) / len(self.samples) * 1000


def timed(series: Series, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = fn()
    series.add(time.perf_counter() - start)
    return result


def next_step(open_tasks: dict[str, str]) -> tuple[str, str] | None:
    """(task id, element id) of the open task earliest on the path, or None when nothing is left."""
    by_element = {element: task_id for task_id, element in open_tasks.items()}
    for element in ORDER:
        if element in by_element:
            return by_element[element], element
    if open_tasks:
        raise RuntimeError(f"the benchmark left the happy path: open tasks {sorted(open_tasks.values())}")
    return None


# -- the engine ---------------------------------------------------------------------------------------------
def build_engine(url: str, folder: Path) -> Engine:
    engine = Engine(Settings(instance_path=folder / "instance", database_url=url))
    engine.migrate()
    engine.deploy(read_files([DIAGRAM]), name="bench")
    return engine


def open_tasks(engine: Engine, instance_id: str) -> dict[str, str]:
    with engine.db.reading() as session:
        rows = session.execute(select(Task.id, Task.element_id).where(Task.instance_id == instance_id))
        return {task_id: element for task_id, element in rows}


def engine_start(engine: Engine, series: Series | None = None) -> str:
    def start() -> Any:
        return engine.start(KEY, business_key=f"XF{uuid.uuid4().hex[:10]}", variables=START_VARIABLES)

    result = timed(series, start) if series is not None else start()
    return result.instance_id


def engine_walk(engine: Engine, instance_id: str, series: Series | None = None) -> None:
    """Complete the instance's user tasks one command at a time."""
    while (step := next_step(open_tasks(engine, instance_id))) is not None:
        task_id, element = step
        if series is not None:
            timed(series, lambda t=task_id, e=element: engine.complete(t, PATH[e], actor="bench"))
        else:
            engine.complete(task_id, PATH[element], actor="bench")


class EngineRunner:
    """One measured path: the engine on one database."""

    def __init__(self, engine: Engine, label: str) -> None:
        self.engine = engine
        self.label = label

    def start(self, series: Series | None) -> str:
        return engine_start(self.engine, series)

    def walk(self, handle: str, series: Series | None) -> None:
        engine_walk(self.engine, handle, series)

    def reset(self) -> None:
        pass


# -- the breakdown of one complete --------------------------------------------------------------------------
class Phases:
    """Self time per wrapped callable (a wrapped callee's time is taken out of its wrapped caller)."""

    def __init__(self) -> None:
        self.self_time: dict[str, float] = defaultdict(float)
        self.order: list[str] = []
        self._stack: list[float] = []
        self._undo: list[tuple[Any, str, Any, bool]] = []
        self.missing: list[str] = []
        self.statements = 0
        self.driver_time = 0.0

    @property
    def active(self) -> bool:
        return bool(self._stack)

    def wrap(self, owner: Any, name: str, label: str, *, top: bool = False) -> None:
        original = getattr(owner, name, None)
        if original is None:  # the engine changed under the benchmark: measure the rest
            self.missing.append(f"{getattr(owner, '__name__', type(owner).__name__)}.{name}")
            return
        had_own = isinstance(owner, type) or name in vars(owner)
        if label not in self.order:
            self.order.append(label)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not self._stack and not top:  # not inside a command: the harness's own lookups
                return original(*args, **kwargs)
            started = time.perf_counter()
            self._stack.append(0.0)
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                self.self_time[label] += elapsed - self._stack.pop()
                if self._stack:
                    self._stack[-1] += elapsed

        setattr(owner, name, wrapper)
        self._undo.append((owner, name, original, had_own))

    def restore(self) -> None:
        for owner, name, original, had_own in reversed(self._undo):
            if had_own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)
        self._undo.clear()


@contextmanager
def instrumented(engine: Engine) -> Iterator[Phases]:
    phases = Phases()
    unit = UnitOfWork
    executor = engine.executor
    phases.wrap(engine, "complete", "other: Engine.complete / executor glue", top=True)
    phases.wrap(executor, "lock_task", "begin write transaction + lock instance, read the task row")
    phases.wrap(executor, "load", "load glue")
    phases.wrap(executor, "specs", "spec cache lookup")
    phases.wrap(engine.codec, "decode_state", "decode state JSON -> BpmnWorkflow")
    phases.wrap(engine, "validate_submission", "form validation")
    phases.wrap(unit, "run", "SpiffWorkflow: task.run + refresh_timers + do_engine_steps")
    phases.wrap(engine.script_engine, "evaluate", "gateway conditions (safe evaluator)")
    phases.wrap(unit, "save", "save glue (active_elements)")
    phases.wrap(unit, "_record_activities", "audit: activities finished")
    phases.wrap(engine.deadlines, "sync", "deadlines.sync")
    phases.wrap(unit, "_project_tasks", "project open tasks (diff against the loaded workflow)")
    phases.wrap(unit, "_project_timers", "project timers (diff against the loaded workflow)")
    phases.wrap(engine.codec, "encode_state", "encode BpmnWorkflow -> state JSON")
    phases.wrap(Session, "flush", "ORM flush (UPDATE instance)")
    phases.wrap(unit, "_write_rows", "write task, candidate, timer and audit rows (Core statements)")
    phases.wrap(Session, "commit", "COMMIT")
    phases.wrap(Session, "close", "session close")

    def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        conn.info["bench_t0"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if not phases.active:
            return
        phases.statements += 1
        phases.driver_time += time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())

    event.listen(engine.db.engine, "before_cursor_execute", before)
    event.listen(engine.db.engine, "after_cursor_execute", after)
    try:
        yield phases
    finally:
        event.remove(engine.db.engine, "before_cursor_execute", before)
        event.remove(engine.db.engine, "after_cursor_execute", after)
        phases.restore()


@dataclass
class Breakdown:
    label: str
    completes: int
    total: float  # seconds, summed over the completes
    phases: Phases


def breakdown(engine: Engine, runs: int, label: str) -> Breakdown:
    """Instrumented completes on instances started outside the measurement."""
    instances = [engine_start(engine) for _ in range(max(2, math.ceil(runs / len(PATH))))]
    series = Series("instrumented")
    with instrumented(engine) as phases:
        for instance_id in instances:
            while (step := next_step(open_tasks(engine, instance_id))) is not None:
                task_id, element = step
                timed(series, lambda t=task_id, e=element: engine.complete(t, PATH[e], actor="bench"))
    return Breakdown(label, len(series.samples), sum(series.samples), phases)


def profile(engine: Engine, runs: int) -> str:
    instances = [engine_start(engine) for _ in range(max(2, math.ceil(runs / len(PATH))))]
    profiler = cProfile.Profile()
    for instance_id in instances:
        while (step := next_step(open_tasks(engine, instance_id))) is not None:
            task_id, element = step
            profiler.enable()
            engine.complete(task_id, PATH[element], actor="bench")
            profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(15)
    stats.sort_stats("tottime").print_stats(15)
    return out.getvalue()


# -- the floor: SpiffWorkflow alone -------------------------------------------------------------------------
class Floor:
    """The same diagram and steps on bare SpiffWorkflow, state kept as JSON between steps.

    ``codec=False``: BpmnWorkflowSerializer with the spec embedded (serialize_json / deserialize_json).
    ``codec=True``: the engine's WorkflowCodec (instance state only, spec objects reused), no database.
    """

    def __init__(self, label: str, *, codec: bool) -> None:
        self.label = label
        self.state_size = 0
        # Plain PythonScriptEngine evaluates everything as Python: the ${...} conditions are plain Python once
        # unwrapped, and the ISO timer literal (which the engine's evaluator takes bare) needs quotes.
        xml = re.sub(r"\$\{(.*?)\}", r"\1", DIAGRAM.read_text(encoding="utf-8"))
        xml = re.sub(r"(<bpmn:time(?:Duration|Date|Cycle)[^>]*>)\s*(P[^<]*?)\s*<", r"\1'\2'<", xml)
        parser = PetitionParser()
        parser.add_bpmn_str(xml.encode("utf-8"))
        self.spec = parser.get_spec(KEY)
        self.subprocess_specs = parser.get_subprocess_specs(KEY)
        self.script_engine = PythonScriptEngine()
        self.codec = WorkflowCodec() if codec else None
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))
        self.parts: dict[str, float] = defaultdict(float)

    def dump(self, workflow: BpmnWorkflow) -> str:
        if self.codec is not None:
            return self.codec.encode_state(workflow)
        return self.serializer.serialize_json(workflow)

    def load(self, state: str) -> BpmnWorkflow:
        if self.codec is not None:
            workflow = self.codec.decode_state(state, self.spec, self.subprocess_specs)
        else:
            workflow = self.serializer.deserialize_json(state)
        workflow.script_engine = self.script_engine
        return workflow

    def create(self) -> str:
        workflow = BpmnWorkflow(self.spec, self.subprocess_specs, script_engine=self.script_engine)
        workflow.task_tree.data.update(START_VARIABLES)
        workflow.do_engine_steps()
        return self.dump(workflow)

    def complete(self, state: str, task_id: uuid.UUID, data: dict[str, Any]) -> tuple[str, BpmnWorkflow]:
        t0 = time.perf_counter()
        workflow = self.load(state)
        t1 = time.perf_counter()
        task = workflow.get_task_from_id(task_id)
        task.data.update(data)
        task.run()
        workflow.refresh_timers()
        workflow.do_engine_steps()
        t2 = time.perf_counter()
        state = self.dump(workflow)
        t3 = time.perf_counter()
        self.parts["deserialize"] += t1 - t0
        self.parts["task.run + refresh_timers + do_engine_steps"] += t2 - t1
        self.parts["serialize"] += t3 - t2
        return state, workflow

    @staticmethod
    def open_tasks(workflow: BpmnWorkflow) -> dict[str, str]:
        return {
            str(t.id): t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.READY, manual=True)
        }

    def walk(self, handle: str, series: Series | None) -> None:
        state, workflow = handle, self.load(handle)
        while (step := next_step(self.open_tasks(workflow))) is not None:
            task_id, element = step
            started = time.perf_counter()
            state, workflow = self.complete(state, uuid.UUID(task_id), PATH[element])
            if series is not None:
                series.add(time.perf_counter() - started)
        if not workflow.completed:
            raise RuntimeError("the floor's workflow did not finish")
        self.state_size = max(self.state_size, len(state))

    def start(self, series: Series | None) -> str:
        return timed(series, self.create) if series is not None else self.create()

    def reset(self) -> None:
        self.parts.clear()
        self.state_size = 0


def measure(runners: list[Any], runs: int) -> dict[str, Series]:
    """Warm every path up, then measure them in rotating round-robin, so load from elsewhere on the machine
    (other test runs, the PostgreSQL server) hits every path alike and the ratios stay comparable."""
    for runner in runners:
        for _ in range(WARMUP_INSTANCES):  # spec cache, compiled SQL and expressions, the OS page cache
            runner.walk(runner.start(None), None)
        runner.reset()
    series = {}
    for runner in runners:
        series[f"{runner.label} start"] = Series(f"{runner.label} start")
    for runner in runners:
        series[f"{runner.label} complete"] = Series(f"{runner.label} complete")
    handles: dict[str, list[str]] = {runner.label: [] for runner in runners}
    for i in range(runs):
        for runner in runners[i % len(runners) :] + runners[: i % len(runners)]:
            handles[runner.label].append(runner.start(series[f"{runner.label} start"]))
    for i in range(math.ceil(runs / len(PATH))):
        for runner in runners[i % len(runners) :] + runners[: i % len(runners)]:
            runner.walk(handles[runner.label][i], series[f"{runner.label} complete"])
    return series


def count_flow_nodes() -> int:
    root = etree.parse(str(DIAGRAM)).getroot()
    return sum(1 for element in root.iter() if element.tag in FLOW_NODE_TAGS)


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def ms(value: float) -> str:
    return f"{value:.2f}"


def breakdown_table(items: list[Breakdown]) -> str:
    headers = ["Phase (self time)"]
    for item in items:
        headers += [f"{item.label} ms/complete", "share"]
    labels: list[str] = []
    for item in items:
        labels += [label for label in item.phases.order if label not in labels]
    rows = []
    for label in labels:
        row = [label]
        for item in items:
            seconds = item.phases.self_time.get(label, 0.0)
            row += [ms(seconds / item.completes * 1000), f"{seconds / item.total * 100:.0f}%"]
        rows.append(row)
    unaccounted = ["outside the wrapped calls"]
    totals = ["**total (mean)**"]
    sql = ["of which in the DB driver (cursor.execute)"]
    statements = ["SQL statements per complete"]
    for item in items:
        accounted = sum(item.phases.self_time.values())
        unaccounted += [ms((item.total - accounted) / item.completes * 1000), ""]
        totals += [f"**{ms(item.total / item.completes * 1000)}**", "100%"]
        sql += [
            ms(item.phases.driver_time / item.completes * 1000),
            f"{item.phases.driver_time / item.total * 100:.0f}%",
        ]
        statements += [f"{item.phases.statements / item.completes:.1f}", ""]
    rows += [unaccounted, totals, sql, statements]
    return table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=300, help="samples per operation (default 300)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--pg", default=DEFAULT_PG, help=f"PostgreSQL URL (default {DEFAULT_PG})")
    group.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--profile", action="store_true", help="cProfile engine completes on SQLite")
    args = parser.parse_args()
    runs = max(10, args.runs)
    began = time.perf_counter()

    breakdowns: list[Breakdown] = []
    notes: list[str] = []
    profile_text = ""
    pg_version = "not measured"
    load_before = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="petitionflow-bench-"))
    try:
        with ExitStack() as stack:
            floors = [Floor("floor: bare Spiff", codec=False), Floor("codec floor", codec=True)]
            sqlite = build_engine(f"sqlite:///{folder / 'bench.db'}", folder)
            stack.callback(sqlite.db.dispose)
            engines = [EngineRunner(sqlite, "engine SQLite")]
            if args.no_pg:
                notes.append("PostgreSQL skipped (--no-pg)")
            else:
                url, info = stack.enter_context(pg_schema(args.pg))
                if url is None:
                    notes.append(info)
                else:
                    pg_version = info
                    postgres = build_engine(url, folder)
                    stack.callback(postgres.db.dispose)
                    engines.append(EngineRunner(postgres, "engine PostgreSQL"))
            by_name = measure([*floors, *engines], runs)
            for runner in engines:
                breakdowns.append(breakdown(runner.engine, min(runs, 160), runner.label.split()[-1]))
            if args.profile:
                profile_text = profile(sqlite, min(runs, 160))
            with sqlite.db.reading() as session:
                engine_state = session.scalar(
                    select(Instance.state_json).where(Instance.state == "completed").limit(1)
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    elapsed = time.perf_counter() - began
    series = list(by_name.values())
    floor_parts = {
        f.label: {k: v / len(by_name[f"{f.label} complete"].samples) * 1000 for k, v in f.parts.items()}
        for f in floors
    }
    state_size = floors[0].state_size

    print(f"# petitionflow engine benchmark ({time.strftime('%Y-%m-%d %H:%M')})\n")
    print(
        f"Diagram `{DIAGRAM.relative_to(DIAGRAM.parents[2])}`: {count_flow_nodes()} flow nodes; "
        f"each instance walks {len(PATH)} user tasks (parallel split of 3, embedded sub-process), "
        f"so one complete = one user task. Warm-up: {WARMUP_INSTANCES} full instances per path, not counted. "
        f"Start = create + run to the first user task + persist.\n"
    )
    rows = []
    for s in series:
        rows.append([s.name, str(len(s.samples)), ms(s.p50), ms(s.p95), ms(s.mean)])
    print(table(["Path / operation", "n", "p50 ms", "p95 ms", "mean ms"], rows))
    print()

    floor_start, floor_complete = by_name["floor: bare Spiff start"], by_name["floor: bare Spiff complete"]
    codec_complete = by_name["codec floor complete"]
    ratio_rows = []
    for backend in ("SQLite", "PostgreSQL"):
        start, complete = by_name.get(f"engine {backend} start"), by_name.get(f"engine {backend} complete")
        if start is None or complete is None:
            continue
        ratio_rows.append(
            [
                backend,
                f"**{complete.p50 / floor_complete.p50:.2f}x**",
                f"{complete.p50 / codec_complete.p50:.2f}x",
                f"{start.p50 / floor_start.p50:.2f}x",
                ms(complete.p50 - codec_complete.p50),
            ]
        )
    print(
        table(
            [
                "Backend",
                "complete p50: engine / floor",
                "complete p50: engine / codec floor",
                "start p50: engine / floor",
                "complete p50 above codec floor (ms)",
            ],
            ratio_rows,
        )
    )
    print()
    for label, parts in floor_parts.items():
        print(f"{label} complete, mean per step: " + ", ".join(f"{k} {ms(v)} ms" for k, v in parts.items()))
    print(
        f"State JSON: floor (spec embedded) up to {state_size / 1024:.1f} KB; "
        f"engine state_json of a finished instance {len(engine_state or '') / 1024:.1f} KB (spec stored once).\n"
    )

    if breakdowns:
        print(
            "Where one engine complete spends its time (instrumented run on fresh instances, self time per "
            "phase: a wrapped callee's time is not counted in its caller):\n"
        )
        print(breakdown_table(breakdowns))
        print()
        missing = sorted({name for item in breakdowns for name in item.phases.missing})
        if missing:
            print(f"Not instrumented (no longer in the engine): {', '.join(missing)}\n")

    machine = machine_rows(pg_version, ("SpiffWorkflow", "SQLAlchemy"), load_before)
    print(table(["Machine", ""], machine))
    for note in notes:
        print(f"\nNote: {note}")
    if profile_text:
        print("\n## cProfile: engine complete on SQLite (top 15 cumulative, then top 15 tottime)\n")
        print("```")
        print(profile_text.strip())
        print("```")
    print(f"\nBenchmark wall time: {elapsed:.1f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
