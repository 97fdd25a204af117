"""Reading Camunda-7-flavoured BPMN: SpiffWorkflow's parser plus the attributes it drops, and validation.

SpiffWorkflow's Camunda parser ignores assignee, candidate users and groups, formRef, due dates and input
mappings, and reports errors without line numbers. This module keeps those attributes on the task specs (in
``extensions``), checks every expression against the safe evaluator, and reports every problem it finds as a
:class:`Problem` naming the file, the line and the element.
"""

from __future__ import annotations

import logging
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

from .expressions import NOT_LITERAL, ExpressionError, compile_expression, literal_calls
from .formlinks import FormLink, FormLinkRefused, read_link
from .organisation import ROUTING_FUNCTIONS, group_problems, routing_problems
from .support import QUARTZ_CRON, simplify_collections, unsupported

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}
logger = logging.getLogger("petitionflow.definitions")

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
# Read by designers in the deploy dialog and in `petitionflow validate`, hence Chinese.
DOCTYPE_REFUSED = (
    "不接受 DOCTYPE 声明：其中的实体和外部 DTD 能读取服务器上的文件或访问外部地址。"
    "请删除 <!DOCTYPE …> 后再部署（Camunda Modeler 保存的图不含此声明）"
)
STYLESHEET_REFUSED = (
    "不接受 xml-stylesheet 处理指令：浏览器打开此文件时会加载并执行其中的样式表。请删除后再部署"
)


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


