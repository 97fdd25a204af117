"""The use cases the adapters call (/api, /engine-rest, the pages, the command line), each with the acting
principal: it checks what engine/policy.py allows, then runs one engine command or one read of
engine/queries.py. The adapters parse input and render answers; they never open a session or name a table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.orm import Session

from . import policy, queries
from .accounts import Principal
from .definitions import DeployFile, DeploymentResult
from .errors import InvalidState, NotFound, ValidationFailed
from .forms import FormDefinition
from .models import Deadline, Instance, OutboxMessage, Petition, Task
from .public import RATING_LABELS, Issued, evaluation_task

if TYPE_CHECKING:
    from .runtime import CommandResult, Engine

P = ParamSpec("P")
R = TypeVar("R")


def _actor(principal: Principal) -> str | None:
    """Whom the audit names: the command line's operator may act as nobody in particular."""
    return principal.username or None


def read(engine: Engine, query: Callable[Concatenate[Session, P], R], *args: P.args, **kwargs: P.kwargs) -> R:
    """One read of engine/queries.py in a read session of its own."""
    with engine.db.reading() as session:
        return query(session, *args, **kwargs)


# -- tasks --------------------------------------------------------------------------------------------------
def visible_tasks(engine: Engine, principal: Principal, **narrowing: Any) -> list[Task]:
    """Open tasks the principal may see (engine/policy.py's visible_filter), overdue and soonest due first."""
    return read(engine, queries.list_tasks, policy.visible_filter(principal, **narrowing), engine.now())


def readable_task(engine: Engine, principal: Principal, task_id: str, *, acting: bool = True) -> Task:
    """The open task if the principal may see it; ``acting``: a task closed meanwhile is a Conflict."""
    task = read(engine, queries.get_task, task_id, acting=acting)
    policy.check_task(principal, task)
    return task


def require_user(engine: Engine, user_id: str) -> None:
    """A task goes only to someone who can sign in to work on it: a name no account has (or a deactivated
    one) would leave the task with nobody, hidden from its groups' lists."""
    if engine.accounts.get(user_id) is None:
        raise NotFound(f"没有用户名为“{user_id}”的在用账号", {"user": user_id})


def claim(engine: Engine, principal: Principal, task_id: str, user_id: str) -> CommandResult:
    policy.check_claim_for(principal, readable_task(engine, principal, task_id), user_id)
    require_user(engine, user_id)
    return engine.claim(task_id, user_id, actor=_actor(principal))


def unclaim(engine: Engine, principal: Principal, task_id: str) -> CommandResult:
    policy.check_release(principal, readable_task(engine, principal, task_id))
    return engine.unclaim(task_id, actor=principal.username)


def assign(engine: Engine, principal: Principal, task_id: str, user_id: str | None) -> CommandResult:
    """The principal's role (supervisor or admin) is checked by the adapter's route guard."""
    readable_task(engine, principal, task_id)
    if user_id is not None:
        require_user(engine, user_id)
    return engine.assign(task_id, user_id, actor=principal.username)


def complete(engine: Engine, principal: Principal, task_id: str, variables: dict[str, Any]) -> CommandResult:
    policy.check_may_act(principal, readable_task(engine, principal, task_id))
    return engine.complete(
        task_id, variables, actor=_actor(principal), require_claim=policy.claim_required(principal)
    )


def comment(engine: Engine, principal: Principal, task_id: str, text: str) -> CommandResult:
    policy.check_may_act(principal, readable_task(engine, principal, task_id))
    return engine.comment(task_id, text, actor=principal.username)


def task_form(engine: Engine, task: Task) -> FormDefinition | None:
    with engine.db.reading() as session:
        return engine.form_for(session, task)


def task_form_schema(engine: Engine, task: Task) -> dict[str, Any] | None:
    """The Camunda Form (form-js JSON) the task shows, as deployed."""
    form = engine.forms.get(task.form_ref, task.form_version) if task.form_ref and task.form_version else None
    return form.schema if form else None


def task_variables(engine: Engine, principal: Principal, task: Task) -> dict[str, Any]:
    """What the task sees, contact details masked for roles that do not need them."""
    return policy.contact_fields(principal, engine.variables(task.instance_id, task.id))


