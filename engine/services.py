"""The use cases the adapters call (/api, /engine-rest, the pages, the command line), each with the acting
principal: it checks what engine/policy.py allows, then runs one engine command or one read of
engine/queries.py. The adapters parse input and render answers; they never open a session or name a table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import batches, elements, policy, queries, repair
from .accounts import Principal
from .definitions import UNSUPPORTED_FILE, DeployFile, DeploymentResult
from .documents import ServiceRecord, Upload
from .errors import Conflict, Forbidden, InvalidInput, InvalidState, NotFound, ProcessError, ValidationFailed
from .forms import FormDefinition
from .metrics import MetricQuery, compute
from .models import (
    Attachment,
    Deadline,
    Document,
    Incident,
    Instance,
    OutboxMessage,
    Petition,
    SavedFilter,
    Task,
)
from .orgadmin import LoadReport, UnitSpec, UserInfo, parse_document
from .organisation import Membership, Unit
from .public import RATING_LABELS, Issued, evaluation_task

if TYPE_CHECKING:
    from .runtime import CommandResult, Engine
    from .unit_of_work import UnitOfWork

P = ParamSpec("P")
R = TypeVar("R")


def _actor(principal: Principal) -> str | None:
    """Whom the audit names: the command line's operator may act as nobody in particular."""
    return principal.username or None


def read(engine: Engine, query: Callable[Concatenate[Session, P], R], *args: P.args, **kwargs: P.kwargs) -> R:
    """One read of engine/queries.py in a read session of its own."""
    with engine.db.reading() as session:
        return query(session, *args, **kwargs)


# -- jurisdiction -----------------------------------------------------------------------------------------
def scope(engine: Engine, principal: Principal) -> policy.Scope:
    """The principal's jurisdiction (engine/policy.py's scope), read from the organisation."""
    with engine.db.reading() as session:
        return policy.scope(principal, session)


def within(engine: Engine, principal: Principal) -> queries.Jurisdiction | None:
    """The filter every list, count and metric of the principal applies (None: the whole county)."""
    return policy.jurisdiction(principal, scope(engine, principal))


def task_scope(engine: Engine, principal: Principal, task: Task) -> policy.Scope:
    """A scope good enough to judge ``task``: the principal's own units when the task lies in them (no read
    of the organisation on the completion path), else their whole jurisdiction."""
    own = frozenset(principal.units)
    return own if policy.in_jurisdiction(principal, own, task) else scope(engine, principal)


# -- tasks --------------------------------------------------------------------------------------------------
def task_filter(engine: Engine, principal: Principal, **narrowing: Any) -> queries.TaskFilter:
    """The task list's filter for the principal (engine/policy.py's visible_filter) within their jurisdiction."""
    return policy.visible_filter(principal, scope(engine, principal), **narrowing)


def visible_tasks(engine: Engine, principal: Principal, **narrowing: Any) -> list[Task]:
    """Open tasks the principal may see, overdue and soonest due first."""
    return read(engine, queries.list_tasks, task_filter(engine, principal, **narrowing), engine.now())


def task_total(engine: Engine, principal: Principal, **narrowing: Any) -> int:
    """How many open tasks the principal's list holds over all its pages."""
    return read(engine, queries.count_tasks, task_filter(engine, principal, **narrowing), engine.now())


def task_cases(engine: Engine, principal: Principal, tasks: Sequence[Task]) -> dict[str, dict[str, Any]]:
    """Business key -> what a task list shows of its petition (petitioner, subject, received date), the
    accuser's name hidden from whoever may not know it."""
    found = read(engine, queries.petitions_by_number, [t.business_key for t in tasks if t.business_key])
    cases = {}
    for number, p in found.items():
        hidden = p.category == policy.ACCUSATION and accuser_hidden(
            engine, principal, number, p.instance_id or ""
        )
        cases[number] = {
            "petitionerName": policy.HIDDEN if hidden else p.petitioner_name,
            "subject": p.subject,
            "receivedAt": p.received_at,
        }
    return cases


def readable_task(engine: Engine, principal: Principal, task_id: str, *, acting: bool = True) -> Task:
    """The open task if the principal may see it; ``acting``: a task closed meanwhile is a Conflict, but
    only within the principal's jurisdiction: elsewhere it is as unknown as a task that never was (404)."""
    return _judged_task(engine, principal, task_id, acting)[0]


def _judged_task(
    engine: Engine, principal: Principal, task_id: str, acting: bool
) -> tuple[Task, policy.Scope]:
    try:
        task = read(engine, queries.get_task, task_id, acting=acting)
    except Conflict:
        closed = read(engine, queries.closed_task_case, task_id)
        if closed is None or not case_readable(engine, principal, closed[0], closed[1]):
            raise queries.unknown_task(task_id) from None
        raise
    judged = task_scope(engine, principal, task)
    policy.check_task(principal, judged, task)
    return task, judged


def acting_on(engine: Engine, principal: Principal, task_id: str) -> tuple[Task, policy.Scope]:
    """The open task the principal may act on (visible, offered to them) and the scope it was judged in."""
    task, judged = _judged_task(engine, principal, task_id, True)
    policy.check_may_act(principal, judged, task)
    return task, judged


def require_user(engine: Engine, user_id: str) -> None:
    """A task goes only to someone who can sign in to work on it: a name no account has (or a deactivated
    one) would leave the task with nobody, hidden from its groups' lists."""
    if engine.accounts.get(user_id) is None:
        raise NotFound(f"没有用户名为“{user_id}”的在用账号", {"user": user_id})


def claim(engine: Engine, principal: Principal, task_id: str, user_id: str) -> CommandResult:
    task, judged = acting_on(engine, principal, task_id)
    policy.check_claim_for(principal, judged, task, user_id)
    require_user(engine, user_id)
    return engine.claim(task_id, user_id, actor=_actor(principal))


