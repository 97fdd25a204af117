# ruff: noqa: E402  (sys.path is fixed before the imports, see below)
"""Read queries on a year-two office: 100,000 petitions and 1,000,000 audit events.

    python bench/volume.py [--petitions 100000] [--events 1000000] [--units 500] [--users 5000] [--runs 40]
                           [--pg URL] [--sqlite]

1. Walks the shipped diagrams through the real engine once per path (simple procedure; ordinary handling via
   three-tier transfer, up to the 30-day review window and the archive; not accepted; suggestion;
   accusation), with the form data of tests/test_scenarios_intake.py, and keeps a snapshot of every row the
   engine wrote after each step: the instance (its real state_json), open tasks with their candidate groups,
   timers, deadlines and the audit trail.
2. Fills a fresh PostgreSQL database (``CREATE DATABASE``, dropped at the end; ``--sqlite`` also a SQLite
   file) by bulk insert (COPY) with copies of those snapshots: 100,000 petitions registered over two years
   (working days and office hours, busier units more often, one in eight a repeat of an earlier matter), each
   on a path (35 % simple, 33 % ordinary, 15 % not accepted, 10 % suggestion, 7 % accusation) with a
   duration drawn for the path; petitions whose duration has not run out yet are open, at the step their
   elapsed share of it reaches, with that step's open tasks (half of them claimed by one of the group's
   clerks), timers and open deadlines. Closed deadlines were met nine times in ten. The engine writes 47
   audit events for a simple-procedure petition and over a hundred for ordinary handling, so 1,000,000
   events hold each petition's events in their real order and proportions, thinned to about ten per
   petition, except 2 % that keep their whole trail (the long timelines).
   The county has an organisation of 500 units (the county's government, party committee and petition bureau,
   40 departments, 30 townships and their villages) and 5,000 people in them (heads, deputies, inspectors,
   handlers); each petition is answered for by one unit (busier units more often), and each open task of a
   unit's step belongs to that unit (candidate group ``unit:<code>:handler``, ``unit_code``), the bureau's own
   steps to nobody (county-wide).
3. Serves the database with ``petitionflow serve --workers 1`` (no scheduler) and measures, one request
   at a time with keep-alive, p50/p95 of: the task list of a group (GET /api/tasks as a handler and as the
   office, and ``engine.queries.list_tasks`` directly), the cockpit (GET /api/instances with filters,
   GET /api/petitions?overdue=true), one petition's timeline (GET /api/petitions/{number}) and the metrics
   (GET /api/metrics), and the task lists under jurisdiction (docs/security.md): a handler of the busiest
   unit, the head of the busiest township (their township and its villages) and the bureau's supervisor
   (the county). On PostgreSQL, prints EXPLAIN (ANALYZE, BUFFERS) of the SQL behind each query that
   misses its target (100 ms p95 for task lists and the cockpit), and of the task-list and cockpit queries.

Prints markdown tables, the plans, and the machine. Bounded: about 6 minutes on the machine of RESULTS.md
(PostgreSQL only; `--sqlite` adds about as much again).
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
sys.path[:] = [_ROOT] + [p for p in sys.path if os.path.abspath(p or ".") not in (_HERE, _ROOT)]

import argparse
import contextlib
import json
import random
import shutil
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine, event, select, text

from engine import policy
from engine.accounts import Principal, hash_password
from engine.clock import FrozenClock
from engine.config import Settings
from engine.definitions import read_files
from engine.metrics import MetricQuery, compute
from engine.models import AuditEvent, Deadline, Instance, Task, Timer, User
from engine.petitions import matter_key, petition_content, petitioner_key
from engine.queries import (
    InstanceFilter,
    PetitionFilter,
    TaskFilter,
    count_petitions,
    list_instances,
    list_petitions,
    list_tasks,
    petition_timeline,
)
from engine.runtime import Engine
from engine.testing import FORM_DATA, TODAY, load_fixture_org

# The engine package is imported by now, so bench/ may join the path for the load bench's service and helpers.
sys.path.append(_HERE)
import load

ROOT = Path(_ROOT)


WALK_START = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # a Monday morning in Beijing, as in the scenario tests
TARGET_MS = 100.0
# What petitioners say happened (the facts of a registration), and a rare matter one in a thousand tells of.
FACTS = (
    "居民多次反映问题，相关单位答复后仍未解决",
    "问题持续两个多月，影响日常生活和出行",
    "曾向社区和街道反映，至今没有处理结果",
    "涉及楼栋住户三十余户，群众意见较大",
    "有关部门现场查看后未告知处理意见",
)
RARE_FACT = "，另反映装修公司拖欠装修款未退"
# (weight, duration in days (min, max), form-data overrides by element) for each path the fixture copies.
ACCEPT = {"acceptanceDecision": "accept", "category": "complaint", "acceptedAt": TODAY}
PATHS: dict[str, tuple[float, tuple[float, float], dict[str, dict[str, Any]]]] = {
    "simple": (
        0.35,
        (3, 15),
        {
            "acceptance_review": ACCEPT,
            "classify_complaint": {"statutoryRoute": "other"},
            "check_simple_eligibility": {"simpleEligible": True},
            "simple_decide": {"immediateAnswer": True, "simpleFallback": False},
            "simple_evaluate": {"rating": "satisfied"},
        },
    ),
    "ordinary": (
        0.33,
        (40, 110),
        {
            "acceptance_review": ACCEPT,
            "classify_complaint": {"statutoryRoute": "other"},
            "check_simple_eligibility": {"simpleEligible": False},
            "investigate": {"proposeHearing": False},
            "evaluate_satisfaction": {"rating": "satisfied", "returnVisit": False},
        },
    ),
    "refused": (0.15, (1, 6), {"acceptance_review": {"acceptanceDecision": "other_channel"}}),
    "suggestion": (0.10, (5, 30), {"acceptance_review": {**ACCEPT, "category": "suggestion"}}),
    "accusation": (0.07, (15, 60), {"acceptance_review": {**ACCEPT, "category": "accusation"}}),
}
STATUS = {"simple": "closed", "ordinary": "closed", "refused": "not_accepted", "suggestion": "closed"}
UNITS = (
    "区住房城乡建委",
    "区人力社保局",
    "区城市管理局",
    "区规划自然资源局",
    "区生态环境局",
    "区教委",
    "区卫生健康委",
    "区医保局",
    "区公安分局",
    "区市场监管局",
    "区交通局",
    "区民政局",
    "区农业农村委",
    "区水利局",
    "区商务委",
    "区应急局",
    "区财政局",
    "区税务局",
    "杨家坪街道",
    "谢家湾街道",
    "黄桷坪街道",
    "石桥铺街道",
    "渝州路街道",
    "二郎街道",
    "中梁山街道",
)
UNIT_WEIGHTS = [1 / (rank + 1) ** 0.9 for rank in range(len(UNITS))]
# Clerks per group who claim tasks (the demo user of each group is the first).
CLERK_POOL = {
    "registrar": ["registrar", *(f"registrar{n}" for n in range(2, 5))],
    "petition_office": ["office", *(f"office{n}" for n in range(2, 9))],
    "handling_unit": ["handler", *(f"handler{n}" for n in range(2, 13))],
    "supervisor": ["supervisor", "supervisor2"],
    "reviewer": ["reviewer", "reviewer2"],
    "leader": ["leader"],
    "joint_conference": ["conference"],
    "county_committee": ["committee"],
    "hearing_officer": ["hearing"],
}
ACTOR = {"registrar": "registrar", "petition_office": "office", "handling_unit": "handler"}
# The petition bureau's own steps stay county-wide (no unit); every other step belongs to the responsible unit.
BUREAU_GROUPS = frozenset({"registrar", "petition_office", "supervisor"})


# -- the organisation ------------------------------------------------------------------------------------------
@dataclass
class Org:
    """The county's units and people as table rows, and who the jurisdiction queries ask as."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    # Units that answer for petitions (departments, townships, villages), with their weights.
    responsible: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    handlers: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    heads: dict[str, str] = field(default_factory=dict)
    parent: dict[str, str] = field(default_factory=dict)
    bureau_supervisor: str = ""


