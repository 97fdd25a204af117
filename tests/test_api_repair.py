"""/api/incidents, /api/instances/{id}/modification and /move-back, /api/migrations and the Camunda-compatible
modification route, through the whole app on SQLite and PostgreSQL: permissions, jurisdiction, Chinese errors."""

from __future__ import annotations

from engine.runtime import Engine
from engine.scheduler import TimerService
from tests.api_helpers import Api, assert_error, basic
from tests.helpers import only_task
from tests.repair_diagrams import deploy_case, deploy_timer
from tests.test_jurisdiction import build_county

pytest_plugins = ["tests.api_helpers"]


def failed_timer(engine: Engine, clock) -> str:
    """A case whose timer fire failed once (a gateway reads a variable the case never has)."""
    deploy_timer(engine)
    instance_id = engine.start("repair_timer", business_key="XF-T1").instance_id
    clock.advance(days=1, seconds=1)
    TimerService(engine).fire([instance_id])
    return instance_id


def test_incidents_are_listed_and_retried_within_the_jurisdiction(api: Api, deployed: Engine, clock) -> None:
    instance_id = failed_timer(deployed, clock)
    build_county(deployed)
    supervisor = api.as_("supervisor")
    [incident] = supervisor.ok("GET", "/api/incidents")
    assert incident["instanceId"] == instance_id and incident["attempts"] == 1
    assert (incident["elementId"], incident["elementName"]) == ("Choose", "是否答复")
    assert incident["type"] == "failedTimer" and "replied" in incident["message"]
    # A handler may not; a supervisor of one township does not see a case outside it.
    assert_error(api.as_("handler").get("/api/incidents"), 403, "forbidden")
    assert api.as_("a_inspector").ok("GET", "/api/incidents") == []
    assert_error(api.as_("a_inspector").post(f"/api/incidents/{incident['id']}/retry"), 404, "not_found")

    again = supervisor.ok("POST", f"/api/incidents/{incident['id']}/retry")
    assert again == {
        "id": incident["id"],
        "resolved": False,
        "message": again["message"],
        "reason": "流程运行出错，案件未作任何改变",
        "attempts": 2,
    }
    assert "replied" in again["message"]

    # The corrected diagram: a dry run, then the migration; the retry of many goes through.
    source = incident["definitionId"]
    target = deploy_timer(deployed, corrected=True)
    plan = {"sourceDefinitionId": source, "targetDefinitionId": target}
    dry = supervisor.ok("POST", "/api/migrations", json={**plan, "dryRun": True})
    assert dry["dryRun"] is True and dry["batches"] == 0
    [move] = dry["instances"]
    assert move["canMigrate"] and not move["migrated"]
    assert [(a["sourceActivityId"], a["targetActivityId"]) for a in move["activities"]] == [("Wait", "Wait")]
    done = supervisor.ok(
        "POST", "/api/migrations", json={**plan, "dryRun": False, "reason": "网关补默认出口"}
    )
    assert done["instances"][0]["migrated"] and done["batches"] == 1
    [result] = supervisor.ok("POST", "/api/incidents/retry", json={"ids": [incident["id"]]})
    assert result["resolved"] is True
    assert supervisor.ok("GET", "/api/incidents") == []
    assert only_task(deployed, instance_id, "FollowUp")


def test_a_suspended_case_is_not_retried_and_says_why(api: Api, deployed: Engine, clock) -> None:
    instance_id = failed_timer(deployed, clock)
    deployed.suspend(instance_id)
    supervisor = api.as_("supervisor")
    [incident] = supervisor.ok("GET", "/api/incidents")
    [paused] = supervisor.ok("POST", "/api/incidents/retry", json={"ids": [incident["id"]]})
    assert paused["resolved"] is False and paused["attempts"] == 1
    assert paused["message"] == paused["reason"] and "请先恢复办理" in paused["reason"]

    # Resumed although the timer still fails; then the retry fires again (one attempt more), not a dead end.
    resumed = supervisor.ok("POST", f"/api/instances/{instance_id}/resume")
    assert resumed["state"] == "active" and resumed["incidentId"] == incident["id"]
    again = supervisor.ok("POST", f"/api/incidents/{incident['id']}/retry")
    assert again["resolved"] is False and again["attempts"] == 3 and "replied" in again["message"]


