"""Demo data: about fifty petitions in every procedure and state, walked through the real engine.

``load_demo`` registers petitions through the registry and drives each one with the engine's own commands
(claim as the demo user of the task's candidate group, complete with valid form data, deliver the
petitioner's messages) to a different point: waiting at the registration check, every non-acceptance case
ended, simple procedure, three-tier transfer, ordinary handling, hearing, review and recheck, leadership
packages, and a few overdue cases whose supervision tasks are open. The engine runs on a ``FrozenClock``
that is moved forward over the last 90 days while loading, so every petition has a history of dated steps,
timers fire when they come due and the escalation ladder runs once a day (warnings, supervision, listing,
patrol findings). At serve time the system clock takes over.

Officials act only in office hours on working days, so a petition's age is counted back from the end in that
working time (``place``): on a Monday morning, after a weekend or after 春节, each petition has the same
office time to reach its state as on any other day, and the load works whatever the hour it is started at.

``petitionflow demo [--count N] [--if-empty]`` runs it (``make serve`` does, on an empty database).

The data it submits and the task walker come from engine/testing.py, which the tests use too.
"""

from __future__ import annotations

import heapq
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from .clock import FrozenClock
from .definitions import latest_definition, read_files
from .errors import InvalidState, PetitionflowError
from .escalation import SUPERVISION_PROCESS
from .models import Escalation, Instance, Petition, ProcessDefinition, Task
from .orgadmin import OrgDocument, parse_document
from .organisation import parse_unit_group
from .testing import GROUP_USERS, complete_at, only_task, open_tasks, today_of

if TYPE_CHECKING:
    from .calendar import StatutoryCalendar
    from .runtime import CommandResult, Engine

# ---------------------------------------------------------------------------------------------------------------
# Petitioners and matters
# ---------------------------------------------------------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈"
)
# fmt: off
GIVEN = (
    "建国", "秀英", "桂兰", "志强", "海燕", "卫东", "丽娟", "永红", "玉梅", "国庆", "春华", "德明", "淑珍", "文斌", "晓燕", "红霞", "建军",
    "凤英", "俊杰", "雪梅", "明辉", "翠花", "国华", "宏伟", "美玲", "振华", "秀兰", "立新", "家豪", "婷婷", "子涵", "浩然", "思雨", "宇航",
)
# fmt: on
STREETS = ("滨江街道", "新华街道", "和平街道", "东湖街道", "南坪街道", "石桥铺街道")
COMMUNITIES = ("幸福里小区", "锦绣花园", "翠湖苑", "阳光新城", "建设村", "人民路社区", "光明小区", "金桥家园")
CHANNELS = (("visit", 4), ("letter", 3), ("web", 4), ("phone", 2))
REGION_CODES = ("500107", "500106", "500108", "500112", "500103")


@dataclass(frozen=True)
class Matter:
    """What a petition is about and whom it concerns."""

    key: str
    unit: str
    category: str
    subject: str
    request: str
    facts: str
    reasons: str
    finding: str  # what the handling unit found
    answer: str  # what it decided


# fmt: off
MATTERS: tuple[Matter, ...] = (
    Matter("noise", "区住房城乡建委", "complaint", "小区旁工地夜间施工噪声扰民",
           "请求责令施工单位停止夜间施工并公示施工许可", "九月以来工地每晚施工至凌晨一时，多次拨打热线未果", "严重影响周边居民休息",
           "经现场核查，施工单位未办理夜间施工许可即连续夜间作业", "已责令施工单位停止夜间施工，并依法立案处罚"),
    Matter("elevator", "区住房城乡建委", "complaint", "老旧小区加装电梯项目停滞",
           "请求协调推进本单元加装电梯", "本单元已有三分之二以上业主签字同意，项目审批停滞半年", "高龄住户上下楼困难",
           "经核查，项目因一楼住户异议暂停，已组织协商", "已组织业主协商并指导完善方案，项目重新进入审批"),
    Matter("fund", "区住房城乡建委", "complaint", "物业公司违规使用专项维修资金",
           "请求查处物业公司违规支取维修资金并公开账目", "物业公司未经业主大会表决支取维修资金二十余万元", "侵害全体业主合法权益",
           "经审计，物业公司有两笔支出未履行表决程序", "已责令物业公司退回违规支取资金并公开账目"),
    Matter("delivery", "区住房城乡建委", "complaint", "商品房逾期交房",
           "请求督促开发商按合同交房并支付违约金", "合同约定六月交房，至今未通过竣工验收", "开发商多次承诺未兑现",
           "经查，项目因消防验收整改延误", "已督促开发商限期整改，明确交房时间并依约赔付"),
    Matter("stall", "区城管局", "complaint", "占道经营夜市油烟扰民",
           "请求取缔小区门口占道夜市", "每晚七时至次日凌晨，小区门口烧烤摊占道经营", "油烟噪声扰民、堵塞消防通道",
           "经夜间巡查，占道经营情况属实", "已依法取缔占道经营，设置疏导点并常态化巡查"),
    Matter("building", "区城管局", "complaint", "楼顶违章搭建影响采光",
           "请求拆除顶楼违章搭建", "顶楼住户在楼顶加盖彩钢房约四十平方米", "存在安全隐患并影响采光",
           "经现场测量，搭建物未取得规划许可", "已下达限期拆除决定书，当事人已自行拆除"),
    Matter("bins", "区城管局", "suggestion", "建议背街小巷增设垃圾分类投放点",
           "建议在老街片区增设分类投放点并定时清运", "老街片区投放点少，垃圾混投现象普遍", "便于居民分类投放",
           "经调研，片区投放点密度低于标准", "已采纳，新增投放点六处"),
    Matter("wages", "区人社局", "complaint", "建筑工地拖欠农民工工资",
           "请求责令总包单位支付拖欠工资八万余元", "在某安置房项目务工五个月，劳务公司拖欠工资", "多次讨要无果，生活困难",
           "经调查，劳务分包单位拖欠十二名工人工资属实", "已责令总包单位先行垫付，工资已全部发放"),
    Matter("pension", "区人社局", "complaint", "社保缴费年限认定有误",
           "请求更正社保缴费年限", "九十年代在国企工作期间的缴费记录未计入", "影响退休待遇核定",
           "经调取档案，该时段视同缴费年限应予认定", "已更正缴费年限并重新核定待遇"),
    Matter("injury", "区人社局", "complaint", "工伤认定久拖不决",
           "请求尽快作出工伤认定决定", "去年在工作中受伤，申请工伤认定已逾四个月", "影响后续治疗和赔偿",
           "经查，因用人单位未提交材料导致程序中止", "已督促用人单位补正材料，作出工伤认定决定"),
    Matter("school", "区教委", "complaint", "子女入学学位分配不公",
           "请求按学区划片安排子女入学", "户籍和房产均在划片范围内，子女却被调剂至较远学校", "违反就近入学政策",
           "经核查，学校学位已满，调剂符合招生办法", "已向信访人解释政策并协调校车接送"),
    Matter("tutoring", "区教委", "complaint", "校外培训机构预付费退费难",
           "请求督促培训机构退还剩余课时费", "培训机构停课后拒绝退还剩余一万二千元课时费", "机构负责人失联",
           "经查，该机构已停业，预付费纳入资金监管", "已启动监管资金退费程序，退费已到账"),
    Matter("afterschool", "区教委", "suggestion", "建议延长小学课后服务时间",
           "建议课后服务延长至下午六时", "双职工家庭下班较晚，接孩子困难", "减轻家长负担",
           "经调研，多数家长有延时需求", "已采纳，试点学校课后服务延长至十八时"),
    Matter("hospital", "区卫健委", "complaint", "医疗纠纷处理不公",
           "请求重新调查医疗事故责任", "家属在区医院手术后出现并发症，医院调解结果不公", "医院未如实提供病历",
           "经组织专家复核，诊疗过程存在告知不充分问题", "已责成医院整改并依法调解赔偿"),
    Matter("clinic", "区卫健委", "complaint", "社区卫生服务中心服务态度差",
           "请求处理服务态度恶劣的工作人员", "就诊时被工作人员呵斥，排队两小时未就诊", "损害群众就医体验",
           "经调取监控，工作人员存在服务不规范问题", "已对相关人员批评教育并优化预约流程"),
    Matter("hukou", "区公安分局", "complaint", "户口迁移办理受阻",
           "请求为子女办理户口迁入", "材料齐全但派出所多次要求补充证明", "影响子女入学",
           "经核查，派出所要求的证明超出规定范围", "已当场办理户口迁入，并对窗口人员批评教育"),
    Matter("subsidy", "滨江街道办事处", "complaint", "低保资格被取消",
           "请求恢复最低生活保障待遇", "家庭收入未变化，低保资格却在年审中被取消", "家中有重病患者，生活困难",
           "经入户核查，年审时家庭收入核算有误", "已恢复低保待遇并补发停发期间保障金"),
    Matter("relocation", "新华街道办事处", "complaint", "征收补偿标准不一",
           "请求按同片区标准补偿", "同一片区征收，邻居补偿标准明显高于本户", "补偿不公",
           "经核查，补偿差异系房屋面积认定不同", "已重新测量面积并补足差额"),
    Matter("cadre", "滨江街道办事处", "accusation", "检举社区干部在低保评定中优亲厚友",
           "请求调查处理社区干部违规为亲属办理低保", "社区干部为其不符合条件的亲属办理低保", "侵害困难群众利益",
           "", ""),
    Matter("gift", "区卫健委", "accusation", "检举某医院科室负责人收受回扣",
           "请求查处科室负责人收受药品回扣问题", "科室负责人长期收受医药代表回扣", "损害公职人员廉洁形象",
           "", ""),
    Matter("verdict", "区人民法院", "complaint", "不服民事判决要求改判",
           "请求撤销一审民事判决", "房屋买卖合同纠纷一审判决认定事实错误", "判决不公",
           "", ""),
    Matter("violation", "区市场监管局", "complaint", "反映执法人员违规收费",
           "请求查处执法人员违规收取罚款不开票据", "执法人员检查时收取罚款未开具票据", "涉嫌违纪",
           "", ""),
    Matter("election", "某街道办事处", "complaint", "对人大代表选举结果有异议",
           "请求重新进行选区选举", "认为选区选民登记存在遗漏", "影响选举公正",
           "", ""),
    Matter("contract", "区人社局", "complaint", "劳动合同纠纷要求赔偿",
           "请求公司支付解除劳动合同经济补偿", "公司未提前通知即解除劳动合同", "违反劳动合同法",
           "", ""),
    Matter("penalty", "区城管局", "complaint", "要求撤销行政处罚决定",
           "请求撤销对本人店铺的行政处罚", "店招更换被认定为违法设置户外广告并罚款", "处罚过重",
           "", ""),
)
# fmt: on
MATTER_BY_KEY = {m.key: m for m in MATTERS}


