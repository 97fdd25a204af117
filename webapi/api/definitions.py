"""/api/definitions and /api/deployments: what designers deploy, every version, and its XML."""

from __future__ import annotations

import io
from typing import Any

from flask import Response, request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine import policy, queries, services
from engine.definitions import DeployFile
from engine.errors import DeploymentInvalid, InvalidInput, NotFound

from ..auth import current, engine, require
from .common import source, with_errors

blp = Blueprint("definitions", __name__, url_prefix="/api", description="Process definitions and deployments")
MAX_FILES = 50
MAX_BYTES = 5 * 1024 * 1024


class DefinitionSchema(Schema):
    id = fields.String()
    key = fields.String()
    version = fields.Integer()
    name = fields.String(allow_none=True)
    deploymentId = fields.String(attribute="deployment_id")
    resource = fields.String()
    formRefs = fields.List(fields.String(), attribute="form_refs")
    createdAt = fields.DateTime(attribute="created_at")
    runningInstances = fields.Integer()
    latest = fields.Boolean()


class DeployedSchema(Schema):
    id = fields.String()
    key = fields.String()
    version = fields.Integer()
    name = fields.String(allow_none=True)
    resource = fields.String()
    new = fields.Boolean()


class DeploymentSchema(Schema):
    id = fields.String()
    name = fields.String()
    source = fields.String(allow_none=True)
    created = fields.Boolean()
    deployedAt = fields.DateTime(attribute="deployed_at")
    definitions = fields.List(fields.Nested(DeployedSchema))
    forms = fields.Dict(keys=fields.String(), values=fields.Integer())


class ProblemSchema(Schema):
    file = fields.String()
    line = fields.Integer(allow_none=True)
    element = fields.String(allow_none=True)
    message = fields.String()


class ValidationResultSchema(Schema):
    valid = fields.Boolean()
    problems = fields.List(fields.Nested(ProblemSchema))


class UploadSchema(Schema):
    files = fields.List(
        fields.Raw(metadata={"type": "string", "format": "binary"}),
        required=True,
        validate=validate.Length(min=1, max=MAX_FILES),
    )
    name = fields.String()


def _definitions(definition_id: str | None = None) -> list[dict[str, Any]]:
    return [
        {
            **source(DefinitionSchema(exclude=("resource", "runningInstances", "latest")), d),
            "resource": name,
            "runningInstances": running,
            "latest": latest,
        }
        for d, name, running, latest in services.read(engine(), queries.definitions_overview, definition_id)
    ]


def _uploaded() -> list[DeployFile]:
    unknown = (set(request.files) - {"files"}) | (set(request.form) - {"name"})
    if unknown:
        raise InvalidInput(
            "a deployment has only the multipart fields 'files' and 'name'",
            {"fields": {name: ["unknown field"] for name in sorted(unknown)}},
        )
    uploads = request.files.getlist("files")
    if not uploads:
        raise InvalidInput(
            "upload .bpmn and .form files as multipart field 'files'", {"fields": {"files": ["required"]}}
        )
    if len(uploads) > MAX_FILES:
        raise InvalidInput(f"at most {MAX_FILES} files per deployment")
    files = []
    for upload in uploads:
        content = upload.read(MAX_BYTES + 1)
        if len(content) > MAX_BYTES:
            raise InvalidInput(f"{upload.filename}: larger than {MAX_BYTES // (1024 * 1024)} MiB")
        files.append(DeployFile(upload.filename or "upload.bpmn", content))
    return files


@blp.route("/definitions")
class Definitions(MethodView):
    @require()
    @blp.response(200, DefinitionSchema(many=True))
    @with_errors(blp, 401)
    def get(self) -> list[dict[str, Any]]:
        """Every version of every process, newest first, with how many instances still run on it."""
        return _definitions()