def test_a_case_whose_timer_came_due_broken_while_suspended_is_resumed_and_told_which_step_failed(
    api: Api, deployed: Engine, clock
) -> None:
    deploy_timer(deployed)
    instance_id = deployed.start("repair_timer", business_key="XF-T1").instance_id
    supervisor = api.as_("supervisor")
    supervisor.ok("POST", f"/api/instances/{instance_id}/suspend")
    clock.advance(days=1, seconds=1)
    # Who may resume is unchanged.
    assert_error(api.as_("handler").post(f"/api/instances/{instance_id}/resume"), 403, "forbidden")

    resumed = supervisor.ok("POST", f"/api/instances/{instance_id}/resume")
    [incident] = supervisor.ok("GET", "/api/incidents")
    assert resumed["state"] == "active" and resumed["createdTasks"] == []
    assert resumed["incidentId"] == incident["id"] and incident["attempts"] == 1
    assert resumed["message"] == (
        "已恢复办理，但定时触发后流程在「是否答复」处运行出错，已转异常处理，排除原因后可重试"
    )
    case = supervisor.ok("GET", f"/api/instances/{instance_id}")
    assert case["state"] == "active"
    assert [e["kind"] for e in case["history"]][-2:] == ["instance.resumed", "timer.failed"]
    assert_error(supervisor.post(f"/api/instances/{instance_id}/resume"), 409, "invalid_state")

    # The diagram corrected, the retry fires the timer once; a resume with nothing failing says just that.
    target = deploy_timer(deployed, corrected=True)
    plan = {"sourceDefinitionId": incident["definitionId"], "targetDefinitionId": target}
    supervisor.ok("POST", "/api/migrations", json={**plan, "dryRun": False, "reason": "网关补默认出口"})
    assert supervisor.ok("POST", f"/api/incidents/{incident['id']}/retry")["resolved"] is True
    supervisor.ok("POST", f"/api/instances/{instance_id}/suspend")
    plain = supervisor.ok("POST", f"/api/instances/{instance_id}/resume")
    assert (plain["incidentId"], plain["message"]) == (None, "已恢复办理")
    history = [e["kind"] for e in supervisor.ok("GET", f"/api/instances/{instance_id}")["history"]]
    assert history.count("timer.fired") == 1 and only_task(deployed, instance_id, "FollowUp")


def test_move_back_and_modification_need_a_reason_and_the_role(api: Api, deployed: Engine) -> None:
    deploy_case(deployed)
    instance_id = deployed.start("repair_case", business_key="XF-R9").instance_id
    deployed.complete(only_task(deployed, instance_id, "Register").id, {}, actor="registrar")
    supervisor = api.as_("supervisor")
    url = f"/api/instances/{instance_id}"

    body = assert_error(supervisor.post(f"{url}/move-back", json={}), 422, "unprocessable_entity")
    assert list(body["details"]["fields"]) == ["reason"]
    body = assert_error(
        supervisor.post(f"{url}/move-back", json={"reason": "  "}), 422, "unprocessable_entity"
    )
    assert list(body["details"]["fields"]) == ["reason"]
    assert_error(api.as_("handler").post(f"{url}/move-back", json={"reason": "x"}), 403, "forbidden")
    assert_error(supervisor.post("/api/instances/nope/move-back", json={"reason": "x"}), 404, "not_found")
    build_county(deployed)
    # A township's supervisor does not know a case outside the township.
    assert_error(api.as_("a_inspector").post(f"{url}/move-back", json={"reason": "x"}), 404, "not_found")
    supervisor.ok("POST", f"{url}/move-back", json={"reason": "登记信息有误"})
    assert only_task(deployed, instance_id, "Register")
    history = supervisor.ok("GET", url)["history"]
    [moved] = [e for e in history if e["kind"] == "instance.moved_back"]
    assert moved["data"]["reason"] == "登记信息有误" and moved["actor"] == "supervisor"

    bad = assert_error(
        supervisor.post(f"{url}/modification", json={"instructions": [{"type": "cancel"}], "reason": "x"}),
        400,
        "invalid_input",
    )
    assert "instructions.0" in bad["details"]["fields"]
    assert_error(
        supervisor.post(f"{url}/modification", json={"instructions": [{"type": "jump"}], "reason": "x"}), 422
    )
    instructions = [
        {"type": "cancel", "activityId": "Register"},
        {"type": "startBeforeActivity", "activityId": "Reply"},
    ]
    supervisor.ok("POST", f"{url}/modification", json={"instructions": instructions, "reason": "跳过审查"})
    assert only_task(deployed, instance_id, "Reply")

    # The Camunda 7 route: annotation is the reason; 204.
    rest = f"/engine-rest/process-instance/{instance_id}/modification"
    again = [
        {"type": "cancel", "activityId": "Reply"},
        {"type": "startBeforeActivity", "activityId": "Review"},
    ]
    response = api.client.post(rest, json={"instructions": again}, headers=basic("supervisor"))
    assert response.status_code == 400
    response = api.client.post(
        rest, json={"instructions": again, "annotation": "退回审查"}, headers=basic("supervisor")
    )
    assert response.status_code == 204, response.get_data(as_text=True)
    assert only_task(deployed, instance_id, "Review")