def resident_id(rng: random.Random) -> str:
    """A well-formed resident ID number (region, birth date, sequence and check digit)."""
    born = date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 52))
    body = f"{rng.choice(REGION_CODES)}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def registration_for(rng: random.Random, matter: Matter, **extra: Any) -> dict[str, Any]:
    """A petition about ``matter`` from a new petitioner, as a registrar types it in (receivedAt is set later)."""
    street, community = rng.choice(STREETS), rng.choice(COMMUNITIES)
    has_id = rng.random() > 0.1
    data: dict[str, Any] = {
        "petitionerName": person_name(rng),
        "idType": "resident_id" if has_id else "none",
        "phone": f"1{rng.choice('3578')}{rng.randint(0, 999_999_999):09d}",
        "address": f"{street}{community}{rng.randint(1, 30)}栋{rng.randint(1, 4)}单元{rng.randint(1, 30)}0{rng.randint(1, 4)}室",
        "channel": rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0],
        "subject": matter.subject,
        "request": matter.request,
        "facts": matter.facts,
        "reasons": matter.reasons,
        "involvedUnit": matter.unit,
        "place": f"{street}{community}",
        "peopleCount": 1,
        "isMajor": False,
        "isUrgent": False,
        "hasAgent": False,
        "category": matter.category,
    }
    if has_id:
        data["idNumber"] = resident_id(rng)
    data.update(extra)
    return data


# ---------------------------------------------------------------------------------------------------------------
# Scenarios: where each petition is walked to
# ---------------------------------------------------------------------------------------------------------------

# A script drives one petition: it acts through its case and yields how many days to wait before going on
# (``_Loader.later`` says what a day is), or the moment to go on at (``_Case.until``).
Script = Callable[["_Case"], Iterator[float | datetime]]


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str  # where the petition is meant to be when loading is done, in words
    # Registered this many days before the end of the history, as days of an ordinary week: the petition gets
    # the working time they hold (five working days in seven), whatever weekends and holidays come before the end.
    age: tuple[float, float]
    script: Script
    matter: str | None = None  # a Matter key; None: chosen at random among complaints
    registration: Mapping[str, Any] = field(default_factory=dict)
    twin_of: str | None = None  # same petitioner and matter as that scenario's petition


class _Case:
    """One petition while it is being loaded: the actions a script takes."""

    def __init__(self, loader: _Loader, scenario: Scenario, rng: random.Random, registration: dict[str, Any]):
        self.loader = loader
        self.engine = loader.engine
        self.scenario = scenario
        self.rng = rng
        self.registration = registration
        self.matter = MATTER_BY_KEY[registration.pop("_matter")]
        self.number = ""
        self.instance_id = ""
        self.finished = False
        self.error: str | None = None

    # -- looking ---------------------------------------------------------------------------------------------------
    @property
    def today(self) -> str:
        return today_of(self.engine).isoformat()

    def open(self) -> list[str]:
        return sorted(t.element_id for t in open_tasks(self.engine, self.instance_id))

    # -- waiting ---------------------------------------------------------------------------------------------------
    def pause(self, low: float, high: float) -> float:
        return self.rng.uniform(low, high)

    def until(self, days_before_end: float) -> datetime:
        """A wait that ends ``days_before_end`` days (of an ordinary week's working time, give or take an hour
        or two) before the end of the history; counted in working time, so a weekend or a holiday just before
        the end does not leave the step after it no office hours to happen in."""
        days = days_before_end + self.rng.uniform(-0.2, 0.2)
        return max(self.engine.now(), self.loader.before_end(days))

    def wait_for(self, element: str, step: float = 1.0) -> Iterator[float]:
        """Wait (a day at a time) until a task at ``element`` is open: a timer or message opens it."""
        while element not in self.open():
            yield step

    # -- acting ----------------------------------------------------------------------------------------------------
    def do(self, element: str, **data: Any) -> None:
        """Complete the task at ``element`` as a member of the unit it belongs to; the matter's unit, named in
        words by the scripts, becomes its code."""
        org = self.loader.org
        if element in UNIT_NAMED_AT:
            data.setdefault("responsibleUnit", self.matter.unit)
        for key in ("responsibleUnit", "packageResponsibleUnit"):
            if key in data:
                data[key] = org.code(data[key])
        task = only_task(self.engine, self.instance_id, element)
        if element == "receive_assignment" and task.unit_code:
            data["handler"] = org.worker(f"unit:{task.unit_code}:handler")
        complete_at(self.engine, self.instance_id, element, data, user=org.worker_of(task))


# -- shared stretches of the way ------------------------------------------------------------------------------


def checked(c: _Case) -> Iterator[float]:
    """The registrar checks the registration (the acceptance review opens)."""
    yield c.pause(0.05, 0.4)
    c.do("register_check")
    if "report_major_urgent" in c.open():
        yield c.pause(0.05, 0.2)
        c.do("report_major_urgent", reportSummary=f"{c.matter.subject}，涉及人数较多，已按规定报告")


def accepted(c: _Case, category: str | None = None, quick: bool = False, **review: Any) -> Iterator[float]:
    yield from checked(c)
    yield c.pause(0.1, 0.4) if quick else c.pause(0.5, 2)
    review = {"acceptanceDecision": "accept", "category": category or c.matter.category, **review}
    c.do("acceptance_review", **review)
    yield c.pause(0.1, 0.6)
    c.do("notice_acceptance", noticeNumber=f"信告〔{c.today[:4]}〕{c.rng.randint(100, 999)}号")


def complaint(c: _Case, quick: bool = False, **review: Any) -> Iterator[float]:
    """Accepted as a complaint under Art. 31 item (6): the simple-procedure check is open."""
    yield from accepted(c, "complaint", quick, **review)
    yield c.pause(0.1, 0.5)
    c.do("classify_complaint", statutoryRoute="other")


