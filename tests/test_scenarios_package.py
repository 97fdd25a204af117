"""Scenario tests for workflows/leadership_package.bpmn (领导包案): every path through the real engine.

Shared helpers (``Walk``, ``passes``, ``never``) come from test_scenarios_hearing.py. A repeat petition about
a resolved case arrives as the message ``petition_returned``; ``refluxThreshold`` is a start variable.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.clock import FrozenClock
from engine.errors import ValidationFailed
from engine.runtime import Engine
from engine.testing import Walk
from tests.test_scenarios_hearing import USER, deploy_shipped, never, passes

# Confirmation periods and review windows run into 2027, for which no holiday notice is loaded in tests: the
# calendar warns and counts weekends only, which is what these scenarios expect.
pytestmark = pytest.mark.filterwarnings("ignore::engine.calendar.CalendarYearMissing")

DUTIES = ["duty_cessation", "duty_facts", "duty_resolve", "duty_stability", "duty_thinking"]
THRESHOLD = 2
LEADER = {
    "leaderName": "张书记",
    "leaderRank": "county_level",
    "leaderBody": "party_committee",
    "leaderPost": "principal",
}


@pytest.fixture
def package(engine: Engine, clock: FrozenClock) -> Walk:
    deploy_shipped(engine)
    walk = Walk(
        engine,
        clock,
        "leadership_package",
        petitionNumber="XF2026-0001",
        receivedAt="2026-10-20",
        majorDifficult=True,
        refluxCount=0,
        refluxThreshold=THRESHOLD,
    )
    assert walk.open() == ["choose_leader"]
    return walk


def do_duties(walk: Walk) -> None:
    """The five 包 duties, open together, each recorded by the leader's team."""
    assert walk.open() == DUTIES
    for duty in DUTIES:
        walk.complete(duty)


def resolve(walk: Walk) -> None:
    do_duties(walk)
    walk.complete("record_resolution", resolved=True, agreementSigned=True, resolvedAt=walk.day())
    assert walk.open() == [] and "wait_confirmation" in walk.active()


def start_package(walk: Walk) -> None:
    walk.complete("choose_leader", **LEADER)
    walk.complete("form_team")
    resolve(walk)


def comes_back(walk: Walk, count: int) -> None:
    walk.advance(days=20)
    walk.message("petition_returned", refluxCount=count, returnedAt=walk.day())
    walk.complete("register_reflux", refluxCount=count, returnedAt=walk.day())


def test_no_return_within_the_confirmation_period_writes_the_case_off(package: Walk) -> None:
    start_package(package)
    package.advance(days=90)  # resolved 2026-11-02: 90 days run to 2027-01-31
    assert package.open() == []
    package.advance(days=1)
    assert package.open() == ["write_off"]
    package.complete("write_off")
    assert package.state == "completed"
    passes(
        package,
        "choose_leader",
        "form_team",
        "split_duties",
        *DUTIES,
        "join_duties",
        "record_resolution",
        "gw_resolved",
        "timer_confirmed",
        "write_off",
        "end_written_off",
    )
    never(package, "register_reflux", "escalate_leader")
    variables = package.variables()
    assert (variables["caseClosed"], variables["leaderName"]) == (True, "张书记")


@pytest.mark.parametrize(
    "resolution",
    [
        {"resolved": False, "agreementSigned": False},
        {"resolved": True, "agreementSigned": False},
        {"resolved": False, "agreementSigned": True},
    ],
)
def test_an_unresolved_case_goes_back_to_the_five_duties(package: Walk, resolution: dict[str, Any]) -> None:
    package.complete("choose_leader", **LEADER)
    package.complete("form_team")
    do_duties(package)
    package.complete("record_resolution", **resolution, resolvedAt=package.day())
    assert package.open() == DUTIES
    passes(package, "record_resolution", "gw_resolved", "merge_duties", "split_duties")
    never(package, "write_off")


def test_a_return_at_or_below_the_threshold_stays_with_the_same_leader(package: Walk) -> None:
    start_package(package)
    comes_back(package, THRESHOLD)
    assert package.open() == DUTIES
    passes(package, "catch_returned", "register_reflux", "gw_reflux")
    never(package, "escalate_leader")
    resolve(package)  # resolved again on 2026-11-22: a new confirmation period of 90 days starts
    package.advance(days=90)
    assert package.open() == []
    package.advance(days=1)
    package.complete("write_off")
    assert package.state == "completed"
    assert package.variables()["leaderName"] == "张书记"