# -- instances and petitions ------------------------------------------------------------------------------
def readable_instance(engine: Engine, principal: Principal, instance_id: str) -> Instance:
    with engine.db.reading() as session:
        row = queries.get_instance(session, instance_id)
        if not principal.has(*policy.INSTANCE_READERS):
            policy.check_instance(principal, instance_id, queries.instance_tasks(session, instance_id))
    return row


def instance_variables(engine: Engine, principal: Principal, instance_id: str) -> dict[str, Any]:
    readable_instance(engine, principal, instance_id)
    return result_variables(engine, principal, instance_id)


def result_variables(engine: Engine, principal: Principal, instance_id: str) -> dict[str, Any]:
    """The variables of an instance the principal's command just ran on (Camunda's withVariablesInReturn):
    acting on it was allowed, so is reading what it produced, even when no task of it is theirs any more."""
    return policy.contact_fields(principal, engine.variables(instance_id))


def start(
    engine: Engine,
    principal: Principal,
    key: str,
    *,
    business_key: str | None = None,
    variables: dict[str, Any] | None = None,
    definition_id: str | None = None,
) -> CommandResult:
    """Start any process (designers testing a diagram); a petition's item number is for registration only."""
    policy.check_role(principal, policy.STARTERS)
    engine.petitions.refuse_item_number(business_key)
    return engine.start(
        key,
        business_key=business_key,
        variables=variables,
        actor=_actor(principal),
        definition_id=definition_id,
    )


def suspend(engine: Engine, principal: Principal, instance_id: str) -> CommandResult:
    policy.check_role(principal, policy.INSTANCE_MANAGERS)
    return engine.suspend(instance_id, actor=_actor(principal))


def resume(engine: Engine, principal: Principal, instance_id: str) -> CommandResult:
    policy.check_role(principal, policy.INSTANCE_MANAGERS)
    return engine.resume(instance_id, actor=_actor(principal))


def cancel(
    engine: Engine, principal: Principal, instance_id: str, reason: str | None = None
) -> CommandResult:
    policy.check_role(principal, policy.INSTANCE_MANAGERS)
    return engine.cancel(instance_id, actor=_actor(principal), reason=reason)


def register(
    engine: Engine, principal: Principal, data: dict[str, Any]
) -> tuple[Petition, CommandResult, Issued]:
    """Register a petition, start its intake procedure and issue its query code (sent to the petitioner's
    phone through the notifier); the adapter's route guard checks the role."""
    return engine.public.register(data, actor=principal.username)


def request_review(
    engine: Engine, principal: Principal, number: str, kind: str, fields: dict[str, Any]
) -> CommandResult:
    """Record the petitioner's request for 复查 (``kind="review"``) or 复核 (``"recheck"``) and deliver it to
    the petition's procedure; refused with the reason when the window is closed or nothing was served."""
    policy.check_role(principal, policy.PETITIONER_PROXIES)
    return engine.acts.request_review(number, kind, fields, actor=_actor(principal))


def withdraw(engine: Engine, principal: Principal, number: str, reason: str) -> CommandResult:
    """Record the petitioner's withdrawal (撤回): the procedure ends, the petition is 已撤回."""
    policy.check_role(principal, policy.PETITIONER_PROXIES)
    return engine.acts.withdraw(number, reason, actor=_actor(principal))


def readable_petition(
    engine: Engine, principal: Principal, number: str
) -> tuple[Petition, list[Instance], list[Any], list[Deadline]]:
    """A petition with its instances, audit events and deadlines (each with its effective due time)."""
    petition = engine.petitions.get(number)
    with engine.db.reading() as session:
        if not principal.has(*policy.PETITION_READERS):
            policy.check_petition(principal, queries.petition_tasks(session, number))
        instances, events, deadlines = queries.petition_timeline(session, number)
    for d in deadlines:
        d.effective_due = engine.deadlines.effective_due(d)  # type: ignore[attr-defined]
    return petition, instances, events, deadlines


# -- deployments ---------------------------------------------------------------------------------------------
def deploy(
    engine: Engine, principal: Principal, files: Sequence[DeployFile], **options: Any
) -> DeploymentResult:
    """Deploy diagrams and forms; ``options`` are the engine's (name, source, tenant_id, duplicate_filtering)."""
    policy.check_role(principal, policy.DEPLOYERS)
    return engine.deploy(files, actor=_actor(principal), **options)


def validate(engine: Engine, principal: Principal, files: Sequence[DeployFile]) -> list[Any]:
    """The problems deploying ``files`` would meet, nothing stored."""
    policy.check_role(principal, policy.DEPLOYERS)
    return engine.validate(files)