def unclaim(engine: Engine, principal: Principal, task_id: str) -> CommandResult:
    policy.check_release(principal, readable_task(engine, principal, task_id))
    return engine.unclaim(task_id, actor=principal.username)


def assign(engine: Engine, principal: Principal, task_id: str, user_id: str | None) -> CommandResult:
    """Give the task to ``user_id`` (None: back to its groups): a supervisor or admin, or the head of the
    task's unit within the unit (a colleague takes over while its holder is away). Audited as task.assigned."""
    task, _ = _judged_task(engine, principal, task_id, True)  # a head oversees their unit's tasks
    staff = [m.login for m in engine.organisation.staff(task.unit_code)] if task.unit_code else []
    policy.check_assign(principal, task, user_id, staff)
    if user_id is not None:
        require_user(engine, user_id)
    return engine.assign(task_id, user_id, actor=principal.username)


def complete(
    engine: Engine,
    principal: Principal,
    task_id: str,
    variables: dict[str, Any],
    uploads: Sequence[Upload] = (),
) -> CommandResult:
    """Complete a task; files sent with its form are stored in the completion's own transaction."""
    task, _ = acting_on(engine, principal, task_id)
    variables = {**variables, **recorded_fields(engine, task)}
    attach = None
    if uploads:
        if not task.business_key:
            raise InvalidInput("files can be attached only to a petition's steps", {"task": task_id})

        def attach(work: UnitOfWork, done: Task) -> None:
            petition = engine.documents.petition(work.session, done.business_key or "")
            engine.documents.attach_in(
                work.session, petition, uploads, actor=_actor(principal), origin="task", task=done
            )

    return engine.complete(
        task_id,
        variables,
        actor=_actor(principal),
        require_claim=policy.claim_required(principal),
        attach=attach,
    )


def throw_error(
    engine: Engine,
    principal: Principal,
    task_id: str,
    code: str,
    message: str | None = None,
    variables: dict[str, Any] | None = None,
) -> CommandResult:
    """The task's worker reports a business error its diagram catches (an error boundary event)."""
    acting_on(engine, principal, task_id)
    return engine.throw_error(task_id, code, message=message, variables=variables, actor=_actor(principal))


def recorded_fields(engine: Engine, task: Task) -> dict[str, Any]:
    """The notice number and service date the case's notices fill in on this step's form (engine/documents.py);
    nothing is read unless the form has such a field."""
    form = engine.forms.get(task.form_ref, task.form_version) if task.form_ref and task.form_version else None
    if form is None:
        return {}
    return engine.documents.recorded_fields(task, form.definition.keys)


def comment(engine: Engine, principal: Principal, task_id: str, text: str) -> CommandResult:
    acting_on(engine, principal, task_id)
    return engine.comment(task_id, text, actor=principal.username)


def task_form(engine: Engine, task: Task) -> FormDefinition | None:
    with engine.db.reading() as session:
        return engine.form_for(session, task)


def task_form_schema(engine: Engine, task: Task) -> dict[str, Any] | None:
    """The Camunda Form (form-js JSON) the task shows, as deployed."""
    form = engine.forms.get(task.form_ref, task.form_version) if task.form_ref and task.form_version else None
    return form.schema if form else None


def task_variables(engine: Engine, principal: Principal, task: Task) -> dict[str, Any]:
    """What the task sees (with what the case's notices fill in), contact details masked for roles that do not
    need them, an accuser's identity hidden from whoever may not know it."""
    variables = {**engine.variables(task.instance_id, task.id), **recorded_fields(engine, task)}
    return _shown(engine, principal, task.business_key, task.instance_id, variables)


def _category(petition: Petition | None, data: dict[str, Any] | None) -> str | None:
    """The item's category: the petition record's, else the case's variable (known once classified)."""
    return (petition.category if petition else None) or (data or {}).get("category")


# -- cases: instances and petitions ---------------------------------------------------------------------------
def case_readable(engine: Engine, principal: Principal, instance_id: str, business_key: str | None) -> bool:
    """The case (its petition's responsible unit, its open tasks) lies within the principal's jurisdiction."""
    return _case(engine, principal, instance_id, business_key)[0]


def _case(
    engine: Engine, principal: Principal, instance_id: str, business_key: str | None
) -> tuple[bool, list[Task]]:
    """Whether the case lies within the principal's jurisdiction, and its open tasks."""
    judged = scope(engine, principal)
    with engine.db.reading() as session:
        petition = queries.find_petition(session, business_key)
        tasks = queries.case_tasks(session, business_key, instance_id)
    responsible = petition.responsible_unit if petition else None
    return policy.case_visible(principal, judged, responsible, tasks), tasks


def check_case(
    engine: Engine, principal: Principal, instance_id: str, business_key: str | None, what: str, ident: str
) -> None:
    """404 outside the jurisdiction, 403 inside it for an account that may not read this kind of case."""
    visible, tasks = _case(engine, principal, instance_id, business_key)
    readers = policy.PETITION_READERS if what == "petition" else policy.INSTANCE_READERS
    policy.check_case(principal, visible, readers, tasks, what, ident)


def accuser_hidden(
    engine: Engine,
    principal: Principal,
    business_key: str | None,
    instance_id: str,
    data: dict[str, Any] | None = None,
) -> bool:
    """Whether the petitioner of this case is an accuser the principal may not know (engine/policy.py);
    ``data``: the case's variables when the caller has them."""
    with engine.db.reading() as session:
        petition = queries.find_petition(session, business_key)
        category = _category(petition, data)
        if category != policy.ACCUSATION:
            return False
        own = frozenset(principal.units) | queries.unit_names(session, principal.units)
        tasks = queries.case_tasks(session, business_key, instance_id)
    facts = queries.CaseFacts(
        petition.responsible_unit if petition else None,
        petition.involved_unit if petition else None,
        category,
    )
    return policy.hides_accuser(principal, scope(engine, principal), facts, own, tasks)