def simple(c: _Case) -> Iterator[float]:
    """In the simple procedure: simple_decide is open (3 working days from receipt, so no dawdling)."""
    yield from complaint(c, quick=True)
    yield c.pause(0.05, 0.3)
    c.do("check_simple_eligibility", simpleEligible=True, eligibilityGround="clear_facts")


def to_tier(c: _Case, major: bool = False) -> Iterator[float]:
    """Not fit for the simple procedure: the three-tier transfer's decision is open."""
    yield from complaint(c, majorDifficult=major)
    yield c.pause(0.1, 0.5)
    reason = "major_complex" if major else "likely_rejected"
    c.do("check_simple_eligibility", simpleEligible=False, ineligibleReason=reason)


TIER_TASKS = ("county_decide", "conference_decide", "office_decide")


def decided(c: _Case, unit: str | None = None, **decision: Any) -> Iterator[float]:
    """The open tier decides; the unit signs for the matter."""
    yield c.pause(0.5, 2)
    (tier,) = [t for t in c.open() if t in TIER_TASKS]
    unit = unit or c.matter.unit
    c.do(tier, responsibleUnit=unit, decisionOpinion=f"转送{unit}依法办理", **decision)
    yield c.pause(0.3, 1.5)
    c.do("unit_receipt", receivedBy="张伟")


def transferred(c: _Case, major: bool = False, **decision: Any) -> Iterator[float]:
    """Through the three-tier transfer: ordinary handling's receive_assignment is open."""
    yield from to_tier(c, major)
    yield from decided(c, **decision)
    yield c.pause(0.3, 1.5)
    c.do("unit_respond", unitResponse="accept")


def investigated(c: _Case, days: tuple[float, float] = (3, 8), **investigation: Any) -> Iterator[float]:
    yield from transferred(c)
    yield c.pause(0.5, 1.5)
    c.do("receive_assignment")
    yield c.pause(*days)
    c.do("investigate", verifiedFacts=c.matter.finding or "经调查核实，反映情况基本属实", **investigation)


def opinion(c: _Case, decision: str = "explain", element: str = "draft_opinion") -> None:
    c.do(
        element,
        decision=decision,
        opinionNumber=f"信复〔{c.today[:4]}〕{c.rng.randint(10, 99)}号",
        opinionRequest=c.matter.request,
        opinionFacts=c.matter.finding or "经调查核实，反映情况基本属实",
        opinionReasons=c.matter.answer or "依据有关政策规定",
        legalBasis="《信访工作条例》第三十二条及相关法律法规",
    )


def replied(c: _Case, decision: str = "explain", serve_before_end: float | None = None) -> Iterator[float]:
    """Investigated, the opinion issued and the written reply served (the 30-day review window runs)."""
    yield from investigated(c)
    yield c.pause(2, 4)
    opinion(c, decision)
    yield c.until(serve_before_end) if serve_before_end is not None else c.pause(0.5, 2)
    c.do("serve_reply", receiptNumber=f"HZ-{c.today[:4]}-{c.rng.randint(1000, 9999)}")
    if decision == "support":
        yield c.pause(1, 3)
        c.do("supervise_implementation", implementationNote=c.matter.answer or "处理意见已落实")


def evaluated(c: _Case, rating: str = "satisfied", **more: Any) -> Iterator[float]:
    yield from replied(c)
    yield c.pause(1, 4)
    c.do("evaluate_satisfaction", rating=rating, **more)


def hearing_offered(c: _Case) -> Iterator[float]:
    """The unit proposes a hearing during the investigation: offer_hearing is open."""
    yield from investigated(c, proposeHearing=True, hearingReason="争议较大，需听取各方意见")


def hearing_decided(c: _Case) -> Iterator[float]:
    yield from hearing_offered(c)
    yield c.pause(0.5, 1.5)
    c.do("offer_hearing")
    yield c.pause(1, 2)
    c.do("register_application", petitionerAnswer="apply", representativesCount=1)
    yield c.pause(0.5, 1.5)
    c.do("exclusion_check")


def hearing_organised(c: _Case) -> Iterator[float]:
    """A hearing decided and notified, participants set: hold_hearing waits for the hearing day."""
    yield from hearing_decided(c)
    yield c.pause(0.5, 2)
    c.do("decide_hearing", hearingDecision="hold")
    yield c.pause(0.5, 1.5)
    c.do("notify_hearing")  # the hearing date is ten days after the notice
    yield c.pause(0.5, 2)
    c.do("set_participants")


def review_requested(c: _Case) -> Iterator[float]:
    """Replied; the petitioner asks for 复查 within the 30 days: review_eligibility is open."""
    yield from evaluated(c, rating="dissatisfied", returnVisit=False)
    yield c.pause(1, 2)
    c.do("supervise_dissatisfied", supervisionOpinion="信访人不满意，督促原办理机关做好解释工作")
    yield c.pause(1, 2)
    c.do("return_visit", visitFeedback="信访人仍不满意，表示将申请复查", matterSettled=False)
    yield c.pause(1, 4)
    c.engine.acts.request_review(
        c.number, "review", {"request": f"请求复查：{c.matter.request}"}, actor="registrar"
    )


ELIGIBLE = {
    "ordinaryHandlingMatter": True,
    "hasConcreteRequest": True,
    "withinOriginalScope": True,
    "notAlreadyAccepted": True,
    "filedInTime": True,
}


def reviewed(c: _Case) -> Iterator[float]:
    """Review decided and served: the 30-day recheck window runs."""
    yield from review_requested(c)
    yield c.pause(1, 2)
    c.do("review_eligibility", **ELIGIBLE)
    yield c.pause(3, 6)
    c.do("review_decide", reviewOutcome="uphold")
    yield c.pause(0.5, 2)
    c.do("serve_review")


def recheck_requested(c: _Case) -> Iterator[float]:
    yield from reviewed(c)
    yield c.pause(2, 5)
    c.engine.acts.request_review(c.number, "recheck", {"request": "请求复核"}, actor="registrar")
    yield c.pause(1, 2)
    c.do("recheck_eligibility", **ELIGIBLE, proposeHearing=False)


def package_chosen(c: _Case) -> Iterator[float]:
    """A major matter the county committee packages to a leader: choose_leader and handling are open."""
    yield from transferred(c, major=True, packageToLeader=True)
    yield c.pause(1, 3)
    c.do("choose_leader", packageLedgerNumber=f"BA-{c.today[:4]}-{c.rng.randint(10, 99)}")
    yield c.pause(1, 2)
    c.do("form_team", packageResponsibleUnit=c.matter.unit)
    yield c.pause(0.5, 2)
    c.do("receive_assignment")


DUTIES = ("duty_facts", "duty_thinking", "duty_resolve", "duty_stability", "duty_cessation")


def package_resolved(c: _Case) -> Iterator[float]:
    yield from package_chosen(c)
    for duty in DUTIES:
        yield c.pause(1, 3)
        c.do(duty)
    yield c.pause(1, 3)
    c.do("record_resolution", resolved=True, agreementSigned=True)


# -- the scenarios --------------------------------------------------------------------------------------------


def s_register_check(c: _Case) -> Iterator[float]:
    yield 0


def s_acceptance_review(c: _Case) -> Iterator[float]:
    yield from checked(c)


def s_major_urgent(c: _Case) -> Iterator[float]:
    """A group visit reported as major and urgent: the report and the acceptance review are open."""
    yield c.pause(0.05, 0.3)
    c.do("register_check")


def s_acceptance_overdue(c: _Case) -> Iterator[float]:
    """Nobody reviewed it within 15 days: the diagram's supervision task is open."""
    yield from checked(c)
    yield from c.wait_for("supervise_overdue_acceptance")


def s_acceptance_overdue_supervised(c: _Case) -> Iterator[float]:
    yield from s_acceptance_overdue(c)
    yield c.pause(0.5, 2)
    c.do("supervise_overdue_acceptance", supervisionOpinion="受理审查已超15日，限3日内作出受理决定")


def s_notice_acceptance(c: _Case) -> Iterator[float]:
    yield from checked(c)
    yield c.pause(0.5, 1.5)
    c.do("acceptance_review", acceptanceDecision="accept", category="complaint")


