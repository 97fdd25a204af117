# ruff: noqa: E402  (sys.path is fixed before the imports, see below)
"""The whole demo loaded at every hour of the days the demo must load on, and what missed its state.

    python bench/demo_sweep.py [--days 2026-12-07,2026-12-05,2026-02-24,2026-12-31] [--hours 0-23]
                               [--minute 31] [--count N]

For each day (Beijing) and hour, a fresh in-memory SQLite database gets the shipped workflows and forms and
``load_demo`` runs on a clock frozen at that instant with every scenario (``--count``: default one petition
per scenario). Prints one line per instant (load seconds, the scenarios that missed their state and why) and
then the figures: instants loaded, instants with a miss, load seconds p50/max. tests/test_demo.py checks where
every scenario is placed at all these instants and loads in full at one hour of each day; this is the full
run behind it (about 15 s per instant on a 2-core machine, so 96 instants take about 25 minutes).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import warnings
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.calendar import StatutoryCalendar
from engine.clock import Clock, FrozenClock, install
from engine.config import Settings
from engine.definitions import read_files
from engine.demo import SCENARIOS, load_demo
from engine.runtime import Engine

DAYS = "2026-12-07,2026-12-05,2026-02-24,2026-12-31"  # a Monday, a Saturday, after 春节, New Year's Eve


def hours(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", default=DAYS)
    parser.add_argument("--hours", type=hours, default=hours("0-23"))
    parser.add_argument("--minute", type=int, default=31)
    parser.add_argument("--count", type=int, default=len(SCENARIOS))
    args = parser.parse_args()
    # 2027 has no holiday data yet: the calendar's warning would repeat for every instant of 31 December.
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    files = read_files([ROOT / "workflows", ROOT / "forms"])
    tz = StatutoryCalendar().tz
    seconds: list[float] = []
    missed = 0
    for day in (date.fromisoformat(d) for d in args.days.split(",")):
        for hour in args.hours:
            at = datetime(day.year, day.month, day.day, hour, args.minute, tzinfo=tz)
            settings = Settings(instance_path=ROOT / "instance", database_url="sqlite://")
            engine = Engine(settings, clock=FrozenClock(at.astimezone(UTC)))
            engine.migrate()
            engine.deploy(files, name="demo sweep")
            report = load_demo(engine, count=args.count)
            engine.db.dispose()
            seconds.append(report.seconds)
            misses = [f"{p.scenario}: {p.error or '-'}" for p in report.failures]
            missed += bool(misses)
            print(f"{at:%Y-%m-%d %a %H:%M}  {report.seconds:5.1f} s  {'; '.join(misses) or 'ok'}", flush=True)
    install(Clock())
    print(
        f"\n{len(seconds)} instants, {missed} with a scenario that missed its state; "
        f"load p50 {statistics.median(seconds):.1f} s, max {max(seconds):.1f} s ({args.count} petitions)"
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
