"""Users, roles, groups, web sessions and API tokens; passwords hashed with scrypt; wrong logins throttled.

Roles say what a person may do (registrar, handler, leader, supervisor, designer, admin); groups are the
candidate groups of the diagrams and say which tasks are offered to them.

Everything that must hold across gunicorn workers and hosts (sessions, tokens, failed-login counts) lives in
the application database, never in a process's memory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from .db import Database
from .errors import Conflict, InvalidInput, NotFound, PetitionflowError
from .models import ApiToken, LoginFailure, User, WebSession
from .organisation import Membership, member_rows, unit_group
from .ports import Now

ROLES = ("registrar", "handler", "leader", "supervisor", "designer", "admin")
SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


_DUMMY_HASHES: dict[tuple[int, ...], str] = {}


def dummy_hash() -> str:
    """A hash at the current cost for a password nobody has: checking an unknown user name against it takes
    as long as checking a real one, so the answer's timing does not tell which user names exist."""
    cost = tuple(SCRYPT.values())
    if cost not in _DUMMY_HASHES:
        _DUMMY_HASHES[cost] = hash_password(secrets.token_urlsafe(16))
    return _DUMMY_HASHES[cost]


def digest(secret: str) -> str:
    """Session keys and tokens are stored as their SHA-256 only, so a database leak leaks no working secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


@dataclass(frozen=True)
class AuthPolicy:
    """The operator's limits for passwords, sessions, tokens and wrong logins (docs/production.md)."""

    password_min_length: int = 10
    session_idle: timedelta = timedelta(hours=8)
    session_lifetime: timedelta = timedelta(hours=24)
    token_days: int = 90
    token_max_days: int = 365
    # A few typos are normal; more than this many wrong passwords in the window look like guessing.
    login_attempts: int = 5
    # Per client address more are allowed: a whole office may sit behind one NAT address.
    address_attempts: int = 20
    login_window: timedelta = timedelta(minutes=15)

    @classmethod
    def from_env(cls) -> AuthPolicy:
        return cls(
            password_min_length=_env_int("PETITIONFLOW_PASSWORD_MIN_LENGTH", cls.password_min_length),
            session_idle=timedelta(minutes=_env_int("PETITIONFLOW_SESSION_IDLE_MINUTES", 8 * 60)),
            session_lifetime=timedelta(hours=_env_int("PETITIONFLOW_SESSION_HOURS", 24)),
            token_days=_env_int("PETITIONFLOW_TOKEN_DAYS", cls.token_days),
            token_max_days=_env_int("PETITIONFLOW_TOKEN_MAX_DAYS", cls.token_max_days),
            login_attempts=_env_int("PETITIONFLOW_LOGIN_ATTEMPTS", cls.login_attempts),
            address_attempts=_env_int("PETITIONFLOW_LOGIN_ATTEMPTS_PER_ADDRESS", cls.address_attempts),
            login_window=timedelta(minutes=_env_int("PETITIONFLOW_LOGIN_WINDOW_MINUTES", 15)),
        )


class TooManyAttempts(PetitionflowError):
    """Too many wrong passwords lately for this account or from this address; details['retryAfter'] seconds."""

    code = "too_many_attempts"


# How stale a session's seen_at may get before a request refreshes it: one write a minute, not one a request.
SEEN_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenInfo:
    """An API token as its owner sees it in the list (never the token itself)."""

    id: str
    username: str
    name: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


def token_id(token: str) -> str:
    """The public handle of a token: the start of its SHA-256, enough to list and revoke it, useless to use it."""
    return digest(token)[:16]


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), dklen=32, **SCRYPT)
    return hmac.compare_digest(candidate, base64.b64decode(digest))


