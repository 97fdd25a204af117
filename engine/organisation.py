"""The organisation: units in a tree, the people in them, and who answers for what (docs/organisation.md).

A unit has a level (省/市/县/乡镇街道/村社区), a kind (党委, 政府, 部门, 垂直管理部门, 信访部门, ...) and its
上一级机关 for 复查 (``review_organ_code``). People hold positions in units (负责人, 分管负责人, 承办人, 信访干部,
督查人员); a member holds the candidate group ``unit:<code>:<position>`` for each position, which is how the
diagrams route a step to "the handlers of the responsible unit" or "the head of the handling organ".

No Flask here; the pages and the API reach this through :mod:`engine.services`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .context import current_work
from .db import Database
from .models import OrgUnit, UnitMember
from .scripting import FunctionRegistry

LEVELS = ("province", "city", "county", "township", "village")
KINDS = (
    "party_committee",
    "government",
    "department",
    "vertical_department",
    "petition_bureau",
    "joint_conference",
    "discipline",
    "political_legal",
    "court_or_channel",
)
POSITIONS = ("head", "deputy_head", "handler", "petition_officer", "inspector")
# Leaders' rank (包案领导's 级别), lowest first.
RANKS = {
    1: "乡科级副职",
    2: "乡科级正职",
    3: "县处级副职",
    4: "县处级正职",
    5: "厅局级副职",
    6: "厅局级正职",
}
LEVEL_NAMES = {"province": "省", "city": "市", "county": "县", "township": "乡镇街道", "village": "村社区"}
KIND_NAMES = {
    "party_committee": "党委",
    "government": "政府",
    "department": "政府工作部门",
    "vertical_department": "垂直管理部门",
    "petition_bureau": "信访部门",
    "joint_conference": "联席会议办公室",
    "discipline": "纪检监察机关",
    "political_legal": "政法委",
    "court_or_channel": "法院或其他法定途径",
}
POSITION_NAMES = {
    "head": "负责人",
    "deputy_head": "分管负责人",
    "handler": "承办人",
    "petition_officer": "信访干部",
    "inspector": "督查人员",
}
# Positions that oversee a unit and the units below it (jurisdiction, docs/organisation.md).
LEADING_POSITIONS = ("head", "deputy_head", "inspector")

UNIT_GROUP_PREFIX = "unit:"


def unit_group(code: str, position: str) -> str:
    """The candidate group of ``position`` in unit ``code``: ``unit:<code>:<position>``."""
    return f"{UNIT_GROUP_PREFIX}{code}:{position}"


def parse_unit_group(group: str) -> tuple[str, str] | None:
    """(code, position) of a unit group, None for any other group (a county-wide group like registrar)."""
    if not group.startswith(UNIT_GROUP_PREFIX):
        return None
    code, _, position = group[len(UNIT_GROUP_PREFIX) :].rpartition(":")
    return (code, position) if code and position else None


def unit_of_groups(groups: Iterable[str]) -> str | None:
    """The unit of the first unit group among ``groups``."""
    for group in groups:
        parsed = parse_unit_group(group)
        if parsed:
            return parsed[0]
    return None


@dataclass(frozen=True)
class Membership:
    login: str
    unit_code: str
    position: str
    rank: int | None = None


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    parent_code: str | None
    level: str
    kind: str
    review_organ_code: str | None

    @classmethod
    def of(cls, row: OrgUnit) -> Unit:
        return cls(row.code, row.name, row.parent_code, row.level, row.kind, row.review_organ_code)


def _membership(row: UnitMember) -> Membership:
    return Membership(row.login, row.unit_code, row.position, row.rank)


def member_rows(session: Session, login: str) -> list[Membership]:
    """``login``'s memberships, by unit code (one indexed read: the principal is built with it)."""
    rows = session.scalars(
        select(UnitMember)
        .where(UnitMember.login == login)
        .order_by(UnitMember.unit_code, UnitMember.position)
    )
    return [_membership(r) for r in rows]


def descendants(children: Mapping[str | None, list[str]], code: str) -> frozenset[str]:
    """``code`` and every unit below it in a parent -> children map."""
    found, stack = {code}, [code]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return frozenset(found)


