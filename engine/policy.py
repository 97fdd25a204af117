"""Who may see and do what. Enforced on the server for every request, pages and API alike."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from .accounts import Principal
from .errors import Forbidden
from .models import Task
from .queries import TaskFilter

READ_ALL = ("supervisor", "admin")
# Who deploys and checks diagrams and forms; who starts an arbitrary process (designers testing their diagrams,
# as Camunda Modeler's "Start instance" does: petitions start through registration, which numbers them first).
DEPLOYERS = ("designer", "admin")
STARTERS = DEPLOYERS
# Who reads the message outbox (query codes waiting for the SMS gateway) and marks what the gateway sent.
OUTBOX_READERS = ("admin",)
# Who suspends, resumes and cancels a running instance.
INSTANCE_MANAGERS = ("supervisor", "admin")
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


def may_see_task(principal: Principal, task: Task) -> bool:
    return principal.has(*READ_ALL) or is_offered(principal, task)


def sees_any(principal: Principal, tasks: Iterable[Task]) -> bool:
    """A case (instance, petition) is visible to a handler while one of its open tasks is."""
    return any(may_see_task(principal, t) for t in tasks)


def check_task(principal: Principal, task: Task) -> None:
    if not may_see_task(principal, task):
        raise Forbidden("this task is neither yours nor offered to your groups", {"task": task.id})


def check_may_act(principal: Principal, task: Task) -> None:
    """Acting on a task (claim, complete, comment) needs it to be offered to you; supervisors only read."""
    if not is_offered(principal, task) and "admin" not in principal.roles:
        raise Forbidden("this task is neither yours nor offered to your groups", {"task": task.id})


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


# Who reads whole lists and any case; everyone else reads a case while one of its open tasks is theirs.
INSTANCE_READERS = ("supervisor", "admin", "designer")
PETITION_READERS = ("registrar", "supervisor", "leader", "admin")


def visible_filter(
    principal: Principal, *, candidate_group: str | None = None, mine: bool = False, **narrowing: Any
) -> TaskFilter:
    """The task list a person may see: supervisors everything (unless they ask for their own), everyone else
    what is theirs or offered to them; ``narrowing`` holds TaskFilter's other fields."""
    groups = [candidate_group] if candidate_group else []
    if principal.has(*READ_ALL) and not mine:
        return TaskFilter(candidate_groups=groups, **narrowing)
    # A group filter can only narrow what is offered to them.
    if groups and not set(groups) <= set(principal.groups):
        raise Forbidden("you can list only the tasks of your own groups", {"groups": list(principal.groups)})
    return TaskFilter(
        involved_user=principal.username,
        involved_groups=list(principal.groups),
        candidate_groups=groups,
        **narrowing,
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


def check_claim_for(principal: Principal, task: Task, user: str) -> None:
    check_may_act(principal, task)
    if user != principal.username and not principal.has(*READ_ALL):
        raise Forbidden("you can claim tasks only for yourself")


def check_release(principal: Principal, task: Task) -> None:
    if task.assignee != principal.username and not principal.has(*READ_ALL):
        raise Forbidden("only the assignee or a supervisor can release a task")


def check_instance(principal: Principal, instance_id: str, tasks: Iterable[Task]) -> None:
    if not principal.has(*INSTANCE_READERS) and not sees_any(principal, tasks):
        raise Forbidden(
            "you may see an instance only while it has a task of yours", {"instance": instance_id}
        )


def check_petition(principal: Principal, tasks: Iterable[Task]) -> None:
    if not principal.has(*PETITION_READERS) and not sees_any(principal, tasks):
        raise Forbidden("you may see a petition only while it has a task of yours")
