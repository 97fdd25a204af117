"""/api/tasks: what a handler works on."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.errors import Forbidden, NotFound
from engine.models import Task
from engine.queries import TaskFilter, get_task, list_tasks
from engine.runtime import CommandResult, Engine

from ..auth import current, engine, require
from ..policy import check_may_act, check_task, contact_fields
from .common import PageArgs, json_safe, source, with_errors

blp = Blueprint("tasks", __name__, url_prefix="/api/tasks", description="Human tasks: list, claim, complete")


class TaskSchema(Schema):
    id = fields.String()
    name = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    instanceId = fields.String(attribute="instance_id")
    definitionId = fields.String(attribute="definition_id")
    definitionKey = fields.String(attribute="definition_key")
    elementId = fields.String(attribute="element_id")
    businessKey = fields.String(attribute="business_key", allow_none=True)
    assignee = fields.String(allow_none=True)
    candidateUsers = fields.List(fields.String(), attribute="candidate_users")
    candidateGroups = fields.List(fields.String(), attribute="candidate_groups")
    formRef = fields.String(attribute="form_ref", allow_none=True)
    formVersion = fields.Integer(attribute="form_version", allow_none=True)
    due = fields.DateTime(attribute="due_at", allow_none=True)
    followUp = fields.DateTime(attribute="follow_up_at", allow_none=True)
    priority = fields.Integer()
    created = fields.DateTime(attribute="created_at")
    suspended = fields.Boolean()


class TaskDetailSchema(TaskSchema):
    form = fields.Dict(allow_none=True, metadata={"description": "the Camunda Form (form-js JSON)"})
    variables = fields.Dict()


class TaskQuery(PageArgs):
    assignee = fields.String()
    candidateGroup = fields.String()
    mine = fields.Boolean(metadata={"description": "assigned to me or offered to me or my groups"})
    unassigned = fields.Boolean()
    overdue = fields.Boolean()
    businessKey = fields.String()
    instanceId = fields.String()
    definitionKey = fields.String()
    elementId = fields.String()


class UserArgs(Schema):
    userId = fields.String(required=True, validate=validate.Length(min=1, max=100))


class AssignArgs(Schema):
    userId = fields.String(required=True, allow_none=True, validate=validate.Length(min=1, max=100))


class CompleteArgs(Schema):
    variables = fields.Dict(keys=fields.String(), load_default=dict)


class CommentArgs(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class CompleteResultSchema(Schema):
    instanceId = fields.String(attribute="instance_id")
    state = fields.String()
    createdTasks = fields.List(fields.String(), attribute="created_tasks")


def _visible_filter(args: dict[str, Any]) -> TaskFilter:
    principal = current()
    groups = [args["candidateGroup"]] if args.get("candidateGroup") else []
    common = {
        "assignee": args.get("assignee"),
        "unassigned": args.get("unassigned"),
        "overdue": args.get("overdue"),
        "business_key": args.get("businessKey"),
        "instance_id": args.get("instanceId"),
        "definition_key": args.get("definitionKey"),
        "element_id": args.get("elementId"),
        "limit": args["limit"],
        "offset": args["offset"],
    }
    if principal.has("supervisor", "admin") and not args.get("mine"):
        return TaskFilter(candidate_groups=groups, **common)
    # Everyone else sees what is theirs or offered to them; a group filter can only narrow that.
    if groups and not set(groups) <= set(principal.groups):
        raise Forbidden("you can list only the tasks of your own groups", {"groups": list(principal.groups)})
    return TaskFilter(
        involved_user=principal.username,
        involved_groups=list(principal.groups),
        candidate_groups=groups,
        **common,
    )


def _task(task_id: str, *, acting: bool = True) -> Task:
    with engine().db.reading() as session:
        task = get_task(session, task_id, acting=acting)
    check_task(current(), task)
    return task


def require_user(petitionflow: Engine, user_id: str) -> None:
    """A task goes only to someone who can sign in to work on it: a name no account has (or a deactivated
    one) would leave the task with nobody, hidden from its groups' lists."""
    if petitionflow.accounts.get(user_id) is None:
        raise NotFound(f"没有用户名为“{user_id}”的在用账号", {"user": user_id})