def _shown(
    engine: Engine, principal: Principal, business_key: str | None, instance_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    shown = policy.contact_fields(principal, data)
    hidden = accuser_hidden(engine, principal, business_key, instance_id, data)
    return policy.hide_identity(shown) if hidden else shown


def readable_instance(engine: Engine, principal: Principal, instance_id: str) -> Instance:
    """The instance if its case lies within the principal's jurisdiction; otherwise it is unknown (404)."""
    row = read(engine, queries.get_instance, instance_id)
    check_case(engine, principal, row.id, row.business_key, "instance", instance_id)
    return row


def instance_variables(engine: Engine, principal: Principal, instance_id: str) -> dict[str, Any]:
    readable_instance(engine, principal, instance_id)
    return result_variables(engine, principal, instance_id)


def result_variables(engine: Engine, principal: Principal, instance_id: str) -> dict[str, Any]:
    """The variables of an instance the principal's command just ran on (Camunda's withVariablesInReturn):
    acting on it was allowed, so is reading what it produced, even when no task of it is theirs any more."""
    row = read(engine, queries.get_instance, instance_id)
    return _shown(engine, principal, row.business_key, instance_id, engine.variables(instance_id))


def instance_history(engine: Engine, principal: Principal, row: Instance) -> list[Any]:
    """What happened to a readable instance, an accuser's identity hidden from whoever may not know it."""
    events = read(engine, queries.history, row.id)
    if accuser_hidden(engine, principal, row.business_key, row.id):
        for event in events:  # read objects, detached from their closed session: nothing is written back
            event.data = policy.hide_identity(event.data) if event.data else event.data
    return events


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


def resume(engine: Engine, principal: Principal, instance_id: str) -> dict[str, Any]:
    """Resume a suspended case, with what the official reads: the case is resumed even when a timer that came
    due meanwhile fails to fire, and then the reply names the step that failed (its incident, retried on
    异常处理)."""
    policy.check_role(principal, policy.INSTANCE_MANAGERS)
    result = engine.resume(instance_id, actor=_actor(principal))
    message = "已恢复办理"
    if result.incident is not None:
        f = queries.IncidentFilter(instance_id=instance_id)
        listed = _with_names(engine, read(engine, queries.list_incidents, f))
        step = next((i["element_name"] for i in listed if i["element_name"]), None) or "流程环节"
        message = f"已恢复办理，但定时触发后流程在「{step}」处运行出错，已转异常处理，排除原因后可重试"
    return {**asdict(result), "message": message}


def cancel(
    engine: Engine, principal: Principal, instance_id: str, reason: str | None = None
) -> CommandResult:
    policy.check_role(principal, policy.INSTANCE_MANAGERS)
    return engine.cancel(instance_id, actor=_actor(principal), reason=reason)


# -- repair: incidents, modification, migration (engine/repair.py) ----------------------------------------------
def incidents(
    engine: Engine, principal: Principal, *, instance_id: str | None = None, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """The incidents within the principal's jurisdiction, each with its element's name and its process."""
    policy.check_role(principal, policy.REPAIRERS)
    f = queries.IncidentFilter(within(engine, principal), instance_id, limit, offset)
    return _with_names(engine, read(engine, queries.list_incidents, f))


def _with_names(engine: Engine, rows: Sequence[tuple[Incident, str, str]]) -> list[dict[str, Any]]:
    """Listed incidents, each with its element's name and its process."""
    names: dict[str, dict[str, str | None]] = {}
    found = []
    for incident, definition_id, definition_key in rows:
        if definition_id not in names:
            names[definition_id] = engine.element_names(definition_id)
        found.append(
            {
                "incident": incident,
                "element_name": names[definition_id].get(incident.element_id or ""),
                "definition_id": definition_id,
                "definition_key": definition_key,
            }
        )
    return found


def retry_incidents(engine: Engine, principal: Principal, ids: Sequence[int]) -> list[dict[str, Any]]:
    """Retry each incident (one transaction each): resolved, or failed again with the new message; an incident
    outside the jurisdiction is unknown (404, nothing retried)."""
    policy.check_role(principal, policy.REPAIRERS)
    found = [read(engine, queries.get_incident, i) for i in dict.fromkeys(ids)]
    for incident in found:
        if not case_readable(engine, principal, incident.instance_id, incident.business_key):
            raise NotFound(f"no incident '{incident.id}'", {"incident": incident.id})
    results = []
    for incident in found:
        try:
            engine.retry_incident(incident.id, actor=_actor(principal))
        except (ProcessError, InvalidState, Conflict) as error:
            # Failed again (one attempt more), or not now (a suspended case is resumed first): the rest go on.
            # ``reason`` is what an official reads, ``message`` the engine's own account for operators.
            again = read(engine, queries.get_incident, incident.id)
            results.append(
                {
                    "id": incident.id,
                    "resolved": False,
                    "message": error.message,
                    "reason": error.to_dict()["message"],
                    "attempts": again.attempts,
                }
            )
        else:
            results.append(
                {
                    "id": incident.id,
                    "resolved": True,
                    "message": None,
                    "reason": None,
                    "attempts": incident.attempts,
                }
            )
    return results


def _repairable(engine: Engine, principal: Principal, instance_id: str) -> None:
    policy.check_role(principal, policy.REPAIRERS)
    readable_instance(engine, principal, instance_id)


def modify(
    engine: Engine, principal: Principal, instance_id: str, instructions: Any, reason: Any
) -> CommandResult:
    """Camunda's process instance modification of a case within the jurisdiction, with its reason."""
    why = repair.require_reason(reason)
    steps = repair.parse_instructions(instructions)
    _repairable(engine, principal, instance_id)
    return engine.modify(instance_id, steps, reason=why, actor=_actor(principal))


def move_back(
    engine: Engine, principal: Principal, instance_id: str, reason: Any, task_id: str | None = None
) -> CommandResult:
    """退回上一环节 of a case within the jurisdiction, with its reason."""
    why = repair.require_reason(reason)
    _repairable(engine, principal, instance_id)
    return engine.move_back(instance_id, reason=why, actor=_actor(principal), task_id=task_id)


def migrate(
    engine: Engine,
    principal: Principal,
    plan: repair.MigrationPlan,
    *,
    instance_ids: Sequence[str] | None = None,
    dry_run: bool = True,
    batch_size: int = 50,
    reason: Any = None,
) -> dict[str, Any]:
    """A dry run (what each running instance of the source version would become, which cannot move and why), or
    the migration of those that can, ``batch_size`` at a time, each instance in a transaction of its own."""
    policy.check_migrator(principal, scope(engine, principal))
    why = None if dry_run else repair.require_reason(reason)
    moves = engine.dry_run_migration(plan, instance_ids)
    report = [{"move": m, "migrated": False, "error": None} for m in moves]
    rounds = 0
    if why is not None:
        movable = [r for r in report if r["move"].movable]
        for start in range(0, len(movable), batch_size):
            rounds += 1
            for item in movable[start : start + batch_size]:
                item["error"] = engine.migrate_case(
                    plan, item["move"].instance_id, reason=why, actor=_actor(principal)
                )
                item["migrated"] = item["error"] is None
    names = engine.element_names(plan.target_id)
    targets = [{"id": k, "name": v} for k, v in names.items() if v]
    return {"dry_run": dry_run, "batches": rounds, "instances": report, "target_activities": targets}


def start_migration(
    engine: Engine,
    principal: Principal,
    plan: repair.MigrationPlan,
    *,
    instance_ids: Sequence[str] | None = None,
    batch_size: int = 50,
    reason: Any = None,
) -> dict[str, Any]:
    """The migration as a batch the scheduler works off in the background (``batch_size`` cases per tick); the
    plan and the cases are checked now. Returns the batch as :func:`migration_batch` shows it."""
    policy.check_migrator(principal, scope(engine, principal))
    why = repair.require_reason(reason)
    batch_id = engine.start_migration_batch(
        plan, instance_ids, reason=why, actor=_actor(principal), batch_size=batch_size
    )
    return read(engine, batches.progress, batch_id)


def migration_batch(engine: Engine, principal: Principal, batch_id: str) -> dict[str, Any]:
    """A background migration's state, totals and failed cases with their reasons."""
    policy.check_migrator(principal, scope(engine, principal))
    return read(engine, batches.progress, batch_id)


def migration_batches(engine: Engine, principal: Principal, *, limit: int = 50, offset: int = 0) -> list[Any]:
    """The background migrations, the latest first."""
    policy.check_migrator(principal, scope(engine, principal))
    return read(engine, batches.latest, limit, offset)


def register(
    engine: Engine, principal: Principal, data: dict[str, Any]
) -> tuple[Petition, CommandResult, Issued]:
    """Register a petition, start its intake procedure and issue its query code (sent to the petitioner's
    phone through the notifier); the adapter's route guard checks the role."""
    return engine.public.register(data, actor=principal.username)


def supervise(
    engine: Engine, principal: Principal, business_key: str, reason: str, note: str | None
) -> CommandResult:
    """Manual 督办 of an important item: on the escalation board, and a supervision procedure for it."""
    policy.check_role(principal, policy.SUPERVISORS)
    petition = engine.petitions.get(business_key)
    check_case(engine, principal, petition.instance_id or "", business_key, "petition", business_key)
    return engine.escalations.supervise(business_key, reason, note, actor=principal.username)


def readable_case(engine: Engine, principal: Principal, number: str) -> Petition:
    """The petition, if the principal may read its case: the one check its page, its files, its notices and its
    case file all pass, so a jurisdiction rule added here holds for every one of them."""
    petition = engine.petitions.get(number)
    check_case(engine, principal, petition.instance_id or "", number, "petition", number)
    return petition


def _petition_within(engine: Engine, principal: Principal, number: str) -> tuple[Petition, list[Task]]:
    """The petition and its open tasks if it lies within the principal's jurisdiction; otherwise it is unknown
    (404), as readable_petition answers."""
    petition = engine.petitions.get(number)
    visible, tasks = _case(engine, principal, petition.instance_id or "", number)
    if not visible:
        raise queries.unknown_case("petition", number)
    return petition, tasks


def _proxy_acts_on(engine: Engine, principal: Principal, *numbers: str) -> None:
    """A registrar records a petitioner's act on petitions within their jurisdiction (404 outside)."""
    for number in numbers:
        _petition_within(engine, principal, number)
    policy.check_role(principal, policy.PETITIONER_PROXIES)


def request_review(
    engine: Engine, principal: Principal, number: str, kind: str, fields: dict[str, Any]
) -> CommandResult:
    """Record the petitioner's request for 复查 (``kind="review"``) or 复核 (``"recheck"``) and deliver it to
    the petition's procedure; refused with the reason when the window is closed or nothing was served."""
    _proxy_acts_on(engine, principal, number)
    return engine.acts.request_review(number, kind, fields, actor=_actor(principal))


def withdraw(engine: Engine, principal: Principal, number: str, reason: str) -> CommandResult:
    """Record the petitioner's withdrawal (撤回): the procedure ends, the petition is 已撤回."""
    _proxy_acts_on(engine, principal, number)
    return engine.acts.withdraw(number, reason, actor=_actor(principal))


def request_extension(
    engine: Engine, principal: Principal, number: str, fields: dict[str, Any]
) -> CommandResult:
    """The handling unit asks, within the 60 days, for the one extension of at most 30 days (Art. 34); the
    head of the organ approves it while the investigation (and any hearing) goes on."""
    petition, tasks = _petition_within(engine, principal, number)
    policy.check_handles_petition(principal, petition.responsible_unit, tasks)
    return engine.acts.request_extension(number, fields, actor=_actor(principal))


def link_petition(
    engine: Engine, principal: Principal, number: str, other: str, reason: str, *, linked: bool = True
) -> Petition:
    """Link a petition to an earlier one as the same matter (or undo it), with the reason, in the audit."""
    _proxy_acts_on(engine, principal, number, other)
    return engine.petitions.link(number, other, reason, linked=linked, actor=_actor(principal))


def merge(engine: Engine, principal: Principal, number: str, into: str, reason: str) -> CommandResult:
    """合并办理: the petition is handled together with ``into`` (received no later); its procedure ends."""
    _proxy_acts_on(engine, principal, number, into)
    return engine.acts.merge(number, into, reason, actor=_actor(principal))


def split(engine: Engine, principal: Principal, number: str, fields: dict[str, Any]) -> Petition:
    """拆分办理: one matter of the petition registered on its own with the original receipt date."""
    _proxy_acts_on(engine, principal, number)
    return engine.acts.split(number, fields, actor=_actor(principal))


def readable_petition(
    engine: Engine, principal: Principal, number: str
) -> tuple[Petition, list[Instance], list[Any], list[Deadline]]:
    """A petition with its instances, audit events and deadlines (each with its effective due time), if it
    lies within the principal's jurisdiction (otherwise unknown: 404); an accuser's identity hidden from
    whoever may not know it."""
    petition = readable_case(engine, principal, number)
    instance_id = petition.instance_id or ""
    instances, events, deadlines = read(engine, queries.petition_timeline, number)
    for d in deadlines:
        d.effective_due = engine.deadlines.effective_due(d)  # type: ignore[attr-defined]
    if accuser_hidden(engine, principal, number, instance_id):
        # Read objects, detached from their closed session: nothing is written back.
        hide_petitioner(petition)
        for event in events:
            event.data = policy.hide_identity(event.data) if event.data else event.data
    return petition, instances, events, deadlines


def hide_petitioner(petition: Petition) -> None:
    """Blank a read petition's identity fields (a detached object: nothing is written back)."""
    for attribute in policy.IDENTITY_ATTRIBUTES:
        if getattr(petition, attribute):
            setattr(petition, attribute, policy.HIDDEN)
    petition.representatives = [policy.HIDDEN] if petition.representatives else []


def petition_search(
    engine: Engine, principal: Principal, f: queries.PetitionFilter
) -> queries.PetitionFilter:
    """``f`` within the principal's jurisdiction; a search by name, phone or identity number never finds an
    accusation against the principal's own units, and phones and identity numbers are searched only by those
    who may see them."""
    policy.check_identity_search(principal, f)
    with engine.db.reading() as session:
        own = frozenset(principal.units) | queries.unit_names(session, principal.units)
    return replace(f, within=within(engine, principal), accused=own)


def petitions(engine: Engine, principal: Principal, f: queries.PetitionFilter) -> list[Petition]:
    """Search petitions (petition_search); accusers stay hidden in the rows from whoever may not know them."""
    found = read(engine, queries.list_petitions, petition_search(engine, principal, f), engine.now())
    for petition in found:
        if petition.category == policy.ACCUSATION and accuser_hidden(
            engine, principal, petition.number, petition.instance_id or ""
        ):
            hide_petitioner(petition)
    return found


def petition_total(engine: Engine, principal: Principal, f: queries.PetitionFilter) -> int:
    """How many petitions the search finds over all its pages."""
    return read(engine, queries.count_petitions, petition_search(engine, principal, f), engine.now())


def visible_petitions(engine: Engine, principal: Principal, f: queries.PetitionFilter) -> list[Petition]:
    """The petitions list (and its exports): the adapters' route guards admit PETITION_READERS."""
    policy.check_role(principal, policy.PETITION_READERS)
    return petitions(engine, principal, f)


def metrics(engine: Engine, principal: Principal, **filters: Any) -> list[dict[str, Any]]:
    """The statutory metrics (the page and its exports): ``filters`` are MetricQuery's (since, until, unit,
    involved_unit, by_unit, by_involved, by_month), within the principal's jurisdiction, as of the engine's now."""
    policy.check_role(principal, policy.METRIC_READERS)
    return read(engine, compute, MetricQuery(**filters, units=scope(engine, principal), now=engine.now()))


def process_names(engine: Engine) -> dict[str, str]:
    """Process key -> its latest version's name, for lists that show which procedure a task is in."""
    return {d.key: d.name or d.key for d, *_ in reversed(read(engine, queries.definitions_overview))}


# -- a case's papers: attachments, notices, the case file --------------------------------------------------
def writable_case(engine: Engine, principal: Principal, number: str) -> Petition:
    petition = readable_case(engine, principal, number)
    with engine.db.reading() as session:
        policy.check_case_filer(principal, queries.petition_tasks(session, number))
    return petition


def case_task(engine: Engine, principal: Principal, number: str, task_id: str) -> Task:
    """An open task of the petition the principal acts on (the step a file or a notice belongs to)."""
    task, _ = acting_on(engine, principal, task_id)
    if task.business_key != number:
        raise NotFound(f"task '{task_id}' is not a step of petition '{number}'", {"task": task_id})
    return task


def attachments(engine: Engine, principal: Principal, number: str) -> list[Attachment]:
    readable_case(engine, principal, number)
    return engine.documents.attachments(number)


def attach(
    engine: Engine, principal: Principal, number: str, uploads: Sequence[Upload], task_id: str | None = None
) -> list[Attachment]:
    """Files added to a petition (to one of its steps, with ``task_id``), in one transaction of their own."""
    writable_case(engine, principal, number)
    task = case_task(engine, principal, number, task_id) if task_id else None
    return engine.documents.attach(
        number, uploads, actor=_actor(principal), origin="task" if task else "petition", task=task
    )


def attachment_file(
    engine: Engine, principal: Principal, number: str, attachment_id: int
) -> tuple[Attachment, bytes]:
    """An attachment's bytes, authorised like its petition, and the download recorded in its history."""
    readable_case(engine, principal, number)
    row = engine.documents.attachment(number, attachment_id)
    engine.documents.record_download(number, _actor(principal), attachment=row.id, file=row.filename)
    return row, engine.documents.content(row.sha256)


def documents(engine: Engine, principal: Principal, number: str) -> list[Document]:
    readable_case(engine, principal, number)
    return engine.documents.documents(number)


def issue_notice(
    engine: Engine, principal: Principal, number: str, kind: str, task_id: str, text: str = ""
) -> Document:
    """A written notice issued at a step of the petition by whoever acts on that step, in their organ's name."""
    petition = readable_case(engine, principal, number)
    task = case_task(engine, principal, number, task_id)
    variables = engine.variables(task.instance_id, task.id)
    return engine.documents.issue(
        petition,
        kind,
        organ=principal.unit,
        actor=_actor(principal),
        task=task,
        variables=variables,
        text=text,
    )


def record_service(
    engine: Engine, principal: Principal, number: str, document_id: int, record: ServiceRecord
) -> Document:
    writable_case(engine, principal, number)
    return engine.documents.record_service(number, document_id, record, actor=_actor(principal))


def document_file(
    engine: Engine, principal: Principal, number: str, document_id: int
) -> tuple[Document, bytes]:
    readable_case(engine, principal, number)
    row = engine.documents.document(number, document_id)
    engine.documents.record_download(number, _actor(principal), document=row.id, docNumber=row.doc_number)
    return row, engine.documents.content(row.sha256)


def case_file(engine: Engine, principal: Principal, number: str) -> bytes:
    """卷宗: the registration, every notice, every attachment and the history, in order (one ZIP)."""
    petition = readable_case(engine, principal, number)
    _, events, _ = read(engine, queries.petition_timeline, number)
    archive = engine.documents.case_file(petition, events)
    engine.documents.record_download(number, _actor(principal), caseFile=True)
    return archive


# What the petitioner's own side (issue #18) calls, after it has established who is asking by its own means:
# the notices served on them, nothing else of the case.
def served_notices(engine: Engine, number: str) -> list[Document]:
    engine.petitions.get(number)
    return engine.documents.documents(number, served_only=True)


def served_notice_file(engine: Engine, number: str, document_id: int) -> tuple[Document, bytes]:
    row = engine.documents.document(number, document_id)
    if row.served_on is None:
        raise NotFound(f"no served document {document_id} on petition '{number}'", {"document": document_id})
    engine.documents.record_download(number, "信访人", document=row.id, docNumber=row.doc_number)
    return row, engine.documents.content(row.sha256)


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
            "message": UNSUPPORTED_FILE,
        }
        for f in files
        if f.kind is None
    ]


