"""Loading and editing the organisation: the YAML file (docs/organisation.md), units, people, memberships.

A file is checked whole before anything is written, and every change is an audit event (instance
``organisation`` in the audit log, kinds ``org.*``), written in the same transaction as the change.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from .accounts import ROLES, Accounts, hash_password
from .db import Database
from .errors import Conflict, InvalidInput, NotFound
from .models import AuditEvent, OrgUnit, UnitMember, User
from .organisation import KINDS, LEVELS, POSITIONS, RANKS, Membership, Unit
from .ports import Now

AUDIT_INSTANCE = "organisation"
# The account roles a person gets from their positions when the file names none.
POSITION_ROLES = {
    "head": "leader",
    "deputy_head": "leader",
    "handler": "handler",
    "petition_officer": "handler",
    "inspector": "handler",
}


@dataclass(frozen=True)
class UnitSpec:
    code: str
    name: str
    level: str
    kind: str
    parent: str | None = None
    review_organ: str | None = None
    where: str = ""

    def row(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "parent_code": self.parent,
            "level": self.level,
            "kind": self.kind,
            "review_organ_code": self.review_organ or self.parent,
        }


@dataclass(frozen=True)
class PersonSpec:
    login: str
    name: str
    memberships: tuple[Membership, ...] = ()
    roles: tuple[str, ...] | None = None
    groups: tuple[str, ...] = ()
    where: str = ""

    def account_roles(self) -> list[str]:
        if self.roles is not None:
            return list(self.roles)
        return sorted({POSITION_ROLES[m.position] for m in self.memberships})


@dataclass
class OrgDocument:
    units: list[UnitSpec] = field(default_factory=list)
    people: list[PersonSpec] = field(default_factory=list)


def _text(
    entry: Mapping[str, Any], key: str, where: str, problems: list[str], *, required: bool = True
) -> Any:
    value = entry.get(key)
    if value is None or value == "":
        if required:
            problems.append(f"{where}：缺少 {key}")
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        problems.append(f"{where}：{key} 应为文字")
        return None
    return str(value).strip()


def _lines(text: str) -> dict[tuple[str, int], int]:
    """The line of each entry of the units and people lists, for messages."""
    lines: dict[tuple[str, int], int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if isinstance(value, yaml.SequenceNode):
                for i, item in enumerate(value.value):
                    lines[(key.value, i)] = item.start_mark.line + 1
    return lines


def _entries(
    data: Mapping[str, Any], name: str, id_key: str, lines: Mapping[tuple[str, int], int], problems: list[str]
) -> Iterator[tuple[Mapping[str, Any], str | None, str]]:
    """Each mapping of the list ``name`` with its identifying value and where it is (line, index, id)."""
    for i, entry in enumerate(data.get(name) or []):
        where = f"第 {lines.get((name, i), '?')} 行 {name}[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}：应为键值对")
            continue
        ident = _text(entry, id_key, where, problems)
        yield entry, ident, f"{where}（{ident}）" if ident else where


def parse_document(text: str) -> OrgDocument:
    """The document in ``text``; InvalidInput listing every problem (with its line and entry) otherwise."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列" if mark else "文件中"
        message = f"{where}：不是有效的 YAML（缩进、括号或引号有误）"
        raise InvalidInput(f"组织机构文件有误：{message}", {"problems": [message]}) from error
    if not isinstance(data, dict) or not isinstance(data.get("units", []), list):
        raise InvalidInput("组织机构文件应包含 units 列表和 people 列表", {"problems": ["units, people"]})
    lines = _lines(text)
    problems: list[str] = []
    document = OrgDocument()
    for entry, code, where in _entries(data, "units", "code", lines, problems):
        unknown = set(entry) - {"code", "name", "parent", "level", "kind", "review_organ"}
        if unknown:
            problems.append(f"{where}：不认识的项 {', '.join(sorted(unknown))}")
        spec = UnitSpec(
            code=code or "",
            name=_text(entry, "name", where, problems) or "",
            level=_text(entry, "level", where, problems) or "",
            kind=_text(entry, "kind", where, problems) or "",
            parent=_text(entry, "parent", where, problems, required=False),
            review_organ=_text(entry, "review_organ", where, problems, required=False),
            where=where,
        )
        document.units.append(spec)
    for entry, login, where in _entries(data, "people", "login", lines, problems):
        memberships = []
        for j, m in enumerate(entry.get("memberships") or []):
            at = f"{where} memberships[{j}]"
            if not isinstance(m, dict):
                problems.append(f"{at}：应为键值对")
                continue
            rank = m.get("rank")
            if rank is not None and rank not in RANKS:
                problems.append(f"{at}：级别 rank 应为 {min(RANKS)} 到 {max(RANKS)} 的整数")
                rank = None
            memberships.append(
                Membership(
                    login or "",
                    _text(m, "unit", at, problems) or "",
                    _text(m, "position", at, problems) or "",
                    rank,
                )
            )
        roles = entry.get("roles")
        groups = entry.get("groups") or []
        if roles is not None and not (isinstance(roles, list) and all(isinstance(r, str) for r in roles)):
            problems.append(f"{where}：roles 应为列表")
            roles = None
        if not (isinstance(groups, list) and all(isinstance(g, str) for g in groups)):
            problems.append(f"{where}：groups 应为列表")
            groups = []
        document.people.append(
            PersonSpec(
                login or "",
                _text(entry, "name", where, problems, required=False) or login or "",
                tuple(memberships),
                tuple(roles) if roles is not None else None,
                tuple(groups),
                where,
            )
        )
    if problems:
        raise InvalidInput("组织机构文件有误：" + "；".join(problems), {"problems": problems})
    return document


