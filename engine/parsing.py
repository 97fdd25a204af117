"""Reading Camunda-7-flavoured BPMN: SpiffWorkflow's parser plus the attributes it drops, and validation.

SpiffWorkflow's Camunda parser ignores assignee, candidate users and groups, formRef, due dates and input
mappings, and reports errors without line numbers. This module keeps those attributes on the task specs (in
``extensions``), checks every expression against the safe evaluator, and reports every problem it finds as a
:class:`Problem` naming the file, the line and the element.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, ClassVar

from lxml import etree
from SpiffWorkflow.bpmn.parser import BpmnValidator
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.parser.task_spec import UserTaskParser
from SpiffWorkflow.camunda.specs.user_task import UserTask

from .expressions import ExpressionError, compile_expression

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}

# camunda: attributes of a user task that the engine reads (SpiffWorkflow itself keeps none of them).
USER_TASK_ATTRIBUTES = (
    "assignee",
    "candidateUsers",
    "candidateGroups",
    "formKey",
    "formRef",
    "formRefBinding",
    "formRefVersion",
    "dueDate",
    "followUpDate",
    "priority",
)
EXPRESSION_RE = re.compile(r"^\s*[$#]\{.*\}\s*$", re.S)


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a deployment, in the form editors and CI logs understand."""

    file: str
    line: int | None
    element_id: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line or 0}: {self.element_id or '-'}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "element": self.element_id, "message": self.message}


def is_expression(value: str | None) -> bool:
    """Camunda treats an attribute as an expression only when written ``${...}``; anything else is literal."""
    return value is not None and bool(EXPRESSION_RE.match(value))


class PetitionUserTaskParser(UserTaskParser):
    def parse_extensions(self, node: Any = None) -> dict[str, Any]:
        extensions: dict[str, Any] = {"properties": super().parse_extensions(node)}
        for name in USER_TASK_ATTRIBUTES:
            value = self.attribute(name, "camunda")
            if value is not None:
                extensions[name] = value
        inputs = {
            p.get("name"): p.text or ""
            for p in self.xpath("./bpmn:extensionElements/camunda:inputOutput/camunda:inputParameter")
        }
        if inputs:
            extensions["inputs"] = inputs
        return extensions


class PetitionParser(CamundaParser):
    OVERRIDE_PARSER_CLASSES: ClassVar[dict[str, Any]] = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (PetitionUserTaskParser, UserTask),
    }


@dataclass
class ParsedProcess:
    key: str
    name: str | None
    file: str
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]
    form_refs: set[str] = field(default_factory=set)


@dataclass
class BpmnFile:
    name: str
    text: bytes
    tree: Any = None  # lxml root once parsed

    def line_of(self, element_id: str | None) -> int | None:
        if self.tree is None or not element_id:
            return None
        found = self.tree.xpath("//*[@id=$id]", id=element_id)
        return found[0].sourceline if found else None

    def element_at(self, line: int | None) -> str | None:
        """The id of the innermost element that starts on ``line`` (XML schema errors give only a line)."""
        if self.tree is None or not line:
            return None
        best = None
        for element in self.tree.iter():
            if element.sourceline == line and element.get("id"):
                best = element.get("id")
        return best


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _owner_id(element: Any) -> str | None:
    while element is not None:
        if element.get("id"):
            return element.get("id")
        element = element.getparent()
    return None


