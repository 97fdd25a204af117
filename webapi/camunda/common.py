"""What every /engine-rest view shares: the blueprint, Camunda's error shape, authentication, CORS, request
parameters, paging, sorting and Camunda's date format."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from engine import errors
from engine.errors import InvalidInput
from engine.queries import Criteria, Page

from ..auth import require
from ..errors import STATUS, Unauthorized

PREFIX = "/engine-rest"
VERSION = "7.24.0"
MAX_RESULTS = 1000  # like Camunda's maxResultsLimit: a larger maxResults is refused, none means this many
# Ids, keys and names are far shorter; SQLite refuses a LIKE pattern over 50,000 bytes with an error.
MAX_TEXT = 1000
F = TypeVar("F", bound=Callable[..., Any])

blp = Blueprint("camunda", __name__, url_prefix=PREFIX)

# -- errors --------------------------------------------------------------------------------------------------
# Camunda answers {"type": "<Java exception>", "message": "..."}; clients show the message and branch on status.
TYPES: dict[type[errors.PetitionflowError], str] = {
    Unauthorized: "AuthenticationException",
    errors.NotFound: "InvalidRequestException",
    errors.InvalidInput: "InvalidRequestException",
    errors.DeploymentInvalid: "ParseException",
    errors.ValidationFailed: "FormFieldValidationException",
    errors.Conflict: "OptimisticLockingException",
    errors.InvalidState: "ProcessEngineException",
    errors.Forbidden: "AuthorizationException",
    errors.ProcessError: "ProcessEngineException",
}
# Everything here is the caller's doing, so a 4xx; the native API's 422s become Camunda's 400.
STATUS_OVERRIDES: dict[type[errors.PetitionflowError], int] = {
    errors.ValidationFailed: 400,
    errors.ProcessError: 400,
}
PARSE_ERROR = "ENGINE-09005 Could not parse BPMN process."


def error_response(status: int, type_: str, message: str, details: Any = None) -> Response:
    body: dict[str, Any] = {"type": type_, "message": message}
    if details is not None:
        body["details"] = details
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="petitionflow"'
    return response


def _lookup(table: Mapping[type, Any], error: Exception, default: Any) -> Any:
    return next((v for cls, v in table.items() if isinstance(error, cls)), default)


def parse_error_message(problems: Sequence[Mapping[str, Any]]) -> str:
    """Modeler shows a message starting with ENGINE-09005 as a diagram parse error; name file, line, element."""
    parts = []
    for p in problems:
        where = str(p.get("file") or "deployment")
        if p.get("line"):
            where += f":{p['line']}"
        if p.get("element"):
            where += f" {p['element']}"
        parts.append(f"{where}: {p.get('message')}")
    return f"{PARSE_ERROR} Errors in {' | '.join(parts) or 'the deployment'}"


def parse_error_details(problems: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Camunda 7's ParseException details: per resource, its errors with line and element ids."""
    details: dict[str, Any] = {}
    for p in problems:
        resource = details.setdefault(str(p.get("file") or "deployment"), {"errors": [], "warnings": []})
        element = p.get("element")
        resource["errors"].append(
            {
                "message": p.get("message"),
                "line": p.get("line") or 0,
                "column": 0,
                "mainElementId": element,
                "elementIds": [element] if element else [],
            }
        )
    return details


@blp.errorhandler(errors.PetitionflowError)
def _domain_error(error: errors.PetitionflowError) -> Response:
    status = _lookup(STATUS_OVERRIDES, error, None) or _lookup(STATUS, error, 400)
    type_ = _lookup(TYPES, error, "RestException")
    message = error.message
    details = None
    if isinstance(error, errors.DeploymentInvalid):
        problems = error.details.get("problems") or []
        if problems:
            message = parse_error_message(problems)
            details = parse_error_details(problems)
        else:
            type_ = "InvalidRequestException"
    elif isinstance(error, errors.ValidationFailed | errors.InvalidInput) and error.details.get("fields"):
        fields = error.details["fields"]
        listed = "; ".join(
            f"{name}: {', '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
            for name, msgs in fields.items()
        )
        message = f"{message}: {listed}"
        details = {"fields": fields}
    elif isinstance(error, errors.Conflict) and error.details.get("assignee"):
        type_ = "TaskAlreadyClaimedException"
    return error_response(status, type_, message, details)


