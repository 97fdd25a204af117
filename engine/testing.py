"""Test support, public like flask.testing: valid form data and a walker that drives instances task by task.

The scenario tests, the API and browser tests, the bench scripts and the demo loader (engine/demo.py) all use
it, so every one of them submits data the server's own form validation accepts:

* ``FORM_DATA``: valid data for every shipped form; ``form_values`` builds a whole submission for a form
  (generic valid values, then ``FORM_DATA``, then the caller's);
* ``complete_at``: claim and complete the only open task at an element;
* ``Walk``: one process instance driven through the engine's commands, in the words the scenario tests use.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .accounts import DEMO_USERS
from .clock import FrozenClock
from .errors import InvalidState
from .models import AuditEvent, Deadline, Instance, OrgUnit, Task
from .orgadmin import OrgAdmin, parse_document
from .organisation import unit_group
from .queries import TaskFilter, history, list_tasks

if TYPE_CHECKING:
    from .forms import FormDefinition, FormField
    from .runtime import CommandResult, Engine


# ---------------------------------------------------------------------------------------------------------------
# Valid form data, shared with the scenario tests
# ---------------------------------------------------------------------------------------------------------------

TODAY = object()  # placeholder in FORM_DATA: the clock's date (Beijing) when the form is submitted

# Valid data for every shipped form. Fields a hide condition hides are dropped by the server, so one dict serves
# every choice; callers override what chooses the path. Values are JSON or TODAY (others read this dict too).
FORM_DATA: dict[str, dict[str, Any]] = {
    "intake_registration": {
        "petitionerName": "张三",
        "idType": "resident_id",
        "idNumber": "500107199001011238",
        "phone": "13800138000",
        "address": "重庆市九龙坡区杨家坪正街1号",
        "channel": "visit",
        "receivedAt": "2026-11-02",
        "subject": "小区夜间施工噪声扰民",
        "request": "请求责令施工单位停止夜间施工",
        "facts": "十月以来工地每晚施工至凌晨",
        "reasons": "影响居民正常休息",
        "involvedUnit": "区住房城乡建委",
        "place": "九龙坡区杨家坪街道",
        "peopleCount": 1,
        "isMajor": False,
        "isUrgent": False,
        "hasAgent": False,
        "identityUnclear": False,
        "skipLevel": False,
    },
    # The registration check: confirmed as registered; a correction names the items it changes (callers pass
    # checkResult="corrected" and correctedItems with the new values).
    "intake_check": {"checkResult": "confirmed", "correctedItems": ["matter"]},
    "intake_acceptance": {
        "acceptanceDecision": "accept",
        "category": "complaint",
        "responsibleUnit": "county.zjw",
        "acceptedAt": TODAY,
        "decisionReason": "依据《信访工作条例》相关规定",
        "transferTo": "区委政法委",
        "noticeDate": TODAY,
    },
    "intake_notice": {
        "noticeWaived": False,
        "noticeNumber": "九信告〔2026〕1号",
        "noticeMethod": "in_person",
        "noticeServedAt": TODAY,
    },
    "intake_transfer": {
        "transferTo": "区纪委监委",
        "transferLetterNumber": "九信转〔2026〕1号",
        "transferredAt": TODAY,
        "petitionerInformed": True,
    },
    "intake_art31": {"statutoryRoute": "other", "routeExplanation": "依法导入相应程序"},
    "intake_simple_eligibility": {
        "simpleEligible": True,
        "responsibleUnit": "county.zjw",
        "eligibilityGround": "clear_facts",
        "ineligibleReason": "major_complex",
    },
    "intake_suggestion_reply": {
        "adoption": "partly_adopted",
        "replyContent": "已部分采纳",
        "repliedAt": TODAY,
    },
    "intake_discipline_result": {
        "disciplineOrgan": "区纪委监委",
        "disciplineOutcome": "preliminary_check",
        "disciplineResult": "初步核实后予以了结",
        "resultReceivedAt": TODAY,
    },
    "intake_major_report": {
        "reportedTo": ["party_committee_government", "upper_bureau"],
        "reportedAt": TODAY,
        "reportSummary": "群体性事项，已报告",
    },
    "simple_decision": {
        "simpleFallback": False,
        "fallbackReason": "涉及多个责任主体",
        "immediateAnswer": False,
        "decision": "support",
        "answerOpinion": "已责令停止夜间施工",
        "answeredAt": TODAY,
    },
    "simple_answer": {"decision": "support", "answerOpinion": "已责令停止夜间施工", "answeredAt": TODAY},
    "simple_service": {"answerChannel": "sms", "replyServedAt": TODAY, "serviceRecord": "SMS-20261102-01"},
    "simple_evaluation": {"rating": "satisfied", "evaluatedAt": TODAY},
    "handling_handler": {"handler": "handler", "substituteHandler": "hearing", "recusalRequired": False},
    "handling_investigation": {
        "petitionerHeard": True,
        "investigationMethods": ["interview", "site_visit"],
        "verifiedFacts": "经现场核查，情况属实",
        "proposeHearing": False,
        "hearingReason": "争议较大",
    },
    "handling_opinion": {
        "opinionNumber": "九建信复〔2026〕8号",
        "decision": "support",
        "opinionRequest": "停止夜间施工",
        "opinionFacts": "工地夜间施工属实",
        "opinionReasons": "违反噪声污染防治规定",
        "legalBasis": "《噪声污染防治法》第四十三条",
        "guidance": "已向信访人释法说理",
        "opinionIssuedAt": TODAY,
    },
    "handling_extension_request": {"extensionReason": "涉及多个部门，情况复杂", "requestedDays": 10},
    "handling_extension_approval": {
        "extensionApproved": True,
        "extensionDays": 5,
        "approvalReason": "同意延期",
        "approvedBy": "王局长",
    },
    "handling_extension_notice": {
        "extensionNoticeNumber": "九建信延〔2026〕1号",
        "extensionNoticeMethod": "post",
        "extensionNoticeServedAt": TODAY,
    },
    "handling_reply": {
        "replyServedAt": TODAY,
        "replyServiceMethod": "in_person",
        "receiptNumber": "HZ-2026-0001",
        "reviewRightNotified": True,
    },
    "handling_implementation": {
        "implementationStatus": "implemented",
        "implementationNote": "施工单位已停止夜间施工",
        "implementationCheckedAt": TODAY,
    },
    "handling_evaluation": {"rating": "satisfied", "evaluatedAt": TODAY, "returnVisit": False},
    "handling_return_visit": {
        "visitedAt": TODAY,
        "visitMethod": "phone",
        "visitFeedback": "信访人表示问题已解决",
        "matterSettled": True,
    },
    "handling_archive": {"archiveNumber": "DA-2026-0001", "archivedAt": TODAY, "assistanceReferral": "none"},
    "transfer_office_decision": {
        "disposal": "transfer",
        "responsibleUnit": "county.zjw",
        "assignedAt": TODAY,
        "decisionOpinion": "转送区住房城乡建委依法办理",
        "feedbackRequirement": "30日内反馈办理情况",
        "completionReportRequired": True,
    },
    "transfer_unit_receipt": {"transferReceivedAt": TODAY, "receivedBy": "李四"},
    "transfer_unit_response": {
        "unitResponse": "accept",
        "receiptNoticeSentAt": TODAY,
        "objectionReasons": "该事项涉及规划审批，属区规划自然资源局职权范围，不属本单位职责。",
        "suggestedUnit": "county.ghzy",
    },
    "transfer_competence_decision": {
        "responsibleUnit": "county.ghzy",
        "competenceReason": "该事项涉及规划审批，属区规划自然资源局职权",
        "competenceDecidedAt": TODAY,
    },
    "transfer_objection_review": {
        "objectionDecision": "approve",
        "objectionReviewOpinion": "经审核，异议理由成立，改由有权单位办理",
        "objectionReviewedAt": TODAY,
        "hasCommonSuperior": True,
    },
    "transfer_supervision": {
        "feedbackStatus": "fed_back",
        "supervisionReason": "no_feedback",
        "supervisedAt": TODAY,
        "supervisionNotice": "交办事项逾期未反馈，请于5个工作日内书面报告办理情况",
        "improvementSuggestions": "明确专人负责，建立办理台账",
        "feedbackNote": "责任单位已按期反馈办理进展",
    },
    "transfer_supervision_reply": {
        "supervisionReply": "已按督办要求成立专班加快办理，预计10日内办结并书面答复信访人。",
        "rectificationMeasures": "建立交办件台账，每周调度一次",
        "supervisionRepliedAt": TODAY,
    },
    "transfer_completion_report": {
        "completionReport": "该交办事项已办结，处理意见书已送达信访人，信访人表示基本满意。",
        "completionReportedAt": TODAY,
        "completionReportNumber": "办结〔2026〕12号",
    },
    "hearing_offer": {
        "hearingInitiator": "organ_proposal",
        "hearingOfferedAt": TODAY,
        "hearingTriggers": ["policy_dispute"],
    },
    "hearing_application": {
        "petitionerAnswer": "refuse",
        "hearingAppliedAt": TODAY,
        "representativesCount": 1,
    },
    "hearing_exclusion": {
        "inLitigation": False,
        "inArbitration": False,
        "inReconsideration": False,
        "exclusionNote": "经审查，该事项未进入诉讼、仲裁或行政复议程序",
    },
    "hearing_decision": {
        "hearingDecision": "hold",
        "decisionReason": "事项争议较大、涉及群众切身利益，有必要举行听证",
        "hearingDecidedAt": TODAY,
    },
    "hearing_notice": {
        "noticeSentAt": TODAY,
        "hearingTime": "09:30",
        "venue": "区信访局听证室",
        "isPublic": "public",
        "closedReason": "privacy",
        "notifiedParties": "信访人、原办理机关、利害关系人",
    },
    "hearing_participants": {
        "chairName": "孙丽",
        "investigatorName": "张伟",
        "hearingOfficers": "孙丽、周涛、吴芳",
        "petitionerAttendance": "self",
        "representativesCount": 0,
        "handlingOfficials": "原办理机关承办人张伟",
    },
    "hearing_record": {
        "heldAt": TODAY,
        "transcript": "听证笔录：信访人陈述请求、事实和理由，原办理机关说明办理情况，双方质证、辩论，听证员询问。",
        "audioVideoRecorded": True,
        "transcriptSigned": True,
        "attendance": "信访人本人、原办理机关代表、听证员三名",
    },
    "hearing_conclusion": {
        "hearingConclusion": "support",
        "deliberationSummary": "听证员评议认为，信访人的请求有事实和政策依据，建议予以支持。",
        "deliberatedAt": TODAY,
    },
    "hearing_supervision": {
        "supervisedAt": TODAY,
        "supervisionNotice": "听证程序逾期，请于3个工作日内办理并报告",
        "improvementSuggestions": "明确听证组织责任人，按期推进",
    },
    "package_choose_leader": {
        "packageLedgerNumber": "BA-2026-001",
        "packageSource": "superior_assignment",
        "leaderName": "赵刚",
        "chosenLeader": "leader",
        "leaderTitle": "区委书记",
        "leaderRank": "county_level",
        "leaderBody": "party_committee",
        "leaderPost": "principal",
        "orderDeviationReason": "主要负责同志包案数量已达上限",
        "packageAssignedAt": TODAY,
    },
    "package_team_plan": {
        "packageTeam": "区委办、责任单位、属地街道抽调人员组成工作专班",
        "packageResponsibleUnit": "county.zjw",
        "packagePlan": "一周内完成事实核查，两周内召开协调会，一个月内形成化解方案并落实。",
        "packageDeadline": TODAY,
        "contactPlan": "专班每周与信访人联系一次",
    },
    "package_duty_facts": {
        "factsRecord": "调阅全部档案，与信访人面谈两次，掌握诉求和实际困难",
        "factsDoneAt": TODAY,
        "factsVerified": True,
    },
    "package_duty_thinking": {
        "thinkingRecord": "包案领导亲自接谈，释法说理，信访人情绪趋于平稳",
        "thinkingDoneAt": TODAY,
        "leaderTalkedInPerson": True,
    },
    "package_duty_resolve": {
        "resolveRecord": "召开协调会，责任单位提出解决方案，双方达成初步一致",
        "resolveDoneAt": TODAY,
        "mediationHeld": True,
    },
    "package_duty_stability": {
        "stabilityRecord": "落实属地街道专人联系，未发现过激苗头",
        "stabilityDoneAt": TODAY,
        "stabilityRisk": "low",
    },
    "package_duty_cessation": {
        "cessationRecord": "信访人书面承诺问题解决后息访息诉",
        "cessationDoneAt": TODAY,
        "petitionerCommitted": True,
    },
    "package_resolution": {
        "resolved": True,
        "agreementSigned": True,
        "resolvedAt": TODAY,
        "resolutionSummary": "诉求已依法依规解决，信访人签订化解协议",
        "closureEvidence": "化解协议书、息访承诺书",
    },
    "package_reflux": {
        "refluxCount": 1,
        "returnedAt": TODAY,
        "returnContent": "信访人就同一事项再次信访，认为化解协议未落实到位",
        "sameFactsAndReasons": True,
    },
    "package_escalate_leader": {
        "leaderName": "钱立新",
        "chosenLeader": "secretary",
        "leaderTitle": "市委主要负责同志",
        "leaderRank": "city_level",
        "leaderBody": "party_committee",
        "leaderPost": "principal",
        "orderDeviationReason": "主要负责同志包案数量已达上限",
        "escalationReason": "包案化解后多次返流，提级包案",
        "packageAssignedAt": TODAY,
    },
    "package_write_off": {
        "caseClosed": True,
        "writtenOffAt": TODAY,
        "writeOffEvidence": "确认期内未再信访，经联席会议确认销号",
        "confirmedBy": "区信访联席会议办公室",
    },
    "review_termination": {"terminated": True, "terminatedAt": TODAY},
    "review_eligibility": {
        "reviewRequestedAt": TODAY,
        "ordinaryHandlingMatter": True,
        "hasConcreteRequest": True,
        "withinOriginalScope": False,
        "notAlreadyAccepted": True,
        "filedInTime": True,
        "reviewOrgan": "county.gov",
        "ineligibleReason": "超出原信访请求范围",
        "ineligibleNoticeAt": TODAY,
    },
    "review_decision": {
        "reviewOutcome": "uphold",
        "reviewOpinion": "原处理意见认定事实清楚、依据正确、程序合法，予以维持",
        "changedOpinion": "原处理意见部分不当，予以变更",
        "redoInstructions": "责成原办理机关重新调查核实后另行出具处理意见",
        "reviewDecidedAt": TODAY,
    },
    "review_rehandle": {
        "rehandleOpinion": "重新调查核实后，对原处理意见中的补偿标准予以调整。",
        "differsFromOriginal": True,
        "rehandledAt": TODAY,
    },
    "review_service": {
        "reviewServedAt": TODAY,
        "serviceMethod": "in_person",
        "serviceReceiptRecorded": True,
        "recheckRightNotified": True,
    },
    "review_recheck_eligibility": {
        "recheckRequestedAt": TODAY,
        "ordinaryHandlingMatter": True,
        "hasConcreteRequest": True,
        "withinOriginalScope": True,
        "notAlreadyAccepted": True,
        "filedInTime": True,
        "recheckOrgan": "city.gov",
        "proposeHearing": False,
        "ineligibleReason": "复核请求超出法定期限",
        "ineligibleNoticeAt": TODAY,
    },
    "review_recheck_decision": {
        "recheckOutcome": "uphold",
        "recheckOpinion": "复查意见认定事实清楚，予以维持；本复核意见为终结意见",
        "recheckDecidedAt": TODAY,
        "publishOpinion": False,
    },
    "review_recheck_service": {
        "recheckServedAt": TODAY,
        "serviceMethod": "in_person",
        "serviceReceiptRecorded": True,
        "finalityNotified": True,
        "terminated": True,
    },
    "review_supervision": {
        "supervisedAt": TODAY,
        "supervisionNotice": "复查（复核）期限已届满，请于5个工作日内作出决定",
        "improvementSuggestions": "加强期限管理，按期作出复查复核意见",
    },
    "supervision_notice": {
        "supervisionReason": "overdue",
        "supervisionOpinion": "该事项已超过法定期限，请于5个工作日内书面说明原因并报送办理结果",
        "improvementAdvice": "明确专人负责，按期办结",
        "replyDue": TODAY,
    },
    "supervision_reply": {
        "unitReply": "已查明超期原因系需多部门会商，现已办结并书面答复信访人",
        "unitRepliedAt": TODAY,
        "unitReplyBy": "张伟",
    },
    "package_progress": {
        "progressReport": "已与信访人面谈三次，补偿方案已报县政府研究",
        "progressDifficulties": "需住建、财政部门会商资金来源",
        "progressReportedAt": TODAY,
    },
    "supervision_sanction": {
        "sanctionKind": "interview",
        "rectificationRequirement": "约谈责任单位主要负责人，限期30日内办结并书面报告整改情况",
        "sanctionedAt": TODAY,
    },
    "supervision_rectification": {
        "rectificationReport": "已落实专人办理，事项已办结并书面答复信访人",
        "rectifiedAt": TODAY,
    },
    "supervision_accountability": {
        "accountabilityFacts": "挂牌督办后整改期满仍未办结，也未说明理由",
        "accountabilityOrgan": "县纪委监委",
        "accountabilityAdvice": "建议对责任单位分管负责人予以问责",
        "recommendedAt": TODAY,
    },
}
for _form_id in ("intake_supervision", "simple_supervision", "handling_supervision"):
    FORM_DATA[_form_id] = {
        "supervisionOpinion": "限期办结并说明原因",
        "rectificationDue": TODAY,
        "supervisedAt": TODAY,
    }
for _form_id in ("transfer_county_decision", "transfer_conference_decision"):
    FORM_DATA[_form_id] = {
        **FORM_DATA["transfer_office_decision"],
        "decisionOpinion": "经研究，转送责任单位依法办理",
        "packageToLeader": False,
        "meetingRecord": "会议纪要〔2026〕5号",
        "petitionerNotified": True,
    }

# Date fields that lie some days after the day the form is submitted.
DAYS_AFTER: dict[str, dict[str, int]] = {
    "hearing_notice": {"hearingDate": 10},
    "package_team_plan": {"packageDeadline": 30},
    "supervision_notice": {"replyDue": 7},
    "intake_supervision": {"rectificationDue": 5},
    "simple_supervision": {"rectificationDue": 5},
    "handling_supervision": {"rectificationDue": 5},
}

_TEXT_TYPES = ("textfield", "textarea")


def sample_value(field: FormField, today: date) -> Any:
    """A value the server accepts for ``field`` (checkboxes: ticked only when required)."""
    if field.values:
        return [field.values[0]] if field.type in ("checklist", "taglist") else field.values[0]
    if field.type == "checkbox":
        return field.required
    if field.type == "number":
        low = field.minimum if field.minimum is not None else 1
        return int(max(low, 1) if field.maximum is None or field.maximum >= 1 else low)
    if field.type == "datetime":
        return {"date": today.isoformat(), "time": "09:30", "datetime": f"{today.isoformat()}T09:30"}[
            field.subtype or "date"
        ]
    text = "填写内容：" + (field.label or field.key)
    return (text * 4)[: field.max_length or 200]


def form_values(
    form: FormDefinition, today: date, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A valid submission of ``form`` on ``today``: FORM_DATA's values, a generic value for any other choice or
    required field, and ``overrides`` last. Hidden fields are dropped by the server."""
    values: dict[str, Any] = {
        f.key: sample_value(f, today)
        for f in form.fields
        if len(f.path) == 1 and not f.disabled and (f.required or f.type not in _TEXT_TYPES)
    }
    values.update(FORM_DATA.get(form.id, {}))
    for key, days in DAYS_AFTER.get(form.id, {}).items():
        values[key] = (today + timedelta(days=days)).isoformat()
    values.update(overrides or {})
    return {k: today.isoformat() if v is TODAY else v for k, v in values.items()}