def check_units(
    specs: Sequence[UnitSpec], existing: Mapping[str, tuple[str | None, str | None]]
) -> list[str]:
    """Problems of ``specs`` over the ``existing`` units (code -> (parent, review organ)): unknown level, kind,
    parent or review organ, duplicate codes, cycles."""
    problems: list[str] = []
    seen: set[str] = set()
    for spec in specs:
        if spec.code in seen:
            problems.append(f"{spec.where}：单位代码 {spec.code} 重复")
        seen.add(spec.code)
        if spec.level not in LEVELS:
            problems.append(f"{spec.where}：层级 {spec.level} 不是 {', '.join(LEVELS)} 之一")
        if spec.kind not in KINDS:
            problems.append(f"{spec.where}：类别 {spec.kind} 不是 {', '.join(KINDS)} 之一")
    tree = {code: parent for code, (parent, _) in existing.items()}
    tree.update({s.code: s.parent for s in specs})
    for spec in specs:
        for name, ref in (("上级单位 parent", spec.parent), ("上一级机关 review_organ", spec.review_organ)):
            if ref is not None and ref not in tree:
                problems.append(f"{spec.where}：{name} {ref} 不存在")
    for spec in specs:
        walked, at = {spec.code}, tree.get(spec.code)
        while at is not None and at in tree:
            if at in walked:
                problems.append(f"{spec.where}：上级关系成环（经过 {at}）")
                break
            walked.add(at)
            at = tree[at]
    return problems


def check_people(people: Sequence[PersonSpec], units: Iterable[str]) -> list[str]:
    known = set(units)
    problems: list[str] = []
    seen: set[str] = set()
    for person in people:
        if person.login in seen:
            problems.append(f"{person.where}：账号 {person.login} 重复")
        seen.add(person.login)
        for role in person.roles or ():
            if role not in ROLES:
                problems.append(f"{person.where}：角色 {role} 不是 {', '.join(ROLES)} 之一")
        for m in person.memberships:
            if m.unit_code not in known:
                problems.append(f"{person.where}：单位 {m.unit_code} 不存在")
            if m.position not in POSITIONS:
                problems.append(f"{person.where}：职务 {m.position} 不是 {', '.join(POSITIONS)} 之一")
    return problems


@dataclass(frozen=True)
class LoadReport:
    units_created: int
    units_updated: int
    people_created: int
    memberships_added: int

    def format(self) -> str:
        return (
            f"单位：新增 {self.units_created}，更新 {self.units_updated}；"
            f"人员账号：新增 {self.people_created}；任职：新增 {self.memberships_added}"
        )