# -- the organisation -----------------------------------------------------------------------------------------
def load_organisation(engine: Engine, principal: Principal, text: str) -> LoadReport:
    """Load an organisation file (docs/organisation.md): checked whole, nothing written if anything is wrong."""
    policy.check_role(principal, policy.ORG_ADMINS)
    return engine.orgadmin.load(parse_document(text), _actor(principal))


def units(engine: Engine, principal: Principal) -> list[Unit]:
    """Every unit: their names are no secret (task lists name them), what is done in them is."""
    return engine.organisation.units()


def unit(engine: Engine, principal: Principal, code: str) -> Unit:
    found = engine.organisation.unit(code)
    if found is None:
        raise NotFound(f"没有单位 {code}", {"unit": code})
    return found


def staff(engine: Engine, principal: Principal, code: str, position: str | None = None) -> list[Membership]:
    """The unit's members (for the 承办人 picker and reassignment)."""
    unit(engine, principal, code)
    return engine.organisation.staff(code, position)


def save_unit(engine: Engine, principal: Principal, spec: UnitSpec, *, new: bool) -> Unit:
    policy.check_role(principal, policy.ORG_ADMINS)
    return engine.orgadmin.save_unit(spec, _actor(principal), new=new)


def add_member(engine: Engine, principal: Principal, member: Membership) -> None:
    policy.check_role(principal, policy.ORG_ADMINS)
    engine.orgadmin.add_member(member, _actor(principal))


