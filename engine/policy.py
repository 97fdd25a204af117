"""Who may see and do what. Enforced on the server for every request, pages and API alike."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from . import queries
from .accounts import Principal
from .errors import Forbidden
from .models import Task
from .queries import Jurisdiction, TaskFilter

READ_ALL = ("supervisor", "admin")
# Who deploys and checks diagrams and forms; who starts an arbitrary process (designers testing their diagrams,
# as Camunda Modeler's "Start instance" does: petitions start through registration, which numbers them first).
DEPLOYERS = ("designer", "admin")
STARTERS = DEPLOYERS
# Who reads the message outbox (query codes waiting for the SMS gateway) and marks what the gateway sent.
OUTBOX_READERS = ("admin",)
# Who suspends, resumes and cancels a running instance.
INSTANCE_MANAGERS = ("supervisor", "admin")
# Who repairs running cases: retries failed timer fires (incidents), cancels or starts steps, moves a case back a
# step (Camunda 7's process instance modification), each with a reason in the case's history; within their
# jurisdiction. Migrating running cases to another version of a diagram reaches every case of that version, so
# it is for those whose jurisdiction is the whole county (the petition bureau's supervisors, admins).
REPAIRERS = ("supervisor", "admin")
# Who starts a supervision (督办) of an important item by hand (S003 #11).
SUPERVISORS = ("supervisor", "admin")
# Who may correlate messages from outside (Camunda's POST /message): integrations run as these roles.
MESSAGE_SENDERS = ("designer", "supervisor", "admin")
# Who records a petitioner's own acts (an evaluation, a request for 复查/复核, a withdrawal) on their behalf.
PETITIONER_PROXIES = ("registrar", "admin")
# Roles that work with the petitioner directly and so see identity numbers and phone numbers in full.
SEES_CONTACT = ("registrar", "handler", "leader", "admin")


def check_role(principal: Principal, roles: Sequence[str]) -> None:
    """The principal holds one of ``roles`` (admin always does); the adapters' route guards ask this too."""
    if roles and not principal.has(*roles):
        raise Forbidden(f"this needs one of the roles: {', '.join(roles)}", {"roles": list(roles)})


# The command line's operator carries this role besides admin; no account can have it (accounts.ROLES).
OPERATOR = "operator"


def operator(username: str | None) -> Principal:
    """The person at the server's shell (the command line): whoever can run it reaches the database itself,
    so no rule here holds them back; ``username`` is whom they act as (empty: nobody in particular)."""
    return Principal(username or "", "命令行", frozenset({"admin", OPERATOR}), ())


def check_migrator(principal: Principal, scope: Scope) -> None:
    """Migrating running cases to another version of their diagram: a repairer whose jurisdiction is the county."""
    check_role(principal, REPAIRERS)
    if scope is not None:
        raise Forbidden(
            "迁移流程版本涉及全县的案件，只有信访局督查人员和管理员可以执行", {"roles": list(REPAIRERS)}
        )


def claim_required(principal: Principal) -> bool:
    """On the pages and the APIs a task is claimed before it is completed, so two colleagues never fill in
    the same form; the operator completes a task as whoever they name, as the command line always has."""
    return OPERATOR not in principal.roles


def is_offered(principal: Principal, task: Task) -> bool:
    """The task is assigned to the person, or offered to them or to one of their groups."""
    return (
        task.assignee == principal.username
        or principal.username in (task.candidate_users or [])
        or bool(set(task.candidate_groups or []) & set(principal.groups))
    )


# -- jurisdiction (docs/security.md, "Jurisdiction") -----------------------------------------------------------
# None: the whole county; otherwise the codes of the units whose tasks and cases the principal may see.
Scope = frozenset[str] | None
PETITION_BUREAU = "petition_bureau"
# The county's own leadership: its party committee and government lead every unit of the county, wherever the
# loaded tree puts them (the committee is often a root of its own).
COUNTY_LEADERSHIP = ("party_committee", "government")
# Positions that oversee their unit and every unit below it (organisation.LEADING_POSITIONS).
LEADING_POSITIONS = ("head", "deputy_head", "inspector")
# Accounts that belong to no unit and work county-wide: the bureau's registrars and supervisors and the county
# leaders as accounts were before the organisation, and the designers. Any other account without a unit sees
# only what is personally theirs and the county-wide tasks offered to their groups.
COUNTY_ROLES = ("registrar", "supervisor", "leader", "designer")


