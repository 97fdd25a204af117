"""The petitioner's side through /api/public: online submission, the query code, the public view, the
evaluation and the supervision a 不满意 opens; and the registrar recording the same evaluation at the counter."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine import public
from engine.runtime import Engine
from tests.api_helpers import Api, assert_error
from tests.public_helpers import (
    ONLINE,
    ORIGIN,
    TO_REPLY,
    TO_TRANSFER,
    UNIT,
    UNIT_CODE,
    check_registration,
    code_from_outbox,
    issue_acceptance_notice,
    office_acts,
)

pytest_plugins = ("tests.api_helpers",)
pytestmark = pytest.mark.filterwarnings("ignore::engine.calendar.CalendarYearMissing")


def submit(api: Api, **changes: object) -> dict:
    return api.anonymous.ok("POST", "/api/public/petitions", 201, json={**ONLINE, **changes}, headers=ORIGIN)


def lookup(api: Api, number: str, code: str) -> dict:
    body = {"number": number, "code": code}
    return api.anonymous.ok("POST", "/api/public/lookup", json=body, headers=ORIGIN)


def test_the_code_has_fifty_bits_and_is_read_as_crockford_reads_it() -> None:
    assert len(public.CODE_ALPHABET) ** public.CODE_LENGTH >= 2**50
    code = public.new_code()
    stored = public.hash_code(code)
    assert code not in stored and public.code_matches(code, stored)
    typed = public.shown_code(code).lower().replace("0", "o").replace("1", "l")
    assert public.code_matches(public.normal_code(typed), stored)
    assert not public.code_matches(public.new_code(), stored)
    assert not public.code_matches(code, None)


def test_an_online_petition_is_registered_on_the_web_channel_and_its_code_is_queued(
    api: Api, deployed: Engine
) -> None:
    done = submit(api)
    assert done["delivery"]["sent"] is False and "尚未发出" in done["delivery"]["note"]
    number, code = done["number"], done["queryCode"]
    assert code_from_outbox(api, number) == code
    petition = deployed.petitions.get(number)
    assert (petition.channel, petition.petitioner_name, petition.received_at.isoformat()) == (
        "web",
        "欧阳晓梅",
        "2026-11-02",
    )
    view = lookup(api, number, code)
    assert view["number"] == number and view["statusLabel"] == "办理中"
    assert [f["title"] for f in view["timeline"]] == ["收到信访事项"]
    assert view["reply"] is None and view["evaluation"]["open"] is False
    # The registrar checks the registration; the 15-day acceptance limit runs, with its legal basis.
    check_registration(api, number)
    [limit] = lookup(api, number, code)["deadlines"]
    assert (limit["title"], limit["length"], limit["due"]) == ("受理期限", "15日", "2026-11-17")
    assert limit["basis"] == "《信访工作条例》第22条、第23条"


def test_submission_needs_consent_and_keeps_the_registration_rules(api: Api, deployed: Engine) -> None:
    response = api.anonymous.post(
        "/api/public/petitions",
        json={**ONLINE, "consent": False, "phone": "12345", "channel": "visit"},
        headers=ORIGIN,
    )
    fields = assert_error(response, 422, "validation_failed")["details"]["fields"]
    assert set(fields) == {"consent", "phone"}
    assert api.as_("admin").ok("GET", "/api/admin/outbox") == []


def test_a_suggestion_may_come_without_a_name(api: Api, deployed: Engine) -> None:
    done = submit(api, petitionerName="", suggestion=True)
    petition = deployed.petitions.get(done["number"])
    assert (petition.petitioner_name, petition.category) == ("未署名", "suggestion")
    response = api.anonymous.post(
        "/api/public/petitions", json={**ONLINE, "petitionerName": ""}, headers=ORIGIN
    )
    assert "petitionerName" in assert_error(response, 422)["details"]["fields"]


def test_every_public_write_must_come_from_our_own_pages(api: Api) -> None:
    for path in ("/api/public/petitions", "/api/public/lookup", "/api/public/evaluation"):
        assert_error(api.anonymous.post(path, json={}), 403, "cross_site_request")
        evil = {"Origin": "https://evil.example"}
        assert_error(api.anonymous.post(path, json={}, headers=evil), 403, "cross_site_request")


def test_submissions_are_limited_per_address_and_day(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    desk = api.app.extensions["petitionflow"].public
    monkeypatch.setattr(
        desk, "limits", replace(desk.limits, submissions=replace(desk.limits.submissions, attempts=2))
    )
    submit(api)
    submit(api)
    refused = api.anonymous.post("/api/public/petitions", json=ONLINE, headers=ORIGIN)
    assert_error(refused, 429, "too_many_attempts")
    assert int(refused.headers["Retry-After"]) > 3600
    other = {"REMOTE_ADDR": "10.0.0.9"}
    api.anonymous.ok("POST", "/api/public/petitions", 201, json=ONLINE, headers=ORIGIN, environ_base=other)


def test_the_petitioner_follows_the_item_rates_it_dissatisfied_and_supervision_opens(
    api: Api, deployed: Engine
) -> None:
    done = submit(api)
    number, code = done["number"], done["queryCode"]
    check_registration(api, number)
    office_acts(api, number, TO_TRANSFER)
    view = lookup(api, number, code)
    titles = [f["title"] for f in view["timeline"]]
    assert titles == ["收到信访事项", "已受理", "受理告知书已出具", "已转送交办", "办理机关已接收办理"]
    transfer = view["timeline"][3]
    assert f"办理机关：{UNIT}" in transfer["lines"]
    # The limits owed to the petitioner (Arts. 22, 23, 34), not the organs' own objection window.
    titles = [d["title"] for d in view["deadlines"]]
    assert titles == ["受理期限", "转送交办期限", "书面告知期限", "办理期限"], titles
    assert view["reply"] is None

    office_acts(api, number, TO_REPLY)
    view = lookup(api, number, code)
    assert view["reply"]["facts"] == "经现场核查，夜间施工已停止"
    assert view["reply"]["decision"] == "解释说明"
    assert view["evaluation"] == {"open": True, "unit": UNIT, "rating": None, "ratingLabel": None}
    limits = {d["title"]: d for d in view["deadlines"]}
    assert limits["办理期限"]["basis"] == "《信访工作条例》第34条" and limits["办理期限"]["length"] == "60日"
    assert limits["申请复查期限"]["due"] == "2026-12-02"
    # Nothing of the officials: no user names, no handler named in a form, no internal fields.
    text = str(view)
    for internal in (
        "handler",
        "office",
        "李四",
        "张伟",
        "registrar",
        "verifiedFacts",
        "经现场核查，情况属实",
    ):
        assert internal not in text, internal

    bad = {"number": number, "code": code, "rating": "dissatisfied"}
    fields = assert_error(api.anonymous.post("/api/public/evaluation", json=bad, headers=ORIGIN), 422)
    assert set(fields["details"]["fields"]) == {"reason"}
    rated = api.anonymous.ok(
        "POST", "/api/public/evaluation", json={**bad, "reason": "噪声问题仍未解决"}, headers=ORIGIN
    )
    assert rated["evaluation"]["rating"] == "dissatisfied"
    assert rated["timeline"][-1]["title"] == "满意度评价"
    again = api.anonymous.post("/api/public/evaluation", json={**bad, "reason": "再评一次"}, headers=ORIGIN)
    assert assert_error(again, 409, "invalid_state")["details"]["reason"] == "evaluation_closed"

    board = api.as_("supervisor").ok("GET", "/api/escalations", query_string={"businessKey": number})
    assert [(e["kind"], e["unit"]) for e in board] == [("supervision", UNIT_CODE)]
    assert "噪声问题仍未解决" in board[0]["reason"]
    assert api.as_("supervisor").task_at(number, "supervise_dissatisfied")["candidateGroups"] == [
        "supervisor"
    ]

    rows = api.as_("supervisor").ok("GET", "/api/metrics", query_string={"byMonth": "true"})
    [row] = [r for r in rows if r["unit"] == UNIT_CODE]
    rates = (row["evaluationRate"], row["satisfactionRate"], row["eligible"], row["evaluations"])
    assert rates == (1.0, 0.0, 1, 1)

    # Within the 30-day window the petitioner asks for 复查; the reviewing organ's task opens.
    assert rated["requests"]["review"] == {"open": True, "lastDay": "2026-12-02"}
    request = {"number": number, "code": code, "kind": "review", "request": "请求撤销原处理意见"}
    missing = api.anonymous.post("/api/public/review-requests", json=request, headers=ORIGIN)
    assert set(assert_error(missing, 422)["details"]["fields"]) == {"facts", "reasons"}
    request |= {"facts": "夜间施工仍在继续", "reasons": "原处理意见认定事实不清"}
    asked = api.anonymous.ok("POST", "/api/public/review-requests", json=request, headers=ORIGIN)
    assert asked["timeline"][-1]["title"] == "已请求复查"
    assert asked["requests"]["review"]["open"] is False
    # The reviewing organ: the 上一级机关 of the unit that handled it (county.zjw's is the county government).
    reviewing = api.as_("reviewer").task_at(number, "review_eligibility")
    assert reviewing["candidateGroups"] == ["unit:county.gov:handler"]
    twice = api.anonymous.post("/api/public/review-requests", json=request, headers=ORIGIN)
    assert assert_error(twice, 409)["details"]["reason"] == "already_requested"


def test_the_petitioner_withdraws_an_item(api: Api, deployed: Engine) -> None:
    done = submit(api)
    body = {"number": done["number"], "code": done["queryCode"], "reason": "问题已自行协商解决"}
    view = api.anonymous.ok("POST", "/api/public/withdrawal", json=body, headers=ORIGIN)
    assert (view["status"], view["statusLabel"], view["canWithdraw"]) == ("withdrawn", "已撤回", False)
    assert view["timeline"][-1]["title"] == "信访人已撤回"
    assert api.as_("registrar").tasks(businessKey=done["number"]) == []
    again = api.anonymous.post("/api/public/withdrawal", json=body, headers=ORIGIN)
    assert_error(again, 409, "invalid_state")


def test_the_registrar_records_an_evaluation_given_at_the_counter(api: Api, deployed: Engine) -> None:
    number = submit(api)["number"]
    check_registration(api, number)
    office_acts(api, number, TO_TRANSFER + TO_REPLY)
    registrar = api.as_("registrar")
    assert_error(
        api.as_("handler").post(f"/api/petitions/{number}/evaluation", json={"rating": "satisfied"}), 403
    )
    view = registrar.ok("POST", f"/api/petitions/{number}/evaluation", json={"rating": "basically_satisfied"})
    assert view["evaluation"]["rating"] == "basically_satisfied"
    rows = api.as_("supervisor").ok("GET", "/api/metrics")
    [row] = [r for r in rows if r["unit"] == UNIT_CODE]
    assert (row["evaluationRate"], row["satisfactionRate"]) == (1.0, 1.0)


def test_the_evaluation_closes_with_its_configured_window(api: Api, deployed: Engine, clock) -> None:
    done = submit(api)
    number, code = done["number"], done["queryCode"]
    check_registration(api, number)
    office_acts(api, number, TO_TRANSFER + TO_REPLY)
    window = {d["title"]: d for d in lookup(api, number, code)["deadlines"]}["满意度评价期限"]
    assert (window["length"], window["due"]) == ("7日", "2026-11-09")
    clock.advance(days=8)
    deployed.fire_timers(deployed.petitions.get(number).instance_id)
    view = lookup(api, number, code)
    assert view["evaluation"]["open"] is False
    late = {"number": number, "code": code, "rating": "satisfied"}
    response = api.anonymous.post("/api/public/evaluation", json=late, headers=ORIGIN)
    assert assert_error(response, 409)["details"]["reason"] == "evaluation_closed"
    rows = api.as_("supervisor").ok("GET", "/api/metrics")
    [row] = [r for r in rows if r["unit"] == UNIT_CODE]
    assert (row["eligible"], row["evaluations"], row["evaluationRate"]) == (1, 0, 0.0)


def test_the_petitioner_reads_the_notices_served_on_them_and_nothing_else(api: Api, deployed: Engine) -> None:
    done = submit(api)
    number, code = done["number"], done["queryCode"]
    check_registration(api, number)
    office, url, doc = issue_acceptance_notice(api, number)
    # Issued but not served: the petitioner's side lists nothing and gives nothing.
    assert lookup(api, number, code)["notices"] == []
    ask = {"number": number, "code": code, "document": doc["id"]}
    assert_error(api.anonymous.post("/api/public/notice", json=ask, headers=ORIGIN), 404, "not_found")
    office.ok(
        "POST",
        f"{url}/{doc['id']}/service",
        data={"method": "post", "servedOn": "2026-11-02", "receiver": "欧阳晓梅"},
    )
    [notice] = lookup(api, number, code)["notices"]
    assert notice == {
        "id": doc["id"],
        "title": "受理告知书",
        "number": doc["number"],
        "servedOn": "2026-11-02",
    }
    pdf = api.anonymous.post("/api/public/notice", json=ask, headers=ORIGIN)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data == office.get(f"{url}/{doc['id']}/content").data
    assert pdf.headers["Content-Disposition"].startswith("attachment;")
    # A wrong code answers as an unknown item; the request needs this site as its origin.
    wrong = {**ask, "code": "00000-00000"}
    assert_error(api.anonymous.post("/api/public/notice", json=wrong, headers=ORIGIN), 404, "not_found")
    assert_error(api.anonymous.post("/api/public/notice", json=ask), 403)
    # The download is on the item's record, in the petitioner's name.
    timeline = api.as_("registrar").ok("GET", f"/api/petitions/{number}")["timeline"]
    downloads = [e["actor"] for e in timeline if e["kind"] == "file.downloaded"]
    assert downloads == ["信访人", "office"], downloads
