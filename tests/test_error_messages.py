"""Every error an official can be shown is Chinese, keyed by its stable English code.

The codes are found by reading the code base (every ``code = "…"`` of an error class under engine/ and webapi/,
and every refusal Werkzeug can raise), not from a list kept by hand, so a new error type without its Chinese
fails here. /engine-rest keeps Camunda's own exception types and is not walked.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from werkzeug.exceptions import default_exceptions

from engine import errors
from webapi.errors import HTTP_CHINESE, http_code

ROOT = Path(__file__).resolve().parents[1]
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def raised_codes() -> dict[str, str]:
    """code -> where its class is defined, for every class in engine/ and webapi/ that sets ``code``."""
    found: dict[str, str] = {}
    for path in sorted([*ROOT.joinpath("engine").rglob("*.py"), *ROOT.joinpath("webapi").rglob("*.py")]):
        if "camunda" in path.relative_to(ROOT).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            for statement in node.body:
                if (
                    isinstance(statement, ast.Assign)
                    and [getattr(t, "id", None) for t in statement.targets] == ["code"]
                    and isinstance(statement.value, ast.Constant)
                    and isinstance(statement.value.value, str)
                ):
                    found[statement.value.value] = f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"
    return found


def test_the_walk_finds_the_engine_and_web_codes() -> None:
    codes = raised_codes()
    # The walk is no empty loop: the base types of both layers are among what it finds.
    assert {"not_found", "conflict", "invalid_input", "unauthorized", "too_many_attempts"} <= set(codes)


@pytest.mark.parametrize("code", sorted(raised_codes()))
def test_every_raised_code_has_its_chinese(code: str) -> None:
    assert code in errors.CHINESE, (
        f"no Chinese for {code} ({raised_codes()[code]}): add it to engine.errors.CHINESE"
    )
    said = errors.chinese_message(code, "task 'x' is no longer open", {})
    assert errors.HAN.search(said) and not LATIN_WORD.search(said), said


@pytest.mark.parametrize("code", sorted({http_code(cls()) for cls in default_exceptions.values()}))
def test_every_werkzeug_refusal_has_its_chinese(code: str) -> None:
    said = HTTP_CHINESE.get(code, "")
    assert errors.HAN.search(said) and not LATIN_WORD.search(said), f"no Chinese for {code} in HTTP_CHINESE"


def test_english_messages_read_in_chinese_by_code_and_details_and_chinese_ones_stand() -> None:
    assert errors.NotFound("no task 'T1'", {"task": "T1"}).to_dict() == {
        "error": "not_found",
        "message": "没有任务 T1",
        "details": {"task": "T1"},
    }
    assert errors.Conflict("task 'T1' is claimed by office", {"task": "T1", "assignee": "office"}).to_dict()[
        "message"
    ] == ("任务已由 office 认领")
    assert (
        errors.Conflict("claim it first", {"task": "T1", "assignee": None}).to_dict()["message"]
        == "请先认领此任务"
    )
    assert errors.InvalidState("instance is suspended", {"state": "suspended"}).to_dict()["message"] == (
        "案件已挂起，不能执行此操作"
    )
    refused = errors.InvalidInput("invalid variables", {"fields": {"peopleCount": ["Not a valid integer."]}})
    assert refused.to_dict()["message"] == "1 项填写有误，请按各项提示修改"
    assert errors.InvalidInput("no variables", {}).to_dict()["message"] == errors.CHINESE["invalid_input"]
    # What the raising code already wrote in Chinese is what the official reads, word for word.
    assert errors.NotFound("没有用户 张三", {"username": "张三"}).to_dict()["message"] == "没有用户 张三"
    # The English wording stays on the exception for the command line and the logs.
    assert errors.NotFound("no task 'T1'", {"task": "T1"}).message == "no task 'T1'"
