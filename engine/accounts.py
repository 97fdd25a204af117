"""Users, roles, groups and API tokens; passwords hashed with scrypt.

Roles say what a person may do (registrar, handler, leader, supervisor, designer, admin); groups are the
candidate groups of the diagrams and say which tasks are offered to them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from .errors import Conflict, InvalidInput
from .models import ApiToken, User

if TYPE_CHECKING:
    from .runtime import Engine

ROLES = ("registrar", "handler", "leader", "supervisor", "designer", "admin")
SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


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

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles)) or "admin" in self.roles

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(user.username, user.display_name, frozenset(user.roles), tuple(user.groups), user.unit)


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
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        username: str,
        password: str,
        *,
        display_name: str | None = None,
        roles: Sequence[str] = (),
        groups: Sequence[str] = (),
        unit: str | None = None,
    ) -> Principal:
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise InvalidInput(f"unknown roles {sorted(unknown)}", {"fields": {"roles": [f"one of {ROLES}"]}})
        if not username or len(password) < 4:
            raise InvalidInput("a user needs a name and a password of 4 characters or more")
        with self.engine.db.transaction() as session:
            if session.scalar(select(User.id).where(User.username == username)):
                raise Conflict(f"user '{username}' exists")
            user = User(
                username=username,
                display_name=display_name or username,
                password_hash=hash_password(password),
                roles=list(roles),
                groups=list(groups),
                unit=unit,
                created_at=self.engine.now(),
            )
            session.add(user)
        return Principal.of(user)

    def authenticate(self, username: str, password: str) -> Principal | None:
        with self.engine.db.reading() as session:
            user = session.scalars(
                select(User).where(User.username == username, User.active.is_(True))
            ).first()
        if user is None or not check_password(password, user.password_hash):
            return None
        return Principal.of(user)

    def get(self, username: str) -> Principal | None:
        with self.engine.db.reading() as session:
            user = session.scalars(
                select(User).where(User.username == username, User.active.is_(True))
            ).first()
        return Principal.of(user) if user else None

    def issue_token(self, username: str, name: str | None = None) -> str:
        token = secrets.token_urlsafe(32)
        with self.engine.db.transaction() as session:
            user_id = session.scalar(select(User.id).where(User.username == username))
            if user_id is None:
                raise InvalidInput(f"no user '{username}'")
            session.add(
                ApiToken(
                    token_hash=hashlib.sha256(token.encode()).hexdigest(),
                    user_id=user_id,
                    name=name,
                    created_at=self.engine.now(),
                )
            )
        return token

    def for_token(self, token: str) -> Principal | None:
        digest = hashlib.sha256(token.encode()).hexdigest()
        with self.engine.db.reading() as session:
            user = session.scalars(
                select(User)
                .join(ApiToken, ApiToken.user_id == User.id)
                .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None), User.active.is_(True))
            ).first()
        return Principal.of(user) if user else None

    def any_user(self) -> bool:
        with self.engine.db.reading() as session:
            return session.scalar(select(User.id).limit(1)) is not None

    def seed_demo(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """Create the demo office if there are no users yet; returns who was created (name, password, roles)."""
        if self.any_user():
            return []
        created = []
        for username, display, roles, groups, unit in DEMO_USERS:
            self.create(username, username, display_name=display, roles=roles, groups=groups, unit=unit)
            created.append((username, username, roles))
        return created