# ---------------------------------------------------------------------------------------------------------------
# Walking: complete the only open task at an element
# ---------------------------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------------------------
# The fixture organisation: the units the shipped diagrams route to, and the demo office's people in them
# ---------------------------------------------------------------------------------------------------------------

# A small county with the codes and names of the demo county (engine/data/county.yaml), in its file format.
FIXTURE_ORG = """
units:
  - {code: city.gov, name: 市政府, level: city, kind: government}
  - {code: county.committee, name: 区委, level: county, kind: party_committee}
  - {code: county.gov, name: 区政府, parent: city.gov, level: county, kind: government}
  - {code: county.xfj, name: 区信访局, parent: county.gov, level: county, kind: petition_bureau}
  - {code: county.lxhy, name: 区信访联席会议办公室, parent: county.committee, level: county,
     kind: joint_conference}
  - {code: county.jw, name: 区纪委监委, parent: county.committee, level: county, kind: discipline}
  - {code: county.zfw, name: 区委政法委, parent: county.committee, level: county,
     kind: political_legal}
  - {code: county.zjw, name: 区住房城乡建委, parent: county.gov, level: county, kind: department}
  - {code: county.ghzy, name: 区规划自然资源局, parent: county.gov, level: county, kind: department}
  - {code: county.binjiang, name: 滨江街道办事处, parent: county.gov, level: township, kind: government}
  - {code: county.xinhua, name: 新华街道办事处, parent: county.gov, level: township, kind: government}
people:
  - login: registrar
    memberships: [{unit: county.xfj, position: petition_officer}]
  - login: office
    memberships: [{unit: county.xfj, position: petition_officer}]
  - login: supervisor
    memberships: [{unit: county.xfj, position: inspector}]
  - login: handler
    memberships: [{unit: county.zjw, position: handler}]
  - login: hearing
    memberships: [{unit: county.zjw, position: handler}]
  - login: zjw_head
    memberships: [{unit: county.zjw, position: head, rank: 2}]
  - login: ghzy_handler
    memberships: [{unit: county.ghzy, position: handler}]
  - login: committee
    memberships: [{unit: county.committee, position: handler}]
  - login: leader
    memberships: [{unit: county.committee, position: deputy_head, rank: 3}]
  - login: secretary
    memberships: [{unit: county.committee, position: head, rank: 4}]
  - login: conference
    memberships: [{unit: county.lxhy, position: handler}]
  - login: reviewer
    memberships: [{unit: county.gov, position: handler}, {unit: city.gov, position: handler}]
  - login: binjiang_handler
    memberships: [{unit: county.binjiang, position: handler}]
  - login: xinhua_handler
    memberships: [{unit: county.xinhua, position: handler}]
"""


