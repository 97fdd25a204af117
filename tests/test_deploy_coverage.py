"""Deploy never fails with a server error: diagrams with every BPMN element type and every camunda: attribute
Camunda 7's parser knows either deploy (and start) or are refused naming the element, and ``validate`` says the
same as deploy."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.clock import Clock, FrozenClock, install
from engine.config import Settings
from engine.errors import DeploymentInvalid, PetitionflowError
from engine.runtime import Engine
from tests.helpers import with_text

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://petitionflow/cov">\n'
)
FORM = '{"id": "f", "type": "default", "components": [{"type": "textfield", "id": "t", "key": "x", "label": "x"}]}'
CHINESE = re.compile("[\u4e00-\u9fff]")

# Every flow-node type, as the one element between a start and an end event ({a} = its attributes).
NODES: dict[str, str] = {
    "task": '<bpmn:task id="el" name="n"{a}/>',
    "userTask": '<bpmn:userTask id="el" name="n"{a}/>',
    "manualTask": '<bpmn:manualTask id="el" name="n"{a}/>',
    "serviceTask": '<bpmn:serviceTask id="el" name="n"{a}/>',
    "serviceTask_class": '<bpmn:serviceTask id="el" name="n" camunda:class="a.B"{a}/>',
    "serviceTask_external": '<bpmn:serviceTask id="el" name="n" camunda:type="external" camunda:topic="t"{a}/>',
    "serviceTask_connector": (
        '<bpmn:serviceTask id="el" name="n"{a}><bpmn:extensionElements><camunda:connector>'
        "<camunda:connectorId>http-connector</camunda:connectorId></camunda:connector>"
        "</bpmn:extensionElements></bpmn:serviceTask>"
    ),
    "sendTask": '<bpmn:sendTask id="el" name="n"{a}/>',
    "receiveTask": '<bpmn:receiveTask id="el" name="n" messageRef="m"{a}/>',
    "businessRuleTask": '<bpmn:businessRuleTask id="el" name="n"{a}/>',
    "businessRuleTask_dmn": '<bpmn:businessRuleTask id="el" name="n" camunda:decisionRef="d"{a}/>',
    "scriptTask": '<bpmn:scriptTask id="el" name="n" scriptFormat="python"{a}><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>',
    "scriptTask_js": '<bpmn:scriptTask id="el" name="n" scriptFormat="javascript"{a}><bpmn:script>x</bpmn:script></bpmn:scriptTask>',
    "callActivity": '<bpmn:callActivity id="el" name="n" calledElement="p"{a}/>',
    "subProcess": (
        '<bpmn:subProcess id="el" name="n"{a}><bpmn:startEvent id="el_s"/><bpmn:sequenceFlow id="el_f" '
        'sourceRef="el_s" targetRef="el_e"/><bpmn:endEvent id="el_e"/></bpmn:subProcess>'
    ),
    "transaction": (
        '<bpmn:transaction id="el" name="n"{a}><bpmn:startEvent id="el_s"/><bpmn:sequenceFlow id="el_f" '
        'sourceRef="el_s" targetRef="el_e"/><bpmn:endEvent id="el_e"/></bpmn:transaction>'
    ),
    "adHocSubProcess": '<bpmn:adHocSubProcess id="el" name="n"{a}><bpmn:task id="el_t"/></bpmn:adHocSubProcess>',
    "exclusiveGateway": '<bpmn:exclusiveGateway id="el" name="n"{a}/>',
    "parallelGateway": '<bpmn:parallelGateway id="el" name="n"{a}/>',
    "inclusiveGateway": '<bpmn:inclusiveGateway id="el" name="n"{a}/>',
    "complexGateway": '<bpmn:complexGateway id="el" name="n"{a}/>',
    "eventBasedGateway": '<bpmn:eventBasedGateway id="el" name="n"{a}/>',
    "intermediateThrowEvent": '<bpmn:intermediateThrowEvent id="el" name="n"{a}/>',
    "intermediateCatchEvent_timer": (
        '<bpmn:intermediateCatchEvent id="el" name="n"{a}><bpmn:timerEventDefinition>'
        "<bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    ),
    "intermediateCatchEvent_cron": (
        '<bpmn:intermediateCatchEvent id="el" name="n"{a}><bpmn:timerEventDefinition>'
        "<bpmn:timeCycle>0 0 9 * * ?</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    ),
    "intermediateCatchEvent_message": (
        '<bpmn:intermediateCatchEvent id="el" name="n"{a}><bpmn:messageEventDefinition messageRef="m"/>'
        "</bpmn:intermediateCatchEvent>"
    ),
    "intermediateCatchEvent_signal": (
        '<bpmn:intermediateCatchEvent id="el" name="n"{a}><bpmn:signalEventDefinition signalRef="s"/>'
        "</bpmn:intermediateCatchEvent>"
    ),
    "intermediateCatchEvent_conditional": (
        '<bpmn:intermediateCatchEvent id="el" name="n"{a}><bpmn:conditionalEventDefinition>'
        "<bpmn:condition>${x}</bpmn:condition></bpmn:conditionalEventDefinition></bpmn:intermediateCatchEvent>"
    ),
    "intermediateCatchEvent_link": (
        '<bpmn:intermediateCatchEvent id="el" name="n"{a}><bpmn:linkEventDefinition name="l"/>'
        "</bpmn:intermediateCatchEvent>"
    ),
    "intermediateThrowEvent_message": (
        '<bpmn:intermediateThrowEvent id="el" name="n"{a}><bpmn:messageEventDefinition messageRef="m"/>'
        "</bpmn:intermediateThrowEvent>"
    ),
    "intermediateThrowEvent_signal": (
        '<bpmn:intermediateThrowEvent id="el" name="n"{a}><bpmn:signalEventDefinition signalRef="s"/>'
        "</bpmn:intermediateThrowEvent>"
    ),
    "intermediateThrowEvent_escalation": (
        '<bpmn:intermediateThrowEvent id="el" name="n"{a}><bpmn:escalationEventDefinition escalationRef="esc"/>'
        "</bpmn:intermediateThrowEvent>"
    ),
    "intermediateThrowEvent_compensation": (
        '<bpmn:intermediateThrowEvent id="el" name="n"{a}><bpmn:compensateEventDefinition/>'
        "</bpmn:intermediateThrowEvent>"
    ),
    "intermediateThrowEvent_link": (
        '<bpmn:intermediateThrowEvent id="el" name="n"{a}><bpmn:linkEventDefinition name="l"/>'
        "</bpmn:intermediateThrowEvent>"
    ),
}
# End events and start events replace the plain ones.
ENDS: dict[str, str] = {
    "endEvent_terminate": '<bpmn:endEvent id="el" name="n"{a}><bpmn:terminateEventDefinition/></bpmn:endEvent>',
    "endEvent_error": '<bpmn:endEvent id="el" name="n"{a}><bpmn:errorEventDefinition errorRef="err"/></bpmn:endEvent>',
    "endEvent_message": '<bpmn:endEvent id="el" name="n"{a}><bpmn:messageEventDefinition messageRef="m"/></bpmn:endEvent>',
    "endEvent_signal": '<bpmn:endEvent id="el" name="n"{a}><bpmn:signalEventDefinition signalRef="s"/></bpmn:endEvent>',
    "endEvent_escalation": (
        '<bpmn:endEvent id="el" name="n"{a}><bpmn:escalationEventDefinition escalationRef="esc"/></bpmn:endEvent>'
    ),
    "endEvent_cancel": '<bpmn:endEvent id="el" name="n"{a}><bpmn:cancelEventDefinition/></bpmn:endEvent>',
    "endEvent_compensation": '<bpmn:endEvent id="el" name="n"{a}><bpmn:compensateEventDefinition/></bpmn:endEvent>',
}
STARTS: dict[str, str] = {
    "startEvent_message": '<bpmn:startEvent id="el" name="n"{a}><bpmn:messageEventDefinition messageRef="m"/></bpmn:startEvent>',
    "startEvent_timer": (
        '<bpmn:startEvent id="el" name="n"{a}><bpmn:timerEventDefinition><bpmn:timeDate>2030-01-01T00:00:00Z'
        "</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:startEvent>"
    ),
    "startEvent_signal": '<bpmn:startEvent id="el" name="n"{a}><bpmn:signalEventDefinition signalRef="s"/></bpmn:startEvent>',
    "startEvent_conditional": (
        '<bpmn:startEvent id="el" name="n"{a}><bpmn:conditionalEventDefinition><bpmn:condition>${x}'
        "</bpmn:condition></bpmn:conditionalEventDefinition></bpmn:startEvent>"
    ),
}
# Boundary events on a user task "host".
BOUNDARIES: dict[str, str] = {
    kind: f'<bpmn:boundaryEvent id="el" name="n" attachedToRef="host"{{a}}>{definition}</bpmn:boundaryEvent>'
    for kind, definition in {
        "boundary_timer": "<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>",
        "boundary_message": '<bpmn:messageEventDefinition messageRef="m"/>',
        "boundary_signal": '<bpmn:signalEventDefinition signalRef="s"/>',
        "boundary_error": '<bpmn:errorEventDefinition errorRef="err"/>',
        "boundary_escalation": '<bpmn:escalationEventDefinition escalationRef="esc"/>',
        "boundary_conditional": "<bpmn:conditionalEventDefinition><bpmn:condition>${x}</bpmn:condition></bpmn:conditionalEventDefinition>",
        "boundary_compensation": "<bpmn:compensateEventDefinition/>",
        "boundary_cancel": "<bpmn:cancelEventDefinition/>",
    }.items()
}
# Every camunda: attribute of Camunda 7's BPMN extension (camunda-bpmn-moddle's camunda.json), each with a value
# of the kind it takes.
ATTRIBUTES: dict[str, str] = {
    "asyncBefore": "true",
    "asyncAfter": "true",
    "exclusive": "false",
    "jobPriority": "10",
    "taskPriority": "10",
    "failedJobRetryTimeCycle": "R3/PT5M",
    "class": "org.example.Delegate",
    "delegateExpression": "${delegate}",
    "expression": "${bean.run()}",
    "resultVariable": "result",
    "type": "external",
    "topic": "work",
    "assignee": "alice",
    "candidateUsers": "alice, bob",
    "candidateGroups": "registrar",
    "dueDate": "P3D",
    "followUpDate": "P1D",
    "priority": "60",
    "formKey": "camunda-forms:deployment:f.form",
    "formRef": "f",
    "formRefBinding": "deployment",
    "formRefVersion": "1",
    "formHandlerClass": "org.example.Handler",
    "calledElementBinding": "version",
    "calledElementVersion": "1",
    "calledElementVersionTag": "v1",
    "calledElementTenantId": "t",
    "caseRef": "c",
    "caseBinding": "latest",
    "caseVersion": "1",
    "caseTenantId": "t",
    "variableMappingClass": "org.example.Mapping",
    "variableMappingDelegateExpression": "${mapping}",
    "decisionRef": "d",
    "decisionRefBinding": "latest",
    "decisionRefVersion": "1",
    "decisionRefVersionTag": "v1",
    "decisionRefTenantId": "t",
    "mapDecisionResult": "singleEntry",
    "initiator": "starter",
    "errorCodeVariable": "code",
    "errorMessageVariable": "message",
    "variableName": "x",
    "variableEvents": "create",
    "collection": "${items}",
    "elementVariable": "item",
    "versionTag": "v1",
    "historyTimeToLive": "180",
    "isStartableInTasklist": "false",
    "candidateStarterGroups": "registrar",
    "candidateStarterUsers": "alice",
    "modelerTemplate": "tpl",
    "modelerTemplateVersion": "1",
}
# Extension elements Camunda 7 reads, inside <bpmn:extensionElements> of a user task.
EXTENSIONS: dict[str, str] = {
    "properties": '<camunda:properties><camunda:property name="p" value="v"/></camunda:properties>',
    "inputOutput": (
        '<camunda:inputOutput><camunda:inputParameter name="i">v</camunda:inputParameter>'
        '<camunda:outputParameter name="o">${x}</camunda:outputParameter></camunda:inputOutput>'
    ),
    "inputOutput_script": (
        '<camunda:inputOutput><camunda:inputParameter name="i"><camunda:script scriptFormat="groovy">1'
        "</camunda:script></camunda:inputParameter></camunda:inputOutput>"
    ),
    "executionListener": '<camunda:executionListener class="a.B" event="start"/>',
    "taskListener": '<camunda:taskListener class="a.B" event="create"/>',
    "formData": '<camunda:formData><camunda:formField id="ff" type="string"/></camunda:formData>',
    "formProperty": '<camunda:formProperty id="fp"/>',
    "failedJobRetryTimeCycle": "<camunda:failedJobRetryTimeCycle>R3/PT5M</camunda:failedJobRetryTimeCycle>",
    "field": '<camunda:field name="f"><camunda:string>v</camunda:string></camunda:field>',
    "connector": "<camunda:connector><camunda:connectorId>c</camunda:connectorId></camunda:connector>",
    "in": '<camunda:in source="a" target="b"/>',
    "out": '<camunda:out source="a" target="b"/>',
    "potentialStarter": "<camunda:potentialStarter/>",
}
DEFINITIONS = (
    '<bpmn:message id="m" name="msg"/><bpmn:signal id="s" name="sig"/><bpmn:error id="err" errorCode="E1"/>'
    '<bpmn:escalation id="esc" escalationCode="X1"/>'
)


def diagram(
    body: str,
    *,
    start: str = '<bpmn:startEvent id="s0" name="s"/>',
    end: str = '<bpmn:endEvent id="e0" name="e"/>',
) -> str:
    """A process start -> body's element "el" -> end, with the definitions every event may refer to."""
    start_id = "el" if 'id="el"' in start else "s0"
    end_id = "el" if 'id="el"' in end else "e0"
    flows = []
    if 'id="el"' in body:
        flows += [f'<bpmn:sequenceFlow id="f1" sourceRef="{start_id}" targetRef="el"/>']
        flows += ['<bpmn:sequenceFlow id="f2" sourceRef="el" targetRef="' + end_id + '"/>']
    else:
        flows += [f'<bpmn:sequenceFlow id="f1" sourceRef="{start_id}" targetRef="{end_id}"/>']
    return (
        f'{HEAD}{DEFINITIONS}<bpmn:process id="cov" name="c" isExecutable="true">{start}{body}{end}'
        f"{''.join(flows)}</bpmn:process></bpmn:definitions>"
    )


