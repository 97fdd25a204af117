"""The pages at a phone's 390x844, a tablet's 1024x768 and a desk's 1440x900: the header keeps one line, the
navigation stays reachable (behind a 菜单 button on the phone), the cockpit's title keeps its line, the instance
diagram opens drawn, and the task page keeps the petition and its deadlines beside the form from 1024 up."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.ui.browser import LiveServer, login, screenshot
from tests.ui.test_pages_browser import open_tasks, registered_and_checked

pytestmark = pytest.mark.browser

SIZES = [(390, 844), (1024, 768), (1440, 900)]
# The top bar is 56 px and its 3 px rule: one line of header.
HEADER_HEIGHT = 60

BOX = "(node) => { const r = node.getBoundingClientRect(); return {x: r.x, y: r.y, width: r.width, height: r.height}; }"
# Shapes of the diagram whose box meets the container's: what the reader sees when the page opens.
SHAPES_IN_VIEW = """(container) => {
    const frame = container.getBoundingClientRect();
    return [...container.querySelectorAll('.djs-element.djs-shape')].filter((shape) => {
        const r = shape.getBoundingClientRect();
        return r.width > 0 && r.right > frame.left && r.left < frame.right && r.bottom > frame.top && r.top < frame.bottom;
    }).length;
}"""


def header_fits(page: Any) -> None:
    header = page.locator("header.topbar")
    assert header.evaluate(BOX)["height"] <= HEADER_HEIGHT
    assert header.evaluate("(node) => node.scrollWidth <= node.clientWidth + 1")


def reach_navigation(page: Any, width: int, link: str) -> Any:
    """The navigation link ``link``, made visible as a reader would: through the 菜单 button when folded."""
    target = page.locator("#mainnav a", has_text=link)
    toggle = page.locator("#menu-toggle")
    if width < 900:
        expect(target).to_be_hidden()
        expect(toggle).to_be_visible()
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
    else:
        expect(toggle).to_be_hidden()
    expect(target).to_be_visible()
    return target


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_the_supervisor_pages_fit_the_screen(
    page: Any, live_server: LiveServer, width: int, height: int
) -> None:
    _, instance_id = registered_and_checked(live_server.engine)
    page.set_viewport_size({"width": width, "height": height})
    login(page, live_server, "supervisor")
    page.goto(f"{live_server.url}/cockpit")
    title = page.locator("h1", has_text="监控中心")
    expect(title).to_be_visible()
    header_fits(page)
    # 监控中心 on one line: four characters wide, one line high.
    box = title.evaluate(BOX)
    size = float(title.evaluate("(node) => parseFloat(getComputedStyle(node).fontSize)"))
    assert box["width"] >= 4 * size - 1 and box["height"] < 2 * size, box
    expect(page.locator("#inbox-link")).to_be_visible()
    screenshot(page, f"layout-cockpit-{width}x{height}")

    reach_navigation(page, width, "流程监控").click()
    page.wait_for_url("**/cockpit/processes**")
    header_fits(page)

    page.goto(f"{live_server.url}/instances/{instance_id}")
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-ready", "true")
    assert diagram.evaluate(SHAPES_IN_VIEW) >= 1
    # The active step is among what is in view.
    active = diagram.locator('.djs-element.djs-shape[data-element-id="acceptance_review"]')
    frame, step = diagram.evaluate(BOX), active.evaluate(BOX)
    assert frame["x"] <= step["x"] + step["width"] / 2 <= frame["x"] + frame["width"], (frame, step)
    assert frame["y"] <= step["y"] + step["height"] / 2 <= frame["y"] + frame["height"], (frame, step)
    header_fits(page)
    screenshot(page, f"layout-instance-{width}x{height}")


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_the_task_page_keeps_the_deadlines_beside_the_form_from_a_tablet_up(
    page: Any, live_server: LiveServer, width: int, height: int
) -> None:
    _, instance_id = registered_and_checked(live_server.engine)
    (task,) = open_tasks(live_server.engine, instance_id)
    page.set_viewport_size({"width": width, "height": height})
    login(page, live_server, "office")
    page.goto(f"{live_server.url}/tasks/{task.id}")
    form = page.locator(".form-card")
    deadlines = page.locator("#side section", has_text="法定期限")
    expect(form.locator(".fjs-form")).to_be_visible()
    expect(deadlines).to_be_visible()
    header_fits(page)
    reach_navigation(page, width, "我的待办")
    left, right = form.evaluate(BOX), deadlines.evaluate(BOX)
    if width >= 1024:
        assert right["x"] >= left["x"] + left["width"], (left, right)
        assert right["width"] >= 280, right
    else:
        assert right["y"] >= left["y"] + left["height"], (left, right)  # one column, below the form
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(page, f"layout-task-{width}x{height}")


# Brand, navigation, inbox link and the signed-in official: side by side, none drawn over another.
HEADER_PARTS = ".brand, #mainnav, #inbox-link, .who"


@pytest.mark.parametrize(("width", "height"), [(1024, 768), (1440, 900), (1920, 1080)])
def test_the_admins_twelve_links_neither_overlap_the_header_nor_hide(
    page: Any, live_server: LiveServer, width: int, height: int
) -> None:
    """The admin sees every page's link: the longest navigation. From a desk's width every link is in view;
    narrower, the navigation scrolls inside its own box and never runs under the inbox or the user's name."""
    page.set_viewport_size({"width": width, "height": height})
    login(page, live_server, "admin")
    header_fits(page)
    boxes = page.locator(HEADER_PARTS).evaluate_all(f"(nodes) => nodes.map({BOX})")
    assert len(boxes) == 4
    for left, right in pairwise(boxes):
        assert left["x"] + left["width"] <= right["x"] + 0.5, (left, right)
    links = page.locator("#mainnav a")
    expect(links).to_have_count(12)
    nav = page.locator("#mainnav").evaluate(BOX)
    for i in range(12):
        link = links.nth(i)
        link.scroll_into_view_if_needed()
        box = link.evaluate(BOX)
        assert nav["x"] - 0.5 <= box["x"] and box["x"] + box["width"] <= nav["x"] + nav["width"] + 0.5, (
            i,
            box,
        )
    screenshot(page, f"layout-admin-header-{width}")
    if width >= 1440:
        widths = page.locator("#mainnav").evaluate("(node) => [node.scrollWidth, node.clientWidth]")
        assert widths[0] <= widths[1] + 1, widths