def load_fixture_org(engine: Engine) -> None:
    """Load FIXTURE_ORG (units and memberships, no accounts) unless the organisation has units already."""
    with engine.db.reading() as session:
        if session.scalar(select(OrgUnit.code).limit(1)) is not None:
            return
    OrgAdmin(engine.db, engine.now).load(parse_document(FIXTURE_ORG), "fixture", accounts=False)


def _group_users() -> dict[str, str]:
    """The demo user who works the tasks of each candidate group: the demo office's county-wide groups
    (engine.accounts.DEMO_USERS), then the first fixture member of each unit role."""
    users = {group: user for user, _, _, groups, _ in DEMO_USERS for group in groups}
    for person in parse_document(FIXTURE_ORG).people:
        for m in person.memberships:
            users.setdefault(unit_group(m.unit_code, m.position), person.login)
    return users


GROUP_USERS: dict[str, str] = _group_users()


def today_of(engine: Engine) -> date:
    """The engine clock's date where the deadlines run (Beijing)."""
    return engine.now().astimezone(engine.calendar.tz).date()


def open_tasks(engine: Engine, instance_id: str) -> list[Task]:
    with engine.db.reading() as session:
        return list_tasks(session, TaskFilter(instance_id=instance_id))


def only_task(engine: Engine, instance_id: str, element: str) -> Task:
    """The one open task of the instance at ``element``; InvalidState naming the open ones otherwise."""
    tasks = open_tasks(engine, instance_id)
    found = [t for t in tasks if t.element_id == element]
    if len(found) != 1:
        raise InvalidState(
            f"want one open task at {element}, open: {sorted(t.element_id for t in tasks)}",
            {"instance": instance_id, "element": element},
        )
    return found[0]


