"""Every variable a shipped diagram's conditions read is written by a form, a mapping or the registry.

A condition reading a name nothing sets fails only at run time, on one path, in front of a handler; this test
finds it when the diagram or the form changes. Data flows between a process and the processes it calls
(call activities pass all variables both ways), so the forms of the whole call tree count.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from engine.expressions import compile_expression
from engine.forms import parse_form
from engine.petitions import REGISTRY_VARIABLES
from engine.scripting import default_functions

ROOT = Path(__file__).resolve().parent.parent
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "camunda": "http://camunda.org/schema/1.0/bpmn"}
FORM_REF = f"{{{NS['camunda']}}}formRef"
# The calendar and deadline functions join the registry when an engine starts; their names are all we need.
FUNCTIONS = default_functions().names | {"working_days", "calendar_days", "deadline"}
FORMS = {
    form.id: form
    for form in (parse_form(p.read_bytes(), str(p)) for p in sorted((ROOT / "forms").glob("*.form")))
}
DIAGRAMS = sorted((ROOT / "workflows").glob("*.bpmn"))


def process_of(path: Path) -> tuple[str, etree._Element]:
    tree = etree.parse(str(path))
    process = tree.find("bpmn:process", NS)
    return process.get("id"), process


PROCESSES = dict(process_of(p) for p in DIAGRAMS)


def called(process: etree._Element) -> set[str]:
    return {c.get("calledElement") for c in process.iterfind(".//bpmn:callActivity", NS)}


def call_tree(key: str) -> set[str]:
    """The process, everything it calls, and everything that calls it, transitively."""
    edges = {k: called(p) for k, p in PROCESSES.items()}
    linked = {k: edges[k] | {caller for caller, callees in edges.items() if k in callees} for k in edges}
    seen, todo = set(), [key]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(linked.get(current, ()))
    return seen


def written(keys: set[str]) -> set[str]:
    names: set[str] = set(REGISTRY_VARIABLES)
    for key in keys:
        process = PROCESSES[key]
        names |= {p.get("name") for p in process.iterfind(".//camunda:inputParameter", NS)}
        for node in process.iter():
            ref = node.get(FORM_REF)
            if ref:
                names |= set(FORMS[ref].keys)
    return names


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.name)
def test_every_condition_reads_variables_that_something_writes(path: Path) -> None:
    key, process = process_of(path)
    available = written(call_tree(key))
    missing = {}
    for flow in process.iterfind(".//bpmn:sequenceFlow", NS):
        condition = flow.find("bpmn:conditionExpression", NS)
        if condition is not None:
            names = compile_expression(condition.text, FUNCTIONS, kind="condition").names
            if names - available:
                missing[flow.get("id")] = sorted(names - available)
    assert missing == {}


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.name)
def test_every_form_a_diagram_links_is_shipped(path: Path) -> None:
    _, process = process_of(path)
    refs = {n.get(FORM_REF) for n in process.iter() if n.get(FORM_REF)}
    assert refs <= set(FORMS), sorted(refs - set(FORMS))


def test_the_check_can_fail() -> None:
    """A condition on a name nothing writes is reported."""
    key, _ = process_of(ROOT / "workflows" / "supervision.bpmn")
    assert "noSuchVariable" not in written(call_tree(key))
    assert compile_expression("${noSuchVariable}", FUNCTIONS, kind="condition").names == {"noSuchVariable"}