def s_classify(c: _Case) -> Iterator[float]:
    yield from accepted(c, "complaint")


def s_simple_eligibility(c: _Case) -> Iterator[float]:
    yield from complaint(c)


def _not_accepted(decision: str, notice: str, transfer_to: str | None = None) -> Script:
    def script(c: _Case) -> Iterator[float]:
        yield from checked(c)
        yield c.pause(0.5, 3)
        review: dict[str, Any] = {"acceptanceDecision": decision, "decisionReason": REFUSALS[decision]}
        if transfer_to:
            review["transferTo"] = transfer_to
        c.do("acceptance_review", **review)
        yield c.pause(0.2, 1.5)
        c.do(notice, **({"transferTo": transfer_to} if notice.startswith("transfer_") else {}))

    script.__name__ = f"s_not_accepted_{decision}"
    return script


REFUSALS = {
    "litigation": "属于已经或者依法应当通过诉讼解决的事项，依据《信访工作条例》第三十一条转政法机关",
    "discipline": "反映公职人员违纪违法问题，属纪检监察机关职责",
    "skip_level": "越级走访，告知向有权处理的本级机关提出",
    "same_matter_pending": "同一信访事项正在办理期间，不予重复受理",
    "no_review_requested": "对处理意见不服未在规定期限内请求复查，不再受理",
    "terminated": "该事项已经复核终结，不再受理",
    "other_channel": "属于劳动争议，应当通过劳动仲裁途径解决",
    "other_authority": "属于人大及其常委会职权范围，告知向有权机关提出",
}


def s_suggestion_open(c: _Case) -> Iterator[float]:
    yield from accepted(c, "suggestion")


def s_suggestion_done(c: _Case) -> Iterator[float]:
    yield from accepted(c, "suggestion")
    yield c.pause(5, 12)
    c.do("study_suggestion", adoption="adopted", replyContent=c.matter.answer)


def s_accusation_open(c: _Case) -> Iterator[float]:
    yield from accepted(c, "accusation")
    yield c.pause(0.5, 2)
    c.do("transfer_accusation")


def s_accusation_done(c: _Case) -> Iterator[float]:
    yield from s_accusation_open(c)
    yield c.pause(10, 20)
    c.do("record_discipline_result", disciplineResult="经初步核实，对相关人员进行诫勉谈话")


def s_statutory_route(c: _Case) -> Iterator[float]:
    yield from accepted(c, "complaint")
    yield c.pause(0.5, 2)
    c.do("classify_complaint", statutoryRoute="administrative", routeExplanation="告知依法申请行政复议")
    yield c.pause(0.2, 1)
    c.do("notice_statutory_route")


def s_simple_decide(c: _Case) -> Iterator[float]:
    yield from simple(c)


def s_simple_decision_overdue(c: _Case) -> Iterator[float]:
    yield from simple(c)
    yield from c.wait_for("supervise_simple_decision")


def s_simple_answer(c: _Case) -> Iterator[float]:
    yield from simple(c)
    yield c.pause(0.3, 1)
    c.do("simple_decide")


def s_simple_answer_overdue(c: _Case) -> Iterator[float]:
    yield from s_simple_answer(c)
    yield from c.wait_for("supervise_simple_answer")
    yield c.pause(0.5, 2)
    c.do("supervise_simple_answer", supervisionOpinion="简易办理答复超期，限期答复")


def s_simple_evaluate(c: _Case) -> Iterator[float]:
    yield from s_simple_answer(c)
    yield c.pause(2, 5)
    c.do("simple_answer", answerOpinion=c.matter.answer)
    yield c.until(3)
    c.do("simple_serve_reply")


def s_simple_closed(c: _Case) -> Iterator[float]:
    yield from simple(c)
    yield c.pause(0.2, 1)
    c.do("simple_decide", immediateAnswer=True, answerOpinion=c.matter.answer)
    yield c.pause(0.5, 1.5)
    c.do("simple_serve_reply")
    yield c.pause(1, 4)
    c.do("simple_evaluate", rating=c.rng.choice(["satisfied", "basically_satisfied"]))


def s_simple_dissatisfied(c: _Case) -> Iterator[float]:
    yield from s_simple_answer(c)
    yield c.pause(2, 5)
    c.do("simple_answer", decision="explain", answerOpinion=c.matter.answer)
    yield c.pause(0.5, 1.5)
    c.do("simple_serve_reply")
    yield c.pause(1, 3)
    c.do("simple_evaluate", rating="dissatisfied", evaluationComment="问题未得到实际解决")


def s_simple_dissatisfied_closed(c: _Case) -> Iterator[float]:
    yield from s_simple_dissatisfied(c)
    yield c.pause(1, 3)
    c.do("supervise_simple_dissatisfied", supervisionOpinion="督促责任单位做好解释和后续工作")


def s_simple_fallback(c: _Case) -> Iterator[float]:
    yield from simple(c)
    yield c.pause(0.3, 1)
    c.do("simple_decide", simpleFallback=True, fallbackReason="涉及多个责任单位，不宜简易办理")


def s_tier(major: bool) -> Script:
    def script(c: _Case) -> Iterator[float]:
        yield from to_tier(c, major)

    script.__name__ = "s_county_decide" if major else "s_office_decide"
    return script


def s_unit_receipt(c: _Case) -> Iterator[float]:
    yield from to_tier(c)
    yield c.pause(0.5, 2)
    c.do("office_decide", responsibleUnit=c.matter.unit)


def s_unit_respond(c: _Case) -> Iterator[float]:
    yield from to_tier(c)
    yield c.until(6)  # decided and signed for well inside the five working days of the objection period
    yield from decided(c)


def s_objection_lapsed(c: _Case) -> Iterator[float]:
    """The unit signed for the matter and let the five working days pass without a word: it is deemed to
    have accepted it (receive_assignment is open), and the missed step goes to supervision."""
    yield from to_tier(c)
    yield from decided(c)
    yield from c.wait_for("receive_assignment")


def s_objection(c: _Case) -> Iterator[float]:
    yield from to_tier(c)
    yield from decided(c)
    yield c.pause(0.5, 2)
    c.do("unit_respond", unitResponse="object")


def s_objection_approved(c: _Case) -> Iterator[float]:
    yield from s_objection(c)
    yield c.pause(1, 3)
    c.do("objection_review", objectionDecision="approve")
    yield from decided(c, unit="区规划自然资源局")
    yield c.pause(0.5, 2)
    c.do("unit_respond", unitResponse="accept")


def s_assignment_overdue(c: _Case) -> Iterator[float]:
    """Assigned with a 30-day feedback deadline the unit missed: the supervisors' reply request is open."""
    yield from to_tier(c)
    yield from decided(c, disposal="assign", feedbackRequirement="30日内反馈办理结果")
    yield c.pause(0.5, 1.5)
    c.do("unit_respond", unitResponse="accept")
    yield c.pause(1, 2)
    c.do("receive_assignment")
    yield from c.wait_for("supervise_assignment")
    yield c.pause(0.5, 2)
    c.do("supervise_assignment", feedbackStatus="overdue", supervisionReason="no_feedback")


def s_receive_assignment(c: _Case) -> Iterator[float]:
    yield from transferred(c)


def s_investigate(c: _Case) -> Iterator[float]:
    yield from transferred(c)
    yield c.pause(0.5, 2)
    c.do("receive_assignment")


def s_handling_lapsed(c: _Case) -> Iterator[float]:
    """The 60 days ran out during the investigation: supervision is open, the investigation goes on."""
    yield from s_investigate(c)
    yield from c.wait_for("supervise_overdue_handling")


def s_extension_requested(c: _Case) -> Iterator[float]:
    """Within the 60 days the unit asks for the one extension (Art. 34): the head's approval is open."""
    yield from s_investigate(c)
    yield c.pause(15, 25)
    c.engine.acts.request_extension(
        c.number, {"reason": "涉及多个部门会商，需延长办理期限", "days": 30}, actor="handler"
    )


def s_extended(c: _Case) -> Iterator[float]:
    yield from s_extension_requested(c)
    yield c.pause(0.5, 1.5)
    c.do("approve_extension", extensionApproved=True, extensionDays=30, approvedBy="李强")
    yield c.pause(0.2, 1)
    c.do("notify_extension", extensionNoticeNumber=f"信延〔{c.today[:4]}〕{c.rng.randint(1, 99)}号")