def task_values(engine: Engine, task: Task, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Valid data for the task's form (as deployed) submitted today, overridden by ``overrides``."""
    with engine.db.reading() as session:
        form = engine.form_for(session, task)
    if form is None:
        return dict(overrides or {})
    return form_values(form, today_of(engine), overrides)


def user_for(task: Task) -> str:
    """The demo user who works ``task``: its assignee, else the one of its first candidate group that has one."""
    if task.assignee:
        return task.assignee
    for group in task.candidate_groups:
        if group in GROUP_USERS:
            return GROUP_USERS[group]
    return task.candidate_users[0] if task.candidate_users else "admin"


def complete_at(
    engine: Engine,
    instance_id: str,
    element: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    user: str | None = None,
) -> CommandResult:
    """Claim and complete the only open task at ``element`` with valid data for its form, overridden by
    ``overrides``; as ``user``, or the demo user of the task's candidate group."""
    task = only_task(engine, instance_id, element)
    values = task_values(engine, task, overrides)
    who = user or user_for(task)
    engine.claim(task.id, who)
    return engine.complete(task.id, values, actor=who)


# ---------------------------------------------------------------------------------------------------------------
# Walk: one instance, driven task by task
# ---------------------------------------------------------------------------------------------------------------


class Walk:
    """One process instance driven through the engine's commands: the vocabulary of the scenario tests."""

    def __init__(self, engine: Engine, clock: FrozenClock, process: str, **variables: Any) -> None:
        self.engine = engine
        self.clock = clock
        load_fixture_org(engine)
        key = variables.get("petitionNumber", "XF2026-0001")
        self.instance_id = engine.start(
            process, business_key=key, variables=variables, actor="registry"
        ).instance_id

    @classmethod
    def of(cls, engine: Engine, clock: FrozenClock, instance_id: str) -> Walk:
        """A walk over an instance started elsewhere (a petition the registry registered)."""
        walk = cls.__new__(cls)
        walk.engine, walk.clock, walk.instance_id = engine, clock, instance_id
        return walk

    # -- looking ----------------------------------------------------------------------------------------------
    def open_tasks(self) -> list[Task]:
        return open_tasks(self.engine, self.instance_id)

    def open(self) -> list[str]:
        """Element ids of the open user tasks, sorted."""
        return sorted(t.element_id for t in self.open_tasks())

    def task(self, element: str) -> Task:
        found = [t for t in self.open_tasks() if t.element_id == element]
        assert len(found) == 1, f"want one open task at {element}, open: {self.open()}"
        return found[0]

    def active(self) -> list[str]:
        """Elements the instance waits at: open tasks, waiting events and gateways, running sub-processes."""
        return list(self._row().active_elements or [])

    @property
    def state(self) -> str:
        return self._row().state

    def _row(self) -> Instance:
        with self.engine.db.reading() as session:
            row = session.get(Instance, self.instance_id)
        assert row is not None
        return row

    def events(self) -> list[AuditEvent]:
        with self.engine.db.reading() as session:
            return history(session, self.instance_id)

    def passed(self) -> list[str]:
        """Every element the instance finished, in order: engine-run elements and completed user tasks."""
        return self._finished("activity.completed", "task.completed")

    def path(self) -> list[str]:
        """Elements finished, in order: engine-run elements, completed tasks and timers that fired."""
        return self._finished("activity.completed", "task.completed", "timer.fired")

    def fired(self) -> list[str]:
        return self._finished("timer.fired")

    def _finished(self, *kinds: str) -> list[str]:
        return [e.element_id for e in self.events() if e.kind in kinds and e.element_id is not None]

    def submitted(self, element: str) -> dict[str, Any]:
        """The cleaned form data the last completion of ``element`` stored."""
        done = [e for e in self.events() if e.kind == "task.completed" and e.element_id == element]
        assert done, f"{element} was never completed"
        return done[-1].data or {}

    def variables(self) -> dict[str, Any]:
        """The instance's data (for a finished instance: what a calling process gets back)."""
        return self.engine.variables(self.instance_id)

    def deadline(self, name: str) -> Deadline:
        """The instance's latest record of deadline ``name`` (its current period)."""
        with self.engine.db.reading() as session:
            query = select(Deadline).where(Deadline.instance_id == self.instance_id, Deadline.name == name)
            return session.scalars(query.order_by(Deadline.id.desc()).limit(1)).one()

    # -- acting -----------------------------------------------------------------------------------------------
    @property
    def today(self) -> date:
        return today_of(self.engine)

    def day(self, offset: int = 0) -> str:
        """The clock's date in Beijing plus ``offset`` days, as a form writes it."""
        return (self.today + timedelta(days=offset)).isoformat()

    def form_data(self, task: Task, overrides: Mapping[str, Any]) -> dict[str, Any]:
        return task_values(self.engine, task, overrides)

    def values(self, element: str, **data: Any) -> dict[str, Any]:
        task = self.task(element)
        assert task.form_ref, f"{element} has no form"
        return self.form_data(task, data)

    def complete(self, element: str, **data: Any) -> CommandResult:
        """Claim and complete the only open task at ``element`` as its assignee or its group's demo user: valid
        form data, overridden by ``data``."""
        return complete_at(self.engine, self.instance_id, element, data)

    def do(self, element: str, **data: Any) -> Walk:
        """``complete``, for tests that chain steps."""
        self.complete(element, **data)
        return self

    def message(self, name: str, **payload: Any) -> CommandResult:
        return self.engine.deliver_message(name, instance_id=self.instance_id, payload=payload)

    def lapse(self, days: float) -> Walk:
        """Move the clock on and fire what is due (the scheduler's job in production)."""
        self.clock.advance(timedelta(days=days))
        self.engine.fire_timers(self.instance_id)
        return self

    # The hearing, transfer, package and review scenarios say "advance" for the same step.
    advance = lapse
