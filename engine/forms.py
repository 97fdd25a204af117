"""Camunda Forms (form-js ``.form`` files): parse them and validate submissions on the server.

Designers draw the forms in Camunda Modeler and user tasks link them with ``camunda:formRef``.
Handlers fill them in the browser (form-js), but the browser is not trusted: every submission is
validated here again against the same ``.form`` file, with marshmallow, before it becomes process
variables.

Usage::

    form = parse_form(path.read_text(encoding="utf-8"), source=str(path))
    clean = form.validate(submitted)  # raises FormValidationError listing every failing field

Semantics follow form-js's viewer (``Validator`` and ``ConditionChecker``) where it matters:

* ``validate.pattern`` is tested like JavaScript's ``new RegExp(pattern).test(value)``, i.e. a
  *search* (``re.search``), not a full match: designers anchor with ``^...$`` themselves.
  ``\\d``/``\\w`` match ASCII only (as in JavaScript), so full-width digits do not pass ``\\d``.
* ``minLength``/``maxLength`` count the value with surrounding whitespace stripped.
* ``required``: ``None``, ``""``, text of only whitespace, an empty list and (for a checkbox) ``False`` are
  missing (form-js itself would accept whitespace).
* ``conditional.hide`` is a FEEL expression (``"=..."``), evaluated in document order against
  the submitted data: a hidden field is neither validated nor returned, and later conditions
  no longer see its value (form-js clears it too). A hidden group hides all its children.
* Fields with ``disabled: true`` are not submitted by form-js, so they are dropped here as well.
* A field that is ``readonly`` (``true``, or a FEEL expression that is true for the submission, evaluated like a
  hide condition) shows a value the submission may not change: form-js submits it unchanged, and its submitted
  value is not taken (the variable keeps the value it had). Not validated either.

Cleaned data (the result of :meth:`FormDefinition.validate`):

* only the form's own keys; anything else in the submission is dropped silently;
* every *visible* field is present, so gateway expressions never meet an unknown variable:
  an empty or absent value becomes ``None`` (checkbox: ``False``; checklist/taglist/dynamiclist:
  ``[]``) -- the same empty values form-js itself submits, except that ``""`` becomes ``None``;
* values are typed: number -> ``int``/``float`` (numeric strings accepted), checkbox -> ``bool``,
  datetime -> the ISO string as submitted (``YYYY-MM-DD`` for dates), checklist/taglist -> list;
* group ``path`` and dotted keys nest (``{"address": {"city": ...}}``); errors are keyed by the
  dotted path (``address.city``) and items of a dynamic list by ``list[0].field``.

Hide conditions are compiled by :mod:`engine.feel`, a deliberately small, safe FEEL subset.
"""

from __future__ import annotations

import decimal
import json
import math
import re
from collections import ChainMap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from functools import cached_property
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from .feel import NUMBER_TEXT_RE, FeelExpression, FeelSyntaxError, compile_feel, is_number, parse_number_text

__all__ = [
    "FormDefinition",
    "FormDefinitionError",
    "FormField",
    "FormValidationError",
    "parse_form",
]


_UNDEFINED: Any = object()  # a key that is not in the submission (distinct from a null value)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class FormDefinitionError(ValueError):
    """A ``.form`` file that is not a valid form; the message names the file, form and component."""


class FormValidationError(Exception):
    """A submission that fails the form: ``errors`` maps every failing field's key to messages."""

    def __init__(self, errors: Mapping[str, Sequence[str]], form_id: str) -> None:
        self.errors: dict[str, list[str]] = {key: list(msgs) for key, msgs in errors.items()}
        self.form_id = form_id
        details = "; ".join(f"{key}: {' '.join(msgs)}" for key, msgs in sorted(self.errors.items()))
        super().__init__(f"form {form_id!r}: invalid submission: {details}")


# ---------------------------------------------------------------------------------------------
# Form model
# ---------------------------------------------------------------------------------------------

_VALUE_TYPES = frozenset({"textfield", "textarea", "number", "datetime", "checkbox", "radio", "select"})
_MULTI_TYPES = frozenset({"checklist", "taglist"})
_OPTION_TYPES = frozenset({"radio", "select", "checklist", "taglist"})
# Decorative components, and components whose value this server cannot trust or recompute
# (expression: a FEEL value computed in the browser; filepicker: refers to separately uploaded
# files). Their data is dropped.
_NO_DATA_TYPES = frozenset(
    {
        "text",
        "html",
        "image",
        "separator",
        "spacer",
        "button",
        "iframe",
        "table",
        "documentPreview",
        "expression",
        "filepicker",
    }
)
_DATETIME_SUBTYPES = frozenset({"date", "time", "datetime"})