@blp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    type_ = "NotFoundException" if status == 404 else "RestException"
    return error_response(status, type_, error.description or error.name or "error")


@blp.errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    current_app.logger.exception("unexpected error under %s", PREFIX)
    return error_response(500, "ProcessEngineException", "internal error; see the server log")


# -- authentication ------------------------------------------------------------------------------------------
def authenticated(*roles: str) -> Callable[[F], F]:
    """HTTP Basic or a bearer token (no session cookie: cross-site requests carry none here), with ``roles``."""

    def decorate(view: F) -> F:
        guarded = require(*roles)(view)

        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            if not header.startswith(("Basic ", "Bearer ")):
                raise Unauthorized("authenticate with HTTP Basic or a bearer token")
            return guarded(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


# -- CORS: Camunda Modeler runs from file:// and sends Origin: null ------------------------------------------
ALLOWED_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
ALLOWED_HEADERS = ("Authorization", "Content-Type", "Accept", "Accept-Language", "X-Requested-With")


def _ours() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


@blp.before_app_request
def _preflight() -> Response | None:
    if request.method != "OPTIONS" or not _ours():
        return None
    response = current_app.response_class(status=204)
    requested = [
        h.strip() for h in request.headers.get("Access-Control-Request-Headers", "").split(",") if h.strip()
    ]
    known = {h.lower() for h in ALLOWED_HEADERS}
    response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
    response.headers["Access-Control-Allow-Headers"] = ", ".join(
        [*ALLOWED_HEADERS, *(h for h in requested if h.lower() not in known)]
    )
    response.headers["Access-Control-Max-Age"] = "600"
    if request.headers.get("Access-Control-Request-Private-Network") == "true":
        response.headers["Access-Control-Allow-Private-Network"] = "true"
    return response


@blp.after_app_request
def _allow_origin(response: Response) -> Response:
    if _ours():
        # Echo the caller's origin (the literal "null" from file:// included). No Allow-Credentials: callers
        # authenticate with an Authorization header, never with ambient cookies.
        response.headers["Access-Control-Allow-Origin"] = request.headers.get("Origin") or "*"
        response.headers.add("Vary", "Origin")
    return response


# -- request parameters ----------------------------------------------------------------------------------------
def json_body() -> dict[str, Any]:
    """The JSON object sent, or {} for no body (clients such as pycamunda send {} even on GET)."""
    if not request.get_data(cache=True):
        return {}
    if not request.is_json:
        raise InvalidInput("send the body as JSON (Content-Type: application/json)")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    return data


class Params:
    """Query parameters, or a POST query's JSON body, read the way Camunda reads them."""

    def __init__(self, body: Mapping[str, Any] | None = None) -> None:
        self.body = body

    def raw(self, name: str) -> Any:
        if self.body is not None and name in self.body:
            return self.body[name]
        values = request.args.getlist(name)
        return values[0] if values else None

    def bad(self, name: str, value: Any) -> InvalidInput:
        return InvalidInput(f"Cannot set query parameter '{name}' to value '{value}'", {"parameter": name})

    def string(self, name: str) -> str | None:
        value = self.raw(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str | int | float) or isinstance(value, bool) or len(str(value)) > MAX_TEXT:
            raise self.bad(name, value)
        return str(value)

    def strings(self, name: str) -> list[str]:
        """A list parameter: a JSON array, repeated query parameters or comma-separated text."""
        if self.body is not None and name in self.body:
            value = self.body[name]
            items = value if isinstance(value, list) else [value]
        else:
            items = request.args.getlist(name)
        out: list[str] = []
        for item in items:
            if not isinstance(item, str) or len(item) > MAX_TEXT:
                raise self.bad(name, item)
            out.extend(part.strip() for part in item.split(",") if part.strip())
        return out

    def boolean(self, name: str) -> bool | None:
        value = self.raw(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise self.bad(name, value)

    def integer(self, name: str, minimum: int = 0) -> int | None:
        value = self.raw(name)
        if value is None or value == "":
            return None
        try:
            number = int(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or number < minimum or number > 2**31 - 1:
            raise self.bad(name, value)
        return number


def paging(params: Params) -> tuple[int, int]:
    """firstResult and maxResults (query string first, as Camunda reads them even for POST queries)."""
    query = Params()
    first = query.integer("firstResult")
    if first is None:
        first = params.integer("firstResult")
    limit = query.integer("maxResults")
    if limit is None:
        limit = params.integer("maxResults")
    if limit is not None and limit > MAX_RESULTS:
        raise InvalidInput(f"Max results limit of {MAX_RESULTS} exceeded!", {"parameter": "maxResults"})
    return first or 0, MAX_RESULTS if limit is None else limit


def sorting(params: Params, names: Mapping[str, str]) -> list[tuple[str, bool]]:
    """The read model's (field, descending) pairs for sortBy/sortOrder (or a POST body's "sorting" list);
    ``names`` maps Camunda's sortBy names to the fields."""
    wanted: list[tuple[Any, Any]] = []
    if params.body is not None and isinstance(params.body.get("sorting"), list):
        for item in params.body["sorting"]:
            if not isinstance(item, dict):
                raise params.bad("sorting", item)
            wanted.append((item.get("sortBy"), item.get("sortOrder")))
    elif params.string("sortBy") is not None:
        wanted.append((params.string("sortBy"), params.string("sortOrder")))
    sort: list[tuple[str, bool]] = []
    for by, order in wanted:
        if by not in names:
            raise params.bad("sortBy", by)
        if order not in (None, "asc", "desc"):
            raise params.bad("sortOrder", order)
        sort.append((names[by], order == "desc"))
    return sort


def page(params: Params, sorts: Mapping[str, str]) -> Page:
    """The page a list asks for: firstResult, maxResults and its sort (Camunda's sortBy names in ``sorts``)."""
    first, limit = paging(params)
    return Page(first, limit, sorting(params, sorts))


def criteria(
    params: Params,
    *,
    equal: Mapping[str, str] = {},
    among: Mapping[str, str] = {},
    like: Mapping[str, str] = {},
    before: Mapping[str, str] = {},
    after: Mapping[str, str] = {},
    flags: Sequence[tuple[str, Any]] = (),
) -> Criteria:
    """The read model's filters for the parameters given; each mapping takes a Camunda parameter name to the
    field it filters. ``flags`` are equalities the caller derived from boolean parameters."""

    def given(names: Mapping[str, str], read: Callable[[str], Any]) -> list[tuple[str, Any]]:
        return [(field, value) for name, field in names.items() if (value := read(name)) not in (None, [])]

    def moment(name: str) -> datetime | None:
        value = params.string(name)
        return None if value is None else parse_date(value, name)

    return Criteria(
        equal=[*given(equal, params.string), *flags],
        among=given(among, params.strings),
        like=given(like, params.string),
        before=given(before, moment),
        after=given(after, moment),
    )


# -- dates: Camunda writes and reads yyyy-MM-dd'T'HH:mm:ss.SSSZ ----------------------------------------------
CAMUNDA_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{4}")


def format_date(moment: datetime | None) -> str | None:
    """2024-05-01T10:00:00.000+0000 (UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_date(text: Any, what: str = "date") -> datetime:
    """Camunda's format, or any ISO 8601 date-time; a value without a zone is taken as UTC."""
    if not isinstance(text, str):
        raise InvalidInput(
            f"{what}: '{text}' is not a date ({format_date(datetime(2024, 5, 1, 10, tzinfo=UTC))})"
        )
    try:
        moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"{what}: cannot parse '{text}' as a date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