def test_a_migration_needs_its_reason_a_county_supervisor_and_a_valid_mapping(
    api: Api, deployed: Engine
) -> None:
    source = deploy_case(deployed)
    instance_id = deployed.start("repair_case", business_key="XF-R8").instance_id
    deployed.complete(only_task(deployed, instance_id, "Register").id, {}, actor="registrar")
    deployed.complete(only_task(deployed, instance_id, "Review").id, {}, actor="office")
    target = deploy_case(deployed, version=2)
    build_county(deployed)
    plan = {"sourceDefinitionId": source, "targetDefinitionId": target}
    supervisor = api.as_("supervisor")

    [move] = supervisor.ok("POST", "/api/migrations", json=plan)["instances"]
    assert not move["canMigrate"] and "书面答复" in move["problems"][0]
    body = assert_error(supervisor.post("/api/migrations", json={**plan, "dryRun": False}), 400)
    assert "原因" in body["message"]
    assert_error(api.as_("a_inspector").post("/api/migrations", json=plan), 403, "forbidden")
    wrong = assert_error(
        supervisor.post("/api/migrations", json={**plan, "mapping": {"Reply": "Nowhere"}}), 400
    )
    assert "mapping.Reply" in wrong["details"]["fields"]

    mapped = {
        **plan,
        "mapping": {"Reply": "WrittenReply"},
        "dryRun": False,
        "reason": "答复环节改名",
        "batchSize": 1,
    }
    [done] = supervisor.ok("POST", "/api/migrations", json=mapped)["instances"]
    assert done["migrated"] and done["activities"][0]["targetActivityName"] == "书面答复（新）"
    assert only_task(deployed, instance_id, "WrittenReply")
    assert supervisor.ok("GET", f"/api/instances/{instance_id}")["definitionId"] == target


def test_a_migration_in_the_background_answers_202_and_shows_its_progress(api: Api, deployed: Engine) -> None:
    source = deploy_case(deployed)
    movable = deployed.start("repair_case", business_key="XF-R9").instance_id
    stuck = deployed.start("repair_case", business_key="XF-R10").instance_id
    deployed.complete(only_task(deployed, stuck, "Register").id, {}, actor="registrar")
    deployed.complete(only_task(deployed, stuck, "Review").id, {}, actor="office")
    target = deploy_case(deployed, version=2)
    build_county(deployed)
    plan = {"sourceDefinitionId": source, "targetDefinitionId": target, "dryRun": False, "async": True}
    supervisor = api.as_("supervisor")

    # Bad input is refused, clearly, and records nothing.
    assert "原因" in assert_error(supervisor.post("/api/migrations", json=plan), 400)["message"]
    unknown = assert_error(
        supervisor.post("/api/migrations", json={**plan, "reason": "改版", "instanceIds": [movable, "XF-0"]}),
        400,
    )
    assert (
        unknown["details"]["fields"]["instanceIds"] == ["XF-0"]
        and "不是原版本上办理中的案件" in unknown["message"]
    )
    wrong = assert_error(
        supervisor.post("/api/migrations", json={**plan, "reason": "改版", "mapping": {"Reply": "X"}}), 400
    )
    assert "mapping.Reply" in wrong["details"]["fields"]
    assert_error(supervisor.post("/api/migrations", json={**plan, "reason": "改版", "async": "maybe"}), 422)
    assert_error(supervisor.post("/api/migrations", json={**plan, "reason": "改版", "batchSize": 0}), 422)
    # A county official outside the bureau's supervision may neither start nor follow one.
    inspector = api.as_("a_inspector")
    assert_error(inspector.post("/api/migrations", json={**plan, "reason": "改版"}), 403, "forbidden")
    assert_error(inspector.get("/api/migrations"), 403, "forbidden")
    assert supervisor.ok("GET", "/api/migrations") == []
    assert deployed.work_migrations() == 0

    # The dry run stays synchronous.
    report = supervisor.ok("POST", "/api/migrations", json={**plan, "dryRun": True})
    assert len(report["instances"]) == 2

    batch = supervisor.ok(
        "POST", "/api/migrations", 202, json={**plan, "reason": "新增复核环节", "batchSize": 1}
    )
    assert batch["type"] == "instance-migration" and batch["state"] == "running"
    assert (batch["totalJobs"], batch["pending"], batch["migrated"], batch["failed"]) == (2, 2, 0, 0)
    assert (batch["createUserId"], batch["reason"], batch["invocationsPerBatchJob"]) == (
        "supervisor",
        "新增复核环节",
        1,
    )
    assert_error(inspector.get(f"/api/migrations/{batch['id']}"), 403, "forbidden")
    # Nothing moved yet: the scheduler's ticks do it, one case each.
    assert supervisor.ok("GET", f"/api/instances/{movable}")["definitionId"] == source
    assert deployed.work_migrations() == 1
    halfway = supervisor.ok("GET", f"/api/migrations/{batch['id']}")
    assert (halfway["state"], halfway["pending"]) == ("running", 1)
    assert deployed.work_migrations() == 1
    done = supervisor.ok("GET", f"/api/migrations/{batch['id']}")
    assert (done["state"], done["migrated"], done["failed"], done["pending"]) == ("completed", 1, 1, 0)
    assert done["endTime"] is not None
    [failure] = done["failures"]
    assert failure["instanceId"] == stuck and failure["businessKey"] == "XF-R10"
    assert "书面答复" in failure["reason"]
    assert supervisor.ok("GET", f"/api/instances/{movable}")["definitionId"] == target
    assert supervisor.ok("GET", f"/api/instances/{stuck}")["definitionId"] == source
    [listed] = supervisor.ok("GET", "/api/migrations")
    assert listed["id"] == batch["id"] and listed["failed"] == 1
    missing = assert_error(supervisor.get("/api/migrations/no-such-batch"), 404, "not_found")
    assert "迁移批次" in missing["message"]