# The WHATWG HTML "valid e-mail address" grammar (what <input type=email> accepts).
_EMAIL_RE = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
# form-js's "phone" type wants an international number: "+" or "00", a country code, digits
# only (e.g. +8613800138000). Its own list of country codes is not repeated here: this accepts
# the same shape with 6-30 digits, so anything form-js accepts passes and garbage does not.
# Domestic Chinese numbers (13800138000, 010-12345678) need a designer-written `pattern`.
_PHONE_RE = re.compile(r"(?:\+|00)[1-9]\d{5,29}")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_TIME_RE = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?", re.ASCII)
_DATETIME_RE = re.compile(_DATE_RE.pattern + "T" + _TIME_RE.pattern, re.ASCII)
_JS_NAMED_GROUP_RE = re.compile(r"\(\?<(?![=!])")


@dataclass(frozen=True)
class _Condition:
    """A compiled ``conditional.hide``; ``owner`` (the component's JSON path) identifies it."""

    owner: str
    expression: FeelExpression


@dataclass(frozen=True)
class FormField:
    """One data-carrying component of a form (groups are flattened into their children).

    ``key`` is the component's own key (for a dynamic list: its ``path``); ``path`` is where
    the value lives in the submitted data, relative to the form (or to a dynamic-list item);
    ``name`` (the dotted path) is what validation errors are keyed by. ``values`` is the tuple
    of allowed values for options components with static ``values``, else None (no check).
    """

    key: str
    component_id: str
    type: str
    label: str = ""
    required: bool = False
    values: tuple[str | int | float | bool, ...] | None = None
    path: tuple[str, ...] = ()
    subtype: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    pattern_error_message: str | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    validation_type: str | None = None
    check: str | None = None  # a named check from the component's custom properties (CHECKS)
    decimal_digits: int | None = None
    increment: int | float | None = None
    disabled: bool = False
    readonly: bool | FeelExpression = field(default=False, repr=False, compare=False)
    hide: tuple[str, ...] = ()  # own and enclosing groups' hide conditions, outermost first
    fields: tuple[FormField, ...] = ()  # a dynamic list's item fields
    conditions: tuple[_Condition, ...] = field(default=(), repr=False, compare=False)

    @property
    def name(self) -> str:
        """Dotted data path, e.g. ``address.city``."""
        return ".".join(self.path)


@dataclass(frozen=True)
class _Scope:
    """The leaf fields validated together by one marshmallow schema (the form, or a list item)."""

    schema: type[Schema]
    attrs: Mapping[FormField, str]  # leaf field -> schema attribute name