def cases() -> Iterator[tuple[str, str]]:
    for kind, node in NODES.items():
        yield kind, diagram(node.replace("{a}", ""))
    for kind, node in ENDS.items():
        yield kind, diagram("", end=node.replace("{a}", ""))
    for kind, node in STARTS.items():
        yield kind, diagram("", start=node.replace("{a}", ""))
    for kind, node in BOUNDARIES.items():
        host = '<bpmn:userTask id="host" name="h"/>'
        body = host + node.replace("{a}", "") + '<bpmn:endEvent id="b_end" name="b"/>'
        text = diagram(body.replace('id="el"', 'id="el"'), end='<bpmn:endEvent id="e0" name="e"/>')
        text = text.replace('targetRef="el"', 'targetRef="host"').replace(
            'sourceRef="el" targetRef="e0"', 'sourceRef="host" targetRef="e0"'
        )
        text = text.replace(
            "</bpmn:process>", '<bpmn:sequenceFlow id="fb" sourceRef="el" targetRef="b_end"/></bpmn:process>'
        )
        yield kind, text
    hosts = {
        "userTask": '<bpmn:userTask id="el" name="n"{a}/>',
        "startEvent": '<bpmn:startEvent id="el" name="n"{a}/>',
        "callActivity": '<bpmn:callActivity id="el" name="n" calledElement="p"{a}/>',
        "process": None,
    }
    for name, value in ATTRIBUTES.items():
        attribute = f' camunda:{name}="{value}"'
        for host, node in hosts.items():
            if host == "process":
                yield (
                    f"process@{name}",
                    diagram("").replace('isExecutable="true"', 'isExecutable="true"' + attribute),
                )
            elif host == "startEvent":
                yield f"{host}@{name}", diagram("", start=node.replace("{a}", attribute))
            else:
                yield f"{host}@{name}", diagram(node.replace("{a}", attribute))
    for name, element in EXTENSIONS.items():
        node = f'<bpmn:userTask id="el" name="n"><bpmn:extensionElements>{element}</bpmn:extensionElements></bpmn:userTask>'
        yield f"extension:{name}", diagram(node)
    yield "broken_flow_target", diagram("").replace('targetRef="e0"', 'targetRef="nowhere"')
    yield "broken_flow_source", diagram("").replace('sourceRef="s0"', 'sourceRef="nowhere"')
    yield (
        "multiInstance",
        diagram(
            '<bpmn:userTask id="el" name="n"><bpmn:multiInstanceLoopCharacteristics camunda:collection="${items}" '
            'camunda:elementVariable="item"/></bpmn:userTask>'
        ),
    )
    # Modeler's error message field on a bpmn:error: accepted (text only).
    yield (
        "error@errorMessage",
        diagram("").replace('errorCode="E1"/>', 'errorCode="E1" camunda:errorMessage="x"/>'),
    )
    yield (
        "standardLoop",
        diagram('<bpmn:task id="el" name="n"><bpmn:standardLoopCharacteristics/></bpmn:task>'),
    )
    yield (
        "eventSubProcess",
        diagram(
            '<bpmn:subProcess id="el" name="n" triggeredByEvent="true"><bpmn:startEvent id="el_s">'
            '<bpmn:messageEventDefinition messageRef="m"/></bpmn:startEvent><bpmn:sequenceFlow id="el_f" '
            'sourceRef="el_s" targetRef="el_e"/><bpmn:endEvent id="el_e"/></bpmn:subProcess>'
        ).replace(
            '<bpmn:sequenceFlow id="f1" sourceRef="s0" targetRef="el"/><bpmn:sequenceFlow id="f2" sourceRef="el" targetRef="e0"/>',
            '<bpmn:sequenceFlow id="f1" sourceRef="s0" targetRef="e0"/>',
        ),
    )
    yield (
        "artifacts",
        diagram(
            '<bpmn:dataObjectReference id="dr" dataObjectRef="do"/><bpmn:dataObject id="do"/>'
            '<bpmn:dataStoreReference id="ds"/>'
        ).replace(
            "</bpmn:process>",
            '<bpmn:textAnnotation id="ta"><bpmn:text>t</bpmn:text></bpmn:textAnnotation>'
            '<bpmn:association id="as" sourceRef="s0" targetRef="ta"/><bpmn:group id="g"/></bpmn:process>',
        ),
    )
    yield (
        "lanes",
        diagram("").replace(
            'name="c" isExecutable="true">',
            'name="c" isExecutable="true"><bpmn:laneSet id="ls"><bpmn:lane id="el" name="登记员">'
            "<bpmn:flowNodeRef>s0</bpmn:flowNodeRef><bpmn:flowNodeRef>e0</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>",
        ),
    )
    yield (
        "collaboration",
        diagram("").replace(
            "<bpmn:process ",
            '<bpmn:collaboration id="collab"><bpmn:participant id="el" name="信访局" processRef="cov"/>'
            '<bpmn:participant id="other" name="外部"/><bpmn:messageFlow id="mf" sourceRef="other" targetRef="s0"/>'
            "</bpmn:collaboration><bpmn:process ",
        ),
    )