def children_map(pairs: Iterable[tuple[str, str | None]]) -> dict[str | None, list[str]]:
    children: dict[str | None, list[str]] = {}
    for code, parent in pairs:
        children.setdefault(parent, []).append(code)
    return children


class Organisation:
    """Reads of the organisation, each in its own short read transaction (or the caller's ``session``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def unit(self, code: str, session: Session | None = None) -> Unit | None:
        if session is not None:
            row = session.get(OrgUnit, code)
            return Unit.of(row) if row else None
        with self.db.reading() as own:
            return self.unit(code, own)

    def units(self) -> list[Unit]:
        with self.db.reading() as session:
            return [Unit.of(r) for r in session.scalars(select(OrgUnit).order_by(OrgUnit.code))]

    def units_below(self, code: str) -> frozenset[str]:
        """The unit itself and every unit below it (empty if there is no such unit)."""
        with self.db.reading() as session:
            if session.get(OrgUnit, code) is None:
                return frozenset()
            pairs = session.execute(select(OrgUnit.code, OrgUnit.parent_code)).all()
        return descendants(children_map((c, p) for c, p in pairs), code)

    def memberships(self, login: str) -> list[Membership]:
        with self.db.reading() as session:
            return member_rows(session, login)

    def unit_of(self, login: str) -> str | None:
        """The person's unit: their first membership's by unit code (people normally belong to one)."""
        found = self.memberships(login)
        return found[0].unit_code if found else None

    def review_organ(self, code: str) -> str | None:
        """The unit's 上一级机关 for 复查 (None if unknown or at the top)."""
        found = self.unit(code)
        return found.review_organ_code if found else None

    def staff(self, code: str, position: str | None = None) -> list[Membership]:
        """The members of unit ``code`` (of one position if given), by position then login."""
        query = select(UnitMember).where(UnitMember.unit_code == code)
        if position is not None:
            query = query.where(UnitMember.position == position)
        with self.db.reading() as session:
            rows = session.scalars(query.order_by(UnitMember.position, UnitMember.login))
            return [_membership(r) for r in rows]


# -- routing: the diagrams' functions (Camunda 7 syntax: ${unitGroup(responsibleUnit, 'handler')}) ------------


# Expression function name -> the Routing method that gives it.
ROUTING_FUNCTIONS = {
    "unitGroup": "unit_group",
    "headOf": "head_of",
    "upperOrgan": "upper_organ",
    "countyUnit": "county_unit",
}


class RoutingError(ValueError):
    """A diagram named a unit, a position or a kind the organisation does not have."""


class Routing:
    """The functions diagrams call to name a unit role; they read the organisation in the running command's
    transaction (the unit of work in ``current_work``), else in a read of their own."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def register(self, registry: FunctionRegistry) -> None:
        for name, method in ROUTING_FUNCTIONS.items():
            registry.register(name, getattr(self, method))

    def _read(self, query: Any) -> list[Any]:
        work = current_work.get()
        if work is not None:
            with work.session.no_autoflush:
                return list(work.session.execute(query).all())
        with self.db.reading() as session:
            return list(session.execute(query).all())

    def _row(self, code: Any) -> Any:
        if not isinstance(code, str) or not code:
            raise RoutingError(f"no unit given (got {code!r})")
        rows = self._read(select(OrgUnit.code, OrgUnit.review_organ_code).where(OrgUnit.code == code))
        if not rows:
            raise RoutingError(f"unknown unit '{code}'")
        return rows[0]

    def unit_group(self, unit: Any, position: Any) -> str:
        """``unit:<code>:<position>``: the group of ``position`` in ``unit``."""
        if position not in POSITIONS:
            raise RoutingError(f"unknown position {position!r}; one of {', '.join(POSITIONS)}")
        return unit_group(self._row(unit).code, position)

    def head_of(self, unit: Any) -> str:
        """The head (负责人) of ``unit``, as a group."""
        return self.unit_group(unit, "head")

    def upper_organ(self, unit: Any) -> str:
        """The unit's 上一级机关 (复查; twice for 复核)."""
        organ = self._row(unit).review_organ_code
        if organ is None:
            raise RoutingError(f"unit '{unit}' has no 上一级机关")
        return str(organ)

    def county_unit(self, kind: Any) -> str:
        """The one county-level unit of ``kind`` (the county committee, the joint conference office, ...)."""
        if kind not in KINDS:
            raise RoutingError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
        rows = self._read(
            select(OrgUnit.code).where(OrgUnit.level == "county", OrgUnit.kind == kind).order_by(OrgUnit.code)
        )
        if len(rows) != 1:
            raise RoutingError(f"want one county-level unit of kind {kind}, found {len(rows)}")
        return str(rows[0].code)


