"""One error shape for every failure: ``{"error": code, "message": text, "details": {...}}``."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from engine import errors
from engine.accounts import TooManyAttempts

STATUS: dict[type[errors.PetitionflowError], int] = {
    errors.NotFound: 404,
    errors.InvalidInput: 400,
    errors.DeploymentInvalid: 400,
    errors.ValidationFailed: 422,
    errors.Conflict: 409,
    errors.InvalidState: 409,
    errors.Forbidden: 403,
    errors.ProcessError: 422,
    errors.FileRefused: 422,
}


class Unauthorized(errors.PetitionflowError):
    code = "unauthorized"


class CrossSiteRefused(errors.Forbidden):
    """A cookie-signed request that did not come from our own pages (CSRF)."""

    code = "cross_site_request"


STATUS[Unauthorized] = 401
STATUS[TooManyAttempts] = 429

# Werkzeug's and webargs' refusals (an unknown address, a wrong method, an unreadable body) by the code
# ``http_error`` derives from their names; the engine's own codes are in engine.errors.CHINESE.
HTTP_CHINESE: dict[str, str] = {
    "bad_request": "请求有误，无法读取",
    "unauthorized": errors.CHINESE["unauthorized"],
    "forbidden": errors.CHINESE["forbidden"],
    "not_found": "没有这个地址",
    "method_not_allowed": "此地址不接受这种请求方式",
    "not_acceptable": "无法按所要求的格式答复",
    "request_timeout": "请求超时",
    "conflict": errors.CHINESE["conflict"],
    "gone": "该对象已不存在",
    "length_required": "请求缺少长度",
    "precondition_failed": "请求的前提条件不成立",
    "request_entity_too_large": "上传的内容超过大小上限",
    "request_uri_too_long": "请求地址过长",
    "unsupported_media_type": "请求内容的类型不受支持",
    "requested_range_not_satisfiable": "请求的范围无效",
    "expectation_failed": "无法满足请求的期望",
    "i'm_a_teapot": "请求有误",
    "misdirected_request": "请求发错了服务器",
    "unprocessable_entity": "提交的数据未通过校验",
    "locked": "对象已被锁定",
    "failed_dependency": "所依赖的操作未完成",
    "precondition_required": "请求缺少前提条件",
    "too_many_requests": "请求过于频繁，请稍后再试",
    "request_header_fields_too_large": "请求头过大",
    "unavailable_for_legal_reasons": "依法不能提供",
    "internal_server_error": "服务器内部错误，操作未完成",
    "not_implemented": "尚不支持此操作",
    "bad_gateway": "上游服务出错",
    "service_unavailable": "服务暂不可用，请稍后再试",
    "gateway_timeout": "上游服务超时",
    "http_version_not_supported": "不支持此协议版本",
}


class ApiErrorSchema(Schema):
    error = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict(required=True)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": code, "message": message, "details": details or {}}


def http_code(error: HTTPException) -> str:
    """The stable code of a Werkzeug refusal: its name, lower case, words joined by underscores."""
    return (error.name or "error").lower().replace(" ", "_")


def http_error(error: HTTPException) -> ResponseReturnValue:
    """Werkzeug and webargs errors (404 route, 405, 422 from argument parsing) in our shape."""
    details: dict[str, Any] = {}
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if messages:
        # webargs nests by location (json, query, files); callers care about the fields.
        merged: dict[str, Any] = {}
        for value in messages.values():
            if isinstance(value, dict):
                merged.update(value)
        details["fields"] = merged or messages
    code = http_code(error)
    status = error.code or 500
    message = error.description or ""
    if not errors.HAN.search(message):
        message = HTTP_CHINESE.get(code, errors.CHINESE["error"])
    response = jsonify(error_body(code, message, details))
    # Keep the headers the error carries, such as Allow on a 405 (RFC 9110).
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="petitionflow"'
    return response, status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(errors.PetitionflowError)
    def _domain(error: errors.PetitionflowError) -> ResponseReturnValue:
        status = next((s for cls, s in STATUS.items() if isinstance(error, cls)), 400)
        response = jsonify(error.to_dict())
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="petitionflow"'
        return response, status