def scope(principal: Principal, session: Session) -> Scope:
    """Jurisdiction: petition-bureau staff, the county's supervisors and leaders (head, deputy head or inspector
    of the county party committee or government), county accounts in no unit and admins see the whole county
    (None); any other head, deputy head or inspector their unit and the units below it; anyone else (a
    handler) their unit. Someone in several units gets the union. Reads the organisation in ``session``."""
    if principal.has("admin"):
        return None
    if not principal.positions:
        return None if principal.has(*COUNTY_ROLES) else frozenset()
    facts = queries.unit_kinds(session, principal.units)
    leading = {unit for unit, position in principal.positions if position in LEADING_POSITIONS}
    if any(kind == PETITION_BUREAU for kind, _ in facts.values()):
        return None
    county = {u for u, (kind, level) in facts.items() if kind in COUNTY_LEADERSHIP and level == "county"}
    if leading & county:
        return None
    return queries.units_below(session, leading) | (principal.units - leading)


def jurisdiction(principal: Principal, scope: Scope) -> Jurisdiction | None:
    """The filter engine/queries.py applies for ``scope`` (None: nothing filtered)."""
    return None if scope is None else Jurisdiction(scope, principal.username, tuple(principal.groups))


def in_jurisdiction(principal: Principal, scope: Scope, task: Task) -> bool:
    """The task lies within the principal's part of the county (queries.task_within says the same in SQL):
    its unit is in scope, or it is given to them (assigned, offered to them or one of their groups: the
    diagram routed it to them)."""
    return scope is None or task.unit_code in scope or is_offered(principal, task)


def oversees(principal: Principal) -> bool:
    """Reads every task within the jurisdiction, not only the ones offered: supervisors and unit leaders."""
    return principal.has(*READ_ALL) or any(p in LEADING_POSITIONS for _, p in principal.positions)


def may_see_task(principal: Principal, scope: Scope, task: Task) -> bool:
    return in_jurisdiction(principal, scope, task) and (oversees(principal) or is_offered(principal, task))


def check_task(principal: Principal, scope: Scope, task: Task) -> None:
    """Outside the jurisdiction a task does not exist (404, as an unknown id: its existence is not revealed);
    inside it, a task neither theirs nor offered to them is refused (403)."""
    if not in_jurisdiction(principal, scope, task):
        raise queries.unknown_task(task.id)
    if not may_see_task(principal, scope, task):
        raise Forbidden("this task is neither yours nor offered to your groups", {"task": task.id})


def check_may_act(principal: Principal, scope: Scope, task: Task) -> None:
    """Acting on a task (claim, complete, comment) needs it visible and offered to you; supervisors only read."""
    check_task(principal, scope, task)
    if not is_offered(principal, task) and "admin" not in principal.roles:
        raise Forbidden("this task is neither yours nor offered to your groups", {"task": task.id})


def case_visible(
    principal: Principal, scope: Scope, responsible_unit: str | None, tasks: Iterable[Task]
) -> bool:
    """A case (petition, instance) is visible when its responsible unit or one of its open tasks is within the
    jurisdiction (queries.case_within in SQL)."""
    if scope is None or responsible_unit in scope:
        return True
    return any(in_jurisdiction(principal, scope, t) for t in tasks)