class OrgAdmin:
    """Writes to the organisation, each audited in its own transaction."""

    def __init__(self, db: Database, now: Now) -> None:
        self.db = db
        self.now = now

    def audit(self, session: Session, kind: str, actor: str | None, data: dict[str, Any]) -> None:
        """An ``org.*`` audit event in ``session``'s transaction."""
        session.execute(
            insert(AuditEvent),
            [{"instance_id": AUDIT_INSTANCE, "kind": kind, "actor": actor, "at": self.now(), "data": data}],
        )

    @staticmethod
    def _existing(session: Session) -> dict[str, tuple[str | None, str | None]]:
        rows = session.execute(select(OrgUnit.code, OrgUnit.parent_code, OrgUnit.review_organ_code))
        return {code: (parent, organ) for code, parent, organ in rows}

    # -- the file ------------------------------------------------------------------------------------------
    def load(
        self, document: OrgDocument, actor: str | None, *, accounts: bool = True, demo: bool = False
    ) -> LoadReport:
        """Write ``document``: units created or updated, people's accounts created (``accounts``; password =
        login for ``demo``, else unusable until set), memberships added. All or nothing."""
        with self.db.transaction() as session:
            existing = self._existing(session)
            problems = check_units(document.units, existing)
            problems += check_people(document.people, set(existing) | {u.code for u in document.units})
            if problems:
                raise InvalidInput("组织机构文件有误：" + "；".join(problems), {"problems": problems})
            created = updated = 0
            for spec in document.units:
                row = session.get(OrgUnit, spec.code)
                values = spec.row()
                if row is None:
                    session.add(OrgUnit(**values))
                    self.audit(session, "org.unit.created", actor, values)
                    created += 1
                elif any(getattr(row, k) != v for k, v in values.items()):
                    for k, v in values.items():
                        setattr(row, k, v)
                    self.audit(session, "org.unit.updated", actor, values)
                    updated += 1
            people = self._load_people(session, document.people, actor, accounts=accounts, demo=demo)
            added = 0
            held = {
                (r.login, r.unit_code, r.position)
                for r in session.scalars(
                    select(UnitMember).where(UnitMember.login.in_([p.login for p in document.people]))
                )
            }
            for person in document.people:
                for m in person.memberships:
                    if (m.login, m.unit_code, m.position) not in held:
                        held.add((m.login, m.unit_code, m.position))
                        session.add(
                            UnitMember(login=m.login, unit_code=m.unit_code, position=m.position, rank=m.rank)
                        )
                        self.audit(session, "org.member.added", actor, _member_data(m))
                        added += 1
        return LoadReport(created, updated, people, added)

    def _load_people(
        self, session: Session, people: Sequence[PersonSpec], actor: str | None, *, accounts: bool, demo: bool
    ) -> int:
        if not accounts:
            return 0
        have = set(session.scalars(select(User.username).where(User.username.in_([p.login for p in people]))))
        created = 0
        for person in people:
            if person.login in have:
                continue
            password = person.login if demo else secrets.token_urlsafe(24)
            unit = person.memberships[0].unit_code if person.memberships else None
            session.add(
                User(
                    username=person.login,
                    display_name=person.name,
                    password_hash=hash_password(password),
                    roles=person.account_roles(),
                    groups=list(person.groups),
                    unit=unit,
                    created_at=self.now(),
                )
            )
            self.audit(
                session,
                "org.user.created",
                actor,
                {"login": person.login, "name": person.name, "roles": person.account_roles()},
            )
            created += 1
        return created

    # -- units ---------------------------------------------------------------------------------------------
    def save_unit(self, spec: UnitSpec, actor: str | None, *, new: bool) -> Unit:
        """Create (``new``) or update a unit; moving it is an update of its parent."""
        with self.db.transaction() as session:
            existing = self._existing(session)
            if new and spec.code in existing:
                raise Conflict(f"单位代码 {spec.code} 已存在", {"unit": spec.code})
            if not new and spec.code not in existing:
                raise NotFound(f"没有单位 {spec.code}", {"unit": spec.code})
            for ref in (spec.parent, spec.review_organ):
                if ref is not None and (ref not in existing or ref == spec.code):
                    raise NotFound(f"没有单位 {ref}（上级单位或上一级机关）", {"unit": ref})
            others = {c: v for c, v in existing.items() if c != spec.code}
            problems = check_units([spec], others)
            if problems:
                # What is left is a cycle: the unit would sit below itself.
                raise Conflict("；".join(problems), {"problems": problems})
            values = spec.row()
            if new:
                session.add(OrgUnit(**values))
            else:
                row = session.get(OrgUnit, spec.code)
                for k, v in values.items():
                    setattr(row, k, v)
            self.audit(session, "org.unit.created" if new else "org.unit.updated", actor, values)
            session.flush()
            return Unit.of(session.get(OrgUnit, spec.code))

    # -- memberships ---------------------------------------------------------------------------------------
    def add_member(self, member: Membership, actor: str | None) -> None:
        if member.position not in POSITIONS:
            raise InvalidInput(
                f"职务 {member.position} 不是 {', '.join(POSITIONS)} 之一",
                {"fields": {"position": ["不认识"]}},
            )
        if member.rank is not None and member.rank not in RANKS:
            raise InvalidInput(
                f"级别 rank 应为 {min(RANKS)} 到 {max(RANKS)} 的整数", {"fields": {"rank": ["不认识"]}}
            )
        with self.db.transaction() as session:
            if session.get(OrgUnit, member.unit_code) is None:
                raise NotFound(f"没有单位 {member.unit_code}", {"unit": member.unit_code})
            if session.get(UnitMember, (member.login, member.unit_code, member.position)) is not None:
                return
            session.add(
                UnitMember(
                    login=member.login, unit_code=member.unit_code, position=member.position, rank=member.rank
                )
            )
            self.audit(session, "org.member.added", actor, _member_data(member))

    def remove_member(self, login: str, unit_code: str, position: str, actor: str | None) -> None:
        with self.db.transaction() as session:
            gone = session.execute(
                delete(UnitMember).where(
                    UnitMember.login == login,
                    UnitMember.unit_code == unit_code,
                    UnitMember.position == position,
                )
            ).rowcount
            if not gone:
                raise NotFound(f"{login} 在 {unit_code} 没有职务 {position}", {"unit": unit_code})
            self.audit(
                session,
                "org.member.removed",
                actor,
                {"login": login, "unit": unit_code, "position": position},
            )