def remove_member(engine: Engine, principal: Principal, login: str, code: str, position: str) -> None:
    policy.check_role(principal, policy.ORG_ADMINS)
    engine.orgadmin.remove_member(login, code, position, _actor(principal))


def users(engine: Engine, principal: Principal) -> list[UserInfo]:
    policy.check_role(principal, policy.ORG_ADMINS)
    return engine.users.list()


def user(engine: Engine, principal: Principal, login: str) -> UserInfo:
    policy.check_role(principal, policy.ORG_ADMINS)
    return engine.users.get(login)


def create_user(engine: Engine, principal: Principal, login: str, password: str, **fields: Any) -> UserInfo:
    policy.check_role(principal, policy.ORG_ADMINS)
    return engine.users.create(login, password, _actor(principal), **fields)


def update_user(engine: Engine, principal: Principal, login: str, **changes: Any) -> UserInfo:
    policy.check_role(principal, policy.ORG_ADMINS)
    return engine.users.update(login, _actor(principal), **changes)


def undeploy(
    engine: Engine,
    principal: Principal,
    *,
    deployment_id: str | None = None,
    definition_id: str | None = None,
) -> list[str]:
    """Remove a test version nobody ran (a designer's mistaken deployment); refused once any instance exists."""
    policy.check_role(principal, policy.DEPLOYERS)
    return engine.undeploy(deployment_id=deployment_id, definition_id=definition_id)


