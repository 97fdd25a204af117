# ruff: noqa: E402  (sys.path is fixed before the imports, see below)
"""The production set-up under load: gunicorn workers and the scheduler on PostgreSQL, driven over HTTP.

    python bench/load.py [--seconds 30] [--warmup 5] [--workers 1,2,4] [--pg URL | --no-pg] [--no-sqlite]

For each configuration (PostgreSQL with 1, 2 and 4 workers, then SQLite with one worker):

1. Creates a fresh database (PostgreSQL: ``CREATE DATABASE``, so the scheduler's advisory lock is its own;
   SQLite: a file in a temporary folder), migrates it, deploys the shipped workflows/ and forms/, seeds the
   demo office and a few more clerks of the same groups (two registrars, five office clerks, three handling
   unit handlers, two supervisors), and issues each of them a bearer token.
2. Starts ``petitionflow serve --workers N`` (gunicorn, gthread) and ``petitionflow scheduler`` as separate
   processes configured by the environment, exactly as docs/production.md says.
3. Drives the office's day over HTTP from this process (one keep-alive connection per clerk thread) for
   ``--warmup`` + ``--seconds`` seconds, measuring the last ``--seconds``. Registrars register petitions
   (POST /api/petitions) and complete their registration check; the petition office claims and completes the
   acceptance review, the acceptance notice, the Art. 31 classification, the simple-procedure check and the
   evaluation; the handling unit decides (answering at once) and serves the reply: the simple-procedure path
   of petition_intake + simple_procedure (tests/test_scenarios_intake.py,
   test_simple_procedure_answered_at_once_ends_the_petition), 8 human tasks per petition, with the form data
   of tests/test_scenarios_intake.py FORM_DATA. One acceptance in ten is refused (a notice ends it); one
   petition in ten arrived by letter more than 15 days ago, so its acceptance deadline has passed and the
   scheduler fires its timer while the office works on it; one evaluation in twenty is dissatisfied. Every
   clerk reads their task list before taking a task, opens the task (form and data) before completing it,
   and picks at random among the unclaimed tasks of the group, so two clerks sometimes claim the same task:
   the second gets 409, which the mix expects. Supervisors read the cockpit (active instances, overdue
   petitions, metrics) and work the supervision tasks the timers create. At most ``--in-flight`` petitions
   are open at once (the office's intake matches what it can handle).
4. Checks, by SQL on the service's database: every acknowledged write (201 registration, 200 claim, 200
   completion) is there (a completion exactly once in the audit log), no timer fired twice for the same
   (instance, element), and no timer that came due is left unfired.

Then, on SQLite, one client completes tasks one after another with nothing else running: "complete a task
over HTTP" p50, and what HTTP Basic (scrypt per request) costs next to a bearer token.

Prints markdown tables: throughput, p50/p95/p99 per operation, errors (409s the mix expects apart), RSS per
worker, CPU per process group, the checks, and the machine. Every database and process it makes is removed.
"""

from __future__ import annotations

import os
import sys

# Run as a script, this file's folder (bench/) comes first on sys.path, and bench/engine.py would shadow the
# engine package. The repository root goes first instead, so tests.test_scenarios_intake can be imported.
_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
sys.path[:] = [_ROOT] + [p for p in sys.path if os.path.abspath(p or ".") not in (_HERE, _ROOT)]

import argparse
import base64
import contextlib
import http.client
import json
import math
import platform
import random
import secrets
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine.accounts import DEMO_USERS
from engine.config import Settings
from engine.definitions import DeployFile, read_files
from engine.errors import PetitionflowError
from engine.organisation import Membership
from engine.runtime import Engine
from engine.testing import FORM_DATA, TODAY, load_fixture_org