def organisation(units: int, users: int, now: datetime, seed: int = 7) -> Org:
    """``units`` units (about 40 departments and 30 townships, the rest villages under the townships) and
    ``users`` people: a head, a deputy and an inspector in each department and township, a head in each
    village, handlers everywhere with the rest, 40 in the petition bureau."""
    rng = random.Random(seed)
    org = Org()

    def unit(code: str, name: str, parent: str | None, level: str, kind: str) -> None:
        org.rows["units"].append(
            {
                "code": code,
                "name": name,
                "parent_code": parent,
                "level": level,
                "kind": kind,
                "review_organ_code": parent,
            }
        )
        if parent:
            org.parent[code] = parent

    unit("county.gov", "县人民政府", None, "county", "government")
    unit("county.cpc", "县委", None, "county", "party_committee")
    unit("county.xfj", "县信访局", "county.gov", "county", "petition_bureau")
    departments = [f"county.dept{n:02d}" for n in range(40)]
    townships = [f"town{n:02d}" for n in range(30)]
    for n, code in enumerate(departments):
        unit(code, f"县政府工作部门{n + 1}", "county.gov", "county", "department")
    for n, code in enumerate(townships):
        unit(code, f"第{n + 1}乡镇人民政府", "county.gov", "township", "government")
    villages = [f"{townships[n % 30]}.v{n // 30:02d}" for n in range(max(0, units - 3 - 40 - 30))]
    for code in villages:
        unit(code, f"{code}村民委员会", code.split(".")[0], "village", "government")
    # Busier units more often: departments and townships by rank, villages far less.
    for rank, code in enumerate([*departments, *townships]):
        org.responsible.append(code)
        org.weights.append(1 / (rank + 1) ** 0.8)
    for code in villages:
        org.responsible.append(code)
        org.weights.append(0.02)

    people: list[tuple[str, str, str, tuple[str, ...]]] = []  # login, unit, position, roles

    def person(code: str, position: str, roles: tuple[str, ...]) -> str:
        login = f"u{len(people):05d}"
        people.append((login, code, position, roles))
        if position == "handler":
            org.handlers[code].append(login)
        elif position == "head":
            org.heads[code] = login
        return login

    for _ in range(30):
        person("county.xfj", "petition_officer", ("handler", "registrar"))
    org.bureau_supervisor = person("county.xfj", "inspector", ("supervisor",))
    for _ in range(9):
        person("county.xfj", "inspector", ("supervisor",))
    for code in ("county.gov", "county.cpc"):
        person(code, "head", ("leader",))
        person(code, "deputy_head", ("leader",))
    for code in [*departments, *townships]:
        person(code, "head", ("leader",))
        person(code, "deputy_head", ("leader",))
        person(code, "inspector", ("supervisor",))
        person(code, "handler", ("handler",))
    for code in villages:
        person(code, "head", ("leader",))
        person(code, "handler", ("handler",))
    busy = [*departments, *townships, *villages]
    while len(people) < users:
        person(rng.choices(busy, [4.0] * 70 + [1.0] * len(villages))[0], "handler", ("handler",))
    password = hash_password("bench-password")
    for login, code, position, roles in people:
        org.rows["unit_members"].append(
            {"login": login, "unit_code": code, "position": position, "rank": None}
        )
        org.rows["app_user"].append(
            {
                "username": login,
                "display_name": login,
                "password_hash": password,
                "roles": json.dumps(list(roles)),
                "groups": "[]",
                "unit": code,
                "active": True,
                "created_at": now,
            }
        )
    return org


# -- 1. snapshots of the real engine ---------------------------------------------------------------------------
@dataclass
class Snapshot:
    """Every row the engine holds for one instance after some step, times as seconds from the walk's start."""

    state: str
    definition_id: str
    definition_key: str
    state_json: str
    active_elements: list[str]
    tasks: list[dict[str, Any]]
    timers: list[dict[str, Any]]
    deadlines: list[dict[str, Any]]
    events: list[dict[str, Any]]
    at: float  # the walk's clock when taken


def _offset(moment: datetime | None) -> float | None:
    return None if moment is None else (moment - WALK_START).total_seconds()


def snapshot(engine: Engine, instance_id: str) -> Snapshot:
    with engine.db.reading() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        tasks = session.scalars(select(Task).where(Task.instance_id == instance_id).order_by(Task.created_at))
        timers = session.scalars(select(Timer).where(Timer.instance_id == instance_id))
        deadlines = session.scalars(select(Deadline).where(Deadline.instance_id == instance_id))
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id)
        )
        return Snapshot(
            state=row.state,
            definition_id=row.definition_id,
            definition_key=row.definition_key,
            state_json=row.state_json,
            active_elements=list(row.active_elements or []),
            tasks=[
                {
                    "id": t.id,
                    "definition_id": t.definition_id,
                    "definition_key": t.definition_key,
                    "element_id": t.element_id,
                    "name": t.name,
                    "description": t.description,
                    "candidate_users": list(t.candidate_users or []),
                    "candidate_groups": list(t.candidate_groups or []),
                    "form_ref": t.form_ref,
                    "form_version": t.form_version,
                    "form_key": t.form_key,
                    "priority": t.priority,
                    "created": _offset(t.created_at),
                }
                for t in tasks
            ],
            timers=[{"id": t.id, "element_id": t.element_id, "due": _offset(t.due_at)} for t in timers],
            deadlines=[
                {
                    "name": d.name,
                    "period": getattr(d, "period", 1),
                    "basis": d.basis,
                    "unit": d.unit,
                    "length": d.length,
                    "anchor": (d.anchor - WALK_START.date()).days,
                    "started": _offset(d.started_at),
                    "due": _offset(d.due_at),
                    "extension_days": d.extension_days,
                    "outcome": d.outcome,
                    "closed": _offset(d.closed_at),
                }
                for d in deadlines
            ],
            events=[
                {
                    "task_id": e.task_id,
                    "element_id": e.element_id,
                    "kind": e.kind,
                    "actor": e.actor,
                    "at": _offset(e.at),
                    "data": None if e.data is None else json.dumps(e.data, ensure_ascii=False),
                }
                for e in events
            ],
            at=_offset(engine.now()) or 0.0,
        )