# -- messages ------------------------------------------------------------------------------------------------
def correlate_message(
    engine: Engine,
    principal: Principal,
    name: str,
    *,
    instance_id: str | None = None,
    business_key: str | None = None,
    correlation_keys: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
    every: bool = False,
) -> list[tuple[str, CommandResult]]:
    """Deliver a message to the waiting instances it correlates with, or start the process it starts (the
    one road for messages from outside: /engine-rest/message and the use cases that send one)."""
    policy.check_role(principal, policy.MESSAGE_SENDERS)
    county_wide(engine, principal, "messages from outside reach cases of every unit")
    return engine.correlate(
        name,
        instance_id=instance_id,
        business_key=business_key,
        correlation_keys=correlation_keys,
        variables=variables,
        every=every,
        actor=_actor(principal),
    )


# -- forms and history for the Camunda REST subset -------------------------------------------------------------
def start_form(engine: Engine, definition_id: str) -> Any:
    """The deployed start form of a definition (DeployedForm), or None."""
    with engine.db.reading() as session:
        return engine.start_form(session, definition_id)


def form_link(engine: Engine, definition_id: str, element_id: str) -> dict[str, Any] | None:
    """Camunda's camundaFormRef of an element, as the diagram linked it."""
    return engine.form_link(definition_id, element_id)


