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
from .documents import ServiceRecord, Upload
from .errors import InvalidInput, NotFound
from .forms import FormDefinition
from .metrics import MetricQuery, compute
from .models import Attachment, Deadline, Document, Instance, Petition, Task
from .queries import PetitionFilter

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


def complete(
    engine: Engine,
    principal: Principal,
    task_id: str,
    variables: dict[str, Any],
    uploads: Sequence[Upload] = (),
) -> CommandResult:
    """Complete a task; files sent with its form are stored in the completion's own transaction."""
    task = readable_task(engine, principal, task_id)
    policy.check_may_act(principal, task)
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


def recorded_fields(engine: Engine, task: Task) -> dict[str, Any]:
    """The notice number and service date the case's notices fill in on this step's form (engine/documents.py);
    nothing is read unless the form has such a field."""
    form = engine.forms.get(task.form_ref, task.form_version) if task.form_ref and task.form_version else None
    if form is None:
        return {}
    return engine.documents.recorded_fields(task, form.definition.keys)


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
    """What the task sees (with what the case's notices fill in), contact details masked for roles that do not
    need them."""
    data = {**engine.variables(task.instance_id, task.id), **recorded_fields(engine, task)}
    return policy.contact_fields(principal, data)


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


def register(engine: Engine, principal: Principal, data: dict[str, Any]) -> tuple[Petition, CommandResult]:
    """Register a petition and start its intake procedure; the adapter's route guard checks the role."""
    return engine.petitions.register(data, actor=principal.username)


def readable_case(engine: Engine, principal: Principal, number: str) -> Petition:
    """The petition, if the principal may read its case: the one check its page, its files, its notices and its
    case file all pass, so a jurisdiction rule added here holds for every one of them."""
    petition = engine.petitions.get(number)
    if not principal.has(*policy.PETITION_READERS):
        with engine.db.reading() as session:
            policy.check_petition(principal, queries.petition_tasks(session, number))
    return petition


def readable_petition(
    engine: Engine, principal: Principal, number: str
) -> tuple[Petition, list[Instance], list[Any], list[Deadline]]:
    """A petition with its instances, audit events and deadlines (each with its effective due time)."""
    petition = readable_case(engine, principal, number)
    instances, events, deadlines = read(engine, queries.petition_timeline, number)
    for d in deadlines:
        d.effective_due = engine.deadlines.effective_due(d)  # type: ignore[attr-defined]
    return petition, instances, events, deadlines


def visible_petitions(engine: Engine, principal: Principal, f: PetitionFilter) -> list[Petition]:
    """The petitions list (and its exports): the adapters' route guards admit PETITION_READERS."""
    policy.check_role(principal, policy.PETITION_READERS)
    return read(engine, queries.list_petitions, f, engine.now())


def metrics(engine: Engine, principal: Principal, q: MetricQuery) -> list[dict[str, Any]]:
    """The statutory metrics (the page and its exports)."""
    policy.check_role(principal, policy.METRIC_READERS)
    return read(engine, compute, q)


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
    task = readable_task(engine, principal, task_id)
    policy.check_may_act(principal, task)
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
            "message": "only .bpmn and .form files can be deployed",
        }
        for f in files
        if f.kind is None
    ]