def test_returns_above_the_threshold_escalate_to_a_higher_ranked_leader(package: Walk) -> None:
    start_package(package)
    comes_back(package, THRESHOLD + 1)
    assert package.open() == ["escalate_leader"]
    # The same rank is refused by the gateway: the committee chooses again.
    package.complete("escalate_leader", **{**LEADER, "leaderName": "李副书记", "leaderPost": "deputy"})
    assert package.open() == ["escalate_leader"]
    package.complete(
        "escalate_leader",
        **{**LEADER, "leaderName": "王市长", "leaderRank": "city_level", "leaderBody": "government"},
    )
    assert package.open() == ["form_team"]
    package.complete("form_team")
    resolve(package)
    package.advance(days=91)
    package.complete("write_off")
    assert package.state == "completed"
    passes(
        package, "register_reflux", "gw_reflux", "escalate_leader", "gw_rank", "escalate_leader", "form_team"
    )
    variables = package.variables()
    assert (variables["leaderName"], variables["leaderRank"]) == ("王市长", "city_level")
    assert (variables["previousLeaderRank"], variables["escalated"]) == ("county_level", True)


def test_a_second_escalation_must_go_above_the_escalated_leader(package: Walk) -> None:
    start_package(package)
    comes_back(package, THRESHOLD + 1)
    package.complete("escalate_leader", **{**LEADER, "leaderName": "王市长", "leaderRank": "city_level"})
    package.complete("form_team")
    resolve(package)
    comes_back(package, THRESHOLD + 2)
    package.complete("escalate_leader", **{**LEADER, "leaderRank": "city_level"})
    assert package.open() == ["escalate_leader"]
    package.complete(
        "escalate_leader", **{**LEADER, "leaderName": "赵省长", "leaderRank": "provincial_level"}
    )
    assert package.open() == ["form_team"]
    assert package.path().count("register_reflux") == 2


@pytest.mark.parametrize(
    ("choice", "needs_reason"),
    [
        ({"leaderBody": "party_committee", "leaderPost": "principal"}, False),
        ({"leaderBody": "party_committee", "leaderPost": "deputy"}, True),
        ({"leaderBody": "government", "leaderPost": "principal"}, True),
    ],
)
def test_a_leader_out_of_the_party_first_principal_first_order_needs_a_reason(
    package: Walk, choice: dict[str, str], needs_reason: bool
) -> None:
    task = package.task("choose_leader")
    values = package.values("choose_leader", **{**LEADER, **choice}, orderDeviationReason="")
    if needs_reason:
        with pytest.raises(ValidationFailed) as caught:
            package.engine.complete(task.id, values, actor=task.assignee)
        assert list(caught.value.details["fields"]) == ["orderDeviationReason"]
        values["orderDeviationReason"] = "党委主要负责同志已包案三件，由分管副书记包案"
    package.engine.complete(task.id, values, actor=USER)
    assert package.open() == ["form_team"]


def test_a_resolution_needs_its_date(package: Walk) -> None:
    package.complete("choose_leader", **LEADER)
    package.complete("form_team")
    do_duties(package)
    task = package.task("record_resolution")
    values = package.values("record_resolution", resolved=True, agreementSigned=True, resolvedAt=None)
    with pytest.raises(ValidationFailed) as caught:
        package.engine.complete(task.id, values, actor=task.assignee)
    assert "resolvedAt" in caught.value.details["fields"]


def test_the_chosen_leader_is_the_assignee_of_the_package_steps(package: Walk) -> None:
    choose = package.task("choose_leader")
    assert choose.candidate_groups == ["unit:county.lxhy:handler"]
    package.complete("choose_leader", **LEADER, chosenLeader="leader")
    team = package.task("form_team")
    # The leader chosen on the form, not the whole leader group; the task counts as the leader's unit's.
    assert (team.assignee, team.candidate_groups, team.unit_code) == ("leader", [], "county.committee")
    package.complete("form_team")
    assert {t.assignee for t in package.open_tasks()} == {"leader"}


def test_a_chosen_leader_unknown_to_the_organisation_is_refused_with_the_field_named(package: Walk) -> None:
    task = package.task("choose_leader")
    values = package.values("choose_leader", **LEADER, chosenLeader="nobody")
    with pytest.raises(ValidationFailed) as caught:
        package.engine.complete(task.id, values)
    assert list(caught.value.details["fields"]) == ["chosenLeader"]
    assert package.open() == ["choose_leader"]