def start_form_link(engine: Engine, definition_id: str) -> dict[str, Any] | None:
    return engine.start_form_link(definition_id)


def element_names(engine: Engine, definition_id: str) -> dict[str, str | None]:
    return engine.element_names(definition_id)


def instance_activities(engine: Engine, principal: Principal, instance_id: str) -> list[dict[str, Any]]:
    readable_instance(engine, principal, instance_id)
    return engine.active_activities(instance_id)


def history_events(
    engine: Engine, principal: Principal, kinds: Sequence[str], where: Any, page: Any
) -> list[Any]:
    """Audit events of ``kinds`` for Camunda's /history (county-wide instance readers only: they span every
    unit)."""
    policy.check_role(principal, policy.INSTANCE_READERS)
    county_wide(engine, principal, "the history spans every unit")
    return read(engine, queries.event_page, kinds, where, page)


def history_count(engine: Engine, principal: Principal, kinds: Sequence[str], where: Any) -> int:
    policy.check_role(principal, policy.INSTANCE_READERS)
    county_wide(engine, principal, "the history spans every unit")
    return read(engine, queries.event_count, kinds, where)


def dry_run(engine: Engine, principal: Principal, definition_id: str) -> dict[str, Any]:
    """Walk a definition's paths with its forms' example data on a scratch copy (engine/dryrun.py)."""
    policy.check_role(principal, policy.DEPLOYERS)
    from .dryrun import dry_run as walk

    return walk(engine, definition_id)


def county_wide(engine: Engine, principal: Principal, why: str) -> None:
    """Refuse whoever's jurisdiction is narrower than the county (a unit's head or inspector)."""
    if scope(engine, principal) is not None:
        raise Forbidden(f"this needs a county-wide jurisdiction: {why}")


# -- the petitioner's side (engine/public.py) ------------------------------------------------------------------
def submit_online(
    engine: Engine, data: dict[str, Any], address: str | None, uploads: Sequence[Upload] = ()
) -> tuple[Petition, CommandResult, Issued]:
    """An online petition (no account) with the files sent with it: validated by the registration form's
    rules and the public upload limits, limited per address."""
    return engine.public.submit(data, address=address, uploads=uploads)


def public_lookup(engine: Engine, number: str, code: str, address: str | None) -> dict[str, Any]:
    """The public facts of the item whose query code this is (limited per address and per number)."""
    return public_view(engine, engine.public.authenticate(number, code, address))


def public_view(engine: Engine, petition: Petition) -> dict[str, Any]:
    """What the petitioner reads of the item (engine/public.py) with the written notices served on them."""
    view = engine.public.view(petition)
    view["notices"] = [
        {"id": d.id, "title": d.title, "number": d.doc_number, "servedOn": d.served_on.isoformat()}
        for d in served_notices(engine, petition.number)
        if d.served_on is not None
    ]
    # The files the petitioner sent online, by name and size only: what officials attached is theirs.
    view["attachments"] = [
        {"filename": a.filename, "size": a.size}
        for a in engine.documents.attachments(petition.number)
        if a.origin == "petitioner"
    ]
    return view


def public_notice_file(
    engine: Engine, number: str, code: str, address: str | None, document_id: int
) -> tuple[Document, bytes]:
    """A notice served on the petitioner, its PDF as issued, to whoever holds the item's number and code."""
    petition = engine.public.authenticate(number, code, address)
    return served_notice_file(engine, petition.number, document_id)


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
    return public_view(engine, petition)


def evaluate_for(
    engine: Engine, principal: Principal, number: str, rating: Any, reason: Any
) -> dict[str, Any]:
    """The registrar records a petitioner's evaluation given at the counter or by letter."""
    _proxy_acts_on(engine, principal, number)
    petition = engine.petitions.get(number)
    _evaluate(engine, petition, rating, reason, principal.username)
    return public_view(engine, petition)


def outbox(
    engine: Engine, principal: Principal, status: str | None, limit: int, offset: int
) -> list[OutboxMessage]:
    policy.check_role(principal, policy.OUTBOX_READERS)
    return engine.outbox.list(status, limit, offset)


def mark_outbox(engine: Engine, principal: Principal, message_id: int, status: str) -> OutboxMessage:
    policy.check_role(principal, policy.OUTBOX_READERS)
    return engine.outbox.mark(message_id, status)


# -- the officials' inbox: every signed-in official reads only what is addressed to them or their groups ------
def inbox(
    engine: Engine, principal: Principal, *, unread_only: bool, limit: int, offset: int
) -> dict[str, Any]:
    entries = engine.inbox.entries(principal, unread_only=unread_only, limit=limit, offset=offset)
    return {"items": entries, "unread": engine.inbox.unread(principal)}


def inbox_unread(engine: Engine, principal: Principal) -> int:
    return engine.inbox.unread(principal)