def _member_data(m: Membership) -> dict[str, Any]:
    return {"login": m.login, "unit": m.unit_code, "position": m.position, "rank": m.rank}


@dataclass(frozen=True)
class UserInfo:
    """A user as the admin page lists them (never the password hash)."""

    username: str
    display_name: str
    roles: list[str]
    groups: list[str]
    active: bool
    memberships: list[Membership]


class UserAdmin:
    """Accounts as the organisation's administrator keeps them; every change audited."""

    def __init__(self, db: Database, accounts: Accounts, org: OrgAdmin) -> None:
        self.db = db
        self.accounts = accounts
        self.org = org

    def create(
        self,
        login: str,
        password: str,
        actor: str | None,
        *,
        display_name: str,
        roles: Sequence[str],
        groups: Sequence[str],
    ) -> UserInfo:
        self.accounts.create(login, password, display_name=display_name, roles=roles, groups=groups)
        with self.db.transaction() as session:
            self.org.audit(
                session,
                "org.user.created",
                actor,
                {"login": login, "name": display_name, "roles": list(roles), "groups": list(groups)},
            )
        return self.get(login)

    def list(self, login: str | None = None) -> list[UserInfo]:
        query = select(User).order_by(User.username)
        if login is not None:
            query = query.where(User.username == login)
        with self.db.reading() as session:
            users = list(session.scalars(query))
            members: dict[str, list[Membership]] = {}
            rows = session.scalars(select(UnitMember).order_by(UnitMember.unit_code, UnitMember.position))
            for r in rows:
                members.setdefault(r.login, []).append(Membership(r.login, r.unit_code, r.position, r.rank))
        return [
            UserInfo(
                u.username,
                u.display_name,
                list(u.roles),
                list(u.groups),
                u.active,
                members.get(u.username, []),
            )
            for u in users
        ]

    def get(self, login: str) -> UserInfo:
        found = self.list(login)
        if not found:
            raise NotFound(f"没有用户 {login}", {"username": login})
        return found[0]

    def update(
        self,
        login: str,
        actor: str | None,
        *,
        display_name: str | None = None,
        roles: Sequence[str] | None = None,
        groups: Sequence[str] | None = None,
        active: bool | None = None,
        password: str | None = None,
    ) -> UserInfo:
        """Change what is given; a new password (the policy's length) ends the user's sessions and tokens."""
        if roles is not None and set(roles) - set(ROLES):
            raise InvalidInput(
                f"不认识的角色 {sorted(set(roles) - set(ROLES))}",
                {"fields": {"roles": [f"应为 {', '.join(ROLES)} 之一"]}},
            )
        changes: dict[str, Any] = {}
        with self.db.transaction() as session:
            user = session.scalars(select(User).where(User.username == login)).first()
            if user is None:
                raise NotFound(f"没有用户 {login}", {"username": login})
            for name, value in (
                ("display_name", display_name),
                ("roles", list(roles) if roles is not None else None),
                ("groups", list(groups) if groups is not None else None),
                ("active", active),
            ):
                if value is not None and getattr(user, name) != value:
                    setattr(user, name, value)
                    changes[name] = value
            if changes:
                self.org.audit(session, "org.user.updated", actor, {"login": login, **changes})
        if password is not None:
            self.accounts.set_password(login, password)
            with self.db.transaction() as session:
                self.org.audit(session, "org.user.updated", actor, {"login": login, "password": "changed"})
        return self.get(login)