def routing_problems(
    calls: Iterable[tuple[str, tuple[Any, ...]]], known_units: set[str] | None, not_literal: object
) -> list[str]:
    """What deploy refuses in a diagram's calls of the routing functions: a literal unknown position or kind,
    and (when ``known_units`` is given) a literal unit code the organisation does not have."""
    problems = []
    for name, args in calls:
        unit = args[0] if args else not_literal
        if name in ("unitGroup", "headOf", "upperOrgan") and unit is not not_literal:
            problems += unit_problems(unit, known_units)
        if name == "unitGroup" and len(args) > 1 and args[1] is not not_literal and args[1] not in POSITIONS:
            problems.append(f"未知职务 {args[1]!r}（应为 {', '.join(POSITIONS)} 之一）")
        if name == "countyUnit" and unit is not not_literal and unit not in KINDS:
            problems.append(f"未知单位类别 {unit!r}（应为 {', '.join(KINDS)} 之一）")
    return problems


def unit_problems(code: Any, known_units: set[str] | None) -> list[str]:
    if known_units is not None and code not in known_units:
        return [f"未知单位 {code!r}"]
    return []


def group_problems(group: str, known_units: set[str] | None) -> list[str]:
    """What deploy refuses in a literal candidate group ``unit:<code>:<position>``."""
    parsed = parse_unit_group(group)
    if group.startswith(UNIT_GROUP_PREFIX) and parsed is None:
        return [f"单位角色 {group!r} 应写作 unit:单位代码:职务"]
    if parsed is None:
        return []
    code, position = parsed
    problems = unit_problems(code, known_units)
    if position not in POSITIONS:
        problems.append(f"未知职务 {position!r}（应为 {', '.join(POSITIONS)} 之一）")
    return problems


# -- forms that name a unit or a person ----------------------------------------------------------------------

# Form fields whose value is a unit code; a person's login (a member of any unit); a member of the task's unit.
UNIT_FIELDS = (
    "responsibleUnit",
    "handlingUnit",
    "reviewOrgan",
    "recheckOrgan",
    "organisingOrgan",
    "packageResponsibleUnit",
    "suggestedUnit",
)
PERSON_FIELDS = ("chosenLeader",)
STAFF_FIELDS = ("handler", "substituteHandler")


def named_problems(session: Session, task_unit: str | None, data: Mapping[str, Any]) -> dict[str, list[str]]:
    """The fields of a submission that name a unit or a person the organisation does not have, with the
    reason in Chinese (empty: all known). Reads only when such a field is there."""
    units = {f: data[f] for f in UNIT_FIELDS if isinstance(data.get(f), str) and data[f]}
    # 承办人 is checked against the staff of the unit the task belongs to; a task of no unit names no staff.
    person_fields = (*PERSON_FIELDS, *STAFF_FIELDS) if task_unit is not None else PERSON_FIELDS
    people = {f: data[f] for f in person_fields if isinstance(data.get(f), str) and data[f]}
    problems: dict[str, list[str]] = {}
    if units:
        known = set(session.scalars(select(OrgUnit.code).where(OrgUnit.code.in_(set(units.values())))))
        for name, code in units.items():
            if code not in known:
                problems[name] = [f"没有代码为 {code} 的单位"]
    if people:
        rows = session.execute(
            select(UnitMember.login, UnitMember.unit_code).where(UnitMember.login.in_(set(people.values())))
        ).all()
        for name, login in people.items():
            held = {unit for who, unit in rows if who == login}
            if not held:
                problems[name] = [f"组织机构中没有账号为 {login} 的人员"]
            elif name in STAFF_FIELDS and task_unit not in held:
                problems[name] = [f"{login} 不是本单位（{task_unit}）的工作人员"]
    return problems