# The commands with their permission checks, shared with the Camunda-compatible API (webapi/camunda).
def claim_task(task_id: str, user_id: str) -> CommandResult:
    principal, task = current(), _task(task_id)
    check_may_act(principal, task)
    if user_id != principal.username and not principal.has("supervisor", "admin"):
        raise Forbidden("you can claim tasks only for yourself")
    require_user(engine(), user_id)
    return engine().claim(task_id, user_id, actor=principal.username)


def unclaim_task(task_id: str) -> CommandResult:
    principal, task = current(), _task(task_id)
    if task.assignee != principal.username and not principal.has("supervisor", "admin"):
        raise Forbidden("only the assignee or a supervisor can release a task")
    return engine().unclaim(task_id, actor=principal.username)


def assign_task(task_id: str, user_id: str | None) -> CommandResult:
    """The caller's role (supervisor or admin) is checked by the view."""
    _task(task_id)
    if user_id is not None:
        require_user(engine(), user_id)
    return engine().assign(task_id, user_id, actor=current().username)


def complete_task(task_id: str, variables: dict[str, Any]) -> CommandResult:
    principal, task = current(), _task(task_id)
    check_may_act(principal, task)
    return engine().complete(task_id, variables, actor=principal.username, require_claim=True)


@blp.route("")
class Tasks(MethodView):
    @require()
    @blp.arguments(TaskQuery, location="query")
    @blp.response(200, TaskSchema(many=True))
    @with_errors(blp, 400, 401, 403, 422)
    def get(self, args: dict[str, Any]) -> list[Task]:
        """Open tasks, overdue and soonest due first."""
        with engine().db.reading() as session:
            return list_tasks(session, _visible_filter(args), engine().now())


@blp.route("/<task_id>")
class TaskItem(MethodView):
    @require()
    @blp.response(200, TaskDetailSchema)
    @with_errors(blp, 401, 403, 404)
    def get(self, task_id: str) -> dict[str, Any]:
        """One task with its form and the data the form shows."""
        task = _task(task_id, acting=False)
        deployed = engine().forms.get(task.form_ref, task.form_version) if task.form_version else None
        form = deployed.schema if deployed else None
        variables = contact_fields(current(), json_safe(engine().variables(task.instance_id, task.id)))
        return {**source(TaskSchema(), task), "form": form, "variables": variables}


@blp.route("/<task_id>/claim", methods=["POST"])
@require()
@blp.arguments(UserArgs)
@blp.response(200, CompleteResultSchema)
@with_errors(blp, 400, 401, 403, 404, 409, 422)
def claim(args: dict[str, Any], task_id: str) -> Any:
    """Take the task; a second claimant gets 409."""
    return claim_task(task_id, args["userId"])


@blp.route("/<task_id>/unclaim", methods=["POST"])
@require()
@blp.response(200, CompleteResultSchema)
@with_errors(blp, 401, 403, 404, 409)
def unclaim(task_id: str) -> Any:
    return unclaim_task(task_id)


@blp.route("/<task_id>/assign", methods=["POST"])
@require("supervisor", "admin")
@blp.arguments(AssignArgs)
@blp.response(200, CompleteResultSchema)
@with_errors(blp, 400, 401, 403, 404, 409, 422)
def assign(args: dict[str, Any], task_id: str) -> Any:
    """Give the task to someone (or to nobody with null)."""
    return assign_task(task_id, args["userId"])


@blp.route("/<task_id>/complete", methods=["POST"])
@require()
@blp.arguments(CompleteArgs, required=False)
@blp.response(200, CompleteResultSchema)
@with_errors(blp, 400, 401, 403, 404, 409, 422)
def complete(args: dict[str, Any], task_id: str) -> Any:
    """Complete a claimed task with its form data; every invalid field is reported at once (422)."""
    return complete_task(task_id, args["variables"])


@blp.route("/<task_id>/comments", methods=["POST"])
@require()
@blp.arguments(CommentArgs)
@blp.response(200, CompleteResultSchema)
@with_errors(blp, 400, 401, 403, 404, 409, 422)
def comment(args: dict[str, Any], task_id: str) -> Any:
    principal, task = current(), _task(task_id)
    check_may_act(principal, task)
    return engine().comment(task_id, args["text"], actor=principal.username)
