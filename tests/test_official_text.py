"""What officials read holds no internal text: task and event names, documentation, form labels, descriptions,
option labels and text blocks carry no variable name, function call or internal citation key, and cite the
条例 (or 本地规定, which the operator sets) rather than other places' local rules."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).resolve().parents[1]
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
# Elements whose name is a variable or a message key, not something shown: mappings, properties, messages.
NOT_SHOWN = {
    "message",
    "signal",
    "error",
    "escalation",
    "definitions",
    "inputParameter",
    "outputParameter",
    "property",
}
INTERNAL = re.compile(
    r"[a-z]+[A-Z]\w*"  # camelCase variable names: replyServedAt
    r"|\b[a-z]+_[a-z_]+\b"  # snake_case keys: review_recheck, package_confirmation
    r"|\w+\s*\("  # function calls: deadline('handling')
    r"|\b(?:S00\d|MYD\d*|ZJZF\d*|JYBL\d*|SHFCFH|LOCFCFH|ABFCFH|SXTZ|AHTZ|SZTZ|LOCTZ|XFTL|MFD|GK)\b"
    r"|domain\.md|#\d+"  # citation keys and notes of the domain reference
    r"|[A-Za-z]{3,}"  # any other English word
)
OTHER_PLACES = re.compile(r"衡阳|上海|山西|安徽|宿州|阿坝|临汾|丰都|九龙坡|大渡口|靖西|重庆")


def diagram_texts(path: Path) -> Iterator[tuple[str, str]]:
    for element in ElementTree.parse(path).iter():
        tag = element.tag.replace(BPMN, "").split("}")[-1]
        if tag == "documentation":
            yield "documentation", element.text or ""
        elif element.get("name") and tag not in NOT_SHOWN:
            yield f"{tag} {element.get('id')}", element.get("name") or ""


def form_texts(components: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    for component in components:
        where = component.get("key") or component.get("id") or "?"
        for field in ("label", "description", "text", "dateLabel", "timeLabel"):
            if isinstance(component.get(field), str):
                yield f"{where} {field}", component[field]
        for option in component.get("values") or ():
            yield f"{where} option", str(option.get("label") or "")
        yield from form_texts(component.get("components") or [])


def shown_texts() -> Iterator[tuple[str, str, str]]:
    for path in sorted((ROOT / "workflows").glob("*.bpmn")):
        for where, text in diagram_texts(path):
            yield path.name, where, text
    for path in sorted((ROOT / "forms").glob("*.form")):
        for where, text in form_texts(json.loads(path.read_text(encoding="utf-8"))["components"]):
            yield path.name, where, text


def problems(text: str) -> list[str]:
    return [m.group(0) for pattern in (INTERNAL, OTHER_PLACES) for m in pattern.finditer(text)]


def test_officials_read_no_variable_function_citation_key_or_other_places_rules() -> None:
    found = [(file, where, problems(text)) for file, where, text in shown_texts() if problems(text)]
    assert found == []


def test_the_scan_reads_every_diagram_and_form() -> None:
    files = {file for file, _, _ in shown_texts()}
    assert files == {p.name for p in (ROOT / "workflows").glob("*.bpmn")} | {
        p.name for p in (ROOT / "forms").glob("*.form")
    }


@pytest.mark.parametrize(
    "text",
    [
        "评价期限 deadline('evaluation')",
        "书面答复送达（replyServedAt）后",
        "谁初次办理、谁接受评价（MYD14）",
        "（S003 #16）",
        "《上海市信访事项复查复核办法》第6条",
        "见 review_recheck",
    ],
)
def test_the_scan_finds_what_it_is_for(text: str) -> None:
    assert problems(text)


def test_the_scan_lets_the_regulation_and_local_rules_through() -> None:
    assert problems("依照《信访工作条例》第三十四条，经本机关负责人批准可延长30日（本地规定）") == []