def s_extension_refused(c: _Case) -> Iterator[float]:
    yield from s_extension_requested(c)
    yield c.pause(0.5, 1.5)
    c.do(
        "approve_extension",
        extensionApproved=False,
        approvalReason="延期理由不充分，不予批准",
        approvedBy="李强",
    )


def s_draft_opinion(c: _Case) -> Iterator[float]:
    yield from investigated(c)


def s_evaluate(c: _Case) -> Iterator[float]:
    yield from replied(c, "explain", serve_before_end=3)


def s_evaluated(c: _Case) -> Iterator[float]:
    yield from evaluated(c, "satisfied")


def s_implemented(c: _Case) -> Iterator[float]:
    yield from replied(c, "support")
    yield c.pause(1, 3)
    c.do("evaluate_satisfaction", rating="basically_satisfied", returnVisit=True)
    yield c.pause(2, 5)
    c.do("return_visit")


def s_dissatisfied(c: _Case) -> Iterator[float]:
    yield from evaluated(c, "dissatisfied", evaluationComment="对处理结果不满意")


def s_handling_closed(c: _Case) -> Iterator[float]:
    """No review asked for within 30 days: the matter is recorded as terminated and archived."""
    yield from evaluated(c, "satisfied")
    yield from c.wait_for("terminate_no_review")
    yield c.pause(0.2, 1)
    c.do("terminate_no_review", terminationNote="信访人在规定期限内未请求复查，依法终结")
    yield c.pause(0.5, 2)
    c.do("close_and_archive", archiveNumber=f"DA-{c.today[:4]}-{c.rng.randint(1000, 9999)}")


def s_hearing_offer(c: _Case) -> Iterator[float]:
    yield from hearing_offered(c)


def s_hearing_decision_overdue(c: _Case) -> Iterator[float]:
    yield from hearing_decided(c)
    yield from c.wait_for("supervise_decision")


def s_hearing_held(c: _Case) -> Iterator[float]:
    yield from hearing_organised(c)


def s_hearing_concluded(c: _Case) -> Iterator[float]:
    yield from hearing_organised(c)
    yield c.pause(10, 11)  # on the hearing day, ten days after the notice
    c.do("hold_hearing")
    yield c.pause(1, 3)
    c.do("deliberate", hearingConclusion="partial")


def s_review_eligibility(c: _Case) -> Iterator[float]:
    yield from review_requested(c)


def s_review_overdue(c: _Case) -> Iterator[float]:
    yield from review_requested(c)
    yield c.pause(1, 2)
    c.do("review_eligibility", **ELIGIBLE)
    yield from c.wait_for("supervise_review")
    yield c.pause(0.5, 2)
    c.do("supervise_review")


def s_recheck_window(c: _Case) -> Iterator[float]:
    yield from reviewed(c)


def s_recheck_decide(c: _Case) -> Iterator[float]:
    yield from recheck_requested(c)


def s_recheck_final(c: _Case) -> Iterator[float]:
    """复核 decided and served: final (terminated); the handling closes the case."""
    yield from recheck_requested(c)
    yield c.pause(3, 6)
    c.do("recheck_decide", recheckOutcome="uphold")
    yield c.pause(0.5, 1.5)
    c.do("serve_recheck")
    yield c.pause(0.5, 2)
    c.do("close_and_archive")


def s_review_refused(c: _Case) -> Iterator[float]:
    yield from review_requested(c)
    yield c.pause(1, 3)
    c.do("review_eligibility")  # beyond the original request: not accepted
    yield c.pause(0.5, 2)
    c.do("close_and_archive")


def s_package_choose(c: _Case) -> Iterator[float]:
    yield from transferred(c, major=True, packageToLeader=True)


def s_package_duties(c: _Case) -> Iterator[float]:
    yield from package_chosen(c)
    for duty in DUTIES[:2]:
        yield c.pause(1, 3)
        c.do(duty)


def s_package_resolved(c: _Case) -> Iterator[float]:
    yield from package_resolved(c)


def s_same_matter(c: _Case) -> Iterator[float]:
    """Registered again while the matter is still open (a resolved package waits out its confirmation period,
    and hears of the return): not accepted as the same matter is pending."""
    yield from checked(c)
    yield c.pause(0.5, 2)
    c.do(
        "acceptance_review",
        acceptanceDecision="same_matter_pending",
        decisionReason=REFUSALS["same_matter_pending"],
    )
    yield c.pause(0.2, 1)
    c.do("notice_same_matter")


