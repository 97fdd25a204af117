"""The petitioner's acts a registrar records through /api: review and recheck requests, withdrawal."""

from __future__ import annotations

import pytest

from engine.clock import FrozenClock
from engine.runtime import Engine
from engine.testing import Walk
from tests.api_helpers import Api, assert_error
from tests.test_api_errors import run_cli
from tests.test_scenarios_procedures import simply_answered

pytest_plugins = ("tests.api_helpers",)


def answered(api: Api, deployed: Engine, clock: FrozenClock) -> tuple[str, Walk]:
    petition = api.register()
    return petition["number"], simply_answered(Walk.of(deployed, clock, petition["instanceId"]))


def test_a_registrar_records_a_review_request_that_opens_the_review(
    api: Api, deployed: Engine, clock: FrozenClock
) -> None:
    number, walk = answered(api, deployed, clock)
    body = {"kind": "review", "request": "请求撤销处理意见", "facts": "噪声仍在", "reasons": "未落实"}
    assert_error(api.as_("handler").post(f"/api/petitions/{number}/review-requests", json=body), 403)
    result = api.as_("registrar").ok("POST", f"/api/petitions/{number}/review-requests", json=body)
    assert result["state"] == "active" and result["createdTasks"]
    assert "review_eligibility" in walk.open()
    again = assert_error(
        api.as_("registrar").post(f"/api/petitions/{number}/review-requests", json=body), 409, "conflict"
    )
    assert again["details"]["reason"] == "already_requested"


def test_a_late_or_malformed_request_is_refused_naming_why(
    api: Api, deployed: Engine, clock: FrozenClock
) -> None:
    number, walk = answered(api, deployed, clock)
    registrar = api.as_("registrar")
    bad = assert_error(registrar.post(f"/api/petitions/{number}/review-requests", json={"kind": "x"}), 422)
    assert {"kind", "request"} <= set(bad["details"]["fields"])
    clock.advance(days=40)
    late = assert_error(
        registrar.post(
            f"/api/petitions/{number}/review-requests", json={"kind": "review", "request": "复查"}
        ),
        409,
        "invalid_state",
    )
    assert late["details"]["reason"] == "window_lapsed"
    assert "review_eligibility" not in walk.open()


def test_a_withdrawal_through_the_api_leaves_the_petition_withdrawn(api: Api) -> None:
    number = api.register()["number"]
    registrar = api.as_("registrar")
    assert_error(registrar.post(f"/api/petitions/{number}/withdrawal", json={}), 422)
    registrar.ok("POST", f"/api/petitions/{number}/withdrawal", json={"reason": "信访人书面申请撤回"})
    petition = registrar.ok("GET", f"/api/petitions/{number}")
    assert (petition["status"], petition["outcome"]) == ("withdrawn", "withdrawn")
    assert_error(registrar.post(f"/api/petitions/{number}/withdrawal", json={"reason": "再次"}), 409)


def test_the_acts_are_documented_in_openapi(api: Api) -> None:
    paths = api.anonymous.ok("GET", "/api/openapi.json")["paths"]
    assert "post" in paths["/api/petitions/{number}/review-requests"]
    assert "post" in paths["/api/petitions/{number}/withdrawal"]


def test_the_command_line_records_a_withdrawal_and_refuses_a_late_request(
    api: Api, deployed: Engine, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # The command line runs on the real clock, weeks after the frozen day the answer was served.
    late, _ = answered(api, deployed, clock)
    argv = ("request-review", late, "--request", "请求复查", "--user", "registrar")
    assert run_cli(deployed, monkeypatch, *argv) == 1
    assert "请求期限已过" in capsys.readouterr().err
    number = api.register()["number"]
    assert (
        run_cli(deployed, monkeypatch, "withdraw", number, "--reason", "信访人撤回", "--user", "registrar")
        == 0
    )
    assert deployed.petitions.get(number).status == "withdrawn"
