"""What the tests of the petitioner's side share: an online petition, the office's acts through the REST API,
and a reading of the query code from the outbox as the SMS gateway would read it.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import re
from typing import Any

from tests.api_helpers import Api

# Same origin, as a browser sends it with every POST from the public pages.
ORIGIN = {"Origin": "http://localhost"}

ONLINE = {
    "petitionerName": "欧阳晓梅",
    "idType": "resident_id",
    "idNumber": "11010519491231002X",
    "phone": "13912345678",
    "address": "重庆市九龙坡区谢家湾正街88号",
    "subject": "小区旁工地夜间施工噪声扰民",
    "request": "请求责令施工单位停止夜间施工",
    "facts": "工地连续两周每晚施工至凌晨两点",
    "reasons": "严重影响周边居民休息",
    "involvedUnit": "区住房城乡建委",
    "place": "谢家湾街道",
    "peopleCount": 1,
    "consent": True,
}
# What the petitioner typed that must never reach a log (the phone also as the gateway sees it).
PERSONAL = ("欧阳晓梅", "11010519491231002X", "13912345678", "谢家湾正街88号")
# The unit the office transfers to: its code (lists, the board and the metrics name it so), its name (the
# petitioner's pages show it).
UNIT_CODE = "county.zjw"
UNIT = "区住房城乡建委"

# The office's acts, each by the demo user of the task's group, up to the transfer and up to the reply.
TO_TRANSFER: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("office", "acceptance_review", {"acceptanceDecision": "accept", "category": "complaint"}),
    ("office", "notice_acceptance", {}),
    ("office", "classify_complaint", {"statutoryRoute": "other"}),
    ("office", "check_simple_eligibility", {"simpleEligible": False}),
    ("office", "office_decide", {"disposal": "transfer", "responsibleUnit": UNIT_CODE}),
    ("handler", "unit_receipt", {}),
    ("handler", "unit_respond", {"unitResponse": "accept"}),
)
TO_REPLY: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("handler", "receive_assignment", {}),
    ("handler", "investigate", {"proposeHearing": False}),
    ("handler", "draft_opinion", {"decision": "explain", "opinionFacts": "经现场核查，夜间施工已停止"}),
    ("handler", "serve_reply", {}),
)


def check_registration(api: Api, number: str) -> None:
    """The registrar confirms the online registration as the petitioner filled it in."""
    registrar = api.as_("registrar")
    task = registrar.task_at(number, "register_check")
    registrar.claim(task["id"])
    registrar.complete(task["id"], {"checkResult": "confirmed"})


def office_acts(api: Api, number: str, steps: tuple[tuple[str, str, dict[str, Any]], ...]) -> None:
    for user, element, overrides in steps:
        api.as_(user).do(number, element, **overrides)


def issue_acceptance_notice(api: Api, number: str) -> tuple[Any, str, dict[str, Any]]:
    """The office accepts the item and issues its acceptance notice (not yet served): the office's caller, the
    item's documents address and the notice."""
    office_acts(api, number, TO_TRANSFER[:1])
    office = api.as_("office")
    task = office.task_at(number, "notice_acceptance")
    office.claim(task["id"])
    url = f"/api/petitions/{number}/documents"
    return office, url, office.ok("POST", url, 201, json={"kind": "acceptance", "taskId": task["id"]})


def code_from_outbox(api: Api, number: str) -> str:
    """The query code as the SMS gateway reads it from the outbox (GET /api/admin/outbox)."""
    rows = api.as_("admin").ok("GET", "/api/admin/outbox", query_string={"status": "pending"})
    [text] = [r["text"] for r in rows if r["businessKey"] == number]
    found = re.search(r"查询码([0-9A-Z]{5}-[0-9A-Z]{5})", text)
    assert found, text
    return found.group(1)