@dataclass(frozen=True)
class FormDefinition:
    """A parsed ``.form`` file. ``schema`` is the raw JSON; ``fields`` are in document order."""

    id: str
    schema: dict[str, Any] = field(hash=False, repr=False)
    fields: tuple[FormField, ...] = ()
    source: str = "<form>"

    @property
    def keys(self) -> frozenset[str]:
        """Every top-level variable the form submits (a group ``path`` counts as one variable)."""
        return frozenset(f.path[0] for f in self.fields if not f.disabled)

    @cached_property
    def _scopes(self) -> dict[FormField | None, _Scope]:
        # Built once per definition (cached_property writes to __dict__, which works on a
        # frozen dataclass): None is the form itself, then one schema per dynamic list.
        scopes: dict[FormField | None, _Scope] = {}

        def build(owner: FormField | None, members: Sequence[FormField]) -> None:
            scopes[owner] = _build_scope(self.id, members)
            for member in members:
                if member.type == "dynamiclist":
                    build(member, member.fields)

        build(None, self.fields)
        return scopes

    def validate(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Validate a submission; return the cleaned, typed data or raise FormValidationError.

        All fields are checked before raising, so the error lists every failing field.
        """
        if not isinstance(data, Mapping):
            raise FormValidationError({"": ["Submission must be a JSON object."]}, self.id)
        errors: dict[str, list[str]] = {}
        context = _copy_json(data)  # what hide conditions see; hidden values get removed
        result = self._validate_scope(None, self.fields, data, context, context, "", errors)
        if errors:
            raise FormValidationError(errors, self.id)
        return result

    def _validate_scope(
        self,
        owner: FormField | None,
        members: Sequence[FormField],
        data: Mapping[str, Any],
        local: dict[str, Any],
        feel_context: Mapping[str, Any],
        prefix: str,
        errors: dict[str, list[str]],
    ) -> dict[str, Any]:
        _coerce_for_feel(local, members)
        hidden_owners: dict[str, bool] = {}
        visible: list[FormField] = []
        lists: dict[FormField, list[Any]] = {}
        # Document order, like form-js: a hidden field's value is removed before later
        # conditions are evaluated; a group's condition is evaluated once, for its first field.
        for member in members:
            hidden = False
            for condition in member.conditions:
                if condition.owner not in hidden_owners:
                    outcome = condition.expression.evaluate(feel_context)
                    hidden_owners[condition.owner] = outcome is True
                if hidden_owners[condition.owner]:
                    hidden = True
                    break
            if hidden:
                _delete_path(local, member.path)
                continue
            if member.disabled:  # not submitted by form-js; its value stays visible to FEEL
                continue
            if member.readonly is True or (
                isinstance(member.readonly, FeelExpression) and member.readonly.evaluate(feel_context) is True
            ):
                continue  # shown, not to be changed: its value is not taken, and stays visible to FEEL
            visible.append(member)
            if member.type == "dynamiclist":
                lists[member] = self._validate_list(member, data, local, feel_context, prefix, errors)

        scope = self._scopes[owner]
        leaves = [m for m in visible if m.type != "dynamiclist"]
        loaded: dict[str, Any] = {}
        if leaves:
            payload = {}
            for leaf in leaves:
                value = _get_path(data, leaf.path)
                # Empty counts as absent (required/defaults); so does blank text: form-js would take "  " as
                # an answer, but a petition's reply or reason of spaces is no answer.
                if (
                    value is not _UNDEFINED
                    and value is not None
                    and not (isinstance(value, str) and not value.strip())
                ):
                    payload[leaf.name] = value
            try:
                loaded = scope.schema(only=[scope.attrs[leaf] for leaf in leaves]).load(payload)
            except ValidationError as exc:
                _collect_errors(exc.messages, prefix, errors)
                loaded = exc.valid_data if isinstance(exc.valid_data, dict) else {}

        result: dict[str, Any] = {}
        for member in visible:
            if member.type == "dynamiclist":
                _set_path(result, member.path, lists[member])
            elif scope.attrs[member] in loaded:
                _set_path(result, member.path, loaded[scope.attrs[member]])
        return result

    def _validate_list(
        self,
        member: FormField,
        data: Mapping[str, Any],
        local: dict[str, Any],
        feel_context: Mapping[str, Any],
        prefix: str,
        errors: dict[str, list[str]],
    ) -> list[Any]:
        name = prefix + member.name
        raw = _get_path(data, member.path)
        if raw is _UNDEFINED or raw is None:
            return []
        if not isinstance(raw, list):
            errors.setdefault(name, []).append("Must be a list of objects.")
            return []
        local_items = _get_path(local, member.path)
        items: list[Any] = []
        for index, item in enumerate(raw):
            if not isinstance(item, Mapping):
                errors.setdefault(f"{name}[{index}]", []).append("Must be an object.")
                continue
            item_local = local_items[index]  # the same item inside the FEEL context copy
            # Inside an item, form-js resolves names in the item first, then in the form
            # ("this"/"parent" name the two explicitly).
            item_context = ChainMap(
                item_local,
                {"this": item_local, "_this_": item_local, "parent": feel_context, "_parent_": feel_context},
                feel_context,
            )
            items.append(
                self._validate_scope(
                    member, member.fields, item, item_local, item_context, f"{name}[{index}].", errors
                )
            )
        return items


# ---------------------------------------------------------------------------------------------
# marshmallow schema construction
# ---------------------------------------------------------------------------------------------

_REQUIRED = "Field is required."


# form-js numbers are JavaScript numbers: past 2**53 an integer is no longer exact, and nobody types a count, an
# amount or a number of days that large. Beyond it 1e308 would also break the decimal checks below.
MAX_FORM_NUMBER = 2**53 - 1


class _NumberField(fields.Field):
    """int/float, or a numeric string (form-js can serialise numbers as strings)."""

    default_error_messages = {  # noqa: RUF012 - marshmallow API
        "invalid": "Value is not a number.",
        "range": f"数值超出可处理的范围（绝对值不超过 {MAX_FORM_NUMBER}）",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int | float:
        number = parse_number_text(value) if isinstance(value, str) else value
        if isinstance(value, str) and number is None and NUMBER_TEXT_RE.fullmatch(value.strip()):
            raise self.make_error("range")  # written as a number, but beyond what a number can hold
        if not is_number(number) or math.isnan(number):
            raise self.make_error("invalid")
        if not -MAX_FORM_NUMBER <= number <= MAX_FORM_NUMBER:
            raise self.make_error("range")
        return number


class _ScalarField(fields.Field):
    """Options values that are not all strings: any JSON scalar."""

    default_error_messages = {"invalid": "Not a valid value."}  # noqa: RUF012 - marshmallow API

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str | bool) or is_number(value):
            return value
        raise self.make_error("invalid")


class _TemporalField(fields.String):
    """A form-js datetime value: kept as the submitted ISO string once it parses."""

    def __init__(self, subtype: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.subtype = subtype

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _is_temporal(self.subtype, text):
            expected = {"date": "YYYY-MM-DD", "time": "HH:MM", "datetime": "YYYY-MM-DDTHH:MM"}
            raise ValidationError(f"Not a valid {self.subtype} (expected {expected[self.subtype]}).")
        return text


class _StrictOneOf(validate.OneOf):
    """OneOf without Python's 1 == True == 1.0 conflation across JSON types."""

    def __call__(self, value: Any) -> Any:
        if not any(_same_value(value, choice) for choice in self.choices):
            raise ValidationError(self._format_error(value))
        return value


class _Search(validate.Validator):
    """JavaScript ``RegExp.test`` semantics: the pattern may match anywhere in the value."""

    def __init__(self, regex: re.Pattern[str], error: str) -> None:
        self.regex = regex
        self.error = error

    def __call__(self, value: str) -> str:
        if self.regex.search(value) is None:
            raise ValidationError(self.error)
        return value


# GB 11643-1999: the weights of the first 17 digits and the check character for each remainder mod 11.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


class ResidentIdNumber(validate.Validator):
    """A citizen identity number (公民身份号码, GB 11643-1999): 18 characters, a birth date that exists and
    the check character the first 17 digits give. Pattern alone let month 13 and mistyped numbers through."""

    def __call__(self, value: str) -> str:
        text = value.strip().upper()
        if not re.fullmatch(r"\d{17}[\dX]", text):
            raise ValidationError("居民身份证号码为18位，前17位为数字，最后一位为数字或X")
        try:
            born = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
        except ValueError:
            raise ValidationError(
                f"居民身份证号码中的出生日期 {text[6:10]}-{text[10:12]}-{text[12:14]} 不存在"
            ) from None
        if born.year < 1900:
            raise ValidationError(f"居民身份证号码中的出生年份 {born.year} 不正确")
        expected = _ID_CHECK[sum(int(d) * w for d, w in zip(text[:17], _ID_WEIGHTS, strict=True)) % 11]
        if text[17] != expected:
            raise ValidationError("居民身份证号码校验位不符，请核对号码")
        return value


# Checks a designer names in a field's custom properties (``"properties": {"check": "resident_id"}``).
CHECKS: dict[str, Callable[[], validate.Validator]] = {"resident_id": ResidentIdNumber}


class _Stripped(validate.Validator):
    """Apply a validator to the value with surrounding whitespace removed (form-js lengths)."""

    def __init__(self, inner: validate.Validator) -> None:
        self.inner = inner

    def __call__(self, value: str) -> str:
        self.inner(value.strip())
        return value


def _same_value(a: Any, b: Any) -> bool:
    # int and float are one JSON type; bool is not a number here (True == 1 in Python).
    if is_number(a) and is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def _decimal_digits_validator(digits: int) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        exponent = Decimal(repr(value)).as_tuple().exponent
        if isinstance(exponent, int) and -exponent > digits:
            if digits == 0:
                raise ValidationError("Value is expected to be an integer.")
            raise ValidationError(f"Value is expected to have at most {digits} decimal digit(s).")

    return check


def _increment_validator(increment: int | float) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        # Exact for any value within MAX_FORM_NUMBER and any increment down to the smallest double; the
        # default 28 digits would raise InvalidOperation on a quotient longer than that.
        with decimal.localcontext(prec=400):
            remainder = Decimal(repr(value)) % Decimal(repr(increment))
        if remainder != 0:
            raise ValidationError(f"Value must be a multiple of {increment}.")

    return check


def _options_field(member: FormField, **kwargs: Any) -> fields.Field:
    validators = [] if member.values is None else [_StrictOneOf(member.values)]
    if member.values is not None and all(isinstance(v, str) for v in member.values):
        return fields.String(validate=validators, **kwargs)
    return _ScalarField(validate=validators, **kwargs)


def _marshmallow_field(member: FormField) -> fields.Field:
    """The marshmallow field for one leaf component, with form-js's validation rules."""
    messages = {"required": _REQUIRED, "null": _REQUIRED}
    common: dict[str, Any] = {"data_key": member.name, "error_messages": messages}
    if member.required:
        common["required"] = True
    else:
        common["allow_none"] = True
        common["load_default"] = (
            False if member.type == "checkbox" else [] if member.type in _MULTI_TYPES else None
        )
    validators: list[Any] = []

    if member.type in ("textfield", "textarea"):
        if member.min_length is not None:
            validators.append(
                _Stripped(
                    validate.Length(min=member.min_length, error="Field must have minimum length of {min}.")
                )
            )
        if member.max_length is not None:
            validators.append(
                _Stripped(
                    validate.Length(max=member.max_length, error="Field must have maximum length of {max}.")
                )
            )
        if member.pattern is not None:
            message = member.pattern_error_message or f"Field must match pattern {member.pattern}."
            validators.append(_Search(_compile_js_regex(member.pattern), message))
        if member.check is not None:
            validators.append(CHECKS[member.check]())
        if member.validation_type == "email":
            validators.append(
                validate.Regexp(_EMAIL_RE.pattern + r"\Z", error="Field must be a valid email.")
            )
        elif member.validation_type == "phone":
            validators.append(
                validate.Regexp(
                    _PHONE_RE.pattern + r"\Z",
                    error="Field must be a valid international phone number (e.g. +8613800138000).",
                )
            )
        return fields.String(validate=validators, **common)

    if member.type == "number":
        if member.minimum is not None:
            validators.append(
                validate.Range(min=member.minimum, error="Field must have minimum value of {min}.")
            )
        if member.maximum is not None:
            validators.append(
                validate.Range(max=member.maximum, error="Field must have maximum value of {max}.")
            )
        if member.decimal_digits is not None:
            validators.append(_decimal_digits_validator(member.decimal_digits))
        if member.increment:
            validators.append(_increment_validator(member.increment))
        return _NumberField(validate=validators, **common)

    if member.type == "datetime":
        return _TemporalField(member.subtype or "date", **common)

    if member.type == "checkbox":
        if member.required:  # form-js: a required checkbox must be checked
            validators.append(validate.Equal(True, error=_REQUIRED))
        return fields.Boolean(validate=validators, **common)

    if member.type in ("radio", "select"):
        return _options_field(member, **common)

    if member.type in _MULTI_TYPES:
        if member.required:
            validators.append(validate.Length(min=1, error=_REQUIRED))
        return fields.List(_options_field(member), validate=validators, **common)

    # A component type this module does not know but that carries a key (a custom component):
    # pass its value through; only `required` can be checked.
    return fields.Raw(**common)


def _build_scope(form_id: str, members: Sequence[FormField]) -> _Scope:
    attrs: dict[FormField, str] = {}
    declared: dict[str, fields.Field] = {}
    for index, member in enumerate(members):
        if member.type == "dynamiclist" or member.disabled:
            continue
        # Attribute names are synthetic; the dotted path is the data_key (what errors are keyed by).
        attr = f"f{index}"
        attrs[member] = attr
        declared[attr] = _marshmallow_field(member)
    safe_id = re.sub(r"\W", "_", form_id)
    schema = Schema.from_dict(declared, name=f"FormSchema_{safe_id}")
    return _Scope(schema, attrs)


def _collect_errors(messages: Any, prefix: str, errors: dict[str, list[str]]) -> None:
    """Flatten marshmallow's error dict into {dotted key: [messages]}."""
    if not isinstance(messages, Mapping):
        errors.setdefault(prefix.rstrip(".") or "", []).extend(_flatten_messages(messages))
        return
    for key, value in messages.items():
        errors.setdefault(f"{prefix}{key}", []).extend(_flatten_messages(value))


def _flatten_messages(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):  # a List field: {index: [messages]}
        return [f"Item {index}: {msg}" for index, inner in value.items() for msg in _flatten_messages(inner)]
    return [msg for item in value for msg in _flatten_messages(item)]


# ---------------------------------------------------------------------------------------------
# Value helpers
# ---------------------------------------------------------------------------------------------


def _is_temporal(subtype: str, text: str) -> bool:
    pattern = {"date": _DATE_RE, "time": _TIME_RE, "datetime": _DATETIME_RE}[subtype]
    if not pattern.fullmatch(text):
        return False
    parser: Callable[[str], Any] = {
        "date": date.fromisoformat,
        "time": time.fromisoformat,
        "datetime": datetime.fromisoformat,
    }[subtype]
    try:
        parser(text)
    except ValueError:
        return False
    return True


def _copy_json(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy_json(v) for v in value]
    return value


def _coerce_for_feel(local: dict[str, Any], members: Sequence[FormField]) -> None:
    """Give hide conditions typed values: "3" from a number field compares as 3."""
    for member in members:
        value = _get_path(local, member.path)
        if not isinstance(value, str):
            continue
        if member.type == "number":
            number = parse_number_text(value)
            if number is not None:
                _set_path(local, member.path, number)
        elif member.type == "checkbox":
            lowered = value.lower()
            if lowered in fields.Boolean.truthy or lowered in fields.Boolean.falsy:
                _set_path(local, member.path, lowered in fields.Boolean.truthy)


def _get_path(data: Any, path: Sequence[str]) -> Any:
    for part in path:
        if not isinstance(data, Mapping) or part not in data:
            return _UNDEFINED
        data = data[part]
    return data


def _set_path(data: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for part in path[:-1]:
        child = data.get(part)
        if not isinstance(child, dict):
            child = data[part] = {}
        data = child
    data[path[-1]] = value


def _delete_path(data: dict[str, Any], path: Sequence[str]) -> None:
    parent = _get_path(data, path[:-1])
    if isinstance(parent, dict):
        parent.pop(path[-1], None)


def _compile_js_regex(pattern: str) -> re.Pattern[str]:
    # JavaScript writes named groups as (?<name>...), Python as (?P<name>...). ASCII: JavaScript's
    # \d and \w (without the u flag) match ASCII only.
    return re.compile(_JS_NAMED_GROUP_RE.sub("(?P<", pattern), re.ASCII)


# ---------------------------------------------------------------------------------------------
# Parsing .form files
# ---------------------------------------------------------------------------------------------


class _FormParser:
    def __init__(self, source: str, form_id: str) -> None:
        self.source = source
        self.form_id = form_id

    def error(self, where: str | None, message: str) -> FormDefinitionError:
        location = f"{self.source}: form {self.form_id!r}"
        if where:
            location += f": {where}"
        return FormDefinitionError(f"{location}: {message}")

    def components(
        self,
        components: Any,
        json_path: str,
        prefix: tuple[str, ...],
        conditions: tuple[_Condition, ...],
        out: list[FormField],
        where: str | None,
    ) -> None:
        if not isinstance(components, list):
            raise self.error(where, f"{json_path!r} must be a list of components")
        for index, comp in enumerate(components):
            self.component(comp, f"{json_path}[{index}]", prefix, conditions, out)

    def component(
        self,
        comp: Any,
        json_path: str,
        prefix: tuple[str, ...],
        conditions: tuple[_Condition, ...],
        out: list[FormField],
    ) -> None:
        if not isinstance(comp, dict):
            raise self.error(f"component at {json_path}", "must be a JSON object")
        cid = comp.get("id")
        component_id = cid if isinstance(cid, str) and cid else json_path
        where = f"component {component_id!r}" + ("" if component_id == json_path else f" ({json_path})")
        ctype = comp.get("type")
        if not isinstance(ctype, str) or not ctype:
            raise self.error(where, "has no 'type'")
        conditions = conditions + self.hide_condition(comp, json_path, where)

        if ctype == "group":
            sub = prefix + self.path_parts(comp.get("path"), where, "path", required=False)
            self.components(
                comp.get("components", []), f"{json_path}.components", sub, conditions, out, where
            )
            return
        if ctype == "dynamiclist":
            parts = self.path_parts(comp.get("path"), where, "path", required=True)
            children: list[FormField] = []
            self.components(comp.get("components", []), f"{json_path}.components", (), (), children, where)
            self.check_unique(children, where)
            out.append(
                FormField(
                    key=".".join(parts),
                    component_id=component_id,
                    type=ctype,
                    label=str(comp.get("label") or ""),
                    path=prefix + parts,
                    disabled=comp.get("disabled") is True,
                    hide=tuple(c.expression.source for c in conditions),
                    fields=tuple(children),
                    conditions=conditions,
                )
            )
            return
        if ctype in _NO_DATA_TYPES or ("key" not in comp and ctype not in _VALUE_TYPES | _MULTI_TYPES):
            return  # decorative (or an unknown component without data)
        out.append(self.leaf(comp, ctype, component_id, where, prefix, conditions))

    def leaf(
        self,
        comp: dict[str, Any],
        ctype: str,
        component_id: str,
        where: str,
        prefix: tuple[str, ...],
        conditions: tuple[_Condition, ...],
    ) -> FormField:
        parts = self.path_parts(comp.get("key"), where, "key", required=True)
        rules = comp.get("validate") or {}
        if not isinstance(rules, dict):
            raise self.error(where, "'validate' must be an object")
        # Unknown keys in `validate` are ignored: newer form-js versions add more.
        min_length = self.count(rules, "minLength", where)
        max_length = self.count(rules, "maxLength", where)
        pattern = rules.get("pattern") or None
        if pattern is not None:
            if not isinstance(pattern, str):
                raise self.error(where, "'validate.pattern' must be a string")
            try:
                _compile_js_regex(pattern)
            except re.error as exc:
                raise self.error(
                    where, f"invalid regular expression in 'validate.pattern' {pattern!r}: {exc}"
                ) from None
        pattern_message = rules.get("patternErrorMessage") or None
        validation_type = rules.get("validationType") or None
        properties = comp.get("properties") or {}
        check = properties.get("check") if isinstance(properties, dict) else None
        if check is not None and check not in CHECKS:
            raise self.error(where, f"unknown check {check!r} in 'properties' (known: {', '.join(CHECKS)})")

        subtype = None
        if ctype == "datetime":
            subtype = comp.get("subtype", "date")
            if subtype not in _DATETIME_SUBTYPES:
                raise self.error(
                    where, f"unknown datetime subtype {subtype!r} (expected date, time or datetime)"
                )

        decimal_digits = self.count(comp, "decimalDigits", where) if ctype == "number" else None
        increment = self.number(comp, "increment", where) if ctype == "number" else None
        if increment is not None and increment <= 0:
            raise self.error(where, "'increment' must be positive")

        return FormField(
            key=".".join(parts),
            component_id=component_id,
            type=ctype,
            label=str(comp.get("label") or comp.get("dateLabel") or comp.get("timeLabel") or ""),
            required=bool(rules.get("required")),
            values=self.values(comp, where) if ctype in _OPTION_TYPES else None,
            path=prefix + parts,
            subtype=subtype,
            min_length=min_length,
            max_length=max_length,
            pattern=pattern,
            pattern_error_message=str(pattern_message) if pattern_message else None,
            minimum=self.number(rules, "min", where),
            maximum=self.number(rules, "max", where),
            validation_type=str(validation_type) if validation_type else None,
            check=check,
            decimal_digits=decimal_digits,
            increment=increment,
            disabled=comp.get("disabled") is True,
            readonly=self.readonly(comp, where),
            hide=tuple(c.expression.source for c in conditions),
            conditions=conditions,
        )

    def readonly(self, comp: dict[str, Any], where: str) -> bool | FeelExpression:
        readonly = comp.get("readonly", False)
        if isinstance(readonly, bool):
            return readonly
        if not isinstance(readonly, str) or not readonly.startswith("="):
            raise self.error(
                where,
                f"'readonly' must be true, false or a FEEL expression starting with '=', got {readonly!r}",
            )
        try:
            return compile_feel(readonly[1:])
        except FeelSyntaxError as exc:
            raise self.error(where, f"invalid 'readonly': {exc}") from None

    def hide_condition(self, comp: dict[str, Any], json_path: str, where: str) -> tuple[_Condition, ...]:
        conditional = comp.get("conditional")
        if conditional is None:
            return ()
        if not isinstance(conditional, dict):
            raise self.error(where, "'conditional' must be an object")
        hide = conditional.get("hide")
        if hide is None or hide == "":
            return ()
        if not isinstance(hide, str) or not hide.startswith("="):
            # form-js ignores such a condition, which is never what the designer meant.
            raise self.error(
                where, f"'conditional.hide' must be a FEEL expression starting with '=', got {hide!r}"
            )
        try:
            return (_Condition(json_path, compile_feel(hide[1:])),)
        except FeelSyntaxError as exc:
            raise self.error(where, f"invalid 'conditional.hide': {exc}") from None

    def path_parts(self, value: Any, where: str, attr: str, *, required: bool) -> tuple[str, ...]:
        if value is None or value == "":
            if required:
                raise self.error(where, f"has no '{attr}' (the variable name the value is submitted as)")
            return ()
        if not isinstance(value, str):
            raise self.error(where, f"'{attr}' must be a string")
        parts = tuple(value.split("."))
        if any(not p.strip() for p in parts):
            raise self.error(where, f"'{attr}' {value!r} has an empty segment")
        return parts

    def count(self, mapping: dict[str, Any], name: str, where: str) -> int | None:
        value = mapping.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != int(value):
            raise self.error(where, f"{name!r} must be a non-negative integer, got {value!r}")
        return int(value)

    def number(self, mapping: dict[str, Any], name: str, where: str) -> int | float | None:
        value = mapping.get(name)
        if value is None or value == "":
            return None
        number = parse_number_text(value) if isinstance(value, str) else value
        if not is_number(number) or not math.isfinite(number):
            raise self.error(where, f"{name!r} must be a number, got {value!r}")
        return number

    def values(self, comp: dict[str, Any], where: str) -> tuple[Any, ...] | None:
        if comp.get("valuesKey") or comp.get("valuesExpression"):
            return None  # options come from process data at runtime: nothing static to check
        raw = comp.get("values", [])
        if not isinstance(raw, list):
            raise self.error(where, "'values' must be a list of {label, value} objects")
        values = []
        for index, option in enumerate(raw):
            if not isinstance(option, dict) or "value" not in option:
                raise self.error(where, f"values[{index}] must be an object with a 'value'")
            value = option["value"]
            if not (isinstance(value, str | bool) or is_number(value)):
                raise self.error(where, f"values[{index}].value must be a string, number or boolean")
            values.append(value)
        return tuple(values)

    def check_unique(self, members: Sequence[FormField], where: str | None) -> None:
        seen: dict[tuple[str, ...], FormField] = {}
        for member in members:
            for path, other in seen.items():
                shorter = min(len(path), len(member.path))
                if path[:shorter] != member.path[:shorter]:
                    continue
                what = "duplicate key" if path == member.path else "conflicting keys"
                raise self.error(
                    where,
                    f"{what}: component {member.component_id!r} ({member.name!r}) and "
                    f"component {other.component_id!r} ({other.name!r})",
                )
            seen[member.path] = member


def parse_form(text: str | bytes, source: str = "<form>", *, default_id: str | None = None) -> FormDefinition:
    """Parse a Camunda Forms (form-js) JSON schema; raise FormDefinitionError if it is not valid.

    A form saved without an ``id`` (Camunda Modeler writes none until one is typed) takes ``default_id``, its
    file name without the extension, which is also what a ``camunda-forms:…:NAME.form`` key names; the schema
    then carries that id, so the stored form reads the same later."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FormDefinitionError(f"{source}: not UTF-8: {exc}") from None
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormDefinitionError(
            f"{source}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    if not isinstance(schema, dict):
        raise FormDefinitionError(f"{source}: a form must be a JSON object")
    form_id = schema.get("id")
    if (form_id is None or form_id == "") and default_id:
        form_id = default_id
        schema = {**schema, "id": form_id}
    if not isinstance(form_id, str) or not form_id.strip():
        raise FormDefinitionError(f"{source}: form has no 'id' (what camunda:formRef refers to)")
    parser = _FormParser(source, form_id)
    if schema.get("type", "default") != "default":
        raise parser.error(None, f"top-level 'type' must be 'default', got {schema.get('type')!r}")
    components = schema.get("components")
    if not isinstance(components, list):
        raise parser.error(None, "has no 'components' list")
    if not components:
        raise parser.error(None, "has no components")
    out: list[FormField] = []
    parser.components(components, "components", (), (), out, None)
    parser.check_unique(out, None)
    definition = FormDefinition(id=form_id, schema=schema, fields=tuple(out), source=source)
    definition._scopes  # noqa: B018 - build the marshmallow schemas now, so their errors surface here
    return definition