def unsupported_files(files: Sequence[DeployFile]) -> list[dict[str, Any]]:
    """Files of other types, refused before the engine parses anything, worded as the engine words them."""
    return [
        {
            "file": f.name,
            "line": None,
            "element": None,
            "message": "only .bpmn and .form files can be deployed",
        }
        for f in files
        if f.kind is None
    ]


# -- the petitioner's side (engine/public.py) ------------------------------------------------------------------
def submit_online(
    engine: Engine, data: dict[str, Any], address: str | None
) -> tuple[Petition, CommandResult, Issued]:
    """An online petition (no account): validated by the registration form's rules, limited per address."""
    return engine.public.submit(data, address=address)


def public_lookup(engine: Engine, number: str, code: str, address: str | None) -> dict[str, Any]:
    """The public facts of the item whose query code this is (limited per address and per number)."""
    return engine.public.view(engine.public.authenticate(number, code, address))


def _evaluate(engine: Engine, petition: Petition, rating: Any, reason: Any, actor: str | None) -> None:
    problems: dict[str, list[str]] = {}
    if rating not in RATING_LABELS:
        problems["rating"] = ["请选择满意、基本满意或不满意"]
    reason = str(reason or "").strip()
    if rating == "dissatisfied" and not reason:
        problems["reason"] = ["评价不满意的，请写明理由"]
    if len(reason) > 1000:
        problems["reason"] = ["理由不超过1000字"]
    if problems:
        raise ValidationFailed(f"{len(problems)} field(s) are invalid", {"fields": problems})
    task = evaluation_task(read(engine, queries.petition_tasks, petition.number))
    if task is None:
        raise InvalidState(
            "the evaluation is not open: the reply is not served yet, it was evaluated, or the window ended",
            {"reason": "evaluation_closed"},
        )
    if task.assignee is not None:
        # The petitioner's own word wins over a colleague who was about to record it.
        engine.unclaim(task.id, actor=actor)
    values: dict[str, Any] = {
        "rating": rating,
        "evaluatedAt": engine.now().astimezone(engine.calendar.tz).date().isoformat(),
        "evaluationComment": reason or None,
    }
    if task.form_ref == "handling_evaluation":
        values["returnVisit"] = False
    engine.complete(task.id, {k: v for k, v in values.items() if v is not None}, actor=actor)


def public_evaluate(
    engine: Engine, number: str, code: str, address: str | None, rating: Any, reason: Any
) -> dict[str, Any]:
    """The petitioner rates the unit that first handled the item, once, while the evaluation is open."""
    petition = engine.public.authenticate(number, code, address)
    _evaluate(engine, petition, rating, reason, None)
    engine.public.mark_online(petition.number)
    return engine.public.view(petition)


def evaluate_for(
    engine: Engine, principal: Principal, number: str, rating: Any, reason: Any
) -> dict[str, Any]:
    """The registrar records a petitioner's evaluation given at the counter or by letter."""
    policy.check_role(principal, policy.PETITIONER_PROXIES)
    petition = engine.petitions.get(number)
    _evaluate(engine, petition, rating, reason, principal.username)
    return engine.public.view(petition)


def outbox(
    engine: Engine, principal: Principal, status: str | None, limit: int, offset: int
) -> list[OutboxMessage]:
    policy.check_role(principal, policy.OUTBOX_READERS)
    return engine.outbox.list(status, limit, offset)


def mark_outbox(engine: Engine, principal: Principal, message_id: int, status: str) -> OutboxMessage:
    policy.check_role(principal, policy.OUTBOX_READERS)
    return engine.outbox.mark(message_id, status)


def public_request_review(
    engine: Engine, number: str, code: str, address: str | None, kind: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """The petitioner's own request for 复查/复核: the same use case the registrar records it with."""
    petition = engine.public.authenticate(number, code, address)
    engine.acts.request_review(petition.number, kind, fields, actor=None)
    return engine.public.view(engine.petitions.get(petition.number))


def public_withdraw(
    engine: Engine, number: str, code: str, address: str | None, reason: str
) -> dict[str, Any]:
    """The petitioner withdraws the item themselves (the registrar's withdrawal, without the account)."""
    petition = engine.public.authenticate(number, code, address)
    engine.acts.withdraw(petition.number, reason, actor=None)
    return engine.public.view(engine.petitions.get(petition.number))
