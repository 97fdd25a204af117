# ruff: noqa: E402  (sys.path is fixed before the imports, see below)
"""Cost of the safe evaluator: conditions as the shipped diagrams write them, and the size bombs it refuses.

    python bench/expressions.py [--runs N]

Prints CPU microseconds per evaluation (best of 10 batches) for typical gateway conditions, and CPU
milliseconds to refuse each size bomb at deploy or stop it at run time (CPU time: the machine is shared).
Conditions run on every task completion, so their cost is part of complete-a-task p50 (bench/engine.py);
the bombs must end in milliseconds, not minutes.
"""

from __future__ import annotations

import os
import sys

# Run as a script, this file's folder comes first on sys.path; keep the engine package the one measured.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse
import time
import timeit
from typing import Any

from engine.expressions import ExpressionError, compile_expression

CONDITIONS: list[tuple[str, dict[str, Any]]] = [
    ("${extensionApproved}", {"extensionApproved": True}),
    ("${rating == 'dissatisfied'}", {"rating": "satisfied"}),
    ("${score >= 3}", {"score": 4}),
    (
        "${ordinaryHandlingMatter && hasConcreteRequest && withinOriginalScope && notAlreadyAccepted && filedInTime}",
        dict.fromkeys(
            [
                "ordinaryHandlingMatter",
                "hasConcreteRequest",
                "withinOriginalScope",
                "notAlreadyAccepted",
                "filedInTime",
            ],
            True,
        ),
    ),
    ("${refluxCount > refluxThreshold}", {"refluxCount": 3, "refluxThreshold": 2}),
    ("${empty note || note == 'x'}", {"note": ""}),
    ("${amount * 2 + fee > 1000}", {"amount": 600, "fee": 5}),
    ("${'XF-' + number in seen}", {"number": "1", "seen": ["XF-1"]}),
]

DEPLOY_BOMBS = [
    "${[[0]*1000000]*1000000 == [[0]*1000000]*1000000}",
    "((0,)*1000000,)*1000000 in {1:2}",
    "[0] * 900000 == [0] * 900000 == [0] * 900000 == [0] * 900000 == [0] * 900000",
]

RUN_TIME_BOMBS: list[tuple[str, dict[str, Any]]] = [
    ("rows * n == rows * n", {"rows": [[0] * 1000], "n": 10**6}),
    ("x + x", {"x": list(range(600_000))}),
    ("[x, x, x] == [y, y, y]", {"x": list(range(400_000)), "y": list(range(400_000))}),
    ("a * b", {"a": 10**1000, "b": 10**1000}),
    # Near the bounds but within them: the most one evaluation may cost (3 values of ~1M items compared).
    ("[[0] * 1000] * n == [[0] * 1000] * n == [[0] * 1000] * n", {"n": 997}),
]


def _ms(action: Any) -> tuple[float, str]:
    started = time.process_time()
    try:
        action()
        outcome = "accepted"
    except ExpressionError as error:
        outcome = error.reason
    return (time.process_time() - started) * 1000, outcome


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20_000, help="evaluations per batch (default 20000)")
    args = parser.parse_args()

    print("| condition | µs per evaluation |\n|---|---|")
    for source, variables in CONDITIONS:
        expression = compile_expression(source, kind="condition")
        # CPU time, best of several batches: the machine is shared, wall time would measure the neighbours.
        timer = timeit.Timer(lambda e=expression, v=variables: e.evaluate(v), timer=time.process_time)
        best = min(timer.repeat(number=args.runs, repeat=10))
        print(f"| `{source}` | {best / args.runs * 1e6:.2f} |")

    print("\n| size bomb | where | ms | outcome |\n|---|---|---|---|")
    for source in DEPLOY_BOMBS:
        ms, outcome = _ms(lambda s=source: compile_expression(s, kind="condition"))
        print(f"| `{source}` | deploy | {ms:.1f} | {outcome} |")
    for source, variables in RUN_TIME_BOMBS:
        expression = compile_expression(source, kind="condition")
        ms, outcome = _ms(lambda e=expression, v=variables: e.evaluate(v))
        print(f"| `{source}` | run time | {ms:.1f} | {outcome} |")


if __name__ == "__main__":
    main()