def check_case(
    principal: Principal, visible: bool, readers: Sequence[str], tasks: Iterable[Task], what: str, ident: str
) -> None:
    """A case outside the jurisdiction answers as an unknown one: 404, never 403. Inside it, the ``readers``
    roles and the members of units read it; anyone else (an account in no unit) while one of its open tasks is
    theirs (403 otherwise)."""
    if not visible:
        raise queries.unknown_case(what, ident)
    if not (principal.has(*readers) or principal.positions or any(is_offered(principal, t) for t in tasks)):
        raise Forbidden(f"you may see a {what} only while it has a task of yours", {what: ident})


# -- the accuser of a 检举控告 item (Art. 30 ¶3) --------------------------------------------------------------
ACCUSATION = queries.ACCUSATION
# The petitioner's identity as the registration form and the petition record name it.
IDENTITY_FIELDS = (
    "petitionerName",
    "idType",
    "idNumber",
    "otherIdNumber",
    "phone",
    "address",
    "representatives",
    "agentName",
    "agentPhone",
)
IDENTITY_ATTRIBUTES = ("petitioner_name", "id_type", "id_number", "phone", "address", "agent")
HIDDEN = "（检举控告人信息保密）"


def hides_accuser(
    principal: Principal,
    scope: Scope,
    case: queries.CaseFacts,
    own_units: frozenset[str],
    tasks: Iterable[Task],
) -> bool:
    """An accusation's petitioner is known to those handling it (the bureau, the unit responsible for it, the
    holders and candidates of its open tasks), never to the accused unit: ``own_units`` holds the codes and
    names of the principal's units; the case's involved unit names the accused (by code or name) and wins over
    everything else."""
    if case.category != ACCUSATION or OPERATOR in principal.roles:
        return False
    if case.involved_unit and case.involved_unit in own_units:
        return True
    if scope is None or case.responsible_unit in principal.units:
        return False
    return not any(is_offered(principal, t) for t in tasks)