class XmlRefused(ValueError):
    """XML the service will not read: malformed, or asking for a DTD, entities or a stylesheet."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def parse_xml(content: bytes) -> Any:
    """The one way the service reads XML: uploads at validate and deploy, and every stored diagram later.

    One parser for all of them, so a stored file is never read by a laxer (or stricter) parser than the one that
    accepted it. No DOCTYPE at all: it is the only way to declare entities (billion laughs, external
    entities reading files or addresses), and BPMN never needs one. The options make sure nothing is loaded or
    expanded while the file is read, before the DOCTYPE can be refused. Raises :class:`XmlRefused` with a line.
    """
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as error:
        raise XmlRefused(f"malformed XML: {error.msg}", error.lineno or None) from None
    if root.getroottree().docinfo.doctype:
        at = content.find(b"<!DOCTYPE")
        raise XmlRefused(DOCTYPE_REFUSED, content.count(b"\n", 0, at) + 1 if at >= 0 else root.sourceline)
    for sibling in root.itersiblings(preceding=True):
        if isinstance(sibling, etree._ProcessingInstruction) and sibling.target == "xml-stylesheet":
            raise XmlRefused(STYLESHEET_REFUSED, sibling.sourceline)
    return root


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
    spec_json: str = ""  # the encoded spec, written when the deployment is checked


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


SCHEMA_REFUSED = "不符合 BPMN 2.0 XML 结构（请用 Camunda Modeler 打开后重新保存）："
EXPRESSION_LABELS = {
    "condition": "条件",
    "timer": "定时器",
    "input mapping": "输入映射",
    "loopCardinality": "多实例数量",
    "completionCondition": "完成条件",
}
ENGINE_REFUSED = "引擎无法执行此元素，请对照建模说明（docs/modelling.md）改用支持的元素"


def _first_process(file: BpmnFile) -> str | None:
    found = file.tree.find("bpmn:process", NS) if file.tree is not None else None
    return found.get("id") if found is not None else None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _owner_id(element: Any) -> str | None:
    """The id of the BPMN element a problem belongs to (an extension element's own id is not a diagram id)."""
    while element is not None:
        if element.get("id") and str(element.tag).startswith(f"{{{BPMN_NS}}}"):
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
        form_files: Mapping[str, str] | None = None,
        deployed_form_files: Mapping[str, str] | None = None,
        known_processes: Mapping[str, BpmnFile] | None = None,
        allow_scripts: bool = False,
        known_units: set[str] | None = None,
    ) -> None:
        self.functions = frozenset(functions)
        # The organisation's unit codes, to refuse a literal unknown one; None: not checked (no database).
        self.known_units = known_units
        self.known_forms = set(known_forms)
        # A form's file name -> its key, for camunda-forms:deployment:/app: keys: this deployment's files, and
        # files deployed before.
        self.form_files = dict(form_files or {})
        self.deployed_form_files = dict(deployed_form_files or {})
        # (file, element id) -> the form the element links, written into its task spec after parsing.
        self.links: dict[tuple[str, str], FormLink] = {}
        self.allow_scripts = allow_scripts
        self.problems: list[Problem] = []
        self.known_processes: dict[str, BpmnFile] = {}
        # Keys whose stored diagram this parser refuses (stored before the parser was hardened): one such row
        # must not stop every later deployment, so it is left out, with a warning for the operator.
        self.unreadable: set[str] = set()
        for key, stored in (known_processes or {}).items():
            try:
                stored.tree = stored.tree if stored.tree is not None else parse_xml(stored.text)
            except XmlRefused as error:
                logger.warning(
                    "the deployed diagram %s of process %s cannot be read (%s); it is skipped until a fixed "
                    "version is deployed",
                    stored.name,
                    key,
                    error.message,
                )
                self.unreadable.add(key)
                continue
            self.known_processes[key] = stored

    def problem(self, file: BpmnFile, element: Any, message: str) -> None:
        element_id = _owner_id(element) if element is not None else None
        line = element.sourceline if element is not None else None
        self.problems.append(Problem(file.name, line, element_id, message))

    def load(self, file: BpmnFile) -> bool:
        try:
            file.tree = parse_xml(file.text)
        except XmlRefused as error:
            self.problems.append(Problem(file.name, error.line, None, error.message))
            return False
        try:
            BpmnValidator().validate(file.tree, file.name)
        except ValidationException as error:
            line = int(error.line_number) if str(error.line_number).isdigit() else None
            self.problems.append(Problem(file.name, line, file.element_at(line), f"{SCHEMA_REFUSED}{error}"))
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
            label = EXPRESSION_LABELS.get(what, what)
            self.problem(
                file,
                element,
                f"{label}“{source.strip()}”无法接受：{error.message or error.reason}"
                "（表达式只能读取流程变量、比较、运算和调用登记的函数，见建模说明）",
            )

    def check_routing(self, file: BpmnFile, element: Any, value: str) -> None:
        """Refuse an unknown unit, position or kind the text names (unit:<code>:<position>, unitGroup(...))."""
        if is_expression(value):
            try:
                calls = literal_calls(value, ROUTING_FUNCTIONS.keys() & self.functions)
            except ExpressionError:
                return  # check_expression reports it
            problems = routing_problems(calls, self.known_units, NOT_LITERAL)
        else:
            problems = [
                p for group in value.split(",") for p in group_problems(group.strip(), self.known_units)
            ]
        for message in problems:
            self.problem(file, element, f"单位角色有误：{message}")

    def check_file(self, file: BpmnFile, process_ids: set[str]) -> None:
        root = file.tree
        for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
            cond = flow.find("bpmn:conditionExpression", NS)
            if cond is not None:
                self.check_expression(file, flow, cond.text, "condition", "condition")
        for tag in ("timeDuration", "timeDate", "timeCycle"):
            for timer in root.iterfind(f".//bpmn:{tag}", NS):
                if tag == "timeCycle" and QUARTZ_CRON.match(timer.text or ""):
                    continue  # refused with its own advice (engine/support.py)
                self.check_expression(file, timer, timer.text, "timer", "timer")
        for tag in ("condition", "loopCardinality", "completionCondition"):
            for node in root.iterfind(f".//bpmn:{tag}", NS):
                self.check_expression(file, node, node.text, "condition", tag)
        for script in root.iterfind(".//bpmn:scriptTask", NS):
            if not self.allow_scripts:
                self.problem(
                    file,
                    script,
                    "脚本任务未启用（运维人员可设置 PETITIONFLOW_ALLOW_SCRIPTS）：请把这一步建模为用户任务",
                )
        for element, message in unsupported(root):
            self.problem(file, element, message)
        self.check_flows(file, root)
        # SpiffWorkflow gives every process and subprocess tasks of its own named so; an element with one of
        # these ids would silently replace them, and the diagram would deploy but never start.
        scopes = [*root.iterfind(".//bpmn:process", NS), *root.iterfind(".//bpmn:subProcess", NS)]
        reserved = {"Start", "End", *(f"{scope.get('id')}.EndJoin" for scope in scopes)}
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            if element.get("id") in reserved:
                self.problem(
                    file, element, f"编号“{element.get('id')}”由引擎保留（reserved），请改用其他编号"
                )
            for attr in ("assignee", "candidateUsers", "candidateGroups", "dueDate", "followUpDate"):
                value = element.get(f"{{{CAMUNDA_NS}}}{attr}")
                if is_expression(value):
                    self.check_expression(file, element, value, "value", f"camunda:{attr}")
                if attr in ("assignee", "candidateGroups") and value:
                    self.check_routing(file, element, value)
        for param in root.iterfind(".//camunda:inputParameter", NS):
            if len(param) == 0 and is_expression(param.text):
                self.check_expression(file, param, param.text, "value", "input mapping")
        self.check_form_links(file, root)
        for call in root.iterfind(".//bpmn:callActivity", NS):
            called = call.get("calledElement")
            if not called:
                self.problem(file, call, "调用活动没有填写被调用的流程（calledElement）：请填写流程编号")
            elif called in self.unreadable and called not in process_ids:
                self.problem(
                    file, call, f"调用的流程 '{called}' 已部署的图无法读取，请先重新部署该流程的修正版本"
                )
            elif called not in process_ids and called not in self.known_processes:
                self.problem(
                    file, call, f"调用活动调用的流程 '{called}' 尚未部署，也不在本次部署中：请一起部署"
                )

    def check_flows(self, file: BpmnFile, root: Any) -> None:
        """A sequence flow joins two elements of its own process or sub-process (a target deleted in another
        tool leaves a flow pointing nowhere)."""
        for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
            scope = flow.getparent()
            ids = {child.get("id") for child in scope if isinstance(child.tag, str)}
            for end in ("sourceRef", "targetRef"):
                ref = flow.get(end)
                if not ref or ref not in ids:
                    self.problem(
                        file,
                        flow,
                        f"顺序流的 {end}“{ref or ''}”不是同一流程（或子流程）中的元素："
                        "请在 Camunda Modeler 中重新连接这条线",
                    )

    def check_form_links(self, file: BpmnFile, root: Any, *, report: bool = True) -> None:
        """Every user task's form link, and the start form of each process (a start event directly in it).
        ``report``: False for a called process deployed earlier (its links were checked then)."""
        starts = [e for p in root.iterfind("bpmn:process", NS) for e in p.iterfind("bpmn:startEvent", NS)]
        for node in [*root.iter(f"{{{BPMN_NS}}}userTask"), *starts]:
            try:
                link = read_link(
                    node,
                    forms_here=self.form_files,
                    forms_deployed=self.deployed_form_files,
                    known_keys=self.known_forms,
                )
            except FormLinkRefused as error:
                if report:
                    self.problem(file, node, str(error))
                continue
            if link is not None and node.get("id"):
                self.links[(file.name, node.get("id"))] = link

    def parse(self, files: list[BpmnFile]) -> list[ParsedProcess]:
        """Check and parse ``files``; returns nothing (and fills ``problems``) if anything is wrong."""
        loaded = [f for f in files if self.load(f)]
        process_ids: dict[str, BpmnFile] = {}
        for file in loaded:
            for process in file.tree.iterfind("bpmn:process", NS):
                pid = process.get("id")
                if pid in process_ids:
                    self.problem(
                        file,
                        process,
                        f"流程编号“{pid}”在 {process_ids[pid].name} 中也有定义：流程编号不能重复",
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
                simplify_collections(current.tree)
                parser.add_bpmn_xml(current.tree, filename=PurePath(current.name).name)
            # Called processes deployed earlier join the parse so call activities resolve across files.
            for key, file in self.known_processes.items():
                if key not in process_ids and PurePath(file.name).name not in by_name:
                    parser.add_bpmn_xml(file.tree, filename=PurePath(file.name).name)
                    by_name[PurePath(file.name).name] = file
                    self.check_form_links(file, file.tree, report=False)
            parsed = []
            for key in parser.get_process_ids():
                if key not in process_ids:
                    continue
                current = process_ids[key]
                spec = parser.get_spec(key)
                subprocess_specs = parser.get_subprocess_specs(key)
                process = current.tree.xpath("bpmn:process[@id=$id]", namespaces=NS, id=key)[0]
                refs = self._link_specs(by_name, [spec, *subprocess_specs.values()])
                parsed.append(
                    ParsedProcess(key, process.get("name"), current.name, spec, subprocess_specs, refs)
                )
            return parsed
        except ValidationException as error:
            file = by_name.get(error.file_name) or current
            element_id = error.id or _first_process(file)
            detail = str(error).split("\n")[0].strip()
            self.problems.append(
                Problem(file.name, file.line_of(element_id), element_id, f"{ENGINE_REFUSED}（{detail}）")
            )
            return []
        except Exception as error:  # whatever the parser trips on is the diagram's problem
            element_id = _first_process(current)
            self.problems.append(
                Problem(
                    current.name,
                    current.line_of(element_id),
                    element_id,
                    f"{ENGINE_REFUSED}（{type(error).__name__}: {error}）",
                )
            )
            return []

    def _link_specs(self, by_name: Mapping[str, BpmnFile], specs: Iterable[BpmnProcessSpec]) -> set[str]:
        """Write each element's form link into its task spec (one shape however the diagram linked it);
        returns the form keys the process uses."""
        keys: set[str] = set()
        for spec in specs:
            file = by_name.get(spec.file)
            if file is None:
                continue
            for task_spec in spec.task_specs.values():
                link = self.links.get((file.name, getattr(task_spec, "bpmn_id", None) or ""))
                if link is None:
                    continue
                extensions = getattr(task_spec, "extensions", None)
                if not isinstance(extensions, dict):
                    extensions = task_spec.extensions = {}
                for name in ("formRef", "formRefBinding", "formRefVersion"):
                    extensions.pop(name, None)
                extensions.update(link.extensions())
                keys.add(link.key)
        return keys