def _scenarios() -> tuple[Scenario, ...]:
    """Every scenario, in the order a smaller count takes them: the first eighteen reach every procedure."""
    S = Scenario
    group = {
        "peopleCount": 30,
        "representatives": "王建国、李秀英、张卫东",
        "isMajor": True,
        "isUrgent": True,
    }
    agent = {
        "hasAgent": True,
        "agentName": "刘律师",
        "agentPhone": "13912345678",
        "authorisationReceived": True,
    }
    return (
        S("register_check", "待登记核对", (0.2, 1.5), s_register_check),
        S("handling_lapsed", "办理超期，督办中，调查继续", (76, 80), s_handling_lapsed, "wages"),
        S("objection_lapsed", "异议期满视为接收，待确定承办人", (22, 28), s_objection_lapsed, "fund"),
        S("office_decide", "信访办待转送交办", (6.5, 9), s_tier(False)),
        S("hearing_held", "听证待举行", (40, 44), s_hearing_held, "relocation"),
        S("recheck_decide", "复核待决定", (84, 87), s_recheck_decide, "hospital"),
        S("package_duties", "包案领导履职中", (24, 30), s_package_duties, "delivery"),
        S("acceptance_overdue", "受理超期，督办中", (18, 24), s_acceptance_overdue, "fund"),
        S(
            "not_accepted_litigation",
            "涉诉转政法机关",
            (20, 60),
            _not_accepted("litigation", "transfer_political_legal", "区委政法委"),
            "verdict",
        ),
        S("suggestion_done", "建议已答复", (25, 60), s_suggestion_done, "bins"),
        S("accusation_open", "检举控告，待纪检监察结果", (15, 30), s_accusation_open, "cadre"),
        S("handling_closed", "普通程序办结（未请求复查）", (86, 89), s_handling_closed, "pension"),
        S("simple_closed", "简易办理办结", (20, 50), s_simple_closed, "clinic"),
        S("extension_requested", "延期待审批", (50, 56), s_extension_requested, "wages"),
        S("recheck_final", "复核终结", (87, 89), s_recheck_final, "elevator"),
        S("evaluate", "待满意度评价", (22, 30), s_evaluate, "school"),
        S("simple_decision_overdue", "简易办理决定超期，督办中", (9, 13), s_simple_decision_overdue),
        S("objection", "责任单位提出异议，待审核", (12, 16), s_objection, "building"),
        S("acceptance_review", "待受理审查", (1, 4), s_acceptance_review),
        S("major_urgent", "重大紧急，待报告和受理审查", (0.5, 2), s_major_urgent, "relocation", group),
        S(
            "not_accepted_discipline",
            "转纪检监察机关",
            (20, 70),
            _not_accepted("discipline", "transfer_discipline", "区纪委监委"),
            "violation",
        ),
        S(
            "not_accepted_skip_level",
            "越级走访不予受理",
            (10, 50),
            _not_accepted("skip_level", "notice_skip_level", "区信访局"),
            None,
            {"skipLevel": True},
        ),
        S(
            "not_accepted_no_review",
            "未申请复查不予受理",
            (10, 60),
            _not_accepted("no_review_requested", "notice_no_review"),
        ),
        S(
            "not_accepted_terminated",
            "终结事项不再受理",
            (10, 60),
            _not_accepted("terminated", "notice_terminated"),
        ),
        S(
            "not_accepted_other_channel",
            "导入劳动仲裁",
            (10, 80),
            _not_accepted("other_channel", "notice_other_channel", "区劳动人事争议仲裁委员会"),
            "contract",
        ),
        S(
            "not_accepted_other_authority",
            "告知向人大提出",
            (10, 80),
            _not_accepted("other_authority", "notice_other_authority", "区人大常委会"),
            "election",
        ),
        S("extended", "已延期，继续调查", (82, 86), s_extended, "injury"),
        S("dissatisfied", "不满意，督办中", (35, 45), s_dissatisfied, "hukou"),
        S("review_overdue", "复查超期已督办，待决定", (80, 84), s_review_overdue, "noise"),
        S("package_resolved", "已化解，确认期内", (55, 62), s_package_resolved, "elevator"),
        S("package_returned", "已化解后返流，待登记返流", (58, 64), s_package_resolved, "tutoring"),
        S("returned_again", "同一事项在办不予受理", (6, 12), s_same_matter, twin_of="package_returned"),
        S("county_decide", "县委待研究转交办", (6.5, 9), s_tier(True), "relocation"),
        S("simple_dissatisfied", "简易办理不满意，督办中", (14, 20), s_simple_dissatisfied, "tutoring"),
        S("conference_decide", "初转重，联席会议待研究", (6.5, 9), s_tier(False), twin_of="simple_closed"),
        S("assignment_overdue", "交办件超期，待书面答复督办", (48, 55), s_assignment_overdue, "fund"),
        S("investigate", "调查核实中", (20, 30), s_investigate, "subsidy"),
        S("hearing_offer", "待告知听证权利", (22, 30), s_hearing_offer, "injury"),
        S("hearing_decision_overdue", "听证决定超期，督办中", (40, 46), s_hearing_decision_overdue, "fund"),
        S("review_eligibility", "复查申请待审查", (60, 70), s_review_eligibility, "delivery"),
        S("package_choose", "待确定包案领导", (10, 16), s_package_choose, "wages"),
        S("statutory_route", "导入行政复议", (15, 60), s_statutory_route, "penalty"),
        S("accusation_done", "检举控告办结", (40, 80), s_accusation_done, "gift"),
        S("evaluated", "已评价，复查请求期内", (35, 50), s_evaluated, "stall"),
        S("extension_refused", "延期未获批准，超期督办", (80, 84), s_extension_refused, "noise"),
        S(
            "simple_answer_overdue",
            "简易办理答复超期已督办",
            (20, 26),
            s_simple_answer_overdue,
            "afterschool",
        ),
        S(
            "simple_dissatisfied_closed",
            "简易办理办结（不满意已督办）",
            (30, 60),
            s_simple_dissatisfied_closed,
            "hukou",
            agent,
        ),
        S("hearing_concluded", "听证结束，待出具处理意见", (55, 62), s_hearing_concluded, "relocation"),
        S("recheck_window", "复查意见已送达，复核请求期内", (55, 62), s_recheck_window, "clinic"),
        S("review_refused", "复查不予受理，已结案", (75, 80), s_review_refused, "school"),
        S("simple_fallback", "简易转普通程序，待转送", (5, 10), s_simple_fallback),
        S("suggestion_open", "建议待研究答复", (5, 20), s_suggestion_open, "afterschool"),
        S(
            "acceptance_overdue_supervised",
            "受理超期已督办",
            (20, 28),
            s_acceptance_overdue_supervised,
            "wages",
        ),
        S("simple_evaluate", "简易办理待评价", (8, 14), s_simple_evaluate),
        S("unit_receipt", "责任单位待签收", (9, 12), s_unit_receipt),
        S("unit_respond", "已签收，异议期内", (13, 16), s_unit_respond),
        S("objection_approved", "异议成立，改由他单位办理", (15, 22), s_objection_approved, "building"),
        S("receive_assignment", "待确定承办人", (15, 20), s_receive_assignment),
        S("draft_opinion", "待出具处理意见", (18, 26), s_draft_opinion),
        S("implemented", "处理意见已落实并回访", (40, 55), s_implemented, "wages"),
        S("simple_decide", "待简易办理决定", (3.2, 3.9), s_simple_decide),
        S("simple_answer", "简易办理，待出具处理意见", (4, 6), s_simple_answer),
        S("notice_acceptance", "待出具受理告知书", (3.5, 5), s_notice_acceptance),
        S("classify", "待依法分类", (5, 8), s_classify),
        S("simple_eligibility", "待简易办理适用审查", (6, 8), s_simple_eligibility),
        S("register_check_web", "网上信访，待登记核对", (0.1, 1), s_register_check, None, {"channel": "web"}),
    )


SCENARIOS: tuple[Scenario, ...] = _scenarios()


# ---------------------------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------------------------

HISTORY_DAYS = 90
LADDER_HOUR_UTC = 0  # the escalation ladder and the patrol run at 08:00 Beijing every day
OFFICE_OPENS, OFFICE_CLOSES = 9, 17  # hours, Beijing
# A scenario's age, in days of an ordinary week, is this much working time: five working days in seven.
WORKING_SHARE = 5 / 7
LONGEST_WALK_DAYS = 400  # a year's holidays never hold this many days without an office day
PROCEDURES = (
    "hearing",
    "review_recheck",
    "leadership_package",
    "ordinary_handling",
    "three_tier_transfer",
    "simple_procedure",
    "petition_intake",
)
PROCEDURE_NAMES = {
    "petition_intake": "登记受理",
    "simple_procedure": "简易办理",
    "three_tier_transfer": "三级转交办",
    "ordinary_handling": "普通程序",
    "hearing": "听证",
    "review_recheck": "复查复核",
    "leadership_package": "领导包案",
    "supervision": "督查督办",
    "ended": "已结束",
}


@dataclass
class DemoPetition:
    number: str
    scenario: str
    label: str  # where the scenario means to leave it
    procedure: str  # where it is now: a process key, or "ended"
    state: str  # the open task elements (or waiting events), or the ended petition's status and outcome
    finished: bool  # its script ran to the end
    error: str | None = None


@dataclass
class DemoReport:
    petitions: list[DemoPetition]
    escalations: dict[str, int]
    supervision_open: int
    supervision_closed: int
    started: datetime  # the first day of the history
    ended: datetime
    seconds: float

    @property
    def failures(self) -> list[DemoPetition]:
        return [p for p in self.petitions if p.error or not p.finished]

    def spread(self) -> Counter[tuple[str, str]]:
        """How many petitions are at each (procedure, state)."""
        return Counter((p.procedure, p.state) for p in self.petitions)

    def procedures(self) -> set[str]:
        return {p.procedure for p in self.petitions}

    def format(self) -> str:
        lines = [
            f"{len(self.petitions)} demo petitions, history {self.started:%Y-%m-%d} .. {self.ended:%Y-%m-%d}, "
            f"loaded in {self.seconds:.1f} s"
        ]
        by_procedure = Counter(p.procedure for p in self.petitions)
        spread = sorted(self.spread().items())
        order = [*reversed(PROCEDURES), "ended"]
        for procedure in sorted(by_procedure, key=lambda k: order.index(k) if k in order else len(order)):
            name = PROCEDURE_NAMES.get(procedure, procedure)
            lines.append(f"  {name} ({procedure}): {by_procedure[procedure]}")
            for (proc, state), n in spread:
                if proc == procedure:
                    lines.append(f"    {n:>3}  {state}")
        lines.append(
            f"  督查督办 (supervision): {self.supervision_open} open, {self.supervision_closed} closed"
        )
        kinds = ", ".join(
            f"{k} {self.escalations.get(k, 0)}" for k in ("warning", "supervision", "listing", "patrol")
        )
        lines.append(f"  escalations: {kinds}")
        for p in self.failures:
            problem = p.error or "did not get there before the end of the history"
            lines.append(f"  ! {p.number or '-'} {p.scenario} ({p.label}): {problem}")
        return "\n".join(lines)


def office_moment(
    calendar: StatutoryCalendar, moment: datetime, office_days: float, *, backward: bool = False
) -> datetime:
    """The moment ``office_days`` office days after ``moment`` (or before it, ``backward``), counting only office
    hours (09:00-17:00 Beijing on the calendar's working days): the time officials can act in. With 0, the
    moment itself in office hours; out of hours, the next opening (backward: the last closing)."""
    tz = calendar.tz
    local = moment.astimezone(tz)
    left = timedelta(hours=office_days * (OFFICE_CLOSES - OFFICE_OPENS))
    day = local.date()
    for _ in range(LONGEST_WALK_DAYS):
        if calendar.is_working_day(day):
            midnight = datetime.combine(day, datetime.min.time(), tzinfo=tz)
            opens = midnight + timedelta(hours=OFFICE_OPENS)
            closes = midnight + timedelta(hours=OFFICE_CLOSES)
            # Only the first day is cut at ``moment``; every later one lies wholly on the far side of it.
            low, high = (opens, min(closes, local)) if backward else (max(opens, local), closes)
            if low < high:
                if left <= high - low:
                    return (high - left if backward else low + left).astimezone(UTC)
                left -= high - low
        day += timedelta(days=-1 if backward else 1)
    raise InvalidState(f"no office hours within {LONGEST_WALK_DAYS} days of {moment.isoformat()}")