CASES = dict(cases())
CALLED = diagram("").replace('id="cov"', 'id="p"')


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One SQLite engine for the few hundred diagrams (what is refused stores nothing; what deploys becomes the
    next version of "cov"): the parser, not the database, is under test."""
    folder: Path = tmp_path_factory.mktemp("coverage")
    eng = Engine(
        Settings(instance_path=folder / "instance", database_url=f"sqlite:///{folder}/coverage.db"),
        clock=FrozenClock(datetime(2026, 11, 2, 9, tzinfo=UTC)),
    )
    eng.migrate()
    eng.deploy([with_text("called.bpmn", CALLED), with_text("f.form", FORM)])
    yield eng
    eng.db.dispose()
    install(Clock())  # the engine installed its frozen clock process-wide


@pytest.mark.parametrize("kind", sorted(CASES))
def test_every_element_and_attribute_deploys_or_is_refused_naming_it(engine: Engine, kind: str) -> None:
    files = [with_text(f"{kind}.bpmn", CASES[kind])]
    validated = [p.to_dict() for p in engine.validate(files)]
    try:
        result = engine.deploy(files)
    except DeploymentInvalid as refused:
        problems = refused.details["problems"]
        assert problems == validated, "validate and deploy disagree"
        assert problems, "refused without a problem"
        for problem in problems:
            assert problem["element"], f"refusal names no element: {problem}"
            assert CHINESE.search(problem["message"]), f"not worded for designers: {problem}"
        assert "el" in {p["element"] for p in problems} or kind.startswith(("broken", "process@")), problems
        return
    assert validated == [], "validate refused what deploy accepted"
    assert [d.key for d in result.definitions] == ["cov"]
    # A refusal to start (a start event that needs a message) is an answer, not a crash.
    with contextlib.suppress(PetitionflowError):
        engine.start("cov", variables={"x": True, "items": ["a"]}, business_key=f"k-{kind}")