def mark_inbox_read(engine: Engine, principal: Principal, ids: Sequence[int] | None) -> dict[str, int]:
    marked = engine.inbox.mark_read(principal, ids)
    return {"marked": marked, "unread": engine.inbox.unread(principal)}


def inbox_email(engine: Engine, principal: Principal) -> dict[str, Any]:
    return {"email": engine.inbox.email(principal), "available": engine.mailer is not None}


def set_inbox_email(engine: Engine, principal: Principal, address: str | None) -> dict[str, Any]:
    engine.inbox.set_email(principal, address)
    return inbox_email(engine, principal)


def public_request_review(
    engine: Engine, number: str, code: str, address: str | None, kind: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """The petitioner's own request for 复查/复核: the same use case the registrar records it with."""
    petition = engine.public.authenticate(number, code, address)
    engine.acts.request_review(petition.number, kind, fields, actor=None)
    return public_view(engine, engine.petitions.get(petition.number))


def public_withdraw(
    engine: Engine, number: str, code: str, address: str | None, reason: str
) -> dict[str, Any]:
    """The petitioner withdraws the item themselves (the registrar's withdrawal, without the account)."""
    petition = engine.public.authenticate(number, code, address)
    engine.acts.withdraw(petition.number, reason, actor=None)
    return public_view(engine, engine.petitions.get(petition.number))


# -- the instance tree: where each case stands inside its called procedures --------------------------------
_catalogues: dict[str, elements.Catalogue] = {}


def catalogues(engine: Engine, definition_ids: Sequence[str]) -> dict[str, elements.Catalogue]:
    """The catalogue of each definition version (immutable once deployed: kept for the process's life)."""
    missing = sorted({d for d in definition_ids if d not in _catalogues})
    if missing:
        for definition_id, spec_json in read(engine, queries.definition_specs, missing).items():
            _catalogues[definition_id] = elements.catalogue(*engine.codec.specs_for(definition_id, spec_json))
    return {d: _catalogues[d] for d in definition_ids if d in _catalogues}


def positions(engine: Engine, instance_ids: Sequence[str]) -> dict[str, elements.Position]:
    """Instance id -> its levels and innermost steps, for every running one among ``instance_ids``."""
    active = read(engine, queries.active_elements, instance_ids)
    known = catalogues(engine, [d for d, _ in active.values()])
    return {i: elements.position(known[d], ids) for i, (d, ids) in active.items() if d in known}


def step_rows(position: elements.Position | None) -> list[dict[str, Any]]:
    """A position's innermost steps as the lists show them."""
    return [
        {"process": s.process, "processName": s.process_name, "elementId": s.element, "name": s.name}
        for s in (position.steps if position else [])
    ]


def instance_levels(engine: Engine, row: Instance) -> list[dict[str, Any]]:
    """The procedures a readable instance is in, outermost first, each with the definition its diagram is
    drawn from (for a procedure in a called file) and the call activity that entered it."""
    position = positions(engine, [row.id]).get(row.id)
    if position is None:
        known = catalogues(engine, [row.definition_id]).get(row.definition_id)
        position = elements.position(known, []) if known else elements.Position()
    drawn = read(
        engine, queries.file_definitions, row.definition_id, [lv.file for lv in position.levels if lv.file]
    )
    return [
        {
            "process": lv.process,
            "name": lv.name,
            "definitionId": row.definition_id if i == 0 else drawn.get(lv.file or ""),
            "parent": lv.parent,
            "via": lv.via,
            "steps": [s.element for s in position.steps if s.process == lv.process],
        }
        for i, lv in enumerate(position.levels)
    ]


def element_places(engine: Engine, definition_ids: Sequence[str]) -> dict[tuple[str, str], dict[str, str]]:
    """(definition, element) -> the element's Chinese name and the procedure it is in, over every process of
    each definition (an id several processes use: the first process that names it)."""
    places: dict[tuple[str, str], dict[str, str]] = {}
    for definition_id, known in catalogues(engine, definition_ids).items():
        for process in known.processes.values():
            for element, (_, name) in process.elements.items():
                if name:
                    places.setdefault((definition_id, element), {"name": name, "processName": process.name})
    return places


def people(engine: Engine, usernames: Sequence[str | None]) -> dict[str, dict[str, str | None]]:
    """Login -> display name and unit name, for histories that show people rather than logins."""
    found = read(engine, queries.people, [u for u in usernames if u])
    return {login: {"name": name, "unit": unit} for login, (name, unit) in found.items()}


# -- saved filters (Camunda Tasklist's filters): each user's own ----------------------------------------------
def saved_filters(engine: Engine, principal: Principal, list_name: str | None) -> list[SavedFilter]:
    return read(engine, queries.saved_filters, principal.username, list_name)


def save_filter(
    engine: Engine, principal: Principal, list_name: str, name: str, criteria: dict[str, Any]
) -> SavedFilter:
    """Save (or replace, under the same name) one of the principal's filters of a list."""
    if not principal.username:
        raise Forbidden("只有登录用户可以保存筛选条件", {})
    with engine.db.transaction() as session:
        row = session.scalars(
            select(SavedFilter).where(
                SavedFilter.username == principal.username,
                SavedFilter.list_name == list_name,
                SavedFilter.name == name,
            )
        ).first()
        if row is None:
            row = SavedFilter(username=principal.username, list_name=list_name, name=name)
            session.add(row)
        row.criteria = criteria
        row.created_at = engine.now()
        session.flush()
        session.expunge(row)
        return row


def delete_filter(engine: Engine, principal: Principal, filter_id: int) -> None:
    """Delete one of the principal's own filters; another user's is as unknown as none (404)."""
    with engine.db.transaction() as session:
        row = session.get(SavedFilter, filter_id)
        if row is None or row.username != principal.username:
            raise NotFound(f"没有编号为 {filter_id} 的筛选条件", {"filter": filter_id})
        session.delete(row)
