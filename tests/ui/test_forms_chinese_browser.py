"""Every form of forms/ rendered by the real form-js bundle in chromium reads in Chinese: labels, placeholders,
buttons, select texts, the validation messages of an empty submit and the date picker's months and weekdays.
Dates show as 2026年01月31日 and stay ISO in the data."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.ui.browser import ROOT, LiveServer, login

pytestmark = pytest.mark.browser

FORMS = sorted((ROOT / "forms").glob("*.form"))
ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")
# The bpmn.io mark form-js must show (its licence): a name, not words to translate.
BRAND = "bpmn.io"

# Render one schema into a fresh container through the pages' own createForm, submit it empty so that every
# validation message shows, and return the form; the container is #probe.
RENDER = """async ({ schema, data }) => {
    const m = await import('/static/js/common.js');
    document.getElementById('probe')?.remove();
    const box = document.createElement('div');
    box.id = 'probe';
    document.querySelector('main').prepend(box);
    const form = m.createForm(box);
    await form.importSchema(schema, data);
    window.probeForm = form;
    const { errors } = form.submit();
    await new Promise((resolve) => setTimeout(resolve, 50));
    return Object.keys(errors).length;
}"""

# What a reader sees in the container: its text, and the words of placeholders, titles and labels for readers.
SEEN = """(box) => {
    const words = [box.innerText];
    for (const node of box.querySelectorAll('[placeholder], [title], [aria-label]')) {
        for (const name of ['placeholder', 'title', 'aria-label']) {
            if (node.hasAttribute(name)) words.push(node.getAttribute(name));
        }
    }
    for (const option of box.querySelectorAll('option')) words.push(option.textContent);
    return words.join('\\n');
}"""


def english_in(text: str) -> list[str]:
    return ENGLISH_WORD.findall(text.replace(BRAND, ""))


def open_registration_page(page: Any, live_server: LiveServer) -> None:
    """The registrar's page loads form-js, its Chinese calendar and the pages' scripts, as the task page does."""
    login(page, live_server, "registrar")
    page.goto(f"{live_server.url}/register")
    expect(page.locator("#register-form .fjs-form")).to_be_visible()


def test_every_form_reads_in_chinese_in_the_browser(page: Any, live_server: LiveServer) -> None:
    open_registration_page(page, live_server)
    probe = page.locator("#probe")
    found: dict[str, list[str]] = {}
    required_seen = 0
    dates_seen = 0
    for path in FORMS:
        schema = json.loads(path.read_text(encoding="utf-8"))
        page.evaluate(RENDER, {"schema": schema, "data": {}})
        expect(probe.locator(".fjs-form")).to_be_visible()
        required_seen += probe.locator(".fjs-form-field-error").count()
        # A select shows its placeholder closed and its options open; open the first one that can be changed.
        select = probe.locator(
            ".fjs-form-field-select:not(.fjs-readonly):not(.fjs-disabled) .fjs-input-group"
        ).first
        if select.count() and select.is_visible():
            select.click()
            expect(probe.locator(".fjs-dropdownlist").first).to_be_visible()
        words = english_in(probe.evaluate(SEEN))
        page.evaluate("() => document.activeElement.blur()")  # closes the dropdown
        # The date picker: open the first changeable date field's calendar (months, weekdays); form-js opens it on a press.
        date = probe.locator(
            ".fjs-form-field-datetime:not(.fjs-readonly):not(.fjs-disabled) .fjs-datepicker input"
        ).first
        if date.count() and date.is_visible():
            date.dispatch_event("mousedown")
            calendar = probe.locator(".flatpickr-calendar.open")
            expect(calendar).to_be_visible()
            calendar_text = calendar.evaluate(SEEN)
            assert "星期一" in calendar_text or "周一" in calendar_text, calendar_text
            words += english_in(calendar_text)
            dates_seen += 1
            page.evaluate("() => document.activeElement.blur()")
        if words:
            found[path.name] = sorted(set(words))
    assert not found, f"English an official sees: {found}"
    # The walk saw what it claims to check: empty submits raise messages, and calendars opened.
    assert required_seen > len(FORMS) and dates_seen > 20


def test_dates_read_as_chinese_days_and_stay_iso_in_the_data(page: Any, live_server: LiveServer) -> None:
    open_registration_page(page, live_server)
    schema = json.loads((ROOT / "forms" / "intake_acceptance.form").read_text(encoding="utf-8"))
    key = "acceptedAt"  # shown once the decision is to accept
    page.evaluate(RENDER, {"schema": schema, "data": {"acceptanceDecision": "accept", key: "2026-01-31"}})
    field = page.locator("#probe .fjs-datepicker input").first
    expect(field).to_have_value("2026年01月31日")
    expect(field).to_have_attribute("placeholder", re.compile("[\u4e00-\u9fff]"))
    assert page.evaluate("() => window.probeForm.submit().data")[key] == "2026-01-31"

    # Typed as officials write it, with dashes, slashes or 年月日, the date is the same day.
    for typed, shown, iso in [
        ("2026-2-3", "2026年02月03日", "2026-02-03"),
        ("2026/02/04", "2026年02月04日", "2026-02-04"),
        ("2026年2月5日", "2026年02月05日", "2026-02-05"),
    ]:
        field.fill(typed)
        field.press("Enter")
        field.blur()
        expect(field).to_have_value(shown)
        assert page.evaluate("() => window.probeForm.submit().data")[key] == iso

    # The calendar names its months in Chinese and starts its weeks on Monday.
    field.dispatch_event("mousedown")
    calendar = page.locator("#probe .flatpickr-calendar.open")
    expect(calendar.locator(".flatpickr-monthDropdown-months")).to_contain_text("一月")
    expect(calendar.locator(".flatpickr-weekday").first).to_have_text(re.compile("周一"))
    calendar.locator(
        ".flatpickr-day:not(.prevMonthDay):not(.nextMonthDay)", has_text=re.compile(r"^15$")
    ).click()
    field.blur()
    expect(field).to_have_value(re.compile(r"^\d{4}年\d{2}月15日$"))
    assert re.fullmatch(r"\d{4}-\d{2}-15", page.evaluate("() => window.probeForm.submit().data")[key])
