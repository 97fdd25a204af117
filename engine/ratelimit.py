"""Attempt limits shared by every worker and host: one row per key in the application database.

Flask-Limiter keeps its counters in memory (one count per worker, so four workers let four times the limit
through) or in Redis or memcached, which this service does not otherwise need. A fixed window per key in the
database the workers already share holds exactly: one upsert per check, counted under the row's own lock.
Keys are hashed before they are stored, so the table holds no client address and no item number.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import case, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .accounts import TooManyAttempts
from .db import Database
from .models import RateLimit
from .ports import Now

TOO_MANY = "尝试次数过多，请稍后再试"
# Counts stop here: far above any limit, and a sum with one more weight (at most this) stays a 32-bit integer.
CEILING = 2**30


@dataclass(frozen=True)
class Limit:
    """At most ``attempts`` per ``window`` for each value (an address, an item number) of ``scope``; an
    attempt may weigh more than one (the bytes of an upload). ``message`` is what a refusal says."""

    scope: str
    attempts: int
    window: timedelta
    message: str = TOO_MANY


class RateLimiter:
    def __init__(self, db: Database, now: Now) -> None:
        self.db = db
        self.now = now

    @staticmethod
    def _key(scope: str, value: str) -> str:
        return f"{scope}:{hashlib.sha256(value.encode()).hexdigest()[:48]}"

    def hit(self, limit: Limit, value: str, weight: int = 1) -> None:
        """Count an attempt of ``weight`` for ``value``; raises TooManyAttempts (details: retryAfter seconds)
        once the window would hold more than ``limit.attempts``. A refused attempt counts too, so hammering
        on does not reopen the window early."""
        weight = min(max(weight, 1), CEILING)
        now = self.now()
        expires = now + limit.window
        insert = sqlite_insert if self.db.is_sqlite else pg_insert
        lapsed = RateLimit.expires_at <= now
        statement = insert(RateLimit).values(
            key=self._key(limit.scope, value), hits=weight, expires_at=expires
        )
        statement = statement.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "hits": case(
                    (lapsed, weight),
                    (RateLimit.hits >= CEILING - weight, CEILING),
                    else_=RateLimit.hits + weight,
                ),
                "expires_at": case((lapsed, statement.excluded.expires_at), else_=RateLimit.expires_at),
            },
        ).returning(RateLimit.hits, RateLimit.expires_at)
        with self.db.transaction() as session:
            hits, until = session.execute(statement).one()
        if hits > limit.attempts:
            wait = max(1, math.ceil((until - now).total_seconds()))
            raise TooManyAttempts(limit.message, {"retryAfter": wait})

    def purge(self) -> int:
        """Forget windows that have ended (the scheduler's daily pass); returns how many rows went."""
        with self.db.transaction() as session:
            return session.execute(delete(RateLimit).where(RateLimit.expires_at <= self.now())).rowcount or 0
