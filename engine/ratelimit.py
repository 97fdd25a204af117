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


@dataclass(frozen=True)
class Limit:
    """At most ``attempts`` per ``window`` for each value (an address, an item number) of ``scope``."""

    scope: str
    attempts: int
    window: timedelta


class RateLimiter:
    def __init__(self, db: Database, now: Now) -> None:
        self.db = db
        self.now = now

    @staticmethod
    def _key(scope: str, value: str) -> str:
        return f"{scope}:{hashlib.sha256(value.encode()).hexdigest()[:48]}"

    def hit(self, limit: Limit, value: str) -> None:
        """Count one attempt for ``value``; raises TooManyAttempts (details: retryAfter seconds) once
        the window already holds ``limit.attempts`` of them. A refused attempt counts too, so hammering on
        does not reopen the window early."""
        now = self.now()
        expires = now + limit.window
        insert = sqlite_insert if self.db.is_sqlite else pg_insert
        lapsed = RateLimit.expires_at <= now
        statement = insert(RateLimit).values(key=self._key(limit.scope, value), hits=1, expires_at=expires)
        statement = statement.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "hits": case((lapsed, 1), else_=RateLimit.hits + 1),
                "expires_at": case((lapsed, statement.excluded.expires_at), else_=RateLimit.expires_at),
            },
        ).returning(RateLimit.hits, RateLimit.expires_at)
        with self.db.transaction() as session:
            hits, until = session.execute(statement).one()
        if hits > limit.attempts:
            wait = max(1, math.ceil((until - now).total_seconds()))
            raise TooManyAttempts("尝试次数过多，请稍后再试", {"retryAfter": wait})

    def purge(self) -> int:
        """Forget windows that have ended (the scheduler's daily pass); returns how many rows went."""
        with self.db.transaction() as session:
            return session.execute(delete(RateLimit).where(RateLimit.expires_at <= self.now())).rowcount or 0
