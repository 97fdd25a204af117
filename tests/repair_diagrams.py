"""The diagrams the repair tests (engine, API and browser) run: a three-step case in two versions, and a timer
whose fire fails until its diagram is corrected."""

from __future__ import annotations

from engine.runtime import Engine
from tests.helpers import with_text

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Defs_{key}" targetNamespace="http://petitionflow/test">
"""

# 登记 -> 审查 (a 10-day boundary timer) -> 答复. Version 2 adds 复核 after 审查 and renames 答复's id.
CASE_V1 = (
    HEAD.format(key="repair_case")
    + """  <bpmn:process id="repair_case" name="修复测试流程" isExecutable="true">
    <bpmn:startEvent id="Begin"/>
    <bpmn:sequenceFlow id="F1" sourceRef="Begin" targetRef="Register"/>
    <bpmn:userTask id="Register" name="登记核对" camunda:candidateGroups="registrar"/>
    <bpmn:sequenceFlow id="F2" sourceRef="Register" targetRef="Review"/>
    <bpmn:userTask id="Review" name="受理审查" camunda:candidateGroups="petition_office"/>
    <bpmn:boundaryEvent id="ReviewLate" name="审查超时" attachedToRef="Review">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"P10D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="F_late" sourceRef="ReviewLate" targetRef="Late"/>
    <bpmn:endEvent id="Late" name="超期"/>
    <bpmn:sequenceFlow id="F3" sourceRef="Review" targetRef="Reply"/>
    <bpmn:userTask id="Reply" name="书面答复" camunda:candidateGroups="petition_office"/>
    <bpmn:sequenceFlow id="F4" sourceRef="Reply" targetRef="Done"/>
    <bpmn:endEvent id="Done" name="办结"/>
  </bpmn:process>
</bpmn:definitions>
"""
)

CASE_V2 = CASE_V1.replace(
    """    <bpmn:sequenceFlow id="F3" sourceRef="Review" targetRef="Reply"/>
    <bpmn:userTask id="Reply" name="书面答复" camunda:candidateGroups="petition_office"/>
    <bpmn:sequenceFlow id="F4" sourceRef="Reply" targetRef="Done"/>
""",
    """    <bpmn:sequenceFlow id="F3" sourceRef="Review" targetRef="Recheck"/>
    <bpmn:userTask id="Recheck" name="复核" camunda:candidateGroups="supervisor"/>
    <bpmn:sequenceFlow id="F3b" sourceRef="Recheck" targetRef="WrittenReply"/>
    <bpmn:userTask id="WrittenReply" name="书面答复（新）" camunda:candidateGroups="petition_office"/>
    <bpmn:sequenceFlow id="F4" sourceRef="WrittenReply" targetRef="Done"/>
""",
)
assert CASE_V2 != CASE_V1

# A timer, then a gateway whose condition reads a variable the case never has: every fire fails.
TIMER_V1 = (
    HEAD.format(key="repair_timer")
    + """  <bpmn:process id="repair_timer" name="定时测试流程" isExecutable="true">
    <bpmn:startEvent id="Begin"/>
    <bpmn:sequenceFlow id="F1" sourceRef="Begin" targetRef="Wait"/>
    <bpmn:intermediateCatchEvent id="Wait" name="等待答复期满">
      <bpmn:timerEventDefinition><bpmn:timeDuration>"P1D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="F2" sourceRef="Wait" targetRef="Choose"/>
    <bpmn:exclusiveGateway id="Choose" name="是否答复"/>
    <bpmn:sequenceFlow id="F3" sourceRef="Choose" targetRef="FollowUp">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${replied}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:userTask id="FollowUp" name="跟踪回访" camunda:candidateGroups="petition_office"/>
    <bpmn:sequenceFlow id="F4" sourceRef="FollowUp" targetRef="Done"/>
    <bpmn:endEvent id="Done"/>
  </bpmn:process>
</bpmn:definitions>
"""
)

# The corrected diagram: the gateway has a default flow.
TIMER_V2 = TIMER_V1.replace(
    '<bpmn:exclusiveGateway id="Choose" name="是否答复"/>',
    '<bpmn:exclusiveGateway id="Choose" name="是否答复" default="F3"/>',
).replace(
    '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${replied}</bpmn:conditionExpression>', ""
)


def deploy_case(engine: Engine, *, version: int = 1) -> str:
    """Deploy the case diagram (version 1 or 2); returns the definition id deployed."""
    text = CASE_V1 if version == 1 else CASE_V2
    return engine.deploy([with_text("repair_case.bpmn", text)]).definitions[0].id


def deploy_timer(engine: Engine, *, corrected: bool = False) -> str:
    """Deploy the failing timer diagram, or its corrected version; returns the definition id deployed."""
    return (
        engine.deploy([with_text("repair_timer.bpmn", TIMER_V2 if corrected else TIMER_V1)]).definitions[0].id
    )


# 受理 -> a called procedure (调查核实) -> 答复: steps on both sides of a call activity.
CALLER = (
    HEAD.format(key="repair_caller")
    + """  <bpmn:process id="repair_caller" name="调用测试流程" isExecutable="true">
    <bpmn:startEvent id="Begin"/>
    <bpmn:sequenceFlow id="F1" sourceRef="Begin" targetRef="Intake"/>
    <bpmn:userTask id="Intake" name="受理" camunda:candidateGroups="petition_office"/>
    <bpmn:sequenceFlow id="F2" sourceRef="Intake" targetRef="CallInvestigation"/>
    <bpmn:callActivity id="CallInvestigation" name="调查核实程序" calledElement="repair_called"/>
    <bpmn:sequenceFlow id="F3" sourceRef="CallInvestigation" targetRef="Answer"/>
    <bpmn:userTask id="Answer" name="答复" camunda:candidateGroups="petition_office"/>
    <bpmn:sequenceFlow id="F4" sourceRef="Answer" targetRef="Done"/>
    <bpmn:endEvent id="Done"/>
  </bpmn:process>
</bpmn:definitions>
"""
)
CALLED = (
    HEAD.format(key="repair_called")
    + """  <bpmn:process id="repair_called" name="调查核实程序" isExecutable="true">
    <bpmn:startEvent id="InnerBegin"/>
    <bpmn:sequenceFlow id="G1" sourceRef="InnerBegin" targetRef="Investigate"/>
    <bpmn:userTask id="Investigate" name="调查核实" camunda:candidateGroups="petition_office"/>
    <bpmn:sequenceFlow id="G2" sourceRef="Investigate" targetRef="InnerDone"/>
    <bpmn:endEvent id="InnerDone"/>
  </bpmn:process>
</bpmn:definitions>
"""
)


def deploy_caller(engine: Engine) -> str:
    """Deploy the caller and its called procedure; returns the caller's definition id."""
    result = engine.deploy([with_text("repair_caller.bpmn", CALLER), with_text("repair_called.bpmn", CALLED)])
    return next(d.id for d in result.definitions if d.key == "repair_caller")