def walk(engine: Engine, clock: FrozenClock, path: str, rng: random.Random) -> list[Snapshot]:
    """Register a petition and complete its tasks one by one (an hour apart); a snapshot after each step."""
    overrides = PATHS[path][2]
    data = load.registration(rng, late=False)
    data["receivedAt"] = WALK_START.date().isoformat()
    _, result = engine.petitions.register(data, actor="registrar")
    instance_id = result.instance_id
    snapshots = [snapshot(engine, instance_id)]
    for _ in range(60):
        with engine.db.reading() as session:
            tasks = list_tasks(session, TaskFilter(instance_id=instance_id))
        if not tasks:
            with engine.db.reading() as session:
                row = session.get(Instance, instance_id)
            if row.state != "active" or row.next_timer_at is None:
                break
            clock.set(row.next_timer_at + timedelta(minutes=1))  # wait for the timer (the review window)
            engine.fire_timers(instance_id)
            snapshots.append(snapshot(engine, instance_id))
            continue
        task = tasks[0]
        group = task.candidate_groups[0] if task.candidate_groups else "petition_office"
        actor = ACTOR.get(group, CLERK_POOL.get(group, ["admin"])[0])
        form = {
            **FORM_DATA.get(task.form_ref or "", {}),
            **overrides.get(task.element_id, {}),
        }
        day = clock.now().astimezone(load.BEIJING).date().isoformat()
        form = {k: day if v is TODAY else v for k, v in form.items()}
        engine.claim(task.id, actor)
        engine.complete(task.id, form, actor=actor)
        clock.advance(hours=1)
        snapshots.append(snapshot(engine, instance_id))
    return snapshots


def capture(folder: Path) -> dict[str, list[Snapshot]]:
    clock = FrozenClock(WALK_START)
    engine = Engine(
        Settings(instance_path=folder / "walk", database_url=f"sqlite:///{folder / 'walk.db'}"), clock=clock
    )
    try:
        engine.migrate()
        engine.deploy(read_files([ROOT / "workflows", ROOT / "forms"]), name="shipped")
        load_fixture_org(engine)  # the units the shipped diagrams route to
        rng = random.Random(5)
        templates = {}
        for path in PATHS:
            clock.set(WALK_START)
            templates[path] = walk(engine, clock, path, rng)
        return templates
    finally:
        engine.db.dispose()


# -- 2. the fixture --------------------------------------------------------------------------------------------
@dataclass
class Fixture:
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    events: int = 0
    numbers: list[str] = field(default_factory=list)
    long_timelines: list[str] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)
    # Who the jurisdiction queries ask as: the handler, the head and the bureau's supervisor.
    asking: dict[str, str] = field(default_factory=dict)
    # (name, phone) of some petitioners, searched for by the list queries.
    people: list[tuple[str, str]] = field(default_factory=list)


def office_moments(rng: random.Random, n: int, now: datetime, days: int) -> list[datetime]:
    """``n`` registration times over the last ``days`` days: working days (a few weekend visits), office hours."""
    out = []
    start = now - timedelta(days=days)
    while len(out) < n:
        moment = start + timedelta(seconds=rng.uniform(0, days * 86400))
        local = moment.astimezone(load.BEIJING)
        weekend = local.weekday() >= 5
        office = 8.5 <= local.hour + local.minute / 60 <= 17.5
        if (office and (not weekend or rng.random() < 0.1)) or rng.random() < 0.02:
            out.append(moment)
    return sorted(out)


def thin(events: list[dict[str, Any]], keep: int, rng: random.Random) -> list[dict[str, Any]]:
    """``keep`` of ``events`` in order: the first always, the rest a uniform sample."""
    if keep >= len(events):
        return events
    chosen = sorted(rng.sample(range(1, len(events)), max(0, keep - 1)))
    return [events[0], *(events[i] for i in chosen)]


@dataclass(frozen=True)
class Times:
    """A petition's own time line: the walk's steps spread over ``span`` from ``registered``."""

    registered: datetime
    span: timedelta
    last: float

    def when(self, offset: float | None) -> datetime | None:
        if offset is None:
            return None
        return self.registered + self.span * max(0.0, min(1.0, offset / self.last))

    def real(self, offset: float | None) -> datetime | None:
        """Statutory lengths keep their real length (deadlines, timers)."""
        return None if offset is None else self.registered + timedelta(seconds=offset)


