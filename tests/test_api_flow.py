"""Whole petitions driven through the REST API alone, by several users, and two users racing for one task."""

from __future__ import annotations

import threading
from typing import Any

from engine.runtime import Engine
from tests.api_helpers import Api, assert_error, basic
from tests.test_petitions import REGISTRATION

pytest_plugins = ("tests.api_helpers",)


def completions(timeline: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["elementId"], e["actor"]) for e in timeline if e["kind"] == "task.completed"]


def test_a_suggestion_goes_from_registration_to_closure_through_three_users(api: Api) -> None:
    """The shortest real path: registered and checked, accepted as a suggestion, studied and answered."""
    registrar, office, handler = api.as_("registrar"), api.as_("office"), api.as_("handler")

    petition = registrar.ok("POST", "/api/petitions", 201, json=REGISTRATION)
    number = petition["number"]
    assert petition["status"] == "in_progress"
    [check] = registrar.tasks(businessKey=number)
    assert check["id"] == petition["firstTasks"][0] and check["elementId"] == "register_check"
    registrar.claim(check["id"])
    registrar.complete(check["id"], registrar.form_data("intake_check"))

    # The petition office accepts it as a suggestion (建议意见类) and serves the acceptance notice.
    review = office.task_at(number, "acceptance_review")
    office.claim(review["id"])
    decision = office.form_data("intake_acceptance", acceptanceDecision="accept", category="suggestion")
    office.complete(review["id"], decision)
    office.do(number, "notice_acceptance")
    assert office.tasks(businessKey=number) == []

    # The responsible unit studies the suggestion and answers it; that ends the procedure.
    study = handler.task_at(number, "study_suggestion")
    # The unit named on the acceptance form (county.zjw), to which the demo handler belongs.
    assert study["candidateGroups"] == ["unit:county.zjw:handler"]
    handler.claim(study["id"])
    result = handler.complete(study["id"], handler.form_data("intake_suggestion_reply"))
    assert (result["state"], result["createdTasks"]) == ("completed", [])

    closed = registrar.ok("GET", f"/api/petitions/{number}")
    assert (closed["status"], closed["category"]) == ("closed", "suggestion")
    assert closed["closedAt"].startswith("2026-11-02")
    assert [i["state"] for i in closed["instances"]] == ["completed"]
    assert completions(closed["timeline"]) == [
        ("register_check", "registrar"),
        ("acceptance_review", "office"),
        ("notice_acceptance", "office"),
        ("study_suggestion", "handler"),
    ]
    claims = [(e["elementId"], e["actor"]) for e in closed["timeline"] if e["kind"] == "task.claimed"]
    assert claims == [
        ("register_check", "registrar"),
        ("acceptance_review", "office"),
        ("notice_acceptance", "office"),
        ("study_suggestion", "handler"),
    ]
    assert [e["kind"] for e in closed["timeline"]][-1] == "instance.completed"
    assert [d["outcome"] for d in closed["deadlines"] if d["name"] == "acceptance"] == ["on_time"]
    assert api.as_("leader").ok("GET", "/api/petitions?status=closed")[0]["number"] == number


def test_a_petition_not_accepted_ends_with_its_notice(api: Api) -> None:
    number = api.register()["number"]
    api.as_("registrar").do(number, "register_check")
    office = api.as_("office")
    office.do(number, "acceptance_review", acceptanceDecision="other_authority")
    office.do(number, "notice_other_authority")
    petition = api.as_("supervisor").ok("GET", f"/api/petitions/{number}")
    assert (petition["status"], petition["outcome"]) == ("not_accepted", "other_authority")
    assert completions(petition["timeline"]) == [
        ("register_check", "registrar"),
        ("acceptance_review", "office"),
        ("notice_other_authority", "office"),
    ]


def test_two_users_claiming_one_task_at_once_one_wins_the_other_gets_409(api: Api, deployed: Engine) -> None:
    deployed.accounts.create("office2", "office2", roles=["handler"], groups=["petition_office"], demo=True)
    for _ in range(3):  # a few races, each on a fresh task
        race_for_one_task(api)


def race_for_one_task(api: Api) -> None:
    number = api.register()["number"]
    api.as_("registrar").do(number, "register_check")
    task = api.as_("office").task_at(number, "acceptance_review")["id"]
    start = threading.Barrier(2)
    answers: dict[str, Any] = {}

    def claim(user: str) -> None:
        client = api.app.test_client()  # one client per thread, as two browsers would be
        start.wait()
        answers[user] = client.post(f"/api/tasks/{task}/claim", json={"userId": user}, headers=basic(user))

    threads = [threading.Thread(target=claim, args=(user,)) for user in ("office", "office2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(r.status_code for r in answers.values()) == [200, 409], {
        u: (r.status_code, r.get_data(as_text=True)) for u, r in answers.items()
    }
    [winner] = [u for u, r in answers.items() if r.status_code == 200]
    [loser] = [u for u, r in answers.items() if r.status_code == 409]
    body = assert_error(answers[loser], 409, "conflict")
    assert body["details"]["assignee"] == winner
    assert api.as_("office").ok("GET", f"/api/tasks/{task}")["assignee"] == winner
    # The loser cannot complete it either; the winner can.
    data = {"variables": api.as_(winner).form_data("intake_acceptance", acceptanceDecision="other_channel")}
    assert_error(api.as_(loser).post(f"/api/tasks/{task}/complete", json=data), 409)
    api.as_(winner).ok("POST", f"/api/tasks/{task}/complete", json=data)