@blp.route("/definitions/<definition_id>")
class DefinitionItem(MethodView):
    @require()
    @blp.response(200, DefinitionSchema)
    @with_errors(blp, 401, 404)
    def get(self, definition_id: str) -> dict[str, Any]:
        found = _definitions(definition_id)
        if not found:
            raise NotFound(f"no process definition '{definition_id}'")
        return found[0]

    @require(*policy.DEPLOYERS)
    @blp.response(204)
    @with_errors(blp, 401, 403, 404, 409)
    def delete(self, definition_id: str) -> None:
        """Remove a version no instance ever ran on (a test deployment); 409 once any instance exists. Its forms
        stay deployed."""
        services.undeploy(engine(), current(), definition_id=definition_id)


@blp.route("/definitions/<definition_id>/xml")
@require()
@blp.response(200, description="the BPMN XML as deployed (a download)", content_type="application/xml")
@with_errors(blp, 401, 404)
def definition_xml(definition_id: str) -> Response:
    """The designer's file byte for byte. Browsers render XML and run XHTML script elements in it (one can
    hide in bpmn:documentation), so it is served as a download under a sandboxing policy (webapi/security.py):
    opened from a link it never becomes a document of this origin; the pages fetch it as text."""
    found = services.read(engine(), queries.definition_source, definition_id)
    if found is None:
        raise NotFound(f"no process definition '{definition_id}'")
    content, name = found
    # send_file writes the RFC 6266 filename* form a Chinese file name needs.
    return send_file(
        io.BytesIO(content.encode("utf-8")),
        mimetype="application/xml",
        as_attachment=True,
        download_name=name,
        etag=False,
    )


@blp.route("/deployments", methods=["POST"])
@require(*policy.DEPLOYERS)
@blp.arguments(UploadSchema, location="files", as_kwargs=True)
@blp.response(201, DeploymentSchema)
@with_errors(blp, 400, 401, 403, 422)
def deploy(**_: Any) -> Any:
    """Deploy uploaded .bpmn and .form files; every problem is reported with file, line and element (400)."""
    name = request.form.get("name") or "upload"
    files = _uploaded()
    problems = services.unsupported_files(files)
    if problems:
        raise DeploymentInvalid(f"{len(problems)} file(s) cannot be deployed", {"problems": problems})
    return services.deploy(engine(), current(), files, name=name, source="petitionflow api")


@blp.route("/deployments/validate", methods=["POST"])
@require(*policy.DEPLOYERS)
@blp.arguments(UploadSchema, location="files", as_kwargs=True)
@blp.response(200, ValidationResultSchema)
@with_errors(blp, 400, 401, 403, 422)
def validate_upload(**_: Any) -> dict[str, Any]:
    """Check files without deploying them."""
    files = _uploaded()
    unsupported = services.unsupported_files(files)
    problems = unsupported or [p.to_dict() for p in services.validate(engine(), current(), files)]
    return {"valid": not problems, "problems": problems}


class DryRunStepSchema(Schema):
    element = fields.String()
    name = fields.String(allow_none=True)
    choice = fields.String(allow_none=True, metadata={"description": "the form value that forked this path"})


class DryRunPathSchema(Schema):
    steps = fields.List(fields.Nested(DryRunStepSchema))
    outcome = fields.String(metadata={"description": "completed, waiting, refused, failed or too_long"})
    stoppedAt = fields.String(allow_none=True, metadata={"description": "the end event, or where it stopped"})
    message = fields.String(allow_none=True)


class DryRunSchema(Schema):
    definition = fields.String()
    paths = fields.List(fields.Nested(DryRunPathSchema))
    complete = fields.Boolean(metadata={"description": "false when the budget of paths ran out first"})


@blp.route("/definitions/<definition_id>/dry-run", methods=["POST"])
@require(*policy.DEPLOYERS)
@blp.response(200, DryRunSchema)
@with_errors(blp, 401, 403, 404)
def dry_run(definition_id: str) -> dict[str, Any]:
    """Walk the version's paths with its forms' example data on a scratch copy (nothing is stored): each path's
    steps, and the end event it reached or where it stopped."""
    return services.dry_run(engine(), current(), definition_id)