def build(
    templates: dict[str, list[Snapshot]],
    definitions: dict[str, str],
    petitions: int,
    target_events: int,
    now: datetime,
    org: Org,
    seed: int = 2024,
) -> Fixture:
    """The rows of the fixture; ``definitions``: process key -> id of the deployed definition."""
    rng = random.Random(seed)
    fx = Fixture()
    for name, rows in org.rows.items():
        fx.rows[name] = rows
    moments = office_moments(rng, petitions, now, 730)
    paths = list(PATHS)
    weights = [PATHS[p][0] for p in paths]
    plans = []
    for registered in moments:
        path = rng.choices(paths, weights)[0]
        low, high = PATHS[path][1]
        days = rng.uniform(low, high) if rng.random() > 0.03 else rng.uniform(high, 400)  # a few stuck cases
        ended = registered + timedelta(days=days)
        snaps = templates[path]
        if ended <= now:
            snap = snaps[-1]
        else:
            share = (now - registered) / (ended - registered)
            snap = snaps[min(len(snaps) - 2, int(share * (len(snaps) - 1)))]
        plans.append((registered, path, ended, snap))
    full = set(rng.sample(range(petitions), petitions // 50))
    budget = target_events - sum(len(plans[i][3].events) for i in full)
    rest = sum(len(p[3].events) for n, p in enumerate(plans) if n not in full)
    scale = max(0.0, budget / rest) if rest else 0.0
    seq_by_year: Counter[int] = Counter()
    earlier: list[tuple[str, str, str]] = []  # (petitioner key, matter key, number) for repeats
    users = defaultdict(lambda: ["admin"], CLERK_POOL)
    for n, (registered, path, ended, snap) in enumerate(plans):
        year = registered.astimezone(load.BEIJING).year
        seq_by_year[year] += 1
        number = f"XF{year}-{seq_by_year[year]:06d}"
        fx.numbers.append(number)
        data = load.registration(rng, late=False)
        data["involvedUnit"] = rng.choices(UNITS, UNIT_WEIGHTS)[0]
        # Facts in the petitioner's words: one petition in a thousand tells of a rare matter (a search target).
        data["facts"] = f"{data['place']}{rng.choice(FACTS)}" + (RARE_FACT if rng.random() < 0.001 else "")
        if rng.random() < 0.01:
            fx.people.append((data["petitionerName"], data["phone"]))
        responsible = rng.choices(org.responsible, org.weights)[0]
        received = (
            registered.astimezone(load.BEIJING) - timedelta(days=rng.choice((0, 0, 0, 1, 2, 5)))
        ).date()
        p_key, m_key = petitioner_key(data), matter_key(data)
        repeat = earlier and rng.random() < 0.125
        previous = None
        if repeat:
            p_key, m_key, previous = rng.choice(earlier[-5000:])
        earlier.append((p_key, m_key, number))
        # Ordinary handling cannot end yet in the engine (the review window's event-based gateway gets no
        # timer: the xfail in test_scenarios_handling.py); past its duration it counts as ended, as it will.
        closed = ended <= now
        instance_id = str(uuid.uuid4())
        ids: dict[str, str] = {}

        def new_id(old: str | None, ids: dict[str, str] = ids) -> str | None:
            return None if old is None else ids.setdefault(old, str(uuid.uuid4()))

        span = (ended if closed else now - timedelta(minutes=rng.uniform(5, 600))) - registered
        times = Times(registered, span, snap.at or 1.0)
        when, real = times.when, times.real

        rating = None
        if path in ("simple", "ordinary") and closed:
            rating = rng.choices(
                ["satisfied", "basically_satisfied", "dissatisfied", None], [0.7, 0.18, 0.07, 0.05]
            )[0]
        status = "in_progress" if not closed else STATUS.get(path, "closed")
        if closed and path == "ordinary" and rng.random() < 0.02:
            status = "terminated"
        packaged = path == "ordinary" and rng.random() < 0.08
        fx.rows["petition"].append(
            {
                "number": number,
                "petitioner_name": data["petitionerName"],
                "id_type": "resident_id",
                "id_number": data["idNumber"],
                "phone": data["phone"],
                "address": data["address"],
                "channel": data["channel"],
                "received_at": received,
                "subject": data["subject"],
                "content": petition_content(data),
                "category": {"suggestion": "suggestion", "accusation": "accusation"}.get(path, "complaint"),
                "involved_unit": data["involvedUnit"],
                "responsible_unit": responsible,
                "place": data["place"],
                "people_count": data["peopleCount"],
                "representatives": "[]",
                "agent": None,
                "major_urgent": False,
                "skip_level": False,
                "petitioner_key": p_key,
                "matter_key": m_key,
                "is_repeat": bool(repeat),
                "first_turned_repeat": bool(repeat) and rng.random() < 0.6,
                "same_matter_pending": bool(repeat) and rng.random() < 0.3,
                "matter_terminated": False,
                "reflux_count": 0,
                "previous_number": previous,
                "status": status,
                "outcome": None if not closed else {"refused": "other_channel"}.get(path, "support"),
                "rating": rating,
                "packaged": packaged,
                "resolved": packaged and rng.random() < 0.8,
                "instance_id": instance_id,
                "registered_by": rng.choice(CLERK_POOL["registrar"]),
                "registered_at": registered,
                "closed_at": ended if closed else None,
            }
        )
        timers = [t for t in snap.timers if not closed and real(t["due"]) > now]
        fx.rows["instance"].append(
            {
                "id": instance_id,
                "definition_id": definitions[snap.definition_key],
                "definition_key": snap.definition_key,
                "business_key": number,
                "state": "completed" if closed else snap.state,
                "version": len(snap.events) // 3 + 1,
                "state_json": snap.state_json,
                "started_at": registered,
                "started_by": "registrar",
                "updated_at": when(snap.at),
                "ended_at": ended if closed else None,
                "next_timer_at": min((real(t["due"]) for t in timers), default=None),
                "active_elements": json.dumps(snap.active_elements),
                "parent_instance_id": None,
            }
        )
        for t in snap.tasks if not closed else ():
            task_id = new_id(t["id"])
            group = t["candidate_groups"][0] if t["candidate_groups"] else "petition_office"
            groups, unit_code, assignee = t["candidate_groups"], None, None
            if group not in BUREAU_GROUPS:
                groups, unit_code = [f"unit:{responsible}:handler"], responsible
                if rng.random() < 0.5:
                    assignee = rng.choice(org.handlers[responsible])
            elif rng.random() < 0.5:
                assignee = rng.choice(users[group])
            fx.rows["task"].append(
                {
                    "id": task_id,
                    "instance_id": instance_id,
                    "definition_id": definitions[t["definition_key"]],
                    "definition_key": t["definition_key"],
                    "element_id": t["element_id"],
                    "name": t["name"],
                    "description": t["description"],
                    "business_key": number,
                    "assignee": assignee,
                    "candidate_users": json.dumps(t["candidate_users"]),
                    "candidate_groups": json.dumps(groups, ensure_ascii=False),
                    "form_ref": t["form_ref"],
                    "form_version": t["form_version"],
                    "form_key": t["form_key"],
                    "due_at": None,  # the shipped diagrams set no dueDate on user tasks
                    "follow_up_at": None,
                    "priority": t["priority"],
                    "created_at": when(t["created"]),
                    "suspended": False,
                    "unit_code": unit_code,
                }
            )
            for kind, names in (("group", groups), ("user", t["candidate_users"])):
                for name in dict.fromkeys(names):
                    fx.rows["task_candidate"].append({"task_id": task_id, "kind": kind, "name": name})
            fx.stats[f"open task {group if unit_code is None else 'unit'}"] += 1
        for t in timers:
            fx.rows["timer"].append(
                {
                    "id": new_id(t["id"]),
                    "instance_id": instance_id,
                    "element_id": t["element_id"],
                    "due_at": real(t["due"]),
                }
            )
        for d in snap.deadlines:
            due = real(d["due"])
            outcome, closed_at = d["outcome"], when(d["closed"])
            if outcome is not None or closed:
                outcome = "on_time" if rng.random() < 0.9 else "overdue"
                if outcome == "overdue":
                    closed_at = due
                elif closed_at is None or closed_at > due:
                    closed_at = due - timedelta(hours=rng.uniform(1, 72))
            elif due < now:
                outcome, closed_at = "overdue", due  # the deadline's timer fired: lapsed
            fx.rows["deadline"].append(
                {
                    "instance_id": instance_id,
                    "business_key": number,
                    "name": d["name"],
                    "period": d["period"],
                    "basis": d["basis"],
                    "unit": d["unit"],
                    "length": d["length"],
                    "anchor": received + timedelta(days=d["anchor"]),
                    "started_at": when(d["started"]),
                    "due_at": due,
                    "paused_at": None,
                    "paused_seconds": 0,
                    "extension_days": d["extension_days"],
                    "extended_at": None,
                    "outcome": outcome,
                    "closed_at": closed_at,
                }
            )
        keep = (
            len(snap.events) if n in full else max(2, round(len(snap.events) * scale * rng.uniform(0.6, 1.4)))
        )
        if n in full:
            fx.long_timelines.append(number)
        for e in thin(snap.events, keep, rng):
            fx.rows["audit_event"].append(
                {
                    "instance_id": instance_id,
                    "business_key": number,
                    "task_id": new_id(e["task_id"]),
                    "element_id": e["element_id"],
                    "kind": e["kind"],
                    "actor": e["actor"],
                    "at": when(e["at"]),
                    "data": e["data"],
                }
            )
        fx.stats[f"{path} {'closed' if closed else 'open'}"] += 1
    fx.events = len(fx.rows["audit_event"])
    fx.asking = askers(org, fx.rows["task"])
    return fx


def askers(org: Org, tasks: list[dict[str, Any]]) -> dict[str, str]:
    """A handler of the unit with most open tasks, the head of the township with most open tasks in it and its
    villages, and the bureau's supervisor: the task lists under jurisdiction are measured as them."""
    per_unit = Counter(t["unit_code"] for t in tasks if t["unit_code"])
    busiest = max(per_unit, key=per_unit.__getitem__)
    per_township = Counter(
        org.parent.get(code, code) if code.startswith("town") and "." in code else code
        for code in per_unit.elements()
        if code.startswith("town")
    )
    township = max(per_township, key=per_township.__getitem__)
    return {"handler": org.handlers[busiest][0], "head": org.heads[township], "bureau": org.bureau_supervisor}


# -- loading ---------------------------------------------------------------------------------------------------
LOAD_ORDER = (
    "units",
    "unit_members",
    "app_user",
    "petition",
    "instance",
    "task",
    "task_candidate",
    "timer",
    "deadline",
    "audit_event",
)


def _copy(db: Any, name: str, columns: list[str], rows: list[dict[str, Any]]) -> None:
    raw = db.raw_connection()
    try:
        statement = f"COPY {name} ({', '.join(columns)}) FROM STDIN"
        with raw.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(tuple(row[c] for c in columns))
        raw.commit()
    finally:
        raw.close()


def bulk_load(url: str, fx: Fixture) -> dict[str, float]:
    """COPY on PostgreSQL, executemany on SQLite; then VACUUM ANALYZE / ANALYZE. Seconds per table. Units and
    memberships the service's set-up already wrote (the fixture organisation) are not written twice."""
    db = create_engine(url)
    seconds: dict[str, float] = {}
    with db.connect() as conn:
        present = {
            "units": {(c,) for (c,) in conn.execute(text("SELECT code FROM units"))},
            "unit_members": {
                tuple(r) for r in conn.execute(text("SELECT login, unit_code, position FROM unit_members"))
            },
        }
    keys = {"units": ("code",), "unit_members": ("login", "unit_code", "position")}
    try:
        for name in LOAD_ORDER:
            rows = fx.rows[name]
            if name in present:
                rows = [r for r in rows if tuple(r[k] for k in keys[name]) not in present[name]]
            if not rows:
                continue
            began = time.perf_counter()
            columns = list(rows[0])
            if db.dialect.name == "postgresql":
                # Two COPY streams at once: compressing state_json (TOAST) keeps a backend busy.
                parts = 2 if len(rows) > 50_000 else 1
                threads = [
                    threading.Thread(target=_copy, args=(db, name, columns, rows[n::parts]))
                    for n in range(parts)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            else:
                # The stored forms SQLAlchemy uses on SQLite: naive UTC text for datetimes, 1/0, JSON text.
                def value(v: Any) -> Any:
                    if isinstance(v, datetime):
                        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
                    if isinstance(v, date):
                        return v.isoformat()
                    return int(v) if isinstance(v, bool) else v

                raw = db.raw_connection()
                try:
                    marks = ", ".join("?" for _ in columns)
                    cursor = raw.cursor()
                    cursor.executemany(
                        f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})",
                        (tuple(value(row[c]) for c in columns) for row in rows),
                    )
                    raw.commit()
                finally:
                    raw.close()
            seconds[name] = time.perf_counter() - began
        began = time.perf_counter()
        if db.dialect.name == "postgresql":
            with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        else:
            with db.begin() as conn:
                conn.execute(text("ANALYZE"))
        seconds["vacuum analyze"] = time.perf_counter() - began
    finally:
        db.dispose()
    return seconds


# -- 3. measuring ----------------------------------------------------------------------------------------------
@dataclass
class Query:
    label: str
    user: str | None  # who asks over HTTP (None: measured directly only)
    path: Callable[[random.Random], str] | None
    direct: Callable[[Any, random.Random], Any] | None  # (session, rng) -> rows, the same query in-process
    target: float | None  # ms, p95
    group: str
    runs: int = 0
    http: list[float] = field(default_factory=list)
    direct_times: list[float] = field(default_factory=list)
    sql: list[tuple[str, Any]] = field(default_factory=list)

    def p95(self) -> float:
        worst = [load.pct(v, 0.95) for v in (self.http, self.direct_times) if v]
        return max(worst) * 1000 if worst else 0.0

    @property
    def missed(self) -> bool:
        return self.target is not None and self.p95() > self.target


def as_principal(login: str, **narrowing: Any) -> Callable[[Any, random.Random], Any]:
    """The task list ``login`` gets (engine/policy.py), their jurisdiction read as the service reads it."""

    def direct(session: Any, rng: random.Random) -> Any:
        user = session.scalars(select(User).where(User.username == login)).one()
        principal = Principal.read(session, user)
        scope = policy.scope(principal, session)
        return list_tasks(session, policy.visible_filter(principal, scope, limit=50, **narrowing))

    return direct


def jurisdiction_queries(fx: Fixture) -> list[Query]:
    handler, head, bureau = fx.asking["handler"], fx.asking["head"], fx.asking["bureau"]
    return [
        Query(
            "jurisdiction: GET /api/tasks?mine=true as a handler of the busiest unit",
            handler,
            lambda rng: "/api/tasks?mine=true",
            as_principal(handler, mine=True),
            TARGET_MS,
            "task list",
        ),
        Query(
            "jurisdiction: GET /api/tasks as a township's head (the township and its villages)",
            head,
            lambda rng: "/api/tasks",
            as_principal(head),
            TARGET_MS,
            "task list",
        ),
        Query(
            "jurisdiction: GET /api/tasks?mine=true as the township's head",
            head,
            lambda rng: "/api/tasks?mine=true",
            as_principal(head, mine=True),
            TARGET_MS,
            "task list",
        ),
        Query(
            "jurisdiction: GET /api/tasks as the bureau's supervisor (the county)",
            bureau,
            lambda rng: "/api/tasks",
            as_principal(bureau),
            TARGET_MS,
            "task list",
        ),
        Query(
            "jurisdiction: GET /api/petitions?status=in_progress as the township's head",
            head,
            lambda rng: "/api/petitions?status=in_progress",
            None,
            TARGET_MS,
            "cockpit",
        ),
    ]


def list_queries(fx: Fixture, now: datetime) -> list[Query]:
    """The list pages a page at a time with their totals (X-Total-Count), and the petition searches."""
    people = fx.people or [("王芳", "13800000000")]

    def petitions(**f: Any) -> Callable[[Any, random.Random], Any]:
        def direct(session: Any, rng: random.Random) -> Any:
            query = PetitionFilter(limit=50, **f)
            return list_petitions(session, query, now), count_petitions(session, query, now)

        return direct

    def by_person(field: str, index: int) -> Callable[[random.Random], str]:
        return lambda rng: f"/api/petitions?{field}={quote(rng.choice(people)[index])}"

    def direct_person(field: str, index: int) -> Callable[[Any, random.Random], Any]:
        def direct(session: Any, rng: random.Random) -> Any:
            query = PetitionFilter(limit=50, **{field: rng.choice(people)[index]})
            return list_petitions(session, query, now), count_petitions(session, query, now)

        return direct

    deep = max(0, len(fx.numbers) // 2)
    return [
        Query(
            "lists: GET /api/petitions (page 1 of all, with the total)",
            "supervisor",
            lambda rng: "/api/petitions",
            petitions(),
            TARGET_MS,
            "lists",
        ),
        Query(
            f"lists: GET /api/petitions?offset={deep} (a deep page)",
            "supervisor",
            lambda rng: f"/api/petitions?offset={deep}",
            petitions(offset=deep),
            TARGET_MS,
            "lists",
        ),
        Query(
            "lists: GET /api/petitions?sort=receivedAt&offset=5000",
            "supervisor",
            lambda rng: "/api/petitions?sort=receivedAt&offset=5000",
            petitions(offset=5000, sort=[("receivedAt", False)]),
            TARGET_MS,
            "lists",
        ),
        Query(
            "lists: GET /api/instances?state=active&sort=due (the cockpit's first page)",
            "supervisor",
            lambda rng: "/api/instances?state=active&sort=due",
            lambda s, rng: list_instances(s, InstanceFilter(state="active", sort=[("due", False)], limit=50)),
            TARGET_MS,
            "lists",
        ),
        Query(
            "lists: GET /api/instances?state=active&sort=due&offset=2000",
            "supervisor",
            lambda rng: "/api/instances?state=active&sort=due&offset=2000",
            lambda s, rng: list_instances(
                s, InstanceFilter(state="active", sort=[("due", False)], limit=50, offset=2000)
            ),
            TARGET_MS,
            "lists",
        ),
        Query(
            "lists: GET /api/tasks?offset=2000 as the bureau's supervisor (a deep page of the county)",
            fx.asking["bureau"],
            lambda rng: "/api/tasks?offset=2000",
            as_principal(fx.asking["bureau"], offset=2000),
            TARGET_MS,
            "lists",
        ),
        Query(
            "search: GET /api/petitions?text=拖欠工资 (a common content word, 1 in 10)",
            "supervisor",
            lambda rng: f"/api/petitions?text={quote('拖欠工资')}",
            petitions(text="拖欠工资"),
            TARGET_MS,
            "search",
        ),
        Query(
            "search: GET /api/petitions?text=装修款 (a rare content word, 1 in 1,000)",
            "supervisor",
            lambda rng: f"/api/petitions?text={quote('装修款')}",
            petitions(text="装修款"),
            TARGET_MS,
            "search",
        ),
        Query(
            "search: GET /api/petitions?petitioner=<a name>",
            "supervisor",
            by_person("petitioner", 0),
            direct_person("petitioner", 0),
            TARGET_MS,
            "search",
        ),
        Query(
            "search: GET /api/petitions?phone=<a phone> as a registrar",
            "registrar",
            by_person("phone", 1),
            direct_person("phone", 1),
            TARGET_MS,
            "search",
        ),
        Query(
            "search: GET /api/tasks?text=装修款 as the bureau's supervisor",
            fx.asking["bureau"],
            lambda rng: f"/api/tasks?text={quote('装修款')}",
            as_principal(fx.asking["bureau"], text="装修款"),
            TARGET_MS,
            "search",
        ),
    ]


def queries(fx: Fixture, now: datetime) -> list[Query]:
    numbers, long = fx.numbers, fx.long_timelines or fx.numbers
    recent = (now - timedelta(days=90)).date().isoformat()

    def number(rng: random.Random) -> str:
        return rng.choice(numbers)

    def long_number(rng: random.Random) -> str:
        return rng.choice(long)

    def unit(rng: random.Random) -> str:
        return rng.choices(UNITS, UNIT_WEIGHTS)[0]

    def handler2(rng: random.Random) -> str:
        return rng.choice(CLERK_POOL["handling_unit"][1:])

    return [
        Query(
            "task list: GET /api/tasks as a handler (theirs + unclaimed of handling_unit)",
            "handler",
            lambda rng: "/api/tasks",
            lambda s, rng: list_tasks(
                s, TaskFilter(involved_user="handler", involved_groups=["handling_unit"], limit=50)
            ),
            TARGET_MS,
            "task list",
        ),
        Query(
            "task list: GET /api/tasks?candidateGroup=petition_office as the office",
            "office",
            lambda rng: "/api/tasks?candidateGroup=petition_office",
            lambda s, rng: list_tasks(
                s,
                TaskFilter(
                    involved_user="office",
                    involved_groups=["petition_office"],
                    candidate_groups=["petition_office"],
                    limit=50,
                ),
            ),
            TARGET_MS,
            "task list",
        ),
        Query(
            "task list: ?candidateGroup=handling_unit&unassigned=true as a handler",
            "handler",
            lambda rng: "/api/tasks?candidateGroup=handling_unit&unassigned=true",
            lambda s, rng: list_tasks(
                s,
                TaskFilter(
                    involved_user="handler",
                    involved_groups=["handling_unit"],
                    candidate_groups=["handling_unit"],
                    unassigned=True,
                    limit=50,
                ),
            ),
            TARGET_MS,
            "task list",
        ),
        Query(
            "task list: a group's tasks (list_tasks(candidate_groups=[handling_unit]); supervisor over HTTP)",
            "supervisor",
            lambda rng: "/api/tasks?candidateGroup=handling_unit",
            lambda s, rng: list_tasks(s, TaskFilter(candidate_groups=["handling_unit"], limit=50)),
            TARGET_MS,
            "task list",
        ),
        Query(
            "cockpit: GET /api/instances?state=active",
            "supervisor",
            lambda rng: "/api/instances?state=active",
            lambda s, rng: list_instances(s, InstanceFilter(state="active", limit=50)),
            TARGET_MS,
            "cockpit",
        ),
        Query(
            "cockpit: ?state=active&definitionKey=petition_intake&offset=500",
            "supervisor",
            lambda rng: "/api/instances?state=active&definitionKey=petition_intake&offset=500",
            lambda s, rng: list_instances(
                s, InstanceFilter(state="active", definition_key="petition_intake", limit=50, offset=500)
            ),
            TARGET_MS,
            "cockpit",
        ),
        Query(
            "cockpit: GET /api/instances?state=completed",
            "supervisor",
            lambda rng: "/api/instances?state=completed",
            lambda s, rng: list_instances(s, InstanceFilter(state="completed", limit=50)),
            TARGET_MS,
            "cockpit",
        ),
        Query(
            "cockpit: GET /api/instances?overdue=true",
            "supervisor",
            lambda rng: "/api/instances?overdue=true",
            lambda s, rng: list_instances(s, InstanceFilter(overdue=True, limit=50)),
            TARGET_MS,
            "cockpit",
        ),
        Query(
            "cockpit: GET /api/instances?assignee=<a handler>",
            "supervisor",
            lambda rng: f"/api/instances?assignee={handler2(rng)}",
            lambda s, rng: list_instances(s, InstanceFilter(assignee=handler2(rng), limit=50)),
            TARGET_MS,
            "cockpit",
        ),
        Query(
            "cockpit: GET /api/petitions?overdue=true",
            "supervisor",
            lambda rng: "/api/petitions?overdue=true",
            lambda s, rng: list_petitions(s, PetitionFilter(overdue=True, limit=50), now),
            TARGET_MS,
            "cockpit",
        ),
        Query(
            "cockpit: GET /api/petitions?status=in_progress&unit=<unit>",
            "supervisor",
            lambda rng: f"/api/petitions?status=in_progress&unit={quote(unit(rng))}",
            lambda s, rng: list_petitions(
                s, PetitionFilter(status="in_progress", unit=unit(rng), limit=50), now
            ),
            TARGET_MS,
            "cockpit",
        ),
        Query(
            "timeline: GET /api/petitions/{number} (thinned trail, ~10 events)",
            "supervisor",
            lambda rng: f"/api/petitions/{number(rng)}",
            lambda s, rng: petition_timeline(s, number(rng)),
            None,
            "timeline",
        ),
        Query(
            "timeline: GET /api/petitions/{number} (whole trail, 47-110 events)",
            "supervisor",
            lambda rng: f"/api/petitions/{long_number(rng)}",
            lambda s, rng: petition_timeline(s, long_number(rng)),
            None,
            "timeline",
        ),
        Query(
            "metrics: GET /api/metrics (every unit and month, two years)",
            "supervisor",
            lambda rng: "/api/metrics",
            lambda s, rng: compute(s, MetricQuery()),
            None,
            "metrics",
        ),
        Query(
            "metrics: GET /api/metrics?since=<90 days ago>",
            "supervisor",
            lambda rng: f"/api/metrics?since={recent}",
            lambda s, rng: compute(s, MetricQuery(since=date.fromisoformat(recent))),
            None,
            "metrics",
        ),
        Query(
            "metrics: GET /api/metrics?unit=<unit>&byMonth=false",
            "supervisor",
            lambda rng: f"/api/metrics?unit={quote(UNITS[0])}&byMonth=false",
            lambda s, rng: compute(s, MetricQuery(unit=UNITS[0], by_month=False)),
            None,
            "metrics",
        ),
    ]


@contextlib.contextmanager
def capturing(db: Any, into: list[tuple[str, Any]]) -> Iterator[None]:
    def listener(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        into.append((statement, parameters))

    event.listen(db, "before_cursor_execute", listener)
    try:
        yield
    finally:
        event.remove(db, "before_cursor_execute", listener)


def measure(service: Any, url: str, qs: list[Query], runs: int, cap: float = 20.0) -> None:
    """``runs`` of each query over HTTP and directly, each side stopping early after ``cap`` seconds."""
    engine = Engine(Settings(instance_path=service.folder / "instance", database_url=url))
    clients = {
        name: load.Client(service.port, name, load.bearer(service.tokens[name]))
        for name in {q.user for q in qs if q.user}
    }
    try:
        for q in qs:
            q.runs = runs if q.group != "metrics" else max(5, runs // 4)
            rng = random.Random(q.label)
            if q.path is not None and q.user is not None:
                client = clients[q.user]
                stop_at = time.monotonic() + cap
                for n in range(q.runs + 3):
                    if time.monotonic() > stop_at and len(q.http) >= 5:
                        break
                    status, body, seconds = client.call("GET", q.path(rng))
                    assert status == 200, (q.label, status, body)
                    if n >= 3:  # the first ones warm caches and the connection
                        q.http.append(seconds)
            if q.direct is not None:
                stop_at = time.monotonic() + cap
                for n in range(q.runs + 3):
                    if time.monotonic() > stop_at and len(q.direct_times) >= 5:
                        break
                    began = time.perf_counter()
                    with engine.db.reading() as session:
                        if n == 0:
                            with capturing(engine.db.engine, q.sql):
                                q.direct(session, rng)
                        else:
                            q.direct(session, rng)
                    if n >= 3:
                        q.direct_times.append(time.perf_counter() - began)
    finally:
        for client in clients.values():
            client.close()
        engine.db.dispose()


def explain(url: str, q: Query) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement the query ran, on PostgreSQL."""
    db = create_engine(url)
    out = []
    try:
        with db.connect() as conn:
            for statement, parameters in q.sql:
                rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
                out.append(statement.strip())
                out.append("\n".join(r[0] for r in rows))
    finally:
        db.dispose()
    return "\n".join(out)


# -- main ------------------------------------------------------------------------------------------------------
def run(
    url: str, label: str, folder: Path, templates: dict[str, list[Snapshot]], args: argparse.Namespace
) -> str:
    now = datetime.now(UTC)
    out = [f"## {label}\n"]
    service = load.Service(url, folder, workers=1)
    service.prepare()
    db = create_engine(url)
    with db.connect() as conn:
        definitions = {
            key: id_
            for key, id_ in conn.execute(text("SELECT key, id FROM process_definition ORDER BY version"))
        }
    db.dispose()
    began = time.perf_counter()
    org = organisation(args.units, args.users, now)
    fx = build(templates, definitions, args.petitions, args.events, now, org)
    built = time.perf_counter() - began
    loaded = bulk_load(url, fx)
    engine = Engine(Settings(instance_path=folder / "instance", database_url=url))
    try:
        for login in fx.asking.values():
            service.tokens[login] = engine.accounts.issue_token(login, "bench/volume.py")
    finally:
        engine.db.dispose()
    sizes = []
    if url.startswith("postgresql"):
        db = create_engine(url)
        with db.connect() as conn:
            for name in (*LOAD_ORDER, "petition"):
                if name in [s[0] for s in sizes]:
                    continue
                size = conn.execute(text(f"SELECT pg_total_relation_size('{name}')")).scalar()
                sizes.append((name, size))
        db.dispose()
    counts = {name: len(rows) for name, rows in fx.rows.items()}
    out.append(
        f"Fixture: built in {built:.0f} s, loaded in {sum(loaded.values()):.0f} s "
        f"({', '.join(f'{k} {v:.1f} s' for k, v in loaded.items())}).\n"
    )
    rows = [
        [name, f"{counts.get(name, 0):,}", f"{dict(sizes).get(name, 0) / 2**20:,.0f} MiB" if sizes else "-"]
        for name in LOAD_ORDER
    ]
    out.append(load.table(["table", "rows", "size with indexes"], rows))
    states = Counter(r["state"] for r in fx.rows["instance"])
    groups = Counter(
        "unit:<code>:handler" if r["unit_code"] else json.loads(r["candidate_groups"])[0]
        for r in fx.rows["task"]
    )
    assigned = sum(1 for r in fx.rows["task"] if r["assignee"])
    out.append(
        f"\nInstances by state: {dict(states)}; open tasks by group: {dict(groups.most_common())}, "
        f"{assigned:,} claimed; petitions by path: {dict(sorted((k, v) for k, v in fx.stats.items() if ' open' in k or ' closed' in k))}; "
        f"audit events per petition: {fx.events / max(1, len(fx.numbers)):.1f} on average, "
        f"{len(fx.long_timelines):,} petitions with their whole trail.\n"
    )
    qs = [*queries(fx, now), *jurisdiction_queries(fx), *list_queries(fx, now)]
    out.append(
        f"Organisation: {len(fx.rows['units']):,} units, {len(fx.rows['unit_members']):,} people; asked as "
        f"{', '.join(f'{role} {login}' for role, login in fx.asking.items())}.\n"
    )
    service.start(scheduler=False)
    try:
        measure(service, url, qs, args.runs, args.query_seconds)
        out.append(results_table(qs))
        if not args.no_explain and url.startswith("postgresql"):
            for q in qs:
                if q.missed or q.group in ("task list", "cockpit", "metrics", "search"):
                    out.append(
                        f"\n#### EXPLAIN (ANALYZE, BUFFERS): {q.label}{' (missed)' if q.missed else ''}\n"
                    )
                    out.append("```\n" + explain(url, q) + "\n```")
    finally:
        service.stop()
    return "\n".join(out)


def results_table(qs: list[Query]) -> str:
    def cell(values: list[float]) -> str:
        return f"{load.ms(load.pct(values, 0.5))} / {load.ms(load.pct(values, 0.95))}" if values else "-"

    rows = []
    for q in qs:
        verdict = "-" if q.target is None else ("**missed**" if q.missed else "ok")
        rows.append(
            [q.label, f"{len(q.http)} / {len(q.direct_times)}", cell(q.http), cell(q.direct_times), verdict]
        )
    return load.table(
        [
            "query",
            "runs HTTP / direct",
            "HTTP p50 / p95 (ms)",
            "direct p50 / p95 (ms)",
            f"p95 < {TARGET_MS:.0f} ms",
        ],
        rows,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--petitions", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--units", type=int, default=500, help="units of the organisation")
    parser.add_argument("--users", type=int, default=5_000, help="people in the units")
    parser.add_argument("--runs", type=int, default=40, help="requests per query (a quarter for metrics)")
    parser.add_argument(
        "--pg", default=load.DEFAULT_PG, help="PostgreSQL admin URL (a database is made there)"
    )
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--sqlite", action="store_true", help="also measure the same fixture on SQLite")
    parser.add_argument("--no-explain", action="store_true")
    parser.add_argument("--query-seconds", type=float, default=20.0, help="time cap per query and side")
    args = parser.parse_args()
    began = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="pf-volume-"))
    out = []
    try:
        templates = capture(folder)
        out.append(
            "Paths walked through the engine (steps, audit events, state_json bytes at the end): "
            + "; ".join(
                f"{p} {len(s) - 1} steps, {len(s[-1].events)} events, {len(s[-1].state_json):,} B"
                for p, s in templates.items()
            )
            + "\n"
        )
        if not args.no_pg and load.pg_reachable(args.pg):
            with load.pg_database(args.pg) as url:
                sub = folder / "pg"
                sub.mkdir()
                out.append(run(url, "PostgreSQL", sub, templates, args))
        elif not args.no_pg:
            print(f"PostgreSQL not reachable at {args.pg}", file=sys.stderr)
        if args.sqlite:
            sub = folder / "sqlite"
            sub.mkdir()
            out.append(run(f"sqlite:///{sub / 'volume.db'}", "SQLite", sub, templates, args))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rows = load.machine()
    if not args.no_pg:
        with contextlib.suppress(Exception):
            rows.append(["PostgreSQL", load.pg_version(args.pg)])
    rows.append(["load average at the end", " ".join(f"{v:.2f}" for v in os.getloadavg())])
    out.append("\n### Machine\n")
    out.append(load.table(["what", "value"], rows))
    print("\n".join(out))
    print(f"\n(total {time.monotonic() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
