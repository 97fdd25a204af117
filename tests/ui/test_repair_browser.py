"""Repairing running cases in chromium, at a phone's, a tablet's and a desktop's size: a failed timer retried
from the incident list, running cases migrated to a new version after a dry run (within the request, and in the
background with its progress followed until it finishes), a case moved back one step with a reason that shows
in its history."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from engine.repair import MigrationPlan
from engine.runtime import Engine
from engine.scheduler import TimerService
from tests.helpers import instance, only_task
from tests.repair_diagrams import deploy_case, deploy_timer
from tests.ui.browser import LiveServer, login, screenshot

pytestmark = pytest.mark.browser

VIEWPORTS = [
    pytest.param({"width": 390, "height": 844}, id="390x844"),
    pytest.param({"width": 1024, "height": 768}, id="1024x768"),
    pytest.param({"width": 1440, "height": 900}, id="1440x900"),
]


def failing_timers(engine: Engine, clock: Any, count: int) -> list[str]:
    """``count`` cases whose timer fire failed once (the scheduler's own fire, a diagram error)."""
    deploy_timer(engine)
    ids = [engine.start("repair_timer", business_key=f"XF-T{n}").instance_id for n in range(count)]
    clock.advance(days=1, seconds=1)
    TimerService(engine).fire(ids)
    return ids


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_failed_timer_is_retried_from_the_incident_list(
    page: Any, live_server: LiveServer, clock: Any, viewport: dict[str, int]
) -> None:
    engine = live_server.engine
    first, second = failing_timers(engine, clock, 2)
    page.set_viewport_size(viewport)
    login(page, live_server, "supervisor")
    page.goto(f"{live_server.url}/cockpit/incidents")
    rows = page.locator("#incidents tbody tr[data-incident]")
    expect(rows).to_have_count(2)
    row = page.locator(f"#incidents tbody tr[data-instance='{first}']")
    expect(row).to_contain_text("是否答复")
    expect(row).to_contain_text("1 次")
    # Retried before the cause is removed: it fails again, one attempt more.
    row.get_by_test_id("retry-one").click()
    expect(page.locator("#flash")).to_contain_text("仍然失败")
    expect(page.locator(f"#incidents tbody tr[data-instance='{first}']")).to_contain_text("2 次")

    # The diagram is corrected and both cases moved to it; both are retried at once.
    source = instance(engine, first).definition_id
    target = deploy_timer(engine, corrected=True)
    for instance_id in (first, second):
        engine.migrate_instance(MigrationPlan(source, target), instance_id, reason="网关补默认出口")
    page.reload()
    expect(page.locator("#incidents tbody tr[data-incident]")).to_have_count(2)
    page.locator("#select-all").check()
    page.locator("#retry-selected").click()
    expect(page.locator("#flash")).to_contain_text("全部恢复办理")
    expect(page.locator("#incidents tbody")).to_contain_text("没有待处理的异常")
    screenshot(page, f"incidents-{viewport['width']}")
    for instance_id in (first, second):
        assert only_task(engine, instance_id, "FollowUp")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_running_case_is_migrated_to_a_new_version_after_a_dry_run(
    page: Any, live_server: LiveServer, viewport: dict[str, int]
) -> None:
    engine = live_server.engine
    source = deploy_case(engine)
    at_review = engine.start("repair_case", business_key="XF-M1").instance_id
    engine.complete(only_task(engine, at_review, "Register").id, {}, actor="registrar")
    at_reply = engine.start("repair_case", business_key="XF-M2").instance_id
    engine.complete(only_task(engine, at_reply, "Register").id, {}, actor="registrar")
    engine.complete(only_task(engine, at_reply, "Review").id, {}, actor="office")
    target = deploy_case(engine, version=2)
    page.set_viewport_size(viewport)
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, live_server, "supervisor")
    page.goto(f"{live_server.url}/cockpit/migrations")
    page.get_by_test_id("migration-key").select_option("repair_case")
    page.get_by_test_id("migration-source").select_option(source)
    page.get_by_test_id("migration-target").select_option(target)
    page.locator("#dry-run").click()
    expect(page.locator("#migration-table")).to_have_attribute("data-ready", "dry-run")
    expect(page.locator(f"tr[data-instance='{at_review}']")).to_contain_text("受理审查 → 受理审查")
    expect(page.locator(f"tr[data-instance='{at_reply}']")).to_contain_text("不能迁移")
    expect(page.locator("#migration-summary")).to_contain_text("可以迁移 1 件，不能迁移 1 件")
    # 书面答复 has a new id in version 2: mapped, then tried again.
    page.get_by_test_id("mapping-Reply").select_option("WrittenReply")
    page.locator("#dry-run").click()
    expect(page.locator(f"tr[data-instance='{at_reply}']")).to_contain_text("书面答复 → 书面答复（新）")
    expect(page.locator("#migration-summary")).to_contain_text("可以迁移 2 件")
    page.locator("#migration-reason").fill("新增复核环节，答复环节改名")
    page.get_by_test_id("migration-async").uncheck()  # within the request
    page.locator("#execute").click()
    expect(page.locator("#migration-table")).to_have_attribute("data-ready", "done")
    expect(page.locator("#migration-table tbody")).to_contain_text("已迁移")
    expect(page.locator("#migration-summary")).to_contain_text("已迁移 2 件")
    screenshot(page, f"migrations-{viewport['width']}")
    assert instance(engine, at_review).definition_id == target
    assert only_task(engine, at_reply, "WrittenReply")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_migration_runs_in_the_background_and_the_page_follows_it_to_the_end(
    page: Any, live_server: LiveServer, viewport: dict[str, int]
) -> None:
    engine = live_server.engine
    source = deploy_case(engine)
    cases = []
    for n in range(3):
        instance_id = engine.start("repair_case", business_key=f"XF-A{n}").instance_id
        engine.complete(only_task(engine, instance_id, "Register").id, {}, actor="registrar")
        cases.append(instance_id)
    target = deploy_case(engine, version=2)
    page.set_viewport_size(viewport)
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, live_server, "supervisor")
    page.goto(f"{live_server.url}/cockpit/migrations")
    expect(page.locator("#batch-list")).to_contain_text("暂无后台迁移")
    page.get_by_test_id("migration-key").select_option("repair_case")
    page.get_by_test_id("migration-source").select_option(source)
    page.get_by_test_id("migration-target").select_option(target)
    page.locator("#dry-run").click()
    expect(page.locator("#migration-summary")).to_contain_text("可以迁移 3 件")
    # After the dry run one case moves on to 书面答复, which the new version lacks: it will fail, alone.
    engine.complete(only_task(engine, cases[1], "Review").id, {}, actor="office")
    page.locator("#migration-reason").fill("新增复核环节")
    page.locator("#migration-batch").fill("1")
    expect(page.get_by_test_id("migration-async")).to_be_checked()
    page.locator("#execute").click()
    # Answered at once; nothing is worked off before the scheduler's ticks.
    batch = page.locator("#batch-list li[data-batch]")
    expect(batch).to_have_attribute("data-state", "running")
    expect(batch).to_contain_text("正在迁移：已处理 0 / 3 件")
    expect(page.locator("#migration-summary")).to_contain_text("已在后台开始迁移 3 件案件")
    service = TimerService(engine)
    service.start(wait_for_leadership=10)
    try:
        expect(batch).to_have_attribute("data-state", "completed", timeout=30_000)
    finally:
        service.stop()
    expect(batch).to_contain_text("迁移完成：共 3 件，已迁移 2 件，失败 1 件")
    expect(batch.locator(".batch-failures")).to_contain_text("XF-A1：")
    expect(batch.locator(".batch-failures")).to_contain_text("书面答复")
    expect(page.locator("#migration-table")).to_have_attribute("data-ready", "done")
    expect(page.locator(f"tr[data-instance='{cases[0]}']")).to_contain_text("已迁移")
    expect(page.locator(f"tr[data-instance='{cases[1]}']")).to_contain_text("迁移失败")
    expect(page.locator("#migration-summary")).to_contain_text("已迁移 2 件")
    screenshot(page, f"migrations-background-{viewport['width']}")
    assert [instance(engine, i).definition_id for i in cases] == [target, source, target]
    # The page opened later shows the outcome too.
    page.reload()
    expect(page.locator("#batch-list li[data-batch]")).to_contain_text("已迁移 2 件，失败 1 件")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_case_is_moved_back_one_step_with_a_reason_that_shows_in_its_history(
    page: Any, live_server: LiveServer, viewport: dict[str, int]
) -> None:
    engine = live_server.engine
    deploy_case(engine)
    instance_id = engine.start("repair_case", business_key="XF-B1").instance_id
    engine.complete(only_task(engine, instance_id, "Register").id, {}, actor="registrar")
    page.set_viewport_size(viewport)
    login(page, live_server, "supervisor")
    page.goto(f"{live_server.url}/instances/{instance_id}")
    expect(page.locator("#open-tasks")).to_contain_text("受理审查")
    page.get_by_test_id("move-back").click()
    dialog = page.locator("dialog.pf-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_test_id("repair-submit").click()
    expect(dialog).to_contain_text("请填写原因")
    dialog.get_by_test_id("repair-reason").fill("登记信息有误，退回重新核对")
    dialog.get_by_test_id("repair-submit").click()
    expect(page.locator("#flash")).to_contain_text("已退回上一环节")
    expect(page.locator("#open-tasks")).to_contain_text("登记核对")
    entry = page.locator("#timeline li[data-kind='instance.moved_back']")
    expect(entry).to_contain_text("退回上一环节")
    expect(entry).to_contain_text("原因：登记信息有误，退回重新核对")
    screenshot(page, f"move-back-{viewport['width']}")
    assert only_task(engine, instance_id, "Register")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_suspended_case_with_a_failing_timer_is_resumed_and_its_failure_stays_on_the_incident_list(
    page: Any, live_server: LiveServer, clock: Any, viewport: dict[str, int]
) -> None:
    engine = live_server.engine
    [instance_id] = failing_timers(engine, clock, 1)
    engine.suspend(instance_id, actor="supervisor")
    page.set_viewport_size(viewport)
    login(page, live_server, "supervisor")
    # Retried while suspended: the supervisor is told to resume first, and nothing is counted.
    page.goto(f"{live_server.url}/cockpit/incidents")
    row = page.locator(f"#incidents tbody tr[data-instance='{instance_id}']")
    row.get_by_test_id("retry-one").click()
    expect(page.locator("#flash")).to_contain_text("案件已挂起，请先恢复办理再重试")
    expect(row).to_contain_text("1 次")

    # Resumed from the case page although the timer still fails: the case runs again, the reply names the step.
    row.get_by_role("link").click()
    page.wait_for_url(f"**/instances/{instance_id}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="恢复").click()
    expect(page.locator("#flash")).to_contain_text("已恢复办理，但定时触发后流程在「是否答复」处运行出错")
    expect(page.locator("#instance-sub")).to_contain_text("办理中")
    expect(page.get_by_role("button", name="挂起")).to_be_visible()
    expect(page.locator("#timeline li[data-kind='instance.resumed']")).to_have_count(1)
    # The failures name the step in Chinese, though this test diagram has no drawing to take names from.
    failures = page.locator("#timeline li[data-kind='timer.failed']")
    expect(failures.first).to_contain_text("是否答复")
    expect(page.locator("#timeline")).not_to_contain_text("Choose")
    screenshot(page, f"resume-failed-{viewport['width']}")

    page.goto(f"{live_server.url}/cockpit/incidents")
    expect(page.locator(f"#incidents tbody tr[data-instance='{instance_id}']")).to_contain_text("2 次")
    assert instance(engine, instance_id).state == "active"
