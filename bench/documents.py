# ruff: noqa: E402  (sys.path is fixed before the imports, see below)
"""Exports and notices: 10,000 petitions to .xlsx and .csv through GET /api/petitions/export, and written notices
rendered to PDF.

    python bench/documents.py [--petitions 10000] [--pg URL] [--notices 10]

1. Fills a fresh database (SQLite file, and a throw-away PostgreSQL schema when it answers) with
   ``--petitions`` petitions by bulk insert (Chinese names, subjects and a 200-character content).
2. Exports them all as a supervisor through the real API (Flask test client, the same view, service, policy
   and writer as the page's button), timing the whole response from request to last byte, for .xlsx and .csv,
   three runs each; then opens the .xlsx with openpyxl (read-only) and checks every row is there.
3. Issues ``--notices`` acceptance notices through the engine (number, render with WeasyPrint, store),
   timing each.

Prints markdown tables for bench/RESULTS.md ("Documents"); target: 10,000 petitions to .xlsx in < 10 s.
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
sys.path[:] = [_ROOT] + [p for p in sys.path if os.path.abspath(p or ".") not in (_HERE, _ROOT)]

import argparse
import base64
import io
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl
from sqlalchemy import insert

import engine.accounts
from bench.support import machine_rows, pg_schema
from engine.config import Settings
from engine.models import Petition
from engine.runtime import Engine
from webapi import create_app

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
SUBJECTS = (
    "小区夜间施工噪声扰民",
    "拖欠农民工工资",
    "物业收费标准不合理",
    "道路积水无人处理",
    "征地补偿款未到位",
)
UNITS = ("区住房城乡建委", "区人力社保局", "区规划自然资源局", "区城市管理局", "杨家坪街道")


def fill(eng: Engine, count: int) -> None:
    rng = random.Random(7)
    start = datetime(2025, 1, 2, 1, 0, tzinfo=UTC)
    rows = []
    for n in range(1, count + 1):
        received = date(2025, 1, 2) + timedelta(days=n % 600)
        rows.append(
            {
                "number": f"XF{received.year}-{n:06d}",
                "petitioner_name": rng.choice(SURNAMES) + rng.choice("伟芳娜敏静丽强磊军洋"),
                "channel": rng.choice(("letter", "visit", "web", "phone")),
                "received_at": received,
                "subject": rng.choice(SUBJECTS),
                "content": "请求：" + "依法处理相关问题并给予答复。" * 14,
                "category": rng.choice(("suggestion", "accusation", "complaint")),
                "involved_unit": rng.choice(UNITS),
                "place": "九龙坡区",
                "people_count": 1,
                "representatives": [],
                "petitioner_key": f"p{n}",
                "matter_key": f"m{n}",
                "status": rng.choice(("in_progress", "closed", "not_accepted")),
                "registered_by": "registrar",
                "registered_at": start + timedelta(minutes=n),
            }
        )
    with eng.db.transaction() as session:
        for i in range(0, len(rows), 2000):
            session.execute(insert(Petition), rows[i : i + 2000])


def export_runs(eng: Engine, count: int, runs: int = 3) -> list[list[str]]:
    engine.accounts.SCRYPT = {"n": 2**4, "r": 8, "p": 1}  # the sign-in's hash is not what is measured
    eng.accounts.create(
        "bench", "bench-password-1", display_name="统计员", roles=["supervisor"], groups=["supervisor"]
    )
    client = create_app(eng).test_client()
    auth = {"Authorization": "Basic " + base64.b64encode(b"bench:bench-password-1").decode()}
    table = []
    for fmt in ("xlsx", "csv"):
        seconds, size = [], 0
        for _ in range(runs):
            began = time.perf_counter()
            response = client.get(f"/api/petitions/export?format={fmt}", headers=auth)
            data = response.get_data()
            seconds.append(time.perf_counter() - began)
            assert response.status_code == 200, data[:300]
            size = len(data)
        check = ""
        if fmt == "xlsx":
            began = time.perf_counter()
            sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).active
            rows = sum(1 for _ in sheet.iter_rows(values_only=True)) - 1
            assert rows == count, f"{rows} rows in the .xlsx, {count} petitions"
            check = f"openpyxl reads {rows} rows in {time.perf_counter() - began:.2f} s"
        else:
            rows = data.decode("utf-8-sig").count("\r\n") - 1
            assert rows == count, f"{rows} rows in the .csv"
            check = f"{rows} rows, UTF-8 with BOM"
        table.append(
            [
                f".{fmt}",
                f"{min(seconds):.2f}",
                f"{statistics.median(seconds):.2f}",
                f"{size / 2**20:.2f} MiB",
                check,
            ]
        )
    return table


def notice_runs(eng: Engine, count: int) -> list[str]:
    petition = eng.petitions.get("XF2025-000001")
    seconds = []
    for _ in range(count):
        began = time.perf_counter()
        eng.documents.issue(petition, "acceptance", organ="区信访局", actor="bench", task=None, variables={})
        seconds.append(time.perf_counter() - began)
    return [f"{seconds[0]:.3f}", f"{statistics.median(seconds[1:] or seconds):.3f}"]


def measure(url: str, folder: Path, petitions: int, notices: int) -> tuple[list[list[str]], list[str]]:
    eng = Engine(Settings(instance_path=folder, database_url=url))
    try:
        eng.migrate()
        fill(eng, petitions)
        return export_runs(eng, petitions), notice_runs(eng, notices)
    finally:
        eng.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--petitions", type=int, default=10_000)
    parser.add_argument("--notices", type=int, default=10)
    parser.add_argument(
        "--pg",
        default=os.environ.get("PETITIONFLOW_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    results = []
    with tempfile.TemporaryDirectory() as folder:
        sqlite = f"sqlite:///{Path(folder) / 'bench.db'}"
        results.append(("SQLite", *measure(sqlite, Path(folder) / "sqlite", args.petitions, args.notices)))
        with pg_schema(args.pg) as (url, pg_version):
            if url is not None:
                results.append(
                    ("PostgreSQL", *measure(url, Path(folder) / "pg", args.petitions, args.notices))
                )
            else:
                print(pg_version)
    print(f"### Export of {args.petitions:,} petitions (GET /api/petitions/export, whole response)\n")
    print("| database | format | best s | median s | size | check |\n|---|---|---|---|---|---|")
    for name, table, _ in results:
        for row in table:
            print(f"| {name} | " + " | ".join(row) + " |")
    print(
        f"\n### Written notices (受理告知书: number, render with WeasyPrint, store; {args.notices} in a row)\n"
    )
    print("| database | first s | median of the rest s |\n|---|---|---|")
    for name, _, notice in results:
        print(f"| {name} | " + " | ".join(notice) + " |")
    print("\n### Machine\n\n| | |\n|---|---|")
    for key, value in machine_rows(pg_version, ("XlsxWriter", "openpyxl", "weasyprint"), load_before):
        print(f"| {key} | {value} |")


if __name__ == "__main__":
    main()
