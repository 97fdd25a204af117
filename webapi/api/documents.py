"""/api/petitions/{number}/attachments, /documents and /case-file: a petition's papers.

Every call goes through engine/services.py's case checks (the petition's own), and every download is recorded
in the petition's history. Images and PDFs are served inline for the pages' previews; anything else, and any
download asked for as such, as an attachment.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload as UploadField
from marshmallow import Schema, fields, validate

from engine import services
from engine.documents import NOTICE_KINDS, PREVIEWABLE, SERVICE_METHODS, ServiceRecord, Upload

from ..auth import current, engine, require
from .common import binary, file_response, multipart, with_errors

blp = Blueprint(
    "documents",
    __name__,
    url_prefix="/api/petitions",
    description="A petition's attachments, written notices (文书) and case file (卷宗)",
)
FILE_TYPES = ("image/png", "image/jpeg", "image/tiff", "application/pdf", "application/octet-stream")
ZIP = "application/zip"


class AttachmentSchema(Schema):
    id = fields.Integer()
    petitionNumber = fields.String(attribute="petition_number")
    origin = fields.String(metadata={"description": "petition | task | petitioner | receipt"})
    taskId = fields.String(attribute="task_id", allow_none=True)
    elementId = fields.String(attribute="element_id", allow_none=True)
    filename = fields.String()
    mediaType = fields.String(attribute="media_type")
    size = fields.Integer()
    sha256 = fields.String()
    uploadedBy = fields.String(attribute="uploaded_by", allow_none=True)
    uploadedAt = fields.DateTime(attribute="uploaded_at")


class DocumentSchema(Schema):
    id = fields.Integer()
    petitionNumber = fields.String(attribute="petition_number")
    kind = fields.String()
    title = fields.String()
    organ = fields.String()
    number = fields.String(attribute="doc_number", metadata={"description": "文号"})
    sha256 = fields.String()
    size = fields.Integer()
    taskId = fields.String(attribute="task_id", allow_none=True)
    elementId = fields.String(attribute="element_id", allow_none=True)
    issuedBy = fields.String(attribute="issued_by", allow_none=True)
    issuedAt = fields.DateTime(attribute="issued_at")
    servedOn = fields.Date(attribute="served_on", allow_none=True)
    serviceMethod = fields.String(attribute="service_method", allow_none=True)
    receiver = fields.String(allow_none=True)
    receiptId = fields.Integer(attribute="receipt_id", allow_none=True)


class FilesArgs(Schema):
    files = fields.List(UploadField(), required=True)


class AttachForm(Schema):
    taskId = fields.String(validate=validate.Length(min=1, max=36))


class IssueArgs(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(list(NOTICE_KINDS)))
    taskId = fields.String(required=True, validate=validate.Length(min=1, max=36))
    text = fields.String(load_default="", validate=validate.Length(max=4000))


class ServiceForm(Schema):
    method = fields.String(required=True, validate=validate.OneOf(list(SERVICE_METHODS)))
    servedOn = fields.Date(required=True)
    receiver = fields.String(required=True, validate=validate.Length(min=1, max=100))


class ReceiptFile(Schema):
    receipt = UploadField()


class DownloadArgs(Schema):
    download = fields.Boolean(load_default=False, metadata={"description": "as a file, not a preview"})


class AttachUpload(AttachForm, FilesArgs):
    """What the multipart body of an upload holds (the form's fields and its files), for the OpenAPI document."""


class ServiceUpload(ServiceForm, ReceiptFile):
    """What the multipart body of a service record holds, for the OpenAPI document."""


def uploads(files: list[Any]) -> list[Upload]:
    return [Upload(f.filename or "", f.read()) for f in files]


@blp.route("/<number>/attachments")
class Attachments(MethodView):
    @require()
    @blp.response(200, AttachmentSchema(many=True))
    @with_errors(blp, 401, 403, 404)
    def get(self, number: str) -> Any:
        """The files attached to the petition, in the order they came."""
        return services.attachments(engine(), current(), number)

    @require()
    @blp.arguments(AttachForm, location="form")
    @blp.arguments(FilesArgs, location="files")
    @blp.doc(**multipart(AttachUpload))
    @blp.response(201, AttachmentSchema(many=True))
    @with_errors(blp, 400, 401, 403, 404, 409, 422)
    def post(self, form: dict[str, Any], files: dict[str, Any], number: str) -> Any:
        """Attach files (multipart, field ``files``); ``taskId`` names the step they belong to. Each file's type
        is read from its bytes (PNG, JPEG, PDF, TIFF, DOCX by default): anything else is refused with 422."""
        return services.attach(engine(), current(), number, uploads(files["files"]), form.get("taskId"))


@blp.route("/<number>/attachments/<int:attachment_id>/content", methods=["GET"])
@require()
@blp.arguments(DownloadArgs, location="query")
@blp.doc(**binary(*FILE_TYPES))
@with_errors(blp, 401, 403, 404, 422)
def attachment_content(args: dict[str, Any], number: str, attachment_id: int) -> Response:
    """The file itself: images and PDFs inline (for the preview), others as a download."""
    row, data = services.attachment_file(engine(), current(), number, attachment_id)
    inline = row.media_type in PREVIEWABLE and not args["download"]
    return file_response(data, row.filename, row.media_type, inline=inline)


@blp.route("/<number>/documents")
class Documents(MethodView):
    @require()
    @blp.response(200, DocumentSchema(many=True))
    @with_errors(blp, 401, 403, 404)
    def get(self, number: str) -> Any:
        """The written notices issued on the petition, with their service."""
        return services.documents(engine(), current(), number)

    @require()
    @blp.arguments(IssueArgs)
    @blp.response(201, DocumentSchema)
    @with_errors(blp, 400, 401, 403, 404, 409, 422)
    def post(self, args: dict[str, Any], number: str) -> Any:
        """Issue a notice at a step (``taskId``) of the petition: numbered (文号), rendered to PDF, stored."""
        return services.issue_notice(engine(), current(), number, args["kind"], args["taskId"], args["text"])


@blp.route("/<number>/documents/<int:document_id>/content", methods=["GET"])
@require()
@blp.arguments(DownloadArgs, location="query")
@blp.doc(**binary("application/pdf"))
@with_errors(blp, 401, 403, 404, 422)
def document_content(args: dict[str, Any], number: str, document_id: int) -> Response:
    """The notice's PDF, exactly as issued."""
    row, data = services.document_file(engine(), current(), number, document_id)
    return file_response(
        data, f"{row.title}-{row.doc_number}.pdf", "application/pdf", inline=not args["download"]
    )


@blp.route("/<number>/documents/<int:document_id>/service", methods=["POST"])
@require()
@blp.arguments(ServiceForm, location="form")
@blp.arguments(ReceiptFile, location="files")
@blp.doc(**multipart(ServiceUpload))
@blp.response(200, DocumentSchema)
@with_errors(blp, 400, 401, 403, 404, 409, 422)
def record_service(form: dict[str, Any], files: dict[str, Any], number: str, document_id: int) -> Any:
    """Record the notice's service (送达) once: method, date, receiver, and the receipt's scan (``receipt``)."""
    receipt = files.get("receipt")
    served_on: date = form["servedOn"]
    record = ServiceRecord(
        method=form["method"],
        served_on=served_on,
        receiver=form["receiver"],
        receipt=Upload(receipt.filename or "", receipt.read()) if receipt else None,
    )
    return services.record_service(engine(), current(), number, document_id, record)


@blp.route("/<number>/case-file", methods=["GET"])
@require()
@blp.doc(**binary(ZIP))
@with_errors(blp, 401, 403, 404)
def case_file(number: str) -> Response:
    """The case file (卷宗) as a ZIP: an index PDF (registration, papers with SHA-256, history), then every
    notice and attachment in the order they were filed, and SHA256SUMS.txt."""
    data = services.case_file(engine(), current(), number)
    return file_response(data, f"卷宗-{number}.zip", ZIP, inline=False)
