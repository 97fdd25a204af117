"""/api/tasks: what a handler works on."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload as UploadField
from marshmallow import Schema, fields, validate

from engine import exports, services
from engine.documents import Upload
from engine.errors import InvalidInput

from ..auth import current, engine, require
from ..body import BodyRefused, parse_json, refusal_text
from .common import (
    TOTAL_HEADER,
    ExportArgs,
    PageArgs,
    StepSchema,
    export_doc,
    export_response,
    json_safe,
    multipart,
    sort_arg,
    sort_order,
    source,
    with_errors,
    with_total,
)

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
    warnAt = fields.DateTime(
        attribute="warn_at",
        allow_none=True,
        metadata={"description": "from this moment the task is due soon (the ladder's warning window)"},
    )
    deadline = fields.String(
        attribute="deadline_name",
        allow_none=True,
        metadata={
            "description": "the statutory deadline governing the step (titles in /api/vocabulary); "
            "null: outside any statutory period"
        },
    )
    followUp = fields.DateTime(attribute="follow_up_at", allow_none=True)
    priority = fields.Integer()
    created = fields.DateTime(attribute="created_at")
    suspended = fields.Boolean()
    unitCode = fields.String(
        attribute="unit_code", allow_none=True, metadata={"description": "the unit the task belongs to"}
    )


class CaseSummarySchema(Schema):
    petitionerName = fields.String(metadata={"description": "hidden from the accused unit (检举控告)"})
    subject = fields.String()
    receivedAt = fields.Date()


class TaskListSchema(TaskSchema):
    case = fields.Nested(CaseSummarySchema, allow_none=True, metadata={"description": "the task's petition"})
    step = fields.Nested(StepSchema, allow_none=True, metadata={"description": "the step in its procedure"})


# The task list's orders (?sort=); without one, overdue and soonest due first.
TASK_SORTS = ("due", "created", "name", "priority", "businessKey", "assignee")


class TaskDetailSchema(TaskSchema):
    form = fields.Dict(allow_none=True, metadata={"description": "the Camunda Form (form-js JSON)"})
    variables = fields.Dict()


class TaskSearch(Schema):
    assignee = fields.String()
    candidateGroup = fields.String()
    mine = fields.Boolean(metadata={"description": "assigned to me or offered to me or my groups"})
    unassigned = fields.Boolean()
    overdue = fields.Boolean(metadata={"description": "the due time has come"})
    dueSoon = fields.Boolean(metadata={"description": "inside the warning window, not yet overdue"})
    businessKey = fields.String()
    instanceId = fields.String()
    definitionKey = fields.String()
    elementId = fields.String()
    text = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "words of the subject or content of the task's petition"},
    )
    sort = sort_arg(TASK_SORTS)


class TaskQuery(TaskSearch, PageArgs):
    pass


class TaskExportArgs(TaskSearch, ExportArgs):
    pass


class CompleteForm(Schema):
    variables = fields.String(load_default="{}", metadata={"description": "the form data as JSON text"})


class CompleteFiles(Schema):
    files = fields.List(UploadField(), load_default=list)


class CompleteUpload(CompleteForm, CompleteFiles):
    """The multipart body of a completion with files, for the OpenAPI document."""


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


def narrowing(args: dict[str, Any]) -> dict[str, Any]:
    """The list's query parameters as engine/policy.py's visible_filter takes them."""
    return {
        "candidate_group": args.get("candidateGroup"),
        "mine": bool(args.get("mine")),
        "assignee": args.get("assignee"),
        "unassigned": args.get("unassigned"),
        "overdue": args.get("overdue"),
        "due_soon": args.get("dueSoon"),
        "business_key": args.get("businessKey"),
        "instance_id": args.get("instanceId"),
        "definition_key": args.get("definitionKey"),
        "element_id": args.get("elementId"),
        "text": args.get("text"),
        "sort": sort_order(args.get("sort")),
        "limit": args.get("limit", exports.EXPORT_LIMIT),
        "offset": args.get("offset", 0),
    }


@blp.route("")
class Tasks(MethodView):
    @require()
    @blp.arguments(TaskQuery, location="query")
    @blp.response(200, TaskListSchema(many=True), headers=TOTAL_HEADER)
    @with_errors(blp, 400, 401, 403, 422)
    def get(self, args: dict[str, Any]) -> Any:
        """Open tasks, overdue and soonest due first (or in the order asked for), each with its petition's
        petitioner, subject and received date and the procedure it is in; X-Total-Count over all pages."""
        found = services.visible_tasks(engine(), current(), **narrowing(args))
        total = services.task_total(engine(), current(), **narrowing(args))
        cases = services.task_cases(engine(), current(), found)
        places = services.positions(engine(), [t.instance_id for t in found])
        rows = [
            {
                **source(TaskSchema(), t),
                "case": cases.get(t.business_key or ""),
                "step": step_of(places.get(t.instance_id), t.element_id),
            }
            for t in found
        ]
        return with_total(rows, total)


def step_of(position: Any, element_id: str) -> dict[str, Any] | None:
    """The step of ``position`` at ``element_id``, as the lists show it."""
    return next((s for s in services.step_rows(position) if s["elementId"] == element_id), None)


@blp.route("/export", methods=["GET"])
@require()
@blp.arguments(TaskExportArgs, location="query")
@blp.doc(**export_doc())
@with_errors(blp, 400, 401, 403, 422)
def export(args: dict[str, Any]) -> Any:
    """The task list with the same filters, as .xlsx or .csv (UTF-8 with BOM), all pages at once."""
    rows = services.visible_tasks(engine(), current(), **narrowing(args))
    fmt = args["format"]
    names = services.process_names(engine())
    chunks = exports.tasks(fmt, rows, engine().calendar.tz, engine().now(), names)
    return export_response(chunks, f"待办事项.{fmt}", exports.MEDIA_TYPES[fmt])


@blp.route("/<task_id>")
class TaskItem(MethodView):
    @require()
    @blp.response(200, TaskDetailSchema)
    @with_errors(blp, 401, 403, 404)
    def get(self, task_id: str) -> dict[str, Any]:
        """One task with its form and the data the form shows."""
        task = services.readable_task(engine(), current(), task_id, acting=False)
        form = services.task_form_schema(engine(), task)
        variables = json_safe(services.task_variables(engine(), current(), task))
        return {**source(TaskSchema(), task), "form": form, "variables": variables}


@blp.route("/<task_id>/claim", methods=["POST"])
@require()
@blp.arguments(UserArgs)
@blp.response(200, CompleteResultSchema)
@with_errors(blp, 400, 401, 403, 404, 409, 422)
def claim(args: dict[str, Any], task_id: str) -> Any:
    """Take the task; a second claimant gets 409."""
    return services.claim(engine(), current(), task_id, args["userId"])


@blp.route("/<task_id>/unclaim", methods=["POST"])
@require()
@blp.response(200, CompleteResultSchema)
@with_errors(blp, 401, 403, 404, 409)
def unclaim(task_id: str) -> Any:
    return services.unclaim(engine(), current(), task_id)


@blp.route("/<task_id>/assign", methods=["POST"])
@require()
@blp.arguments(AssignArgs)
@blp.response(200, CompleteResultSchema)
@with_errors(blp, 400, 401, 403, 404, 409, 422)
def assign(args: dict[str, Any], task_id: str) -> Any:
    """Give the task to someone (or to nobody with null): a supervisor, or the head of the task's unit to a
    colleague of the unit (when the task's holder is away)."""
    return services.assign(engine(), current(), task_id, args["userId"])


@blp.route("/<task_id>/complete", methods=["POST"])
@require()
@blp.arguments(CompleteArgs, required=False)
@blp.response(200, CompleteResultSchema)
@with_errors(blp, 400, 401, 403, 404, 409, 422)
def complete(args: dict[str, Any], task_id: str) -> Any:
    """Complete a claimed task with its form data; every invalid field is reported at once (422)."""
    return services.complete(engine(), current(), task_id, args["variables"])


@blp.route("/<task_id>/comments", methods=["POST"])
@require()
@blp.arguments(CommentArgs)
@blp.response(200, CompleteResultSchema)
@with_errors(blp, 400, 401, 403, 404, 409, 422)
def comment(args: dict[str, Any], task_id: str) -> Any:
    return services.comment(engine(), current(), task_id, args["text"])


@blp.route("/<task_id>/complete-with-files", methods=["POST"])
@require()
@blp.arguments(CompleteForm, location="form")
@blp.arguments(CompleteFiles, location="files")
@blp.doc(**multipart(CompleteUpload))
@blp.response(200, CompleteResultSchema)
@with_errors(blp, 400, 401, 403, 404, 409, 422)
def complete_with_files(form: dict[str, Any], files: dict[str, Any], task_id: str) -> Any:
    """Complete a claimed task and attach files to it (multipart: ``variables`` as JSON text, ``files``), in one
    transaction: the files are kept exactly when the completion is."""
    try:
        variables = parse_json(form["variables"])
    except BodyRefused as error:
        raise InvalidInput(
            f"variables: {refusal_text(error)}", {"fields": {"variables": [error.message]}}
        ) from None
    if not isinstance(variables, dict):
        raise InvalidInput("variables must be a JSON object", {"fields": {"variables": ["须为 JSON 对象"]}})
    uploads = [Upload(f.filename or "", f.read()) for f in files["files"]]
    return services.complete(engine(), current(), task_id, variables, uploads)
