"""Camunda's typed variables, ``{"name": {"value": v, "type": "Integer", "valueInfo": {}}}``, both ways.

Process data here is plain JSON. Coming in, each value is checked against and converted to its declared type (a
missing or null type is inferred from the JSON value); a Date becomes text in Camunda's own format
(``2024-05-01T10:00:00.000+0800``, its offset kept), which the engine's forms accept for datetime fields. Going
out, the type is read off the value: text in exactly that date format goes out as a Date again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from engine.errors import InvalidInput

from ..body import BodyRefused, parse_json, refusal_text
from .common import CAMUNDA_DATE, format_date, parse_date

INT_RANGES = {"short": 2**15, "integer": 2**31, "long": 2**63}
UNSUPPORTED = ("bytes", "file", "xml")


def _date_text(moment: datetime) -> str:
    """Camunda's format with the offset the caller gave (so a date part stays the caller's date)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}" + moment.strftime("%z")


def _number_text(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _convert(type_name: str, value: Any, info: Mapping[str, Any]) -> Any:
    """One value as ``type_name`` says; raises ValueError with the reason."""
    kind = type_name.lower()
    if value is None and kind not in UNSUPPORTED:
        return None
    if kind == "null":
        raise ValueError("a Null variable has the value null")
    if kind == "string":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        raise ValueError("not text")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError("not true or false")
    if kind in INT_RANGES:
        number: Any = value
        if isinstance(value, str):
            number = _number_text(value)
        if (
            isinstance(number, bool)
            or not isinstance(number, int | float)
            or not math.isfinite(number)
            or number != int(number)
        ):
            raise ValueError("not a whole number")
        bound = INT_RANGES[kind]
        if not -bound <= int(number) < bound:
            raise ValueError(f"out of range for {type_name}")
        return int(number)
    if kind == "double":
        number = _number_text(value) if isinstance(value, str) else value
        if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
            raise ValueError("not a number")
        return float(number)
    if kind == "date":
        try:
            return _date_text(parse_date(value))
        except InvalidInput:
            raise ValueError("not a date like 2024-05-01T10:00:00.000+0800") from None
    if kind == "json" or (kind == "object" and info.get("serializationDataFormat") == "application/json"):
        if isinstance(value, str):
            try:
                return parse_json(value)
            except BodyRefused as error:
                raise ValueError(f"not valid JSON text: {refusal_text(error)}") from None
        return value
    if kind == "object":
        raise ValueError("only objects serialized as application/json are supported")
    if kind in UNSUPPORTED:
        raise ValueError(f"{type_name} variables are not supported")
    raise ValueError(f"unsupported value type '{type_name}'")


def from_typed(variables: Any, where: str = "variables") -> tuple[dict[str, Any], dict[str, str]]:
    """Plain values from Camunda's typed variables, and each variable's declared type (lowercase) if any.

    Every problem is reported at once (InvalidInput, details["fields"] name -> message).
    """
    if variables is None:
        return {}, {}
    if not isinstance(variables, Mapping):
        raise InvalidInput(f"{where} must be an object of name -> {{value, type, valueInfo}}")
    values: dict[str, Any] = {}
    types: dict[str, str] = {}
    problems: dict[str, str] = {}
    for name, entry in variables.items():
        if not isinstance(entry, Mapping):
            problems[name] = 'expected {"value": ..., "type": ...}'
            continue
        type_name = entry.get("type")
        info = entry.get("valueInfo") or {}
        value = entry.get("value")
        if type_name is None or type_name == "":
            values[name] = value
            continue
        if not isinstance(type_name, str) or not isinstance(info, Mapping):
            problems[name] = "type must be a type name and valueInfo an object"
            continue
        try:
            values[name] = _convert(type_name, value, info)
        except ValueError as error:
            problems[name] = f"cannot convert value '{value}' to type {type_name}: {error}"
            continue
        types[name] = type_name.lower()
    if problems:
        raise InvalidInput(f"invalid {where}", {"fields": problems})
    return values, types


def typed(value: Any) -> dict[str, Any]:
    """One plain value as a Camunda typed variable."""
    if value is None:
        return {"type": "Null", "value": None, "valueInfo": {}}
    if isinstance(value, bool):
        return {"type": "Boolean", "value": value, "valueInfo": {}}
    if isinstance(value, int):
        kind = "Integer" if -(2**31) <= value < 2**31 else "Long"
        return {"type": kind, "value": value, "valueInfo": {}}
    if isinstance(value, float):
        return {"type": "Double", "value": value, "valueInfo": {}}
    if isinstance(value, datetime):
        return {"type": "Date", "value": format_date(value), "valueInfo": {}}
    if isinstance(value, date):
        return {"type": "String", "value": value.isoformat(), "valueInfo": {}}
    if isinstance(value, str):
        return {
            "type": "Date" if CAMUNDA_DATE.fullmatch(value) else "String",
            "value": value,
            "valueInfo": {},
        }
    if isinstance(value, dict | list | tuple):
        text = json.dumps(value, ensure_ascii=False, default=_json_default)
        return {"type": "Json", "value": text, "valueInfo": {}}
    return {"type": "String", "value": str(value), "valueInfo": {}}


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_date(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def to_typed(values: Mapping[str, Any], names: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every variable (or only ``names``) as typed variables."""
    return {name: typed(value) for name, value in values.items() if not names or name in names}


# The Camunda type a form field's empty value is reported as.
FIELD_TYPES = {"number": "Double", "checkbox": "Boolean", "checklist": "Json", "taglist": "Json"}


def typed_form_fields(form: Any, values: Mapping[str, Any], names: list[str] | None) -> dict[str, Any]:
    """A Camunda Form's fields (top-level keys) with their current values as typed variables, empty ones typed
    by the field."""
    out: dict[str, Any] = {}
    for field in form.fields:
        key = field.path[0]
        if key in out or (names and key not in names):
            continue
        value = values.get(key)
        if value is None:
            kind = FIELD_TYPES.get(field.type, "String") if len(field.path) == 1 else "Json"
            out[key] = {"type": kind, "value": None, "valueInfo": {}}
        else:
            out[key] = typed(value)
    return out