ROOT = Path(_ROOT)
DEFAULT_PG = os.environ.get("PETITIONFLOW_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BEIJING = ZoneInfo("Asia/Shanghai")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

# The clerks: the demo user of each group and more of the same kind (password = user name, like the demo).
CLERKS: dict[str, tuple[str, ...]] = {
    "registrar": ("registrar", "registrar2"),
    "office": ("office", "office2", "office3", "office4", "office5"),
    "handler": ("handler", "handler2", "handler3"),
    "supervisor": ("supervisor", "supervisor2"),
}
# The simple procedure goes to the responsible unit's handlers (FORM_DATA names county.zjw, docs/organisation.md).
HANDLERS = "unit:county.zjw:handler"
GROUP = {"registrar": "registrar", "office": "petition_office", "handler": HANDLERS}
# The tasks that close a petition on the path the mix follows.
FINAL_ELEMENTS = {"simple_evaluate", "notice_other_channel"}

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = (
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "涛",
    "明",
    "超",
    "秀英",
    "桂兰",
)
MATTERS = (
    ("小区夜间施工噪声扰民", "区住房城乡建委", "请求责令施工单位停止夜间施工"),
    ("拖欠农民工工资", "区人力社保局", "请求督促用人单位支付拖欠工资"),
    ("物业费收费标准不合理", "区住房城乡建委", "请求核查物业收费标准"),
    ("道路积水影响出行", "区城市管理局", "请求疏通排水管网"),
    ("餐馆油烟扰民", "区生态环境局", "请求责令安装油烟净化设施"),
    ("征地补偿款未到位", "区规划自然资源局", "请求依法兑现征地补偿"),
    ("学校周边交通拥堵", "区教委", "请求增设交通疏导措施"),
    ("医保报销进度缓慢", "区医保局", "请求加快医保报销办理"),
    ("老旧小区加装电梯纠纷", "区住房城乡建委", "请求协调加装电梯事宜"),
    ("违章搭建占用公共通道", "区城市管理局", "请求依法拆除违章搭建"),
)
PLACES = ("杨家坪街道", "谢家湾街道", "黄桷坪街道", "石桥铺街道", "渝州路街道", "二郎街道")
CHANNELS = (("visit", 0.35), ("letter", 0.2), ("web", 0.35), ("phone", 0.1))


# A reminder with a deadline seconds away, so the scheduler has timers to fire while the office works (the
# shipped diagrams' deadlines are days long). The task is offered to a group no clerk has; the feeder thread
# completes about half of the reminders around their due time, racing the scheduler for the instance.
REMINDER_KEY = "bench_reminder"
REMINDER_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs_bench_reminder"
    targetNamespace="http://petitionflow/bench">
  <bpmn:process id="bench_reminder" name="压测：到期提醒" isExecutable="true">
    <bpmn:startEvent id="start" name="开始"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="follow_up"/>
    <bpmn:userTask id="follow_up" name="回访提醒" camunda:candidateGroups="bench_reminder"/>
    <bpmn:boundaryEvent id="reminder_due" name="提醒到期" cancelActivity="false" attachedToRef="follow_up">
      <bpmn:timerEventDefinition><bpmn:timeDate>${due}</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="reminder_due" targetRef="reminded"/>
    <bpmn:endEvent id="reminded" name="已提醒"/>
    <bpmn:sequenceFlow id="f3" sourceRef="follow_up" targetRef="done"/>
    <bpmn:endEvent id="done" name="完成"/>
  </bpmn:process>
</bpmn:definitions>
"""


# -- statistics ---------------------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else float("nan")


def ms(seconds: float) -> str:
    return "-" if seconds != seconds else f"{seconds * 1000:.1f}"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# -- processes ------------------------------------------------------------------------------------------------
def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def rss_kb(pid: int) -> int:
    try:
        return int((Path("/proc") / str(pid) / "statm").read_text().split()[1]) * PAGE_KB
    except OSError:
        return 0


def cpu_seconds(pid: int) -> float:
    try:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def postgres_pids(database: str) -> list[int]:
    """The PostgreSQL backends serving ``database`` (their title names it), not other users of the server."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() != "postgres":
                    continue
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if f" {database} " in title:
                pids.append(int(entry.name))
    return pids


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot."""
    parts = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def machine() -> list[list[str]]:
    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return [
        ["CPU", f"{model}, nproc {os.cpu_count()}"],
        ["RAM", mem],
        ["Python", f"{platform.python_implementation()} {platform.python_version()}"],
        ["Kernel", platform.platform()],
    ]


# -- databases ------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def pg_database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database (its own advisory locks), dropped afterwards whatever happens."""
    name = f"pf_load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pg_version(admin_url: str) -> str:
    probe = create_engine(admin_url)
    try:
        with probe.connect() as conn:
            return str(conn.execute(text("show server_version")).scalar())
    finally:
        probe.dispose()


def pg_reachable(url: str) -> bool:
    try:
        probe = create_engine(url, connect_args={"connect_timeout": 2})
        with probe.connect() as conn:
            conn.execute(text("select 1"))
        probe.dispose()
        return True
    except Exception:
        return False


# -- the service ---------------------------------------------------------------------------------------------
class Service:
    """``petitionflow serve --workers N`` and ``petitionflow scheduler`` on one database."""

    def __init__(self, url: str, folder: Path, workers: int, threads: int = 4) -> None:
        self.url = url
        self.folder = folder
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.tokens: dict[str, str] = {}
        self.server: subprocess.Popen[bytes] | None = None
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "PETITIONFLOW_INSTANCE": str(folder / "instance"),
            "PETITIONFLOW_SECRET_KEY": secrets.token_hex(32),
            "PETITIONFLOW_THREADS": str(threads),
            "PETITIONFLOW_LOG_LEVEL": "warning",
            "PYTHONPATH": str(ROOT),
        }
        self.env.pop("PETITIONFLOW_ACCESS_LOG", None)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def prepare(self) -> float:
        """Migrate, deploy workflows/ and forms/, seed the demo office and the clerks; returns seconds taken."""
        began = time.perf_counter()
        engine = Engine(Settings(instance_path=self.folder / "instance", database_url=self.url))
        try:
            engine.migrate()
            engine.deploy(read_files([ROOT / "workflows", ROOT / "forms"]), name="shipped")
            engine.deploy([DeployFile("bench_reminder.bpmn", REMINDER_BPMN.encode())], name="bench")
            engine.accounts.seed_demo()
            load_fixture_org(engine)
            demo = {username: (roles, groups, unit) for username, _, roles, groups, unit in DEMO_USERS}
            for names in CLERKS.values():
                roles, groups, unit = demo[names[0]]
                for name in names[1:]:
                    engine.accounts.create(name, name, roles=roles, groups=groups, unit=unit, demo=True)
            for name in CLERKS["handler"][1:]:
                engine.orgadmin.add_member(Membership(name, "county.zjw", "handler"), "bench/load.py")
            for names in CLERKS.values():
                for name in names:
                    self.tokens[name] = engine.accounts.issue_token(name, "bench/load.py")
        finally:
            engine.db.dispose()
        return time.perf_counter() - began

    def _spawn(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        handle = (self.folder / log).open("wb")
        return subprocess.Popen(
            [sys.executable, "-m", "webapi.cli", *args],
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )

    def start(self, timeout: float = 60, *, scheduler: bool = True) -> None:
        self.server = self._spawn(
            "serve", "--workers", str(self.workers), "--port", str(self.port), log="serve.log"
        )
        end = time.monotonic() + timeout
        while True:
            if self.server.poll() is not None:
                raise RuntimeError(f"the service exited:\n{self.log('serve.log')}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200 and len(self.worker_pids()) == self.workers:
                    conn.close()
                    break
                conn.close()
            except OSError:
                pass
            if time.monotonic() > end:
                raise RuntimeError(f"the service did not answer in {timeout}s:\n{self.log('serve.log')}")
            time.sleep(0.1)
        if not scheduler:
            return
        self.scheduler = self._spawn("scheduler", log="scheduler.log")
        while "scheduler active" not in self.log("scheduler.log"):
            if self.scheduler.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"the scheduler did not lead:\n{self.log('scheduler.log')}")
            time.sleep(0.1)

    def log(self, name: str) -> str:
        path = self.folder / name
        return path.read_text(errors="replace") if path.exists() else ""

    def worker_pids(self) -> list[int]:
        return children(self.server.pid) if self.server else []

    def stop(self) -> None:
        for process in (self.scheduler, self.server):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (self.scheduler, self.server):
            if process is None:
                continue
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                for pid in children(process.pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                process.kill()
                process.wait()


# -- the HTTP client ------------------------------------------------------------------------------------------
class TransportError(Exception):
    """The request's outcome is unknown: the connection broke before a response arrived."""


class Client:
    """One clerk's keep-alive connection, bearer token (or HTTP Basic) and measurements."""

    def __init__(self, port: int, username: str, auth: str, recycle: int = 200) -> None:
        self.port = port
        self.username = username
        self.auth = auth
        self.recycle = recycle
        self.conn: http.client.HTTPConnection | None = None
        self.used = 0

    def _connection(self) -> http.client.HTTPConnection:
        conn = self.conn
        if conn is not None and (self.used >= self.recycle or self._dropped(conn)):
            conn.close()
            conn = None
        if conn is None:
            conn = self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.used = 0
        self.used += 1
        return conn

    @staticmethod
    def _dropped(conn: http.client.HTTPConnection) -> bool:
        """The server closed an idle keep-alive connection (timeout, or its worker died): reconnect first."""
        if conn.sock is None:
            return True
        readable, _, _ = select.select([conn.sock], [], [], 0)
        return bool(readable)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        headers = {"Authorization": self.auth, "Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        conn = self._connection()
        began = time.perf_counter()
        try:
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as error:
            conn.close()
            self.conn = None
            raise TransportError(f"{type(error).__name__}: {error}") from error
        elapsed = time.perf_counter() - began
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            self.conn = None
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode(errors="replace")
        return response.status, data, elapsed

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def bearer(token: str) -> str:
    return f"Bearer {token}"


def basic(username: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{username}".encode()).decode()


# -- the mix --------------------------------------------------------------------------------------------------
@dataclass
class Sample:
    op: str
    at: float  # time.monotonic() when the request was sent
    seconds: float
    status: int | str  # the HTTP status, or "transport" when the outcome is unknown
    actor: str
    detail: str = ""


# The answers that are part of the mix: two clerks claim the same task, and the second gets 409 (already
# claimed, or already completed by the first), or 404 when the first one's completion ended the case's last step
# in the second one's unit: a closed task outside a clerk's jurisdiction is not told apart from one that never
# existed (docs/security.md). Every other failure is an error.
EXPECTED = {("claim", 409), ("claim", 404)}


def expected(sample: Sample) -> bool:
    return (sample.op, sample.status) in EXPECTED


@dataclass
class Acknowledged:
    """Writes the service acknowledged: they must all be in the database afterwards."""

    registrations: list[str] = field(default_factory=list)
    claims: list[tuple[str, str]] = field(default_factory=list)  # (task id, user)
    completions: list[str] = field(default_factory=list)


def today() -> str:
    return datetime.now(BEIJING).date().isoformat()


def resident_id(rng: random.Random) -> str:
    body = f"500107{rng.randint(1950, 2004)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


def registration(rng: random.Random, late: bool) -> dict[str, Any]:
    """A petition as a registrar types it in; ``late``: a letter received more than 15 days ago."""
    subject, unit, request = rng.choice(MATTERS)
    received = datetime.now(BEIJING).date() - timedelta(
        days=rng.randint(16, 25) if late else rng.randint(0, 2)
    )
    channel = "letter" if late else rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
    return {
        **FORM_DATA["intake_registration"],
        "petitionerName": rng.choice(SURNAMES) + rng.choice(GIVEN),
        "idNumber": resident_id(rng),
        "phone": f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}",
        "channel": channel,
        "receivedAt": received.isoformat(),
        "subject": subject,
        "request": request,
        "involvedUnit": unit,
        "place": rng.choice(PLACES),
        "peopleCount": rng.choice((1, 1, 1, 2, 3)),
    }


class Mix:
    """The clerks' threads; ``run`` drives them for a bounded time and returns what they saw."""

    def __init__(
        self,
        service: Service,
        *,
        seconds: float,
        warmup: float = 0.0,
        in_flight: int = 40,
        auth: str = "bearer",
        seed: int = 2026,
        clerks: dict[str, tuple[str, ...]] | None = None,
        reminders: bool = True,
    ) -> None:
        self.service = service
        self.seconds = seconds
        self.warmup = warmup
        self.cap = in_flight
        self.auth = auth
        self.clerks = clerks or CLERKS
        self.seed = seed
        self.stop = threading.Event()
        self.feeder = Feeder(service, self.stop) if reminders else None
        self.lock = threading.Lock()
        self.samples: list[Sample] = []
        self.ack = Acknowledged()
        self.open_petitions: set[str] = set()
        self.closed = 0
        self.crashes: list[str] = []
        self.started = 0.0
        self.measure_from = 0.0
        self.ended = 0.0

    # -- bookkeeping ----------------------------------------------------------------------------------------
    def record(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)

    def call(
        self, client: Client, op: str, method: str, path: str, body: Any = None
    ) -> tuple[int | None, Any]:
        at = time.monotonic()
        try:
            status, data, seconds = client.call(method, path, body)
        except TransportError as error:
            self.record(Sample(op, at, time.monotonic() - at, "transport", client.username, str(error)))
            return None, None
        detail = ""
        if status >= 400 and isinstance(data, dict):
            detail = str(data.get("message", ""))[:160]
        self.record(Sample(op, at, seconds, status, client.username, detail))
        return status, data

    # -- acting ----------------------------------------------------------------------------------------------
    def form_data(self, rng: random.Random, task: dict[str, Any]) -> dict[str, Any]:
        element, form = task["elementId"], task.get("formRef") or ""
        data = dict(FORM_DATA.get(form, {}))
        if element == "acceptance_review":
            refused = rng.random() < 0.1
            data.update(acceptanceDecision="other_channel" if refused else "accept", category="complaint")
            data["acceptedAt"] = TODAY
        elif element == "classify_complaint":
            data["statutoryRoute"] = "other"
        elif element == "check_simple_eligibility":
            data["simpleEligible"] = True
        elif element == "simple_decide":
            data.update(immediateAnswer=True, simpleFallback=False)
        elif element == "simple_evaluate":
            data["rating"] = rng.choices(
                ["satisfied", "basically_satisfied", "dissatisfied"], [0.75, 0.2, 0.05]
            )[0]
        day = today()
        return {k: day if v is TODAY else v for k, v in data.items()}

    def work(self, client: Client, rng: random.Random, task: dict[str, Any]) -> None:
        """Claim (unless already mine), open and complete one task."""
        task_id = task["id"]
        if task.get("assignee") != client.username:
            status, _ = self.call(
                client, "claim", "POST", f"/api/tasks/{task_id}/claim", {"userId": client.username}
            )
            if status != 200:
                return  # 409: a colleague was quicker; anything else is counted as an error
            with self.lock:
                self.ack.claims.append((task_id, client.username))
        status, detail = self.call(client, "open", "GET", f"/api/tasks/{task_id}")
        if status != 200:
            return
        status, _ = self.call(
            client,
            "complete",
            "POST",
            f"/api/tasks/{task_id}/complete",
            {"variables": self.form_data(rng, detail)},
        )
        if status == 200:
            with self.lock:
                self.ack.completions.append(task_id)
                if task["elementId"] in FINAL_ELEMENTS and task.get("businessKey") in self.open_petitions:
                    self.open_petitions.discard(task["businessKey"])
                    self.closed += 1

    def desk(self, client: Client, rng: random.Random, group: str, op: str = "tasks") -> bool:
        """Read the task list and work one task of it; False when there was nothing to do."""
        status, tasks = self.call(client, op, "GET", f"/api/tasks?candidateGroup={group}&limit=50")
        if status != 200 or not tasks:
            return False
        mine = [t for t in tasks if t.get("assignee") == client.username]
        free = [t for t in tasks if t.get("assignee") is None]
        if not mine and not free:
            return False
        self.work(client, rng, mine[0] if mine else rng.choice(free))
        return True

    def registrar(self, client: Client, rng: random.Random) -> None:
        while not self.stop.is_set():
            if self.desk(client, rng, GROUP["registrar"]):
                continue
            with self.lock:
                full = len(self.open_petitions) >= self.cap
            if full:
                self.stop.wait(0.05)
                continue
            data = registration(rng, late=rng.random() < 0.1)
            status, petition = self.call(client, "register", "POST", "/api/petitions", data)
            if status != 201:
                continue
            number = petition["number"]
            with self.lock:
                self.ack.registrations.append(number)
                self.open_petitions.add(number)
            for task_id in petition.get("firstTasks", []):
                self.work(
                    client,
                    rng,
                    {"id": task_id, "elementId": "register_check", "businessKey": number, "assignee": None},
                )

    def clerk(self, client: Client, rng: random.Random, group: str) -> None:
        while not self.stop.is_set():
            if not self.desk(client, rng, group):
                self.stop.wait(0.02)

    def supervisor(self, client: Client, rng: random.Random) -> None:
        while not self.stop.is_set():
            self.call(client, "cockpit_instances", "GET", "/api/instances?state=active&limit=50")
            self.call(client, "cockpit_overdue", "GET", "/api/petitions?overdue=true&limit=50")
            self.call(client, "metrics", "GET", "/api/metrics")
            self.desk(client, rng, "supervisor", op="supervision_tasks")

    # -- running --------------------------------------------------------------------------------------------
    def _thread(self, role: str, username: str, index: int) -> None:
        rng = random.Random(self.seed * 1000 + index)
        token = self.service.tokens.get(username)
        auth = bearer(token) if self.auth == "bearer" and token else basic(username)
        client = Client(self.service.port, username, auth)
        try:
            if role == "registrar":
                self.registrar(client, rng)
            elif role == "supervisor":
                self.supervisor(client, rng)
            else:
                self.clerk(client, rng, GROUP[role])
        except Exception as error:  # a bug in the mix must not pass for a quiet run
            self.crashes.append(f"{username}: {type(error).__name__}: {error}")
            raise
        finally:
            client.close()

    def run(self, during: Callable[[Mix], None] | None = None) -> Mix:
        """Drive the clerks for warmup + seconds; ``during`` runs in this thread meanwhile (the kill test)."""
        threads = [
            threading.Thread(target=self._thread, args=(role, name, n), name=name, daemon=True)
            for n, (role, name) in enumerate(
                (role, name) for role, names in self.clerks.items() for name in names
            )
        ]
        if self.feeder is not None:
            threads.append(threading.Thread(target=self.feeder.run, name="feeder", daemon=True))
        self.started = time.monotonic()
        self.measure_from = self.started + self.warmup
        for thread in threads:
            thread.start()
        if during is not None:
            during(self)
        remaining = self.measure_from + self.seconds - time.monotonic()
        if remaining > 0:
            self.stop.wait(remaining)
        self.stop.set()
        for thread in threads:
            thread.join(timeout=90)
        self.ended = time.monotonic()
        return self

    def measured(self) -> list[Sample]:
        end = self.measure_from + self.seconds
        return [s for s in self.samples if self.measure_from <= s.at < end]


@dataclass
class Reminder:
    instance_id: str
    task_id: str
    due: datetime
    ack_at: datetime | None = None  # when our completion returned
    ack_error: str | None = None


class Feeder:
    """Starts reminders due 2 to 8 s later (two a second) and completes about half around their due time.

    Runs in this process on its own engine, like one more writer next to the web workers; the scheduler
    process must fire each reminder not completed in time, once.
    """

    def __init__(self, service: Service, stop: threading.Event, rate: float = 2.0, seed: int = 11) -> None:
        self.service = service
        self.stop = stop
        self.rate = rate
        self.rng = random.Random(seed)
        self.reminders: list[Reminder] = []
        self.errors: list[str] = []

    def run(self) -> None:
        engine = Engine(
            Settings(instance_path=self.service.folder / "instance", database_url=self.service.url)
        )
        pending: list[tuple[float, Reminder]] = []
        next_start = time.monotonic()
        try:
            while not self.stop.is_set():
                now = time.monotonic()
                if now >= next_start:
                    due = datetime.now(UTC) + timedelta(seconds=self.rng.uniform(2, 8))
                    result = engine.start(
                        REMINDER_KEY,
                        business_key=f"BENCH-{uuid.uuid4().hex[:8]}",
                        variables={"due": due.isoformat()},
                    )
                    reminder = Reminder(result.instance_id, result.created_tasks[0], due)
                    self.reminders.append(reminder)
                    if self.rng.random() < 0.5:
                        offset = (due - datetime.now(UTC)).total_seconds() + self.rng.uniform(-1.5, 1.5)
                        pending.append((now + offset, reminder))
                    next_start = now + 1 / self.rate
                for item in [i for i in pending if i[0] <= now]:
                    pending.remove(item)
                    reminder = item[1]
                    try:
                        engine.complete(reminder.task_id, {}, actor="feeder")
                        reminder.ack_at = datetime.now(UTC)
                    except PetitionflowError as error:
                        reminder.ack_error = error.message
                self.stop.wait(0.02)
        except Exception as error:
            self.errors.append(f"{type(error).__name__}: {error}")
        finally:
            engine.db.dispose()


# -- checks ---------------------------------------------------------------------------------------------------
@dataclass
class Checks:
    registrations: int = 0
    registrations_missing: int = 0
    claims: int = 0
    claims_missing: int = 0
    completions: int = 0
    completions_missing: int = 0
    completions_twice: int = 0
    timers_fired: int = 0
    timers_fired_twice: int = 0
    timers_due_unfired: int = 0
    reminders: int = 0
    reminders_completed_in_time: int = 0
    reminders_fired: int = 0
    reminders_wrong: int = 0  # fired although completed before due, or due, not completed and not fired
    supervision_tasks: int = 0
    supervision_tasks_twice: int = 0
    supervision_tasks_without_fired_event: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.registrations_missing
            or self.claims_missing
            or self.completions_missing
            or self.completions_twice
            or self.timers_fired_twice
            or self.timers_due_unfired
            or self.reminders_wrong
            or self.supervision_tasks_twice
        )

    def rows(self) -> list[list[Any]]:
        return [
            [
                "acknowledged registrations (201) / missing",
                f"{self.registrations} / {self.registrations_missing}",
            ],
            ["acknowledged claims (200) / no task.claimed event", f"{self.claims} / {self.claims_missing}"],
            [
                "acknowledged completions (200) / not in the audit log / in it more than once",
                f"{self.completions} / {self.completions_missing} / {self.completions_twice}",
            ],
            [
                "timer.fired events / (instance, element) fired more than once",
                f"{self.timers_fired} / {self.timers_fired_twice}",
            ],
            ["timers due 5 s before the check and not fired", self.timers_due_unfired],
            [
                "reminders started / completed before due / fired by the scheduler / wrong",
                f"{self.reminders} / {self.reminders_completed_in_time} / {self.reminders_fired} / {self.reminders_wrong}",
            ],
            [
                "deadline supervision tasks opened / twice for one instance / with no timer.fired event",
                f"{self.supervision_tasks} / {self.supervision_tasks_twice} / "
                f"{self.supervision_tasks_without_fired_event}",
            ],
        ]


# A deadline timer and the supervision task its non-interrupting boundary opens, on the mix's path.
TIMER_TASKS = {
    "supervise_overdue_acceptance": "acceptance_overdue",
    "supervise_simple_decision": "simple_decision_overdue",
    "supervise_simple_answer": "simple_answer_overdue",
}


def _rows(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in conn.execute(text(sql))]


def verify(url: str, ack: Acknowledged, reminders: list[Reminder] = (), settle: float = 15.0) -> Checks:
    """Check the acknowledged writes and the timers by SQL, after letting the scheduler catch up."""
    db = create_engine(url)
    checks = Checks()
    sqlite = url.startswith("sqlite")
    try:
        end = time.monotonic() + settle
        while True:
            checked_at = datetime.now(UTC)
            cutoff = checked_at - timedelta(seconds=5)
            with db.connect() as conn:
                unfired = conn.execute(
                    text(
                        "SELECT count(*) FROM timer JOIN instance ON instance.id = timer.instance_id "
                        "WHERE instance.state = 'active' AND timer.due_at < :cutoff"
                    ),
                    # SQLite keeps UTC datetimes as text, in SQLAlchemy's format.
                    {"cutoff": cutoff.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else cutoff},
                ).scalar()
            if not unfired or time.monotonic() > end:
                break
            time.sleep(0.5)
        checks.timers_due_unfired = int(unfired or 0)
        with db.connect() as conn:
            numbers = {n for (n,) in _rows(conn, "SELECT number FROM petition")}
            claimed = set(_rows(conn, "SELECT task_id, actor FROM audit_event WHERE kind = 'task.claimed'"))
            completed = Counter(
                t for (t,) in _rows(conn, "SELECT task_id FROM audit_event WHERE kind = 'task.completed'")
            )
            fired = Counter(
                _rows(conn, "SELECT instance_id, element_id FROM audit_event WHERE kind = 'timer.fired'")
            )
            created = Counter(
                _rows(conn, "SELECT instance_id, element_id FROM audit_event WHERE kind = 'task.created'")
            )
    finally:
        db.dispose()
    checks.registrations = len(ack.registrations)
    checks.registrations_missing = sum(1 for n in ack.registrations if n not in numbers)
    checks.claims = len(ack.claims)
    checks.claims_missing = sum(1 for claim in ack.claims if claim not in claimed)
    checks.completions = len(ack.completions)
    checks.completions_missing = sum(1 for t in ack.completions if completed[t] == 0)
    checks.completions_twice = sum(1 for n in completed.values() if n > 1)
    checks.timers_fired = sum(fired.values())
    checks.timers_fired_twice = sum(1 for n in fired.values() if n > 1)
    for r in reminders:
        checks.reminders += 1
        times = fired[(r.instance_id, "reminder_due")]
        in_time = r.ack_at is not None and r.ack_at < r.due
        checks.reminders_completed_in_time += in_time
        checks.reminders_fired += times
        completed_late = r.ack_at is not None and not in_time
        if (
            times > 1
            or (in_time and times)
            or (r.due < cutoff and not in_time and not completed_late and not times)
        ):
            checks.reminders_wrong += 1
    for (instance_id, element), n in created.items():
        if element in TIMER_TASKS:
            checks.supervision_tasks += n
            checks.supervision_tasks_twice += n > 1
            checks.supervision_tasks_without_fired_event += fired[(instance_id, TIMER_TASKS[element])] == 0
    return checks


# -- one configuration ----------------------------------------------------------------------------------------
@dataclass
class Outcome:
    label: str
    workers: int
    mix: Mix
    checks: Checks
    rss: dict[str, int]  # role -> max RSS in kB
    cpu: dict[str, float]  # process group -> CPU seconds in the measured window
    busy: float  # share of all CPUs busy in the measured window
    prepare_seconds: float

    def server_cpu_ms(self) -> float:
        """CPU the service spent per successful request (the client's own CPU left out)."""
        ok = len(self.counts()["ok"])
        spent = sum(v for k, v in self.cpu.items() if not k.startswith("client"))
        return spent * 1000 / ok if ok else 0.0

    def counts(self) -> dict[str, Any]:
        samples = self.mix.measured()
        ok = [s for s in samples if isinstance(s.status, int) and s.status < 400]
        races = [s for s in samples if expected(s)]
        errors = [s for s in samples if s not in ok and not expected(s)]
        return {"samples": samples, "ok": ok, "races": races, "errors": errors}


def sample_resources(service: Service, stop: threading.Event, out: dict[str, Any]) -> None:
    """Max RSS per worker / master / scheduler while the mix runs."""
    while not stop.wait(1.0):
        for n, pid in enumerate(service.worker_pids()):
            out[f"worker {n + 1}"] = max(out.get(f"worker {n + 1}", 0), rss_kb(pid))
        if service.server:
            out["master"] = max(out.get("master", 0), rss_kb(service.server.pid))
        if service.scheduler:
            out["scheduler"] = max(out.get("scheduler", 0), rss_kb(service.scheduler.pid))


def cpu_snapshot(service: Service) -> dict[str, float]:
    workers = sum(cpu_seconds(pid) for pid in service.worker_pids())
    database = "" if service.is_sqlite else (make_url(service.url).database or "")
    return {
        "workers": workers,
        "scheduler": cpu_seconds(service.scheduler.pid) if service.scheduler else 0.0,
        "postgres (this database's backends)": sum(cpu_seconds(pid) for pid in postgres_pids(database))
        if database
        else 0.0,
        "client (this process)": sum(os.times()[:2]),
    }


def run_configuration(label: str, url: str, folder: Path, workers: int, args: argparse.Namespace) -> Outcome:
    service = Service(url, folder, workers, threads=args.threads)
    prepare = service.prepare()
    service.start()
    rss: dict[str, int] = {}
    cpu: dict[str, float] = {}
    busy = [0.0]
    try:
        mix = Mix(service, seconds=args.seconds, warmup=args.warmup, in_flight=args.in_flight, auth=args.auth)
        sampling = threading.Event()

        def during(m: Mix) -> None:
            threading.Thread(target=sample_resources, args=(service, sampling, rss), daemon=True).start()
            m.stop.wait(max(0.0, m.measure_from - time.monotonic()))
            before, machine_before = cpu_snapshot(service), machine_busy()
            m.stop.wait(max(0.0, m.measure_from + m.seconds - time.monotonic()))
            after, machine_after = cpu_snapshot(service), machine_busy()
            cpu.update({k: after[k] - before[k] for k in after})
            busy[0] = (machine_after[0] - machine_before[0]) / max(1, machine_after[1] - machine_before[1])

        mix.run(during)
        sampling.set()
        checks = verify(url, mix.ack, mix.feeder.reminders if mix.feeder else [])
    finally:
        service.stop()
    return Outcome(label, workers, mix, checks, rss, cpu, busy[0], prepare)


# -- sequential latency on SQLite -----------------------------------------------------------------------------
def sequential_completions(folder: Path, petitions: int) -> dict[str, list[float]]:
    """One client, nothing else running: each path task claimed, then its completion timed; and auth costs."""
    url = f"sqlite:///{folder / 'sequential.db'}"
    service = Service(url, folder, workers=1)
    service.prepare()
    service.start()
    timings: dict[str, list[float]] = defaultdict(list)
    try:
        mix = Mix(service, seconds=0, reminders=False)
        rng = random.Random(7)
        clients = {
            name: Client(service.port, name, bearer(service.tokens[name]))
            for name in ("registrar", "office", "handler")
        }
        clients["supervisor"] = Client(service.port, "supervisor", bearer(service.tokens["supervisor"]))
        owner = {"registrar": "registrar", "petition_office": "office", HANDLERS: "handler"}
        for _ in range(petitions):
            data = registration(rng, late=False)
            status, petition, seconds = clients["registrar"].call("POST", "/api/petitions", data)
            assert status == 201, petition
            timings["register"].append(seconds)
            number = petition["number"]
            while True:
                # A supervisor sees every task of the petition; its group says which clerk works it.
                status, tasks, _ = clients["supervisor"].call("GET", f"/api/tasks?businessKey={number}")
                assert status == 200, tasks
                tasks = [t for t in tasks if t["candidateGroups"][0] in owner]
                if not tasks:
                    break
                task = tasks[0]
                client = clients[owner[task["candidateGroups"][0]]]
                status, body, _ = client.call(
                    "POST", f"/api/tasks/{task['id']}/claim", {"userId": client.username}
                )
                assert status == 200, body
                variables = mix.form_data(rng, task)
                if task["elementId"] == "acceptance_review":
                    variables["acceptanceDecision"] = "accept"
                status, body, seconds = client.call(
                    "POST", f"/api/tasks/{task['id']}/complete", {"variables": variables}
                )
                assert status == 200, body
                timings["complete"].append(seconds)
                timings[f"complete {task['elementId']}"].append(seconds)
        # Authentication: HTTP Basic checks the scrypt hash on every request; a bearer token is one lookup.
        for name, auth in (
            ("GET /api/me, bearer", bearer(service.tokens["office"])),
            ("GET /api/me, Basic", basic("office")),
        ):
            client = Client(service.port, "office", auth)
            for _ in range(30):
                status, _, seconds = client.call("GET", "/api/me")
                assert status == 200
                timings[name].append(seconds)
            client.close()
        for client in clients.values():
            client.close()
    finally:
        service.stop()
    return timings


# -- report ---------------------------------------------------------------------------------------------------
OPS = (
    "register",
    "claim",
    "open",
    "complete",
    "tasks",
    "cockpit_instances",
    "cockpit_overdue",
    "metrics",
    "supervision_tasks",
)


def report(
    outcomes: list[Outcome], sequential: dict[str, list[float]] | None, args: argparse.Namespace
) -> str:
    out = []
    summary = []
    for o in outcomes:
        c = o.counts()
        seconds = o.mix.seconds
        completes = sum(1 for s in c["ok"] if s.op == "complete")
        summary.append(
            [
                o.label,
                o.workers,
                f"{len(c['ok']) / seconds:.1f}",
                f"{completes / seconds:.1f}",
                f"{sum(1 for s in c['ok'] if s.op == 'register') / seconds:.2f}",
                sum(s.status == 409 for s in c["races"]),
                len(c["errors"]),
                f"{o.cpu.get('workers', 0) * 1000 / max(1, len(c['ok'])):.1f}",
                f"{o.server_cpu_ms():.1f}",
                f"{(os.cpu_count() or 1) * 1000 / o.server_cpu_ms():.0f}" if o.server_cpu_ms() else "-",
                f"{o.busy * 100:.0f}%",
                "yes" if o.checks.ok else "**NO**",
            ]
        )
    out.append(
        f"### Throughput ({args.seconds:.0f} s measured after {args.warmup:.0f} s warm-up, "
        f"{sum(len(v) for v in CLERKS.values())} clerk threads, at most {args.in_flight} petitions open)\n"
    )
    out.append(
        table(
            [
                "database",
                "workers",
                "requests/s (2xx)",
                "completions/s",
                "registrations/s",
                "claim races (409)",
                "errors",
                "worker CPU ms per request",
                "service CPU ms per request (workers + scheduler + PostgreSQL)",
                "requests/s the idle machine could serve at that cost",
                "machine CPU busy",
                "checks pass",
            ],
            summary,
        )
    )
    for o in outcomes:
        c = o.counts()
        by_op: dict[str, list[Sample]] = defaultdict(list)
        for s in c["ok"]:
            by_op[s.op].append(s)
        rows = []
        for op in OPS:
            values = [s.seconds for s in by_op.get(op, [])]
            if values:
                rows.append(
                    [op, len(values), ms(pct(values, 0.5)), ms(pct(values, 0.95)), ms(pct(values, 0.99))]
                )
        out.append(f"\n### {o.label}, {o.workers} worker(s): latency of successful requests (ms)\n")
        out.append(table(["operation", "count", "p50", "p95", "p99"], rows))
        if c["errors"]:
            kinds = Counter((s.op, s.status, s.detail[:80]) for s in c["errors"])
            out.append("\nErrors:\n")
            out.append(
                table(["operation", "status", "message", "count"], [[*k, n] for k, n in kinds.items()])
            )
        out.append(f"\nChecks by SQL after the run ({o.label}, {o.workers} workers):\n")
        out.append(table(["check", "value"], o.checks.rows()))
        out.append("\nMemory (max RSS while loaded) and CPU seconds in the measured window:\n")
        rss_rows = [[k, f"{v / 1024:.0f} MiB"] for k, v in sorted(o.rss.items())]
        cpu_rows = [
            [k, f"{v:.1f} s ({v / o.mix.seconds:.2f} cores)"]
            for k, v in o.cpu.items()
            if not (k.startswith("postgres") and o.label == "SQLite")
        ]
        out.append(table(["process", "RSS"], rss_rows))
        out.append("")
        out.append(table(["processes", "CPU"], cpu_rows))
        out.append(
            f"\n(set-up: migrate + deploy + users + tokens {o.prepare_seconds:.1f} s; petitions closed: "
            f"{o.mix.closed}; crashes in the mix: {len(o.mix.crashes)})"
        )
    if sequential:
        out.append("\n### One client, one request at a time, SQLite, one worker (ms)\n")
        rows = []
        for name in sorted(sequential, key=lambda n: (not n.startswith("complete"), n != "complete", n)):
            values = sequential[name]
            rows.append([name, len(values), ms(pct(values, 0.5)), ms(pct(values, 0.95))])
        out.append(table(["request", "count", "p50", "p95"], rows))
    out.append("\n### Machine\n")
    rows = machine()
    if args.pg:
        with contextlib.suppress(Exception):
            rows.append(["PostgreSQL", pg_version(args.pg)])
    rows.append(["load average at the end", " ".join(f"{v:.2f}" for v in os.getloadavg())])
    out.append(table(["what", "value"], rows))
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured seconds per configuration")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--workers", default="1,2,4", help="worker counts to run on PostgreSQL")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--in-flight", type=int, default=40, help="petitions open at once at most")
    parser.add_argument("--auth", choices=("bearer", "basic"), default="bearer")
    parser.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL admin URL (databases are made there)")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--sequential", type=int, default=25, help="petitions walked one request at a time")
    args = parser.parse_args()
    if args.no_pg or not pg_reachable(args.pg):
        if not args.no_pg:
            print(f"PostgreSQL not reachable at {args.pg}: SQLite only", file=sys.stderr)
        args.pg = None
    began = time.monotonic()
    outcomes: list[Outcome] = []
    sequential = None
    folder = Path(tempfile.mkdtemp(prefix="pf-load-"))
    try:
        if args.pg:
            for workers in [int(w) for w in args.workers.split(",") if w.strip()]:
                print(f"PostgreSQL, {workers} worker(s)...", file=sys.stderr, flush=True)
                with pg_database(args.pg) as url:
                    sub = folder / f"pg{workers}"
                    sub.mkdir()
                    outcomes.append(run_configuration("PostgreSQL", url, sub, workers, args))
        if not args.no_sqlite:
            print("SQLite, 1 worker...", file=sys.stderr, flush=True)
            sub = folder / "sqlite"
            sub.mkdir()
            outcomes.append(run_configuration("SQLite", f"sqlite:///{sub / 'load.db'}", sub, 1, args))
            if args.sequential:
                print("SQLite, one request at a time...", file=sys.stderr, flush=True)
                sub = folder / "sequential"
                sub.mkdir()
                sequential = sequential_completions(sub, args.sequential)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(report(outcomes, sequential, args))
    print(f"\n(total {time.monotonic() - began:.0f} s)")
    failed = [
        o
        for o in outcomes
        if not o.checks.ok or o.counts()["errors"] or o.mix.crashes or (o.mix.feeder and o.mix.feeder.errors)
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
