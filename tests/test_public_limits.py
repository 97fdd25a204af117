"""Guessing query codes: 1,000 lookups with wrong codes, from one address and from many. The limits hold, a
wrong number and a wrong code answer alike (status, body, time), and no item is ever revealed. The attempt
counts live in the database, so processes (gunicorn workers, hosts) share them."""

from __future__ import annotations

import secrets
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta

from engine.accounts import TooManyAttempts
from engine.db import Database
from engine.public import NO_MATCH
from engine.ratelimit import Limit, RateLimiter
from engine.runtime import Engine
from tests.api_helpers import Api
from tests.public_helpers import ONLINE, ORIGIN

pytest_plugins = ("tests.api_helpers",)


def ask(api: Api, number: str, code: str, address: str) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    response = api.anonymous.post(
        "/api/public/lookup",
        json={"number": number, "code": code},
        headers=ORIGIN,
        environ_base={"REMOTE_ADDR": address},
    )
    return response.status_code, response.get_data(), time.perf_counter() - started


def wrong_code(real: str) -> str:
    while (code := secrets.token_hex(5).upper()) == real:
        pass
    return code


def test_a_thousand_wrong_lookups_from_one_address_and_from_many(api: Api, deployed: Engine) -> None:
    done = api.anonymous.ok("POST", "/api/public/petitions", 201, json=ONLINE, headers=ORIGIN)
    number, code = done["number"], done["queryCode"]
    limits = deployed.public.limits
    answers: dict[tuple[int, bytes], int] = {}

    def tally(status: int, body: bytes) -> None:
        answers[(status, body)] = answers.get((status, body), 0) + 1

    # 400 from one address: half at the real number with wrong codes, half at numbers that do not exist.
    one = [
        ask(api, number if i % 2 else f"XF2026-{900000 + i}", wrong_code(code), "203.0.113.7")
        for i in range(400)
    ]
    for status, body, _ in one:
        tally(status, body)
    assert [s for s, _, _ in one[: limits.per_address.attempts]] == [404] * limits.per_address.attempts
    assert {s for s, _, _ in one[limits.per_address.attempts :]} == {429}
    # The limit holds for the right code too: the address has to wait.
    assert ask(api, number, code, "203.0.113.7")[0] == 429

    # 400 from as many addresses at the real number: its own limit holds, whoever asks (the attempts at it
    # the first address made before it was stopped count too).
    left = limits.per_item.attempts - sum(1 for i in range(limits.per_address.attempts) if i % 2)
    many = [ask(api, number, wrong_code(code), f"198.51.{i // 250}.{i % 250}") for i in range(400)]
    for status, body, _ in many:
        tally(status, body)
    assert [s for s, _, _ in many[:left]] == [404] * left
    assert {s for s, _, _ in many[left:]} == {429}
    assert ask(api, number, code, "198.51.100.1")[0] == 429

    # 200 from as many addresses at numbers that do not exist: each a plain "no match", never a hint.
    spread = [ask(api, f"XF2026-{800000 + i}", wrong_code(code), f"192.0.2.{i}") for i in range(200)]
    for status, body, _ in spread:
        tally(status, body)
    assert {s for s, _, _ in spread} == {404}

    # Two answers in all: one "no match", one "too many attempts"; neither names an item or a person.
    assert sum(answers.values()) == 1000
    assert {status for status, _ in answers} == {404, 429}
    assert len(answers) == 2, answers.keys()
    for _, body in answers:
        text = body.decode()
        assert number not in text and ONLINE["subject"] not in text and ONLINE["petitionerName"] not in text
    assert NO_MATCH in next(body.decode() for status, body in answers if status == 404)


def test_a_wrong_number_takes_as_long_as_a_wrong_code(api: Api, deployed: Engine) -> None:
    number = api.anonymous.ok("POST", "/api/public/petitions", 201, json=ONLINE, headers=ORIGIN)["number"]
    code_times, number_times = [], []
    for i in range(15):
        code_times.append(ask(api, number, wrong_code(""), f"10.1.0.{i}")[2])
        number_times.append(ask(api, f"XF2026-{700000 + i}", wrong_code(""), f"10.2.0.{i}")[2])
    ratio = statistics.median(number_times) / statistics.median(code_times)
    # Both hash the typed code once (PBKDF2, tens of milliseconds); the lookups themselves are index reads.
    assert 0.5 < ratio < 2.0, (statistics.median(code_times), statistics.median(number_times))


def _hits(url: str, moment: datetime, count: int) -> int:
    """One worker process: ``count`` attempts at one key; returns how many were let through."""
    database = Database(url)
    limiter = RateLimiter(database, lambda: moment)
    allowed = 0
    for _ in range(count):
        try:
            limiter.hit(Limit("shared", 100, timedelta(minutes=10)), "XF2026-000001")
            allowed += 1
        except TooManyAttempts:
            pass
    database.dispose()
    return allowed


def test_four_processes_share_one_count(deployed: Engine, database_url: str) -> None:
    """What Flask-Limiter's memory storage cannot do: four workers, 60 attempts each, limit 100."""
    moment = datetime(2026, 11, 2, 9, tzinfo=UTC)
    with ProcessPoolExecutor(4) as pool:
        allowed = list(pool.map(_hits, [database_url] * 4, [moment] * 4, [60] * 4))
    assert sum(allowed) == 100
    # A window that has ended starts again, and the purge forgets it.
    later = RateLimiter(deployed.db, lambda: moment + timedelta(minutes=11))
    later.hit(Limit("shared", 100, timedelta(minutes=10)), "XF2026-000001")
    assert RateLimiter(deployed.db, lambda: moment + timedelta(minutes=30)).purge() == 1