class DefinitionChecker:
    """Collects every problem in a set of BPMN files before anything is stored."""

    def __init__(
        self,
        functions: Iterable[str],
        *,
        known_forms: Iterable[str] = (),
        known_processes: Mapping[str, BpmnFile] | None = None,
        allow_scripts: bool = False,
    ) -> None:
        self.functions = frozenset(functions)
        self.known_forms = set(known_forms)
        self.known_processes = dict(known_processes or {})
        self.allow_scripts = allow_scripts
        self.problems: list[Problem] = []

    def problem(self, file: BpmnFile, element: Any, message: str) -> None:
        element_id = _owner_id(element) if element is not None else None
        line = element.sourceline if element is not None else None
        self.problems.append(Problem(file.name, line, element_id, message))

    def load(self, file: BpmnFile) -> bool:
        try:
            file.tree = etree.fromstring(file.text, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as error:
            line = error.lineno if error.lineno else None
            self.problems.append(Problem(file.name, line, None, f"malformed XML: {error.msg}"))
            return False
        try:
            BpmnValidator().validate(file.tree, file.name)
        except ValidationException as error:
            line = int(error.line_number) if str(error.line_number).isdigit() else None
            self.problems.append(Problem(file.name, line, file.element_at(line), f"schema: {error}"))
            return False
        return True

    def check_expression(
        self, file: BpmnFile, element: Any, source: str | None, kind: str, what: str
    ) -> None:
        if source is None or not source.strip():
            return
        try:
            compile_expression(source, self.functions, kind=kind)  # type: ignore[arg-type]
        except ExpressionError as error:
            # Refusals with a Chinese text (the size bounds) show it; the others keep their English reason.
            message = f"{source.strip()!r} 被拒绝：{error.message}" if error.message else None
            self.problem(file, element, message or f"{what} {source.strip()!r} refused: {error.reason}")

    def check_file(self, file: BpmnFile, process_ids: set[str]) -> None:
        root = file.tree
        for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
            cond = flow.find("bpmn:conditionExpression", NS)
            if cond is not None:
                self.check_expression(file, flow, cond.text, "condition", "condition")
        for tag in ("timeDuration", "timeDate", "timeCycle"):
            for timer in root.iterfind(f".//bpmn:{tag}", NS):
                self.check_expression(file, timer, timer.text, "timer", "timer")
        for script in root.iterfind(".//bpmn:scriptTask", NS):
            if not self.allow_scripts:
                self.problem(
                    file, script, "script tasks are disabled: model the step as a user or service task"
                )
        # SpiffWorkflow gives every process and subprocess tasks of its own named so; an element with one of
        # these ids would silently replace them, and the diagram would deploy but never start.
        scopes = [*root.iterfind(".//bpmn:process", NS), *root.iterfind(".//bpmn:subProcess", NS)]
        reserved = {"Start", "End", *(f"{scope.get('id')}.EndJoin" for scope in scopes)}
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            if element.get("id") in reserved:
                self.problem(
                    file, element, f"the id '{element.get('id')}' is reserved by the engine: rename it"
                )
            for attr in ("class", "delegateExpression", "expression"):
                if (
                    element.get(f"{{{CAMUNDA_NS}}}{attr}") is not None
                    and _local(element.tag) != "inputParameter"
                ):
                    self.problem(
                        file, element, f"camunda:{attr} would run Java/JUEL code and is not supported"
                    )
            for attr in ("assignee", "candidateUsers", "candidateGroups", "dueDate", "followUpDate"):
                value = element.get(f"{{{CAMUNDA_NS}}}{attr}")
                if is_expression(value):
                    self.check_expression(file, element, value, "value", f"camunda:{attr}")
            if _local(element.tag) in {"executionListener", "taskListener"}:
                self.problem(file, element, "listeners are not supported: model the behaviour in the diagram")
        for param in root.iterfind(".//camunda:inputParameter", NS):
            if len(param) == 0 and is_expression(param.text):
                self.check_expression(file, param, param.text, "value", "input mapping")
        for node in root.iter(f"{{{BPMN_NS}}}userTask", f"{{{BPMN_NS}}}startEvent"):
            ref = node.get(f"{{{CAMUNDA_NS}}}formRef")
            if ref is not None and ref not in self.known_forms:
                self.problem(
                    file,
                    node,
                    f"camunda:formRef names form '{ref}', which is neither deployed nor in this deployment",
                )
        for call in root.iterfind(".//bpmn:callActivity", NS):
            called = call.get("calledElement")
            if not called:
                self.problem(file, call, "call activity has no calledElement")
            elif called not in process_ids and called not in self.known_processes:
                self.problem(file, call, f"call activity calls process '{called}', which is not deployed")

    def parse(self, files: list[BpmnFile]) -> list[ParsedProcess]:
        """Check and parse ``files``; returns nothing (and fills ``problems``) if anything is wrong."""
        loaded = [f for f in files if self.load(f)]
        process_ids: dict[str, BpmnFile] = {}
        for file in loaded:
            for process in file.tree.iterfind("bpmn:process", NS):
                pid = process.get("id")
                if pid in process_ids:
                    self.problem(
                        file, process, f"process id '{pid}' is also defined in {process_ids[pid].name}"
                    )
                process_ids[pid] = file
        for file in loaded:
            self.check_file(file, set(process_ids))
        if self.problems or len(loaded) != len(files):
            return []
        return self._spiff_parse(loaded, process_ids)

    def _spiff_parse(self, files: list[BpmnFile], process_ids: dict[str, BpmnFile]) -> list[ParsedProcess]:
        if not files:  # a deployment of forms only
            return []
        parser = PetitionParser()
        # Specs record their file by base name, so the same diagram deployed from another folder is unchanged.
        by_name = {PurePath(f.name).name: f for f in files}
        current = files[0]
        try:
            for current in files:
                parser.add_bpmn_xml(current.tree, filename=PurePath(current.name).name)
            # Called processes deployed earlier join the parse so call activities resolve across files.
            for key, file in self.known_processes.items():
                if key not in process_ids and PurePath(file.name).name not in by_name:
                    file.tree = file.tree if file.tree is not None else etree.fromstring(file.text)
                    parser.add_bpmn_xml(file.tree, filename=PurePath(file.name).name)
                    by_name[PurePath(file.name).name] = file
            parsed = []
            for key in parser.get_process_ids():
                if key not in process_ids:
                    continue
                current = process_ids[key]
                spec = parser.get_spec(key)
                subprocess_specs = parser.get_subprocess_specs(key)
                process = current.tree.xpath("bpmn:process[@id=$id]", namespaces=NS, id=key)[0]
                refs = {
                    n.get(f"{{{CAMUNDA_NS}}}formRef")
                    for n in process.iter(f"{{{BPMN_NS}}}userTask", f"{{{BPMN_NS}}}startEvent")
                    if n.get(f"{{{CAMUNDA_NS}}}formRef")
                }
                parsed.append(
                    ParsedProcess(key, process.get("name"), current.name, spec, subprocess_specs, refs)
                )
            return parsed
        except ValidationException as error:
            file = by_name.get(error.file_name) or current
            element_id = error.id or None
            self.problems.append(
                Problem(file.name, file.line_of(element_id), element_id, str(error).split("\n")[0])
            )
            return []