@dataclass
class Placement:
    """Where one demo petition's history starts: decided before anything is loaded, from the end alone."""

    scenario: Scenario
    age: float  # days of an ordinary week before the end (``Scenario.age``)
    registered: datetime  # an office moment with ``age * WORKING_SHARE`` office days left before the end
    rng: random.Random  # the petition's own randomness, which its loading goes on drawing from


def place(calendar: StatutoryCalendar, end: datetime, count: int, seed: int) -> list[Placement]:
    """Where each of ``count`` demo petitions is registered for a history that ends at ``end``.

    Ages are counted back in working time, not calendar time: a petition two days old on a Monday morning was
    registered on Thursday, not on Saturday (pushed to Monday 09:00 it would have no time left to reach its
    state). So every scenario gets the same office time at any hour of any day, and a holiday before the end
    only stretches its history in calendar days."""
    rng = random.Random(seed)
    # The first ``count`` scenarios; past the end of the list, again from the start with new petitioners.
    chosen = [SCENARIOS[i % len(SCENARIOS)] for i in range(count)]
    placements = []
    for scenario in chosen:
        case_rng = random.Random(rng.random())
        age = case_rng.uniform(*scenario.age)
        registered = office_moment(calendar, end, age * WORKING_SHARE, backward=True)
        placements.append(Placement(scenario, age, registered, case_rng))
    return placements


# The demo county's organisation (docs/organisation.md): units, people and their accounts.
COUNTY_FILE = Path(__file__).resolve().parent / "data" / "county.yaml"
# Tasks whose forms name the unit the matter goes to (a suggestion's, a simple procedure's).
UNIT_NAMED_AT = ("acceptance_review", "check_simple_eligibility")


def county_document() -> OrgDocument:
    return parse_document(COUNTY_FILE.read_text(encoding="utf-8"))


def load_county(engine: Engine) -> str:
    """Load the demo county with its people's accounts (password = login); loading it again changes nothing.
    Returns what was loaded."""
    return engine.orgadmin.load(county_document(), "demo", accounts=True, demo=True).format()


class _Org:
    """The organisation as the demo scripts use it: a unit's code by its name, the person who works a task."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.codes = {unit.name: unit.code for unit in engine.organisation.units()}
        self.workers: dict[str, str] = dict(GROUP_USERS)

    def code(self, unit: str) -> str:
        return self.codes.get(unit, unit)

    def worker(self, group: str) -> str:
        """The first member holding ``group`` (a unit role), else the demo office's user of that group."""
        if group not in self.workers:
            parsed = parse_unit_group(group)
            staff = self.engine.organisation.staff(*parsed) if parsed else []
            self.workers[group] = staff[0].login if staff else "admin"
        return self.workers[group]

    def worker_of(self, task: Task) -> str:
        if task.assignee:
            return task.assignee
        return self.worker(task.candidate_groups[0]) if task.candidate_groups else "admin"


