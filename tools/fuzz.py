"""The full-size fuzz run of tests/test_fuzz.py: every hostile value in every field of every route (about
18,000 requests, and every other one again without signing in) plus schemathesis with every check and many
examples per operation. Prints how many requests were answered and how many of them with a 5xx.

    .venv/bin/python tools/fuzz.py                       # SQLite
    .venv/bin/python tools/fuzz.py --backend postgresql  # needs 127.0.0.1:5432, like the tests
    .venv/bin/python tools/fuzz.py --examples 100        # schemathesis examples per operation (default 50)
    .venv/bin/python tools/fuzz.py --calls 1000          # a slice of the hostile calls instead of all
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


class AnswerCounter:
    """A pytest plugin counting every answer the app gives during the run, and the 5xx among them."""

    def __init__(self) -> None:
        self.answers: Counter[str] = Counter()  # by test: the hostile calls, schemathesis
        self.server_errors: list[str] = []

    @pytest.fixture(autouse=True)
    def _count_answers(self, app: Flask, request: pytest.FixtureRequest) -> Iterator[None]:
        inner = app.wsgi_app
        test = request.node.originalname

        def counting(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                self.answers[test] += 1
                if status.startswith("5"):
                    self.server_errors.append(
                        f"{environ['REQUEST_METHOD']} {environ['PATH_INFO'][:120]} {status}"
                    )
                return start_response(status, headers, exc_info)

            return inner(environ, start)

        app.wsgi_app = counting  # type: ignore[method-assign]
        yield


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--examples", type=int, default=50, help="schemathesis examples per operation")
    parser.add_argument("--calls", type=int, default=10**9, help="hostile calls to send (default: all)")
    args = parser.parse_args()
    os.environ["PETITIONFLOW_FUZZ_CALLS"] = str(args.calls)
    os.environ["PETITIONFLOW_FUZZ_EXAMPLES"] = str(args.examples)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    counter = AnswerCounter()
    started = time.monotonic()
    code = pytest.main(
        ["-q", "-p", "no:cacheprovider", "tests/test_fuzz.py", "-k", args.backend], plugins=[counter]
    )
    minutes = (time.monotonic() - started) / 60
    print(f"\nbackend {args.backend}: {counter.answers.total()} requests answered in {minutes:.1f} min")
    for test, answers in sorted(counter.answers.items()):
        print(f"  {test}: {answers}")
    print(f"5xx answers: {len(counter.server_errors)}")
    for line in counter.server_errors[:20]:
        print(f"  {line}")
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
