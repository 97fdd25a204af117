"""engine.forms: Camunda Forms (form-js) parsing, FEEL hide conditions, server-side validation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.feel import FeelSyntaxError, compile_feel, evaluate_feel
from engine.forms import (
    FormDefinition,
    FormDefinitionError,
    FormValidationError,
    parse_form,
)

PHONE_PATTERN = r"^1[3-9]\d{9}$|^0\d{2,3}-?\d{7,8}$"


def registration_schema() -> dict[str, Any]:
    """A 信访登记 form as Camunda Modeler 5 writes it (ids, layout, exporter included)."""
    return {
        "id": "petition-registration",
        "type": "default",
        "schemaVersion": 19,
        "executionPlatform": "Camunda Platform",
        "executionPlatformVersion": "7.21.0",
        "exporter": {"name": "Camunda Modeler", "version": "5.38.0"},
        "components": [
            {"id": "Text_intro", "type": "text", "text": "# 信访登记"},
            {
                "id": "Field_name",
                "type": "textfield",
                "key": "petitionerName",
                "label": "信访人姓名",
                "validate": {"required": True, "maxLength": 50},
                "layout": {"row": "Row_1", "columns": 8},
            },
            {
                "id": "Field_phone",
                "type": "textfield",
                "key": "phone",
                "label": "联系电话",
                "validate": {
                    "required": True,
                    "pattern": PHONE_PATTERN,
                    "patternErrorMessage": "请输入有效的手机号或固定电话",
                    "someFutureRule": 42,
                },
            },
            {
                "id": "Field_channel",
                "type": "select",
                "key": "channel",
                "label": "信访渠道",
                "values": [
                    {"label": "来信", "value": "letter"},
                    {"label": "来访", "value": "visit"},
                    {"label": "网上信访", "value": "web"},
                    {"label": "电话", "value": "phone"},
                ],
                "validate": {"required": True},
            },
            {
                "id": "Field_count",
                "type": "number",
                "key": "peopleCount",
                "label": "人数",
                "validate": {"required": True, "min": 1, "max": 10000},
            },
            {
                "id": "Field_reps",
                "type": "textfield",
                "key": "representatives",
                "label": "代表人",
                "validate": {"required": True},
                "conditional": {"hide": "=peopleCount < 5"},
            },
            {
                "id": "Field_received",
                "type": "datetime",
                "subtype": "date",
                "key": "receivedAt",
                "dateLabel": "受理日期",
                "validate": {"required": True},
            },
            {
                "id": "Field_content",
                "type": "textarea",
                "key": "content",
                "label": "信访内容",
                "validate": {"required": True, "minLength": 5},
            },
            {"id": "Field_accepted", "type": "checkbox", "key": "accepted", "label": "是否受理"},
            {
                "id": "Group_address",
                "type": "group",
                "label": "地址",
                "components": [
                    {"id": "Field_province", "type": "textfield", "key": "province", "label": "省"},
                    {"id": "Field_city", "type": "textfield", "key": "city", "label": "市"},
                ],
            },
            {
                "id": "Group_contact",
                "type": "group",
                "label": "其他联系方式",
                "path": "contact",
                "components": [
                    {
                        "id": "Field_email",
                        "type": "textfield",
                        "key": "email",
                        "validate": {"validationType": "email"},
                    },
                    {"id": "Field_wechat", "type": "textfield", "key": "wechat"},
                ],
            },
            {"id": "Spacer_1", "type": "spacer", "height": 30},
            {"id": "Button_submit", "type": "button", "action": "submit", "label": "提交"},
        ],
    }


@pytest.fixture
def form() -> FormDefinition:
    return parse_form(json.dumps(registration_schema(), ensure_ascii=False), source="forms/registration.form")


def valid_submission(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "petitionerName": "张三",
        "phone": "13800138000",
        "channel": "visit",
        "peopleCount": 6,
        "representatives": "李四、王五",
        "receivedAt": "2024-05-06",
        "content": "反映小区供暖不达标问题",
        "accepted": True,
        "province": "河北省",
        "city": "石家庄市",
        "contact": {"email": "zhangsan@example.cn", "wechat": "zs2024"},
    }
    data.update(overrides)
    return data


def make_form(*components: dict[str, Any], form_id: str = "f") -> FormDefinition:
    return parse_form(json.dumps({"id": form_id, "type": "default", "components": list(components)}))


def errors_of(form: FormDefinition, data: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(FormValidationError) as info:
        form.validate(data)
    assert info.value.form_id == form.id
    return info.value.errors


# --- parsing -----------------------------------------------------------------------------------


def test_parse_registration_form_fields_and_keys(form: FormDefinition) -> None:
    assert form.id == "petition-registration"
    assert form.schema["schemaVersion"] == 19
    by_key = {f.key: f for f in form.fields}
    # text/spacer/button carry no data; groups are flattened into their children
    assert list(by_key) == [
        "petitionerName",
        "phone",
        "channel",
        "peopleCount",
        "representatives",
        "receivedAt",
        "content",
        "accepted",
        "province",
        "city",
        "email",
        "wechat",
    ]
    assert form.keys == frozenset(
        {
            "petitionerName",
            "phone",
            "channel",
            "peopleCount",
            "representatives",
            "receivedAt",
            "content",
            "accepted",
            "province",
            "city",
            "contact",
        }
    )
    name = by_key["petitionerName"]
    assert (name.component_id, name.type, name.label, name.required, name.max_length) == (
        "Field_name",
        "textfield",
        "信访人姓名",
        True,
        50,
    )
    assert by_key["channel"].values == ("letter", "visit", "web", "phone")
    assert by_key["peopleCount"].minimum == 1 and by_key["peopleCount"].maximum == 10000
    assert by_key["representatives"].hide == ("peopleCount < 5",)
    assert by_key["receivedAt"].subtype == "date" and by_key["receivedAt"].label == "受理日期"
    assert by_key["email"].path == ("contact", "email") and by_key["email"].name == "contact.email"
    assert by_key["province"].path == ("province",)
    assert by_key["accepted"].values is None


def test_parse_accepts_bytes_with_bom() -> None:
    raw = json.dumps(registration_schema(), ensure_ascii=False).encode("utf-8-sig")
    assert parse_form(raw).id == "petition-registration"


def test_bad_json_reports_line_and_column() -> None:
    text = '{\n  "id": "f",\n  "components": [\n    {"type": "textfield" "key": "a"}\n  ]\n}'
    with pytest.raises(FormDefinitionError) as info:
        parse_form(text, source="forms/broken.form")
    message = str(info.value)
    assert "forms/broken.form" in message
    assert "line 4, column 26" in message


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        ({"type": "default", "components": [{"type": "textfield", "key": "a"}]}, "no 'id'"),
        ({"id": "f", "type": "default"}, "no 'components'"),
        ({"id": "f", "type": "default", "components": []}, "no components"),
        ({"id": "f", "type": "default", "components": {"a": 1}}, "no 'components'"),
        ({"id": "f", "type": "other", "components": [{"type": "text"}]}, "'default'"),
        ([1, 2], "JSON object"),
    ],
)
def test_form_level_definition_errors(schema: Any, fragment: str) -> None:
    with pytest.raises(FormDefinitionError, match=fragment):
        parse_form(json.dumps(schema), source="x.form")


def test_duplicate_keys_name_both_components() -> None:
    schema = registration_schema()
    schema["components"][9]["components"][1]["key"] = "petitionerName"  # city -> petitionerName
    with pytest.raises(FormDefinitionError) as info:
        parse_form(json.dumps(schema), source="forms/registration.form")
    message = str(info.value)
    assert "duplicate key" in message
    assert "Field_city" in message and "Field_name" in message
    assert "forms/registration.form" in message and "petition-registration" in message


def test_key_conflicting_with_group_path_is_rejected() -> None:
    with pytest.raises(FormDefinitionError, match="conflicting keys"):
        make_form(
            {"id": "A", "type": "textfield", "key": "contact"},
            {
                "id": "G",
                "type": "group",
                "path": "contact",
                "components": [{"id": "B", "type": "textfield", "key": "email"}],
            },
        )


def test_same_key_in_different_group_paths_is_fine() -> None:
    form = make_form(
        {
            "id": "G1",
            "type": "group",
            "path": "home",
            "components": [{"id": "A", "type": "textfield", "key": "city"}],
        },
        {
            "id": "G2",
            "type": "group",
            "path": "work",
            "components": [{"id": "B", "type": "textfield", "key": "city"}],
        },
    )
    assert form.validate({"home": {"city": "北京"}, "work": {"city": "天津"}}) == {
        "home": {"city": "北京"},
        "work": {"city": "天津"},
    }


def test_bad_regex_names_component() -> None:
    with pytest.raises(FormDefinitionError) as info:
        make_form(
            {
                "id": "Field_idcard",
                "type": "textfield",
                "key": "idCard",
                "validate": {"pattern": "^([0-9]{18}$"},
            }
        )
    assert "Field_idcard" in str(info.value)
    assert "regular expression" in str(info.value)


def test_missing_key_names_component_path_when_no_id() -> None:
    with pytest.raises(FormDefinitionError) as info:
        make_form({"type": "group", "components": [{"type": "number", "label": "人数"}]})
    assert "components[0].components[0]" in str(info.value)
    assert "'key'" in str(info.value)


def test_bad_hide_expression_fails_at_parse_time() -> None:
    with pytest.raises(FormDefinitionError) as info:
        make_form({"id": "Field_x", "type": "textfield", "key": "x", "conditional": {"hide": "=a = "}})
    assert "Field_x" in str(info.value)
    assert "conditional.hide" in str(info.value)


def test_hide_without_equals_sign_is_rejected() -> None:
    with pytest.raises(FormDefinitionError, match="starting with '='"):
        make_form({"id": "Field_x", "type": "textfield", "key": "x", "conditional": {"hide": "a = 1"}})


@pytest.mark.parametrize(
    ("component", "fragment"),
    [
        ({"id": "D", "type": "datetime", "key": "d", "subtype": "week"}, "subtype"),
        ({"id": "N", "type": "number", "key": "n", "validate": {"min": "lots"}}, "'min' must be a number"),
        ({"id": "T", "type": "textfield", "key": "t", "validate": {"maxLength": -1}}, "maxLength"),
        ({"id": "S", "type": "select", "key": "s", "values": [{"label": "x"}]}, "values[0]"),
        ({"id": "L", "type": "dynamiclist", "components": []}, "'path'"),
        ({"id": "K", "type": "textfield", "key": "a..b"}, "empty segment"),
    ],
)
def test_component_definition_errors(component: dict[str, Any], fragment: str) -> None:
    with pytest.raises(FormDefinitionError) as info:
        make_form(component)
    assert fragment in str(info.value)
    assert repr(component["id"]) in str(info.value)


def test_unknown_validate_keys_are_ignored() -> None:
    form = make_form(
        {"id": "A", "type": "textfield", "key": "a", "validate": {"required": True, "futureRule": "x"}}
    )
    assert form.validate({"a": "ok"}) == {"a": "ok"}


# --- validation --------------------------------------------------------------------------------


def test_valid_submission_is_cleaned_and_typed(form: FormDefinition) -> None:
    data = valid_submission(peopleCount="6", accepted="true", extra="dropped", contact={"email": "a@b.cn"})
    data.pop("city")
    clean = form.validate(data)
    assert clean == {
        "petitionerName": "张三",
        "phone": "13800138000",
        "channel": "visit",
        "peopleCount": 6,
        "representatives": "李四、王五",
        "receivedAt": "2024-05-06",
        "content": "反映小区供暖不达标问题",
        "accepted": True,
        "province": "河北省",
        "city": None,
        "contact": {"email": "a@b.cn", "wechat": None},
    }
    assert type(clean["peopleCount"]) is int


def test_empty_optional_values_become_none_and_checkbox_false(form: FormDefinition) -> None:
    data = valid_submission(province="", contact={})
    data.pop("accepted")
    clean = form.validate(data)
    assert clean["province"] is None
    assert clean["accepted"] is False
    assert clean["contact"] == {"email": None, "wechat": None}


def test_invalid_submission_reports_every_failing_field(form: FormDefinition) -> None:
    data = valid_submission(phone="12345", channel="fax", peopleCount=0)
    del data["petitionerName"]
    errors = errors_of(form, data)
    assert set(errors) == {"petitionerName", "phone", "channel", "peopleCount"}
    assert errors["petitionerName"] == ["Field is required."]
    assert errors["phone"] == ["请输入有效的手机号或固定电话"]
    assert "letter, visit, web, phone" in errors["channel"][0]
    assert "minimum value of 1" in errors["peopleCount"][0]


def test_error_message_and_attributes() -> None:
    form = make_form(
        {"id": "A", "type": "textfield", "key": "a", "validate": {"required": True}}, form_id="ff"
    )
    with pytest.raises(FormValidationError) as info:
        form.validate({})
    assert info.value.form_id == "ff"
    assert info.value.errors == {"a": ["Field is required."]}
    assert "'ff'" in str(info.value) and "a: Field is required." in str(info.value)


def test_required_empty_string_and_whitespace_lengths(form: FormDefinition) -> None:
    errors = errors_of(form, valid_submission(petitionerName="", content="  短  ", receivedAt=None))
    assert set(errors) == {"petitionerName", "content", "receivedAt"}
    assert errors["content"] == ["Field must have minimum length of 5."]
    assert errors_of(form, valid_submission(petitionerName="张" * 51)) == {
        "petitionerName": ["Field must have maximum length of 50."]
    }
    assert form.validate(valid_submission(petitionerName="张" * 50))["petitionerName"] == "张" * 50


def test_blank_text_is_no_answer(form: FormDefinition) -> None:
    assert errors_of(form, valid_submission(petitionerName=" \t\u3000 ")) == {
        "petitionerName": ["Field is required."]
    }


@pytest.mark.parametrize("phone", ["13800138000", "010-12345678", "0311-7654321", "02112345678"])
def test_phone_pattern_accepts_domestic_numbers(form: FormDefinition, phone: str) -> None:
    assert form.validate(valid_submission(phone=phone))["phone"] == phone


@pytest.mark.parametrize(
    "phone", ["12800138000", "1380013800", "138001380000", "13８００１３８０００", "+8613800138000"]
)
def test_phone_pattern_rejects(form: FormDefinition, phone: str) -> None:
    assert set(errors_of(form, valid_submission(phone=phone))) == {"phone"}


def test_pattern_is_a_search_like_javascript_regexp_test() -> None:
    form = make_form(
        {"id": "A", "type": "textfield", "key": "a", "validate": {"pattern": r"\d{3}"}},
        {"id": "B", "type": "textfield", "key": "b", "validate": {"pattern": r"^\d{3}$"}},
    )
    assert form.validate({"a": "编号123号", "b": "123"}) == {"a": "编号123号", "b": "123"}
    errors = errors_of(form, {"a": "12", "b": "1234"})
    assert errors == {
        "a": [r"Field must match pattern \d{3}."],
        "b": [r"Field must match pattern ^\d{3}$."],
    }


def test_js_named_groups_are_accepted() -> None:
    form = make_form(
        {"id": "A", "type": "textfield", "key": "a", "validate": {"pattern": r"^(?<year>\d{4})年$"}}
    )
    assert form.validate({"a": "2024年"}) == {"a": "2024年"}
    assert set(errors_of(form, {"a": "24年"})) == {"a"}


def test_email_and_international_phone_validation_types() -> None:
    form = make_form(
        {"id": "E", "type": "textfield", "key": "email", "validate": {"validationType": "email"}},
        {"id": "P", "type": "textfield", "key": "tel", "validate": {"validationType": "phone"}},
    )
    assert form.validate({"email": "xf.office@gov.cn", "tel": "+8613800138000"}) == {
        "email": "xf.office@gov.cn",
        "tel": "+8613800138000",
    }
    assert form.validate({"tel": "008613800138000"})["tel"] == "008613800138000"
    errors = errors_of(form, {"email": "not-an-email@", "tel": "13800138000"})
    assert errors["email"] == ["Field must be a valid email."]
    assert "international phone number" in errors["tel"][0]
    assert set(errors_of(form, {"email": "a@b.cn\n"})) == {"email"}


def test_text_field_rejects_non_string(form: FormDefinition) -> None:
    assert set(errors_of(form, valid_submission(petitionerName=123))) == {"petitionerName"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(6, 6), ("6", 6), (" 42 ", 42), ("12.5", 12.5), (10000, 10000), (1.5, 1.5)],
)
def test_number_coercion(form: FormDefinition, raw: Any, expected: int | float) -> None:
    value = form.validate(valid_submission(peopleCount=raw))["peopleCount"]
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("abc", "not a number"),
        (True, "not a number"),
        ([5], "not a number"),
        (float("nan"), "not a number"),
        (10001, "maximum value of 10000"),
        ("-1", "minimum value of 1"),
    ],
)
def test_number_rejects(form: FormDefinition, raw: Any, fragment: str) -> None:
    errors = errors_of(form, valid_submission(peopleCount=raw))
    assert set(errors) == {"peopleCount"}
    assert fragment in errors["peopleCount"][0]


def test_number_decimal_digits_and_increment() -> None:
    form = make_form(
        {"id": "A", "type": "number", "key": "amount", "decimalDigits": 2},
        {"id": "B", "type": "number", "key": "step", "increment": 0.5},
    )
    assert form.validate({"amount": "12.34", "step": 1.5}) == {"amount": 12.34, "step": 1.5}
    errors = errors_of(form, {"amount": 12.345, "step": 1.2})
    assert "at most 2 decimal" in errors["amount"][0]
    assert "multiple of 0.5" in errors["step"][0]


@pytest.mark.parametrize(
    ("subtype", "good", "bad"),
    [
        ("date", "2024-02-29", ["2023-02-29", "2024/05/06", "2024-5-6", "2024-05-06T10:00"]),
        ("time", "09:30", ["9:30", "25:00", "09:60", "noon"]),
        ("datetime", "2024-05-06T09:30:00+08:00", ["2024-05-06", "2024-05-06 09:30", "2024-13-01T09:30"]),
    ],
)
def test_datetime_subtypes(subtype: str, good: str, bad: list[str]) -> None:
    form = make_form({"id": "D", "type": "datetime", "subtype": subtype, "key": "when"})
    assert form.validate({"when": good}) == {"when": good}
    for value in bad:
        errors = errors_of(form, {"when": value})
        assert set(errors) == {"when"}, value
        assert f"Not a valid {subtype}" in errors["when"][0]


def test_datetime_accepts_utc_and_naive() -> None:
    form = make_form({"id": "D", "type": "datetime", "subtype": "datetime", "key": "when"})
    for value in ("2024-05-06T09:30Z", "2024-05-06T09:30"):
        assert form.validate({"when": value}) == {"when": value}


def test_required_checkbox_must_be_checked() -> None:
    form = make_form(
        {"id": "C", "type": "checkbox", "key": "agree", "validate": {"required": True}},
        {"id": "D", "type": "checkbox", "key": "notify"},
    )
    assert form.validate({"agree": True, "notify": "false"}) == {"agree": True, "notify": False}
    assert errors_of(form, {"agree": False}) == {"agree": ["Field is required."]}
    assert errors_of(form, {}) == {"agree": ["Field is required."]}
    assert set(errors_of(form, {"agree": True, "notify": "maybe"})) == {"notify"}


def test_radio_and_select_values_are_type_strict() -> None:
    form = make_form(
        {
            "id": "R",
            "type": "radio",
            "key": "level",
            "values": [{"label": "一级", "value": 1}, {"label": "二级", "value": 2}],
        },
        {"id": "S", "type": "select", "key": "kind", "values": [{"label": "是", "value": "yes"}]},
    )
    assert form.validate({"level": 2, "kind": "yes"}) == {"level": 2, "kind": "yes"}
    # True == 1 in Python, but a JSON true is not the option 1
    assert set(errors_of(form, {"level": True, "kind": "no"})) == {"level", "kind"}
    assert set(errors_of(form, {"level": "1"})) == {"level"}
    assert errors_of(form, {"kind": 5}) == {"kind": ["Not a valid string."]}


def test_dynamic_options_skip_allowed_values() -> None:
    form = make_form(
        {"id": "S", "type": "select", "key": "dept", "valuesKey": "departments"},
        {"id": "T", "type": "taglist", "key": "tags", "valuesExpression": "=tagOptions"},
    )
    assert form.validate({"dept": "信访科", "tags": ["x", "y"]}) == {"dept": "信访科", "tags": ["x", "y"]}
    assert set(errors_of(form, {"dept": {"not": "scalar"}})) == {"dept"}


def test_checklist_and_taglist_allowed_values() -> None:
    options = [{"label": label, "value": value} for label, value in [("环境", "env"), ("住房", "housing")]]
    form = make_form(
        {"id": "C", "type": "checklist", "key": "topics", "values": options, "validate": {"required": True}},
        {"id": "T", "type": "taglist", "key": "tags", "values": options},
    )
    assert form.validate({"topics": ["env", "housing"]}) == {"topics": ["env", "housing"], "tags": []}
    errors = errors_of(form, {"topics": ["env", "labour"], "tags": ["housing", "tax"]})
    assert set(errors) == {"topics", "tags"}
    assert errors["topics"][0].startswith("Item 1: Must be one of: env, housing")
    assert errors["tags"][0].startswith("Item 1:")
    assert errors_of(form, {"topics": []}) == {"topics": ["Field is required."]}
    assert set(errors_of(form, {"topics": "env"})) == {"topics"}


def test_disabled_fields_are_not_submitted() -> None:
    form = make_form(
        {"id": "A", "type": "textfield", "key": "caseNo", "disabled": True, "validate": {"required": True}},
        {"id": "B", "type": "textfield", "key": "note"},
    )
    assert form.keys == frozenset({"note"})
    assert form.validate({"caseNo": "tampered", "note": "x"}) == {"note": "x"}


def test_readonly_fields_keep_their_value() -> None:
    """A readonly field (always, or while its FEEL expression holds) is shown, not taken: the submission
    cannot change it, and it is not validated; once the expression no longer holds it is an ordinary field."""
    form = make_form(
        {"id": "A", "type": "textfield", "key": "caseNo", "readonly": True, "validate": {"required": True}},
        {"id": "B", "type": "checkbox", "key": "correct"},
        {
            "id": "C",
            "type": "textfield",
            "key": "subject",
            "readonly": "=correct != true",
            "validate": {"required": True},
        },
    )
    assert form.validate({"caseNo": "tampered", "subject": "tampered"}) == {"correct": False}
    assert form.validate({"correct": True, "subject": "新标题"}) == {"correct": True, "subject": "新标题"}
    with pytest.raises(FormValidationError) as info:
        form.validate({"correct": True, "subject": ""})
    assert set(info.value.errors) == {"subject"}


@pytest.mark.parametrize("readonly", ["yes", "=correct ==", 1])
def test_readonly_must_be_a_boolean_or_feel(readonly: Any) -> None:
    with pytest.raises(FormDefinitionError, match="readonly"):
        make_form({"id": "A", "type": "textfield", "key": "caseNo", "readonly": readonly})


def test_validate_rejects_non_mapping(form: FormDefinition) -> None:
    with pytest.raises(FormValidationError) as info:
        form.validate(["not", "a", "dict"])  # type: ignore[arg-type]
    assert info.value.errors == {"": ["Submission must be a JSON object."]}


def test_schema_is_built_once_per_definition(form: FormDefinition) -> None:
    assert "_scopes" in form.__dict__  # built by parse_form, so schema problems surface there
    scopes = form._scopes
    form.validate(valid_submission())
    assert form._scopes is scopes
    assert set(scopes[None].schema().fields) == {scopes[None].attrs[f] for f in form.fields}


# --- conditional hide ----------------------------------------------------------------------------


def test_hidden_required_field_is_skipped_and_dropped(form: FormDefinition) -> None:
    data = valid_submission(peopleCount=3, representatives="should be dropped")
    clean = form.validate(data)
    assert "representatives" not in clean
    data = valid_submission(peopleCount="3")  # typed before FEEL sees it
    data.pop("representatives")
    assert "representatives" not in form.validate(data)


def test_visible_required_field_is_checked(form: FormDefinition) -> None:
    data = valid_submission(peopleCount=5)
    data.pop("representatives")
    assert errors_of(form, data) == {"representatives": ["Field is required."]}


def test_hide_with_missing_operand_shows_field_like_feel_null(form: FormDefinition) -> None:
    # peopleCount missing: `null < 5` is null, not true, so the field stays visible
    data = valid_submission()
    data.pop("peopleCount")
    data.pop("representatives")
    assert set(errors_of(form, data)) == {"peopleCount", "representatives"}


def test_group_condition_hides_all_children_and_later_conditions_see_removal() -> None:
    form = make_form(
        {
            "id": "K",
            "type": "radio",
            "key": "kind",
            "values": [{"label": "个人", "value": "p"}, {"label": "单位", "value": "o"}],
        },
        {
            "id": "G",
            "type": "group",
            "path": "org",
            "conditional": {"hide": '=kind != "o"'},
            "components": [
                {"id": "O1", "type": "textfield", "key": "name", "validate": {"required": True}},
                {"id": "O2", "type": "textfield", "key": "code", "validate": {"required": True}},
            ],
        },
        {
            "id": "X",
            "type": "textfield",
            "key": "orgContact",
            "validate": {"required": True},
            "conditional": {"hide": "=not(is defined(org.name))"},
        },
    )
    assert form.validate({"kind": "p", "org": {"name": "x"}, "orgContact": "y"}) == {"kind": "p"}
    errors = errors_of(form, {"kind": "o", "org": {"name": "某公司"}})
    assert errors == {"org.code": ["Field is required."], "orgContact": ["Field is required."]}


def test_dynamiclist_items_are_validated() -> None:
    form = make_form(
        {"id": "N", "type": "number", "key": "peopleCount"},
        {
            "id": "L",
            "type": "dynamiclist",
            "path": "representatives",
            "label": "代表人",
            "isRepeating": True,
            "components": [
                {
                    "id": "R1",
                    "type": "textfield",
                    "key": "name",
                    "validate": {"required": True, "maxLength": 10},
                },
                {"id": "R2", "type": "textfield", "key": "phone", "validate": {"pattern": PHONE_PATTERN}},
                {
                    "id": "R3",
                    "type": "textfield",
                    "key": "reason",
                    "validate": {"required": True},
                    "conditional": {"hide": '=peopleCount < 50 or name = "匿名"'},
                },
                {
                    "id": "R4",
                    "type": "textfield",
                    "key": "note",
                    "conditional": {"hide": '=parent.peopleCount < 10 or this.name = "免"'},
                },
            ],
        },
    )
    reps = form.fields[1]
    assert reps.type == "dynamiclist" and [f.key for f in reps.fields] == ["name", "phone", "reason", "note"]
    assert form.keys == frozenset({"peopleCount", "representatives"})

    clean = form.validate(
        {
            "peopleCount": 8,
            "representatives": [{"name": "李四", "phone": "13900139000", "x": 1}, {"name": "王五"}],
        }
    )
    assert clean == {
        "peopleCount": 8,
        "representatives": [{"name": "李四", "phone": "13900139000"}, {"name": "王五", "phone": None}],
    }
    assert form.validate({"peopleCount": 8}) == {"peopleCount": 8, "representatives": []}
    # "parent" and "this" name the form and the item explicitly, as in form-js
    assert form.validate(
        {"peopleCount": 20, "representatives": [{"name": "李四", "note": "牵头"}, {"name": "免"}]}
    ) == {
        "peopleCount": 20,
        "representatives": [{"name": "李四", "phone": None, "note": "牵头"}, {"name": "免", "phone": None}],
    }

    errors = errors_of(
        form,
        {
            "peopleCount": 80,
            "representatives": [
                {"name": "匿名"},
                {"phone": "123"},
                "not an object",
                {"name": "赵六", "reason": "组织者"},
            ],
        },
    )
    assert errors == {
        "representatives[1].name": ["Field is required."],
        "representatives[1].phone": [f"Field must match pattern {PHONE_PATTERN}."],
        "representatives[1].reason": ["Field is required."],
        "representatives[2]": ["Must be an object."],
    }
    assert errors_of(form, {"representatives": {"name": "x"}}) == {
        "representatives": ["Must be a list of objects."]
    }


def test_dynamiclist_duplicate_child_keys_rejected() -> None:
    with pytest.raises(FormDefinitionError, match="duplicate key"):
        make_form(
            {
                "id": "L",
                "type": "dynamiclist",
                "path": "items",
                "components": [
                    {"id": "A", "type": "textfield", "key": "x"},
                    {"id": "B", "type": "number", "key": "x"},
                ],
            }
        )


# --- FEEL subset -------------------------------------------------------------------------------

CONTEXT = {
    "channel": "visit",
    "accepted": False,
    "amount": 150,
    "kind": "y",
    "x": None,
    "tags": ["a", "b"],
    "petitioner": {"name": "张三", "age": 45, "address": {"city": "石家庄"}},
    "people": [{"name": "甲"}, {"name": "乙"}],
    "count": "3",
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('channel = "visit"', True),
        ('channel != "visit"', False),
        ("not(accepted)", True),
        ("not(channel)", None),
        ('amount > 100 and kind != "x"', True),
        ("amount > 100 and amount <= 150", True),
        ("amount < 100 or accepted", False),
        ("is defined(x)", True),
        ("is defined(missing)", False),
        ("is defined(petitioner.address.city)", True),
        ("is defined(petitioner.phone)", False),
        ("x = null", True),
        ("missing = null", True),
        ("amount = null", False),
        ('list contains(tags, "a")', True),
        ('list contains(tags, "z")', False),
        ("list contains(missing, 1)", None),
        ('petitioner.address.city = "石家庄"', True),
        ("petitioner.age >= 18", True),
        ('people.name = ["甲", "乙"]', True),
        ("tags[1]", "a"),
        ("tags[-1]", "b"),
        ("tags[5]", None),
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 / 4", 2.5),
        ("1 / 0", None),
        ("0.1 + 0.2 = 0.3", True),
        ("-amount + 200", 50),
        ("2 ** 10", 1024),
        ("10 ** 99999", None),
        ('"a" + "b"', "ab"),
        ('"a" + 1', None),
        ("count < 5", None),  # a string never orders against a number
        ('count = "3"', True),
        ("count = 3", None),
        ("x < 5", None),
        ("missing > 1 or true", True),
        ("missing > 1 and false", False),
        ("missing > 1 and true", None),
        ('channel in ["letter", "visit"]', True),
        ('channel in ("web", "phone")', False),
        ("amount in tags", False),
        ("amount between 100 and 200", True),
        ("amount between 151 and 200", False),
        ('if amount > 100 then "big" else "small"', "big"),
        ('if missing then "t" else "e"', "e"),
        ("count(tags) = 2", True),
        ("string length(petitioner.name) = 2", True),
        ('starts with(channel, "vi") and ends with(channel, "it")', True),
        ('contains(upper case(channel), "VIS")', True),
        ("sum(tags)", None),
        ("sum([1, 2, 3.5])", 6.5),
        ("max(1, 5, 3) - min([4, 2])", 3),
        ('number("12") + 1', 13),
        ("string(amount)", "150"),
        ('"转义\\"引号\\u4e2d"', '转义"引号中'),
        ("is empty([])", True),
        ("abs(-3)", 3),
        ("true = 1", None),
        ("[1, 2] = [1, 2]", True),
        ("petitioner = petitioner", True),
        ("不存在的变量 = null", True),
    ],
)
def test_feel_evaluation(expression: str, expected: Any) -> None:
    assert evaluate_feel(expression, CONTEXT) == expected


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("", "empty expression"),
        ("a =", "expected a value"),
        ("(a = 1", "expected ')'"),
        ("a = 1)", "unexpected token"),
        ('"unterminated', "unterminated string"),
        ("a == 1", "expected a value"),
        ("a ! b", "unexpected character"),
        ("eval(a)", "unsupported function 'eval'"),
        ("not(a, b)", "takes 1 argument"),
        ("list contains(tags)", "takes 2 argument"),
        ("is defined(1)", "needs a variable"),
        ("x in [1..3]", "expected"),
        ("a.", "expected a name"),
        ("amount between 1", "'and'"),
        ("if a then b", "'else'"),
        ("and", "expected a value"),
        ('"bad \\q escape"', "unknown escape"),
        ("a = 1; b", "unexpected character"),
    ],
)
def test_feel_syntax_errors(expression: str, fragment: str) -> None:
    with pytest.raises(FeelSyntaxError) as info:
        compile_feel(expression)
    assert fragment in str(info.value)


def test_feel_syntax_error_position() -> None:
    with pytest.raises(FeelSyntaxError) as info:
        compile_feel('channel = "visit" and ')
    assert info.value.position == len('channel = "visit" and ')
    assert "column 23" in str(info.value)


def test_feel_deep_nesting_is_a_syntax_error_not_a_crash() -> None:
    with pytest.raises(FeelSyntaxError, match="nested too deeply"):
        compile_feel("(" * 5000 + "1" + ")" * 5000)


def test_feel_never_executes_python() -> None:
    # names are only looked up in the context; attributes of Python objects are not reachable
    assert evaluate_feel("x.__class__", {"x": 1}) is None
    assert evaluate_feel("__import__ = null", {}) is True