@dataclass(frozen=True)
class Principal:
    """Who is acting, as the web layer and the engine see it (no database session attached)."""

    username: str
    display_name: str
    roles: frozenset[str]
    groups: tuple[str, ...]
    unit: str | None = None
    # The organisation (docs/organisation.md): the codes of the units the person is a member of, and their
    # positions as (unit code, position) pairs. ``groups`` holds unit:<code>:<position> for each of them.
    units: frozenset[str] = frozenset()
    positions: frozenset[tuple[str, str]] = frozenset()

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles)) or "admin" in self.roles

    @classmethod
    def of(cls, user: User, memberships: Sequence[Membership] = ()) -> Principal:
        own = tuple(user.groups)
        held = tuple(g for g in (unit_group(m.unit_code, m.position) for m in memberships) if g not in own)
        return cls(
            user.username,
            user.display_name,
            frozenset(user.roles),
            own + held,
            user.unit,
            frozenset(m.unit_code for m in memberships),
            frozenset((m.unit_code, m.position) for m in memberships),
        )

    @classmethod
    def read(cls, session: Session, user: User) -> Principal:
        """The principal of ``user`` with their memberships, read in ``session``."""
        return cls.of(user, member_rows(session, user.username))


# The demo office a newcomer gets: one person per role and group. Their password is their username.
DEMO_USERS: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...], str | None], ...] = (
    ("registrar", "登记员 王敏", ("registrar",), ("registrar",), "区信访局"),
    ("office", "信访局 李强", ("handler",), ("petition_office",), "区信访局"),
    ("handler", "责任单位 张伟", ("handler",), ("handling_unit",), "区住房城乡建委"),
    ("conference", "联席会议办 刘洋", ("handler",), ("joint_conference",), "区信访联席会议办公室"),
    ("committee", "县委 陈静", ("handler",), ("county_committee",), "区委"),
    ("leader", "包案领导 赵刚", ("leader",), ("leader",), "区政府"),
    ("hearing", "听证员 孙丽", ("handler",), ("hearing_officer",), "区信访局"),
    ("reviewer", "复查复核 周涛", ("handler",), ("reviewer",), "市信访局"),
    ("supervisor", "督查督办 吴芳", ("supervisor",), ("supervisor",), "区信访局"),
    ("designer", "流程设计 郑浩", ("designer",), (), None),
    ("admin", "系统管理员", ("admin",), (), None),
)


