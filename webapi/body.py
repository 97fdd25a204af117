"""One JSON parser for every request body (/api, /engine-rest, the pages' calls) and every JSON text inside one.

The standard parser trusts its input: thousands of nested brackets exhaust the interpreter's stack, an integer
of 5,000 digits raises Python's int-conversion limit, NaN and Infinity are taken although JSON has no such
values, and an escaped lone surrogate ("\\ud800") becomes text that neither PostgreSQL nor a UTF-8 response can
hold. Here each of these is refused with a 400 naming what was wrong and where, before any view sees the body.
"""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest

# Deeper than any form, variable or query a client sends (variables themselves may nest 20 levels).
MAX_DEPTH = 64
# A JSON client's numbers are doubles; no field of ours needs an integer literal longer than this.
MAX_INTEGER_DIGITS = 100
SURROGATE = re.compile("[\ud800-\udfff]")


class BodyRefused(ValueError):
    """The text is JSON the application will not take; ``where`` is the key path ('' for the whole body)."""

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.where = where


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise BodyRefused(f"整数的位数超过 {MAX_INTEGER_DIGITS} 位")
    return int(text)


def _number(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise BodyRefused(f"数值 {text[:20]} 超出可表示的范围")
    return value


def _constant(text: str) -> NoReturn:
    raise BodyRefused(f"{text} 不是 JSON 中的数值")


def _has_lone_surrogate(text: str) -> bool:
    # Only an escape can put one in a parsed string (the bytes were valid UTF-8), so any found is alone.
    return SURROGATE.search(text) is not None


def _check_values(value: Any) -> None:
    """Walk the parsed value without recursion: too deep a nesting, or text no UTF-8 store can hold."""
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            if _has_lone_surrogate(item):
                raise BodyRefused("文本含有不成对的 UTF-16 代理字符（U+D800–U+DFFF）", where)
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise BodyRefused(f"嵌套超过 {MAX_DEPTH} 层", where)
        if isinstance(item, list):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(item))
            continue
        for key, v in item.items():
            path = f"{where}.{key}" if where else key
            if _has_lone_surrogate(key):
                raise BodyRefused("名称含有不成对的 UTF-16 代理字符（U+D800–U+DFFF）", where or "_schema")
            stack.append((v, path, depth + 1))


def parse_json(text: str | bytes) -> Any:
    """``text`` as JSON within the limits above; raises BodyRefused (a ValueError) otherwise."""
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_number, parse_constant=_constant)
    except RecursionError:
        raise BodyRefused(f"嵌套超过 {MAX_DEPTH} 层") from None
    except json.JSONDecodeError as error:
        raise BodyRefused(f"不是有效的 JSON（第 {error.lineno} 行第 {error.colno} 列）") from None
    except UnicodeDecodeError:
        raise BodyRefused("不是有效的 UTF-8 文本") from None
    _check_values(value)
    return value


def refusal_text(error: BodyRefused) -> str:
    """The sentence a caller reads, with the key path when there is one."""
    return f"{error.message}（位置：{error.where}）" if error.where else error.message


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON with our parser, for ``request.get_json`` and ``flask.json.loads``."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return parse_json(s)


def _refused(text: str, where: str) -> BadRequest:
    error = BadRequest(f"请求无法读取：{text}")
    # http_error shows these as details.fields, like webargs' own "Invalid JSON body".
    error.data = {"messages": {where: [text]}}  # type: ignore[attr-defined]
    return error


def refuse_unreadable_input() -> None:
    """Read the query and a JSON body once, before any view or argument parser (webargs uses the standard
    parser), and refuse what is outside the limits: the parsers that run later only see input safe to read."""
    try:
        # Werkzeug decodes the query strictly when it is first read: raw non-UTF-8 bytes would fail in a view.
        request.query_string.decode()
    except UnicodeDecodeError:
        raise _refused("查询参数不是有效的 UTF-8 文本", "query") from None
    if not request.is_json or not request.get_data(cache=True):
        return
    try:
        parse_json(request.get_data(cache=True))
    except BodyRefused as error:
        raise _refused(refusal_text(error), "json") from None


def install(app: Flask) -> None:
    """Every JSON body the app reads goes through ``parse_json``."""
    app.json = JSONProvider(app)
    app.before_request(refuse_unreadable_input)