class _Loader:
    """Runs every case's script on one timeline, moving the frozen clock forward and firing what comes due."""

    def __init__(self, engine: Engine, clock: FrozenClock, start: datetime, end: datetime, seed: int) -> None:
        self.engine = engine
        self.org = _Org(engine)
        self.clock = clock
        self.start = start
        self.end = end
        self.rng = random.Random(seed)
        self.timers: dict[str, datetime] = {}  # instance -> earliest due timer, kept by the engine's listener
        self.queue: list[tuple[datetime, int, Any]] = []
        self.order = itertools.count()
        self.next_tick = datetime.combine(start.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        self.next_tick += timedelta(hours=LADDER_HOUR_UTC)
        self.supervisions: set[str] = set()

    # -- time ------------------------------------------------------------------------------------------------------
    def on_result(self, result: CommandResult) -> None:
        if result.next_timer_at is None:
            self.timers.pop(result.instance_id, None)
        else:
            self.timers[result.instance_id] = result.next_timer_at

    def later(self, moment: datetime, days: float) -> datetime:
        """When an action ``days`` after ``moment`` happens: a fraction of a day is that much of an office day's
        working time (carried over to the next one after closing time); whole days are calendar days (waiting
        runs through weekends and holidays), ending in office hours a little after the next opening. Never out
        of hours: what would happen after the end of the history does not happen."""
        if days < 1:
            return office_moment(self.engine.calendar, moment, days)
        moment += timedelta(days=days)
        opens = office_moment(self.engine.calendar, moment, 0)
        return moment if opens == moment else opens + timedelta(minutes=self.rng.randint(0, 150))

    def before_end(self, days: float) -> datetime:
        """The moment ``days`` of an ordinary week (in working time, as ages are) before the end."""
        return office_moment(self.engine.calendar, self.end, days * WORKING_SHARE, backward=True)

    def advance(self, target: datetime) -> None:
        """Move the clock to ``target``, firing timers as they come due and running the daily ladder."""
        while True:
            due = min(self.timers.values(), default=None)
            fire_at = due + timedelta(seconds=1) if due is not None else None
            step = min(x for x in (fire_at, self.next_tick) if x is not None)
            if step > target:
                break
            if step > self.clock.now():
                self.clock.set(step)
            if fire_at is not None and fire_at <= step:
                for instance_id, at in sorted(self.timers.items(), key=lambda item: item[1]):
                    if at < self.clock.now():
                        self.fire(instance_id)
            if self.next_tick <= self.clock.now():
                self.daily()
                self.next_tick += timedelta(days=1)
        if target > self.clock.now():
            self.clock.set(target)

    def fire(self, instance_id: str) -> None:
        self.timers.pop(instance_id, None)
        if self.engine.fire_timers(instance_id) is None:
            # Nothing was due after all: keep following the instance's real next timer.
            with self.engine.db.reading() as session:
                row = session.get(Instance, instance_id)
            due = row.next_timer_at if row is not None and row.state == "active" else None
            if due is not None and due > self.clock.now():
                self.timers[instance_id] = due

    def daily(self) -> None:
        """The scheduler's escalation ladder and the patrol; supervision procedures it started get worked."""
        self.engine.escalations.run()
        self.engine.escalations.patrol()
        with self.engine.db.reading() as session:
            started = set(
                session.scalars(select(Instance.id).where(Instance.definition_key == SUPERVISION_PROCESS))
            )
        for instance_id in sorted(started - self.supervisions):
            # Every third unit has not replied yet.
            self.schedule(
                self.clock.now(), _SupervisionRun(self, instance_id, len(self.supervisions) % 3 != 2)
            )
            self.supervisions.add(instance_id)

    # -- running -----------------------------------------------------------------------------------------------------
    def schedule(self, at: datetime, run: Any) -> None:
        heapq.heappush(self.queue, (at, next(self.order), run))

    def run(self) -> None:
        while self.queue:
            at, _, run = heapq.heappop(self.queue)
            if at >= self.end:
                continue
            self.advance(at)
            wait = run.step()
            if isinstance(wait, datetime):
                self.schedule(max(wait, self.clock.now()), run)
            elif wait is not None:
                self.schedule(self.later(self.clock.now(), wait), run)
        self.advance(self.end)
        self.daily()


class _CaseRun:
    """A case's script as one runnable thread of the timeline: registers, then steps through the script."""

    def __init__(self, loader: _Loader, case: _Case) -> None:
        self.loader = loader
        self.case = case
        self.script: Iterator[float | datetime] | None = None

    def step(self) -> float | datetime | None:
        case = self.case
        try:
            if self.script is None:
                self.register()
                self.script = case.scenario.script(case)
            return next(self.script)
        except StopIteration:
            case.finished = True
        except PetitionflowError as error:
            case.error = f"{type(error).__name__}: {error.message}"
        except Exception as error:  # a script that no longer fits the diagrams: report it, load the others
            case.error = f"{type(error).__name__}: {error}"
        return None

    def register(self) -> None:
        case, engine = self.case, self.loader.engine
        data = dict(case.registration)
        data["receivedAt"] = today_of(engine).isoformat()
        case.registration = {k: v for k, v in data.items() if k not in ("category", "skipLevel")}
        petition, result = engine.petitions.register(data, actor="registrar")
        case.number, case.instance_id = petition.number, result.instance_id


class _SupervisionRun:
    """A supervision procedure the ladder started: the supervisor issues the notice and, unless ``reply`` is
    false, the unit replies in writing a few days later."""

    def __init__(self, loader: _Loader, instance_id: str, reply: bool) -> None:
        self.script = self._walk(loader, instance_id, reply)

    @staticmethod
    def _walk(loader: _Loader, instance_id: str, reply: bool) -> Iterator[float]:
        yield loader.rng.uniform(0.3, 1.5)
        complete_at(loader.engine, instance_id, "issue_supervision")
        if reply:
            yield loader.rng.uniform(2, 6)
            complete_at(loader.engine, instance_id, "unit_reply")

    def step(self) -> float | None:
        try:
            return next(self.script)
        except (StopIteration, PetitionflowError):
            return None


DEMO_PROCESSES = (
    "petition_intake",
    "simple_procedure",
    "three_tier_transfer",
    "ordinary_handling",
    "hearing",
    "review_recheck",
    "leadership_package",
    SUPERVISION_PROCESS,
)


def has_petitions(engine: Engine) -> bool:
    with engine.db.reading() as session:
        return session.scalar(select(Petition.id).limit(1)) is not None


def deploy_if_missing(engine: Engine) -> list[Path]:
    """Deploy the settings' workflows and forms folders when a procedure the demo walks is not deployed;
    returns what was deployed."""
    with engine.db.reading() as session:
        missing = [key for key in DEMO_PROCESSES if latest_definition(session, key) is None]
    if not missing:
        return []
    paths = [engine.settings.workflows_path, engine.settings.forms_path]
    engine.deploy(read_files(paths), name="demo", source="petitionflow demo")
    return paths


def load_demo(engine: Engine, *, count: int = 50, seed: int = 20261122) -> DemoReport:
    """Register ``count`` petitions and walk each to a different point over the 90 days (more when holidays
    come before the end) before the engine's clock, which must be a FrozenClock (it is moved forward to where it was). The workflows and forms must be
    deployed. Returns where every petition ended up and what the escalation ladder recorded."""
    clock = engine.clock
    if not isinstance(clock, FrozenClock):
        raise InvalidState("load_demo drives the engine's clock: give the engine a FrozenClock")
    began = time.perf_counter()
    end = clock.now()
    placements = place(engine.calendar, end, count, seed)
    # Holidays before the end stretch the older histories past the usual 90 days.
    start = min([end - timedelta(days=HISTORY_DAYS), *(p.registered for p in placements)])
    # The petitions go to the demo county's units (their accounts come with `petitionflow demo`).
    engine.orgadmin.load(county_document(), "demo", accounts=False)
    loader = _Loader(engine, clock, start, end, seed)
    clock.set(start)
    people: dict[str, dict[str, Any]] = {}
    cases: list[_Case] = []
    for index, placement in enumerate(placements):
        scenario, case_rng = placement.scenario, placement.rng
        if scenario.twin_of in people and index < len(SCENARIOS):
            registration = dict(people[scenario.twin_of])
        else:
            matter = MATTER_BY_KEY.get(scenario.matter or "") or case_rng.choice(
                [m for m in MATTERS if m.category == "complaint" and m.finding]
            )
            registration = {
                **registration_for(case_rng, matter, **scenario.registration),
                "_matter": matter.key,
            }
        if index < len(SCENARIOS):
            people.setdefault(scenario.key, dict(registration))
        case = _Case(loader, scenario, case_rng, registration)
        cases.append(case)
        loader.schedule(placement.registered, _CaseRun(loader, case))
    engine.listeners.append(loader.on_result)
    try:
        loader.run()
    finally:
        engine.listeners.remove(loader.on_result)
        clock.set(max(clock.now(), end))
    processes = element_processes(engine)
    petitions = [_where(engine, case, processes) for case in cases]
    with engine.db.reading() as session:
        supervisions = dict(
            session.execute(
                select(Instance.state, func.count())
                .where(Instance.definition_key == SUPERVISION_PROCESS)
                .group_by(Instance.state)
            ).all()
        )
    return DemoReport(
        petitions=petitions,
        escalations=_escalation_counts(engine),
        supervision_open=supervisions.get("active", 0),
        supervision_closed=supervisions.get("completed", 0),
        started=start,
        ended=end,
        seconds=time.perf_counter() - began,
    )


# ---------------------------------------------------------------------------------------------------------------
# Where the petitions are
# ---------------------------------------------------------------------------------------------------------------


WAITING_KINDS = ("EventBasedGateway", "IntermediateCatchEvent", "ReceiveTask")


def element_processes(engine: Engine) -> dict[str, tuple[str, str]]:
    """Element id -> (the process it belongs to, its kind), over the latest deployed definitions; embedded
    sub-processes count as their process's. Ids that several processes use are left out."""
    owners: dict[str, set[tuple[str, str]]] = {}
    with engine.db.reading() as session:
        latest = (
            select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("version"))
            .group_by(ProcessDefinition.key)
            .subquery()
        )
        rows = session.execute(
            select(ProcessDefinition.id, ProcessDefinition.key, ProcessDefinition.spec_json).join(
                latest,
                (ProcessDefinition.key == latest.c.key) & (ProcessDefinition.version == latest.c.version),
            )
        ).all()
    keys = {key for _, key, _ in rows}
    for definition_id, key, spec_json in rows:
        spec, subprocesses = engine.codec.specs_for(definition_id, spec_json)
        own_file = getattr(spec, "file", None)
        embedded = [
            sub
            for name, sub in subprocesses.items()
            if name not in keys and getattr(sub, "file", None) == own_file
        ]
        for process in (spec, *embedded):
            for task_spec in process.task_specs.values():
                bpmn_id = getattr(task_spec, "bpmn_id", None)
                if bpmn_id:
                    owners.setdefault(bpmn_id, set()).add((key, type(task_spec).__name__))
    return {element: next(iter(found)) for element, found in owners.items() if len(found) == 1}


def petition_state(
    engine: Engine, number: str, elements: Mapping[str, tuple[str, str]] | None = None
) -> tuple[str, str]:
    """(procedure, state) of a petition: the innermost procedure it is in and its open tasks and the events it
    waits for there, or ("ended", its status and outcome)."""
    elements = elements if elements is not None else element_processes(engine)
    with engine.db.reading() as session:
        petition = session.scalars(select(Petition).where(Petition.number == number)).one()
        row = session.get(Instance, petition.instance_id) if petition.instance_id else None
        tasks = sorted(
            session.scalars(select(Task.element_id).where(Task.instance_id == petition.instance_id))
        )
    if row is None or row.state not in ("active", "suspended"):
        return "ended", petition.status + (f" ({petition.outcome})" if petition.outcome else "")
    waiting = sorted(e for e in row.active_elements or [] if elements.get(e, ("", ""))[1] in WAITING_KINDS)
    # Where people have work to do; where the petition waits for an event only if nobody has.
    here = {elements[e][0] for e in tasks or waiting if e in elements}
    procedure = next((p for p in PROCEDURES if p in here), row.definition_key)
    return procedure, " + ".join(tasks + waiting) or "-"


def _where(engine: Engine, case: _Case, processes: Mapping[str, tuple[str, str]]) -> DemoPetition:
    scenario = case.scenario
    if not case.number:
        return DemoPetition("", scenario.key, scenario.label, "-", "-", False, case.error)
    procedure, state = petition_state(engine, case.number, processes)
    return DemoPetition(
        case.number, scenario.key, scenario.label, procedure, state, case.finished, case.error
    )


def _escalation_counts(engine: Engine) -> dict[str, int]:
    with engine.db.reading() as session:
        rows = session.execute(select(Escalation.kind, func.count()).group_by(Escalation.kind)).all()
    return {kind: n for kind, n in rows}