class Accounts:
    def __init__(self, db: Database, now: Now) -> None:
        self.db = db
        self.now = now
        self.policy = AuthPolicy.from_env()

    # -- users -------------------------------------------------------------------------------------------
    def check_password_policy(self, password: str, field: str = "password") -> None:
        """Refuse a password too short to resist guessing; ``field`` names it as the caller sent it."""
        minimum = self.policy.password_min_length
        if len(password) < minimum:
            raise InvalidInput(
                f"密码（{field}）太短：至少需要 {minimum} 个字符",
                {"fields": {field: [f"至少需要 {minimum} 个字符"]}},
            )

    def create(
        self,
        username: str,
        password: str,
        *,
        display_name: str | None = None,
        roles: Sequence[str] = (),
        groups: Sequence[str] = (),
        unit: str | None = None,
        demo: bool = False,
    ) -> Principal:
        """A new user. ``demo``: the demo office's rule (password = user name, no minimum length), for
        `petitionflow demo` and the tests only; the CLI's `user` command and the API never pass it."""
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise InvalidInput(f"unknown roles {sorted(unknown)}", {"fields": {"roles": [f"one of {ROLES}"]}})
        if not username:
            raise InvalidInput("用户名（username）不能为空", {"fields": {"username": ["不能为空"]}})
        if not demo:
            self.check_password_policy(password)
        with self.db.transaction() as session:
            if session.scalar(select(User.id).where(User.username == username)):
                raise Conflict(f"user '{username}' exists")
            user = User(
                username=username,
                display_name=display_name or username,
                password_hash=hash_password(password),
                roles=list(roles),
                groups=list(groups),
                unit=unit,
                created_at=self.now(),
            )
            session.add(user)
            session.flush()
            return Principal.read(session, user)

    def set_password(self, username: str, password: str) -> None:
        """A new password; every session and token of the user ends (whoever knew the old one is out)."""
        self.check_password_policy(password)
        with self.db.transaction() as session:
            user = self._user(session, username)
            user.password_hash = hash_password(password)
            self._end_access(session, user.id)

    def disable(self, username: str) -> None:
        """The user can no longer sign in; their sessions and tokens end now."""
        with self.db.transaction() as session:
            user = self._user(session, username)
            user.active = False
            self._end_access(session, user.id)

    def _user(self, session: Session, username: str) -> User:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"没有用户 {username}", {"username": username})
        return user

    def _end_access(self, session: Session, user_id: int) -> None:
        session.execute(delete(WebSession).where(WebSession.user_id == user_id))
        session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=self.now())
        )

    def authenticate(self, username: str, password: str, address: str | None = None) -> Principal | None:
        """The user if the password is right, else None; raises TooManyAttempts while the account or the
        client ``address`` has had too many wrong passwords lately. That check comes before the hash, so a
        flood of guesses costs one indexed read each and no CPU."""
        now = self.now()
        keys = {f"user:{username[:150]}": self.policy.login_attempts}
        if address:
            keys[f"addr:{address[:150]}"] = self.policy.address_attempts
        since = now - self.policy.login_window
        with self.db.reading() as session:
            counts = {
                key: (count, first)
                for key, count, first in session.execute(
                    select(LoginFailure.key, func.count(), func.min(LoginFailure.at))
                    .where(LoginFailure.key.in_(keys), LoginFailure.at > since)
                    .group_by(LoginFailure.key)
                )
            }
            for key, (count, first) in counts.items():
                if count >= keys[key]:
                    wait = max(1, math.ceil((first + self.policy.login_window - now).total_seconds()))
                    raise TooManyAttempts("密码错误次数过多，请稍后再试", {"retryAfter": wait})
            user = session.scalars(
                select(User).where(User.username == username, User.active.is_(True))
            ).first()
        # An unknown name is checked against a dummy hash of the same cost: both answers take as long.
        if not check_password(password, user.password_hash if user else dummy_hash()):
            with self.db.transaction() as session:
                # Failures older than the window count for nothing: the table only holds the last window's.
                session.execute(delete(LoginFailure).where(LoginFailure.at <= since))
                session.add_all(LoginFailure(key=key, at=now) for key in keys)
            return None
        own = next(iter(keys))
        if own in counts:  # only after failures: a good login stays free of writes
            with self.db.transaction() as session:
                session.execute(delete(LoginFailure).where(LoginFailure.key == own))
        return self.get(username) if user else None

    def get(self, username: str) -> Principal | None:
        with self.db.reading() as session:
            user = session.scalars(
                select(User).where(User.username == username, User.active.is_(True))
            ).first()
            return Principal.read(session, user) if user else None

    # -- web sessions ------------------------------------------------------------------------------------
    def open_session(self, username: str) -> str:
        """A new session for a signed-in browser; returns the key its cookie carries."""
        key = secrets.token_urlsafe(32)
        now = self.now()
        with self.db.transaction() as session:
            user = self._user(session, username)
            # Ended sessions of this user go now, so the table only holds live ones and a few stale ones.
            session.execute(
                delete(WebSession).where(
                    WebSession.user_id == user.id,
                    (WebSession.created_at <= now - self.policy.session_lifetime)
                    | (WebSession.seen_at <= now - self.policy.session_idle),
                )
            )
            session.add(WebSession(key_hash=digest(key), user_id=user.id, created_at=now, seen_at=now))
        return key

    def for_session(self, key: str) -> Principal | None:
        """The user of a live session: one read by primary key (a write at most once a minute)."""
        now = self.now()
        with self.db.reading() as session:
            row = session.execute(
                select(WebSession.created_at, WebSession.seen_at, User)
                .join(User, User.id == WebSession.user_id)
                .where(WebSession.key_hash == digest(key), User.active.is_(True))
            ).first()
            if row is None:
                return None
            created_at, seen_at, user = row
            if created_at + self.policy.session_lifetime <= now or seen_at + self.policy.session_idle <= now:
                return None
            principal = Principal.read(session, user)
        if now - seen_at >= SEEN_RESOLUTION:
            with self.db.transaction() as session:
                session.execute(
                    update(WebSession).where(WebSession.key_hash == digest(key)).values(seen_at=now)
                )
        return principal

    def close_session(self, key: str) -> None:
        with self.db.transaction() as session:
            session.execute(delete(WebSession).where(WebSession.key_hash == digest(key)))

    # -- API tokens --------------------------------------------------------------------------------------
    def issue_token(self, username: str, name: str | None = None, days: int | None = None) -> str:
        """A new bearer token acting as ``username`` for ``days`` (default and maximum from the policy)."""
        lifetime = self.policy.token_days if days is None else days
        if not 1 <= lifetime <= self.policy.token_max_days:
            raise InvalidInput(
                f"有效天数（days）须在 1 到 {self.policy.token_max_days} 之间",
                {"fields": {"days": [f"须在 1 到 {self.policy.token_max_days} 之间"]}},
            )
        token = secrets.token_urlsafe(32)
        now = self.now()
        with self.db.transaction() as session:
            user_id = session.scalar(select(User.id).where(User.username == username))
            if user_id is None:
                raise InvalidInput(f"no user '{username}'")
            session.add(
                ApiToken(
                    token_hash=digest(token),
                    user_id=user_id,
                    name=name,
                    created_at=now,
                    expires_at=now + timedelta(days=lifetime),
                )
            )
        return token

    def for_token(self, token: str) -> Principal | None:
        with self.db.reading() as session:
            user = session.scalars(
                select(User)
                .join(ApiToken, ApiToken.user_id == User.id)
                .where(
                    ApiToken.token_hash == digest(token),
                    ApiToken.revoked_at.is_(None),
                    ApiToken.expires_at > self.now(),
                    User.active.is_(True),
                )
            ).first()
            return Principal.read(session, user) if user else None

    def tokens(self, username: str | None = None) -> list[TokenInfo]:
        """The tokens of ``username`` (everyone's when None), newest first, revoked and expired ones included."""
        query = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
        if username is not None:
            query = query.where(User.username == username)
        with self.db.reading() as session:
            rows = session.execute(query.order_by(ApiToken.created_at.desc(), ApiToken.token_hash)).all()
        return [
            TokenInfo(t.token_hash[:16], owner, t.name, t.created_at, t.expires_at, t.revoked_at)
            for t, owner in rows
        ]

    def revoke_token(self, handle: str, by: Principal) -> None:
        """Revoke the token ``handle`` (see token_id); its owner or an admin may."""
        missing = NotFound("没有这个令牌", {"token": handle})
        if len(handle) != 16:
            raise missing
        with self.db.transaction() as session:
            found = session.execute(
                select(ApiToken, User.username)
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.token_hash.startswith(handle, autoescape=True))
            ).all()
            # Someone else's token answers as an unknown one: nobody learns which handles exist.
            if len(found) != 1 or (found[0][1] != by.username and "admin" not in by.roles):
                raise missing
            token = found[0][0]
            if token.revoked_at is None:
                token.revoked_at = self.now()

    def any_user(self) -> bool:
        with self.db.reading() as session:
            return session.scalar(select(User.id).limit(1)) is not None

    def seed_demo(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """Create the demo office if there are no users yet; returns who was created (name, password, roles)."""
        if self.any_user():
            return []
        created = []
        for username, display, roles, groups, unit in DEMO_USERS:
            self.create(
                username, username, display_name=display, roles=roles, groups=groups, unit=unit, demo=True
            )
            created.append((username, username, roles))
        return created
