"""What of BPMN and of Camunda 7's extensions the engine runs, and the words that refuse the rest at deploy.

A diagram from Camunda Modeler or another tool may use anything BPMN and camunda-bpmn-moddle allow. What the
engine cannot run as the designer meant is refused at validate and deploy, naming the element and saying what
to draw instead, never accepted silently and never a server error later. Attributes that only tune Camunda's
job executor (asynchronous continuations, job priorities, retries) change nothing here, because every step runs
in one transaction anyway, and are accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"

_JAVA = "本系统不运行 Java 类、JUEL 表达式、外部任务或连接器：请把这一步建模为用户任务（由人完成）"
UNSUPPORTED_ELEMENTS: dict[str, str] = {
    "serviceTask": "不支持服务任务：" + _JAVA + "，或无类型任务（bpmn:task）",
    "sendTask": "不支持发送任务：请改为消息抛出事件，或由用户任务完成发送",
    "receiveTask": "不支持接收任务：请改为消息中间捕获事件（intermediateCatchEvent + 消息定义）",
    "businessRuleTask": "不支持业务规则任务（DMN 决策表）：请用排他网关和条件表达式表示规则",
    "complexGateway": "不支持复杂网关：请用排他、并行或包容网关",
    "adHocSubProcess": "不支持自由子流程（adHocSubProcess）：请用嵌入式子流程或调用活动",
    "standardLoopCharacteristics": "不支持循环标记：请用网关连回前面的任务表示重复，或用多实例",
    "compensateEventDefinition": "不支持补偿事件：请用错误事件或网关把撤销步骤画出来",
}
# Accepted on every element: they tune Camunda's job executor or the Modeler's templates, nothing the engine
# runs differently.
ACCEPTED_EVERYWHERE = frozenset(
    {
        "asyncBefore",
        "asyncAfter",
        "exclusive",
        "jobPriority",
        "taskPriority",
        "modelerTemplate",
        "modelerTemplateVersion",
        "modelerTemplateIcon",
    }
)
FORM_ATTRIBUTES = frozenset({"formKey", "formRef", "formRefBinding", "formRefVersion"})
ACCEPTED: dict[str, frozenset[str]] = {
    "process": frozenset(
        {
            "versionTag",
            "historyTimeToLive",
            "isStartableInTasklist",
            "candidateStarterGroups",
            "candidateStarterUsers",
        }
    ),
    "userTask": frozenset(
        {"assignee", "candidateUsers", "candidateGroups", "dueDate", "followUpDate", "priority"}
        | FORM_ATTRIBUTES
    ),
    "startEvent": FORM_ATTRIBUTES,
    "callActivity": frozenset({"calledElementBinding"}),
    "multiInstanceLoopCharacteristics": frozenset({"collection", "elementVariable"}),
    "error": frozenset({"errorMessage"}),  # Modeler's error message field: text only, nothing runs
}
ATTRIBUTE_ADVICE: dict[str, str] = {
    **dict.fromkeys(
        ("class", "delegateExpression", "expression", "resultVariable", "type", "topic", "formHandlerClass"),
        _JAVA,
    ),
    **dict.fromkeys(("variableMappingClass", "variableMappingDelegateExpression"), _JAVA),
    **dict.fromkeys(
        (
            "decisionRef",
            "decisionRefBinding",
            "decisionRefVersion",
            "decisionRefVersionTag",
            "decisionRefTenantId",
            "mapDecisionResult",
        ),
        "不支持 DMN 决策：请用排他网关和条件表达式表示规则",
    ),
    **dict.fromkeys(
        ("caseRef", "caseBinding", "caseVersion", "caseTenantId"),
        "不支持 CMMN 案例：请用调用活动调用 BPMN 流程",
    ),
    **dict.fromkeys(
        ("calledElementBinding", "calledElementVersion", "calledElementVersionTag", "calledElementTenantId"),
        "调用活动总是调用被调流程的最新版本：请删除此属性（或写 camunda:calledElementBinding=“latest”）",
    ),
    "initiator": "不支持 camunda:initiator：发起人记录在流程历史中（startUserId）；需要时请在开始表单中填写",
    **dict.fromkeys(
        ("errorCodeVariable", "errorMessageVariable"),
        "不支持把错误代码或信息写入变量：错误边界事件之后的流程已知道是哪个错误，请按错误分别建模",
    ),
    **dict.fromkeys(
        ("variableName", "variableEvents"),
        "条件事件在每一步之后求值：请删除 camunda:variableName / camunda:variableEvents",
    ),
    **dict.fromkeys(FORM_ATTRIBUTES, "只有用户任务和流程的开始事件可以链接表单"),
    **dict.fromkeys(
        ("assignee", "candidateUsers", "candidateGroups", "dueDate", "followUpDate", "priority"),
        "只有用户任务有办理人、候选人、期限和优先级",
    ),
    **dict.fromkeys(
        (
            "versionTag",
            "historyTimeToLive",
            "isStartableInTasklist",
            "candidateStarterGroups",
            "candidateStarterUsers",
        ),
        "这是流程（bpmn:process）的属性：请写在流程上",
    ),
    **dict.fromkeys(
        ("collection", "elementVariable"), "这是多实例标记的属性：请写在 multiInstanceLoopCharacteristics 上"
    ),
}
EXTENSION_ADVICE: dict[str, str] = {
    "executionListener": "不支持监听器：请把要做的事画在图中（例如一个用户任务或网关）",
    "taskListener": "不支持监听器：请把要做的事画在图中（例如一个用户任务或网关）",
    "formData": "不支持生成的表单（camunda:formData）：请用 Camunda Forms（.form 文件，camunda:formRef）",
    "formProperty": "不支持表单属性（camunda:formProperty）：请用 Camunda Forms（.form 文件，camunda:formRef）",
    "field": "不支持字段注入（camunda:field）：" + _JAVA,
    "connector": "不支持连接器（camunda:connector）：" + _JAVA,
}
ACCEPTED_EXTENSIONS = frozenset({"properties", "property", "failedJobRetryTimeCycle", "potentialStarter"})
QUARTZ_CRON = re.compile(r"^\s*([0-9*?/,\-LW#A-Za-z]+\s+){4,6}[0-9*?/,\-LW#A-Za-z]+\s*$")
CRON_ADVICE = (
    "不支持 Quartz cron 表达式（{text}）：请写 ISO 8601 重复周期，例如每天一次 R/P1D，每小时一次共 5 次 R5/PT1H，"
    "或从某时起每周一次 R/2027-01-04T09:00:00+08:00/P7D"
)
SIMPLE_NAME = re.compile(r"^\$\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}$")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def unsupported(root: Any) -> Iterator[tuple[Any, str]]:
    """Every (element, message) of a diagram the engine does not run as drawn."""
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        namespace, _, name = element.tag[1:].partition("}")
        if namespace == BPMN_NS:
            yield from _bpmn_element(element, name)
        elif namespace == CAMUNDA_NS:
            yield from _camunda_element(element, name)


def _bpmn_element(element: Any, name: str) -> Iterator[tuple[Any, str]]:
    if name in UNSUPPORTED_ELEMENTS:
        yield element, UNSUPPORTED_ELEMENTS[name]
    if name == "cancelEventDefinition" and not _inside_transaction(element):
        yield element, "取消事件只能用在事务子流程（bpmn:transaction）中：请改为错误事件或终止结束事件"
    if name == "timeCycle" and element.text and QUARTZ_CRON.match(element.text):
        yield element, CRON_ADVICE.format(text=element.text.strip())
    accepted = ACCEPTED_EVERYWHERE | ACCEPTED.get(name, frozenset())
    for attribute, value in element.attrib.items():
        if not attribute.startswith(f"{{{CAMUNDA_NS}}}"):
            continue
        attribute = _local(attribute)
        if attribute == "calledElementBinding" and name == "callActivity" and value == "latest":
            continue
        if attribute == "calledElementBinding" or attribute not in accepted:
            advice = ATTRIBUTE_ADVICE.get(attribute, "请删除此属性")
            yield element, f"camunda:{attribute} 在 {name} 上不受支持：{advice}"
    if name == "multiInstanceLoopCharacteristics":
        collection = element.get(f"{{{CAMUNDA_NS}}}collection")
        if collection is not None and "{" in collection and not SIMPLE_NAME.match(collection):
            yield (
                element,
                "多实例的 camunda:collection 只能写变量名（如 items 或 ${items}），不能写其他表达式",
            )


def _camunda_element(element: Any, name: str) -> Iterator[tuple[Any, str]]:
    if name in EXTENSION_ADVICE:
        yield element, EXTENSION_ADVICE[name]
        return
    owner = element.getparent()
    while owner is not None and _local(owner.tag) in ("extensionElements", "inputOutput"):
        owner = owner.getparent()
    owner_name = _local(owner.tag) if owner is not None else ""
    if name in ("in", "out"):
        if owner_name != "callActivity":
            yield element, f"camunda:{name} 只用于调用活动"
        elif element.get("variables") != "all" and element.get("businessKey") is None:
            yield (
                element,
                (f"调用活动总是双向传递全部变量：请用 <camunda:{name} variables=“all”/>，不支持按名称映射"),
            )
    elif name in ("inputOutput", "inputParameter", "outputParameter"):
        if owner_name != "userTask":
            yield element, "输入映射只对用户任务生效：请把映射写在用户任务上，或删除"
        elif name == "outputParameter" and _identity(element) is None:
            # Input parameters become process variables here; Camunda keeps them local unless an output
            # parameter copies them out by the same name, which is therefore all an output mapping may say.
            yield (
                element,
                (
                    "输出映射只能写同名的输入参数（如 x 写 ${x}）：用户任务的输入参数和表单字段本来就是流程变量"
                ),
            )
        elif name == "inputParameter" and len(element):
            yield element, "不支持脚本、列表或字典映射：输入参数只能写文本或 ${…} 表达式"
    elif (
        name not in ACCEPTED_EXTENSIONS
        and element.getparent() is not None
        and _local(element.getparent().tag) == "extensionElements"
    ):
        yield element, f"不支持扩展元素 camunda:{name}：请删除"


def _identity(parameter: Any) -> str | None:
    found = SIMPLE_NAME.match((parameter.text or "").strip())
    return parameter.get("name") if found and found.group(1) == parameter.get("name") else None


def _inside_transaction(element: Any) -> bool:
    node = element.getparent()
    while node is not None:
        if _local(node.tag) == "transaction":
            return True
        if _local(node.tag) == "boundaryEvent":
            host = node.get("attachedToRef")
            found = node.getroottree().getroot().xpath("//*[@id=$id]", id=host) if host else []
            return bool(found) and _local(found[0].tag) == "transaction"
        node = node.getparent()
    return False


def simplify_collections(root: Any) -> None:
    """``camunda:collection="${items}"`` names the variable ``items`` (SpiffWorkflow reads a name only)."""
    for element in root.iter(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics"):
        collection = element.get(f"{{{CAMUNDA_NS}}}collection")
        found = SIMPLE_NAME.match(collection or "")
        if found:
            element.set(f"{{{CAMUNDA_NS}}}collection", found.group(1))