def hide_identity(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` (variables, a submitted form, an audit event's data) without the petitioner's identity; the
    ``variables`` an instance started with are hidden alike."""
    hidden = {k: (HIDDEN if k in IDENTITY_FIELDS and v not in (None, "", []) else v) for k, v in data.items()}
    if isinstance(hidden.get("variables"), Mapping):
        hidden["variables"] = hide_identity(hidden["variables"])
    return hidden


def mask(value: str | None, keep_start: int = 3, keep_end: int = 4) -> str | None:
    if not value:
        return value
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[-keep_end:]


def contact_fields(principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
    """Identity numbers and phones in full only for roles that need them."""
    if principal.has(*SEES_CONTACT):
        return data
    masked = dict(data)
    for key in ("idNumber", "otherIdNumber", "phone", "agentPhone"):
        if masked.get(key):
            masked[key] = mask(str(masked[key]))
    return masked


def check_identity_search(principal: Principal, f: queries.PetitionFilter) -> None:
    """A phone or an identity number is a search key only for those who see them in full."""
    if (f.phone or f.id_number) and not principal.has(*SEES_CONTACT):
        field = "phone" if f.phone else "idNumber"
        raise Forbidden("无权按电话号码或身份证号查询信访人", {"field": field})


# Who reads whole lists and any case within their jurisdiction (members of units read their jurisdiction's).
INSTANCE_READERS = ("supervisor", "admin", "designer")
PETITION_READERS = ("registrar", "handler", "supervisor", "leader", "admin")
# Who exports the petition list whole: handlers search and read within their jurisdiction but take no spreadsheet of
# petitioners' personal data away.
PETITION_EXPORTERS = ("registrar", "supervisor", "leader", "admin")
# Who reads the statutory metrics.
METRIC_READERS = ("supervisor", "leader", "admin")


def visible_filter(
    principal: Principal,
    scope: Scope,
    *,
    candidate_group: str | None = None,
    mine: bool = False,
    **narrowing: Any,
) -> TaskFilter:
    """The task list a person may see within their jurisdiction: supervisors and unit leaders every task in it
    (unless they ask for their own), everyone else what is theirs or offered to them; ``narrowing`` holds
    TaskFilter's other fields."""
    groups = [candidate_group] if candidate_group else []
    if oversees(principal) and not mine:
        return TaskFilter(candidate_groups=groups, within=jurisdiction(principal, scope), **narrowing)
    # A group filter can only narrow what is offered to them.
    if groups and not set(groups) <= set(principal.groups):
        raise Forbidden("you can list only the tasks of your own groups", {"groups": list(principal.groups)})
    return TaskFilter(
        involved_user=principal.username,
        involved_groups=list(principal.groups),
        candidate_groups=groups,
        **narrowing,  # what is offered to them lies in their jurisdiction: no filter to add
    )


def offered_filter(
    principal: Principal, f: TaskFilter, candidate: str, groups: Sequence[str], *, include_assigned: bool
) -> TaskFilter:
    """Camunda's candidateUser: offered to that user or one of their ``groups``, unassigned unless asked."""
    if candidate != principal.username and not principal.has(*READ_ALL):
        raise Forbidden("you can list only the tasks offered to you", {"candidateUser": candidate})
    if f.involved_user is None:
        f = replace(f, involved_user=candidate, involved_groups=list(groups))
    return f if include_assigned else replace(f, unassigned=True)


def check_claim_for(principal: Principal, scope: Scope, task: Task, user: str) -> None:
    check_may_act(principal, scope, task)
    if user != principal.username and not principal.has(*READ_ALL):
        raise Forbidden("you can claim tasks only for yourself")


def check_release(principal: Principal, task: Task) -> None:
    if task.assignee != principal.username and not principal.has(*READ_ALL):
        raise Forbidden("only the assignee or a supervisor can release a task")


# -- the organisation ------------------------------------------------------------------------------------------
# Who edits units, people and memberships (the admin page, /api/units, /api/users, `petitionflow org load`).
ORG_ADMINS = ("admin",)
# Positions whose holders may hand a task of their unit to a colleague (the holder is away).
REASSIGNERS = ("head", "deputy_head")


def heads_unit(principal: Principal, unit: str | None) -> bool:
    """The principal is the head or deputy head of ``unit``."""
    return unit is not None and any((unit, p) in principal.positions for p in REASSIGNERS)


def check_assign(principal: Principal, task: Task, user: str | None, unit_staff: Iterable[str]) -> None:
    """Supervisors and admins give any task to anyone; the head of the task's unit gives it to a colleague of
    that unit (``unit_staff``: its members' logins) or back to the unit (None)."""
    if principal.has(*INSTANCE_MANAGERS):
        return
    if not heads_unit(principal, task.unit_code):
        raise Forbidden("only a supervisor or the head of the task's unit may reassign it", {"task": task.id})
    if user is not None and user not in set(unit_staff):
        raise Forbidden("a unit head may reassign a task only within the unit", {"user": user})


# Who adds papers to any case (registrars file what came with a petition); everyone else adds to a case while
# one of its open tasks is offered to them, as they act on it.
CASE_FILERS = ("registrar", "admin")


def check_case_filer(principal: Principal, tasks: Iterable[Task]) -> None:
    """Attaching a file or recording a notice's service: a registrar, or someone a task of the case is offered to."""
    if not principal.has(*CASE_FILERS) and not any(is_offered(principal, t) for t in tasks):
        raise Forbidden("you may add to a petition's file only while one of its tasks is yours")


def check_handles_petition(principal: Principal, responsible_unit: str | None, tasks: Iterable[Task]) -> None:
    """Acting as the petition's handling organ (asking for an extension) is for a handler of its responsible
    unit, or a handler offered one of its open tasks; admin always may. (While a hearing runs, its tasks are the
    hearing officers', yet the handling unit may still ask.) The caller has checked the case lies within the
    principal's jurisdiction (``check_case``)."""
    if "admin" in principal.roles:
        return
    own_unit = responsible_unit is not None and (responsible_unit, "handler") in principal.positions
    offered = principal.has("handler") and any(is_offered(principal, t) for t in tasks)
    if not (own_unit or offered):
        raise Forbidden("only the unit handling this petition may do this", {"roles": ["handler"]})
