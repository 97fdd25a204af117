"""Who may see and do what. Enforced on the server for every request, pages and API alike."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.accounts import Principal
from engine.errors import Forbidden
from engine.models import Task

READ_ALL = ("supervisor", "admin")
# Roles that work with the petitioner directly and so see identity numbers and phone numbers in full.
SEES_CONTACT = ("registrar", "handler", "leader", "admin")


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
