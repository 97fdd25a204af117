"""GET /api/vocabulary: the pages' deadline titles, group names and warning window come from the server."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import engine.accounts
from engine.clock import FrozenClock
from engine.config import Settings
from engine.deadlines import DEFAULT_RULES
from engine.organisation import KINDS, POSITIONS
from engine.runtime import Engine
from engine.testing import load_fixture_org
from engine.vocabulary import GROUP_LABELS, STATUS_LABELS
from tests.api_helpers import Api
from webapi import create_app
from webapi.api.petitions import STATUSES


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the vocabulary is read from settings files, the database does not take part."""
    return f"sqlite:///{tmp_path / 'petitionflow.db'}"


@pytest.fixture
def operated(settings: Settings, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """An office whose operator moved the warning window to 5 days and retitled and lengthened one deadline."""
    monkeypatch.setattr(engine.accounts, "SCRYPT", {"n": 2**4, "r": 8, "p": 1})
    settings.instance_path.mkdir(parents=True)
    (settings.instance_path / "escalation.json").write_text(
        json.dumps({"warnBeforeDays": 5}), encoding="utf-8"
    )
    (settings.instance_path / "deadlines.json").write_text(
        json.dumps({"evaluation": {"length": 10, "title": "回访评价期限"}}), encoding="utf-8"
    )
    office = Engine(settings, clock=clock)
    office.migrate()
    office.accounts.seed_demo()
    app = create_app(office)
    app.testing = True
    yield Api(app)
    office.db.dispose()


def test_the_operators_settings_are_what_the_pages_read(operated: Api) -> None:
    words = operated.as_("handler").ok("GET", "/api/vocabulary")
    assert words["warnBeforeDays"] == 5
    assert words["deadlines"]["evaluation"] == {"title": "回访评价期限", "length": 10, "unit": "calendar"}
    assert words["deadlines"]["acceptance"]["title"] == "受理期限"
    assert set(words["deadlines"]) == {rule.name for rule in DEFAULT_RULES}
    assert words["groups"]["joint_conference"] == "联席会议办"


def test_strangers_get_no_vocabulary(operated: Api) -> None:
    response = operated.anonymous.get("/api/vocabulary")
    assert response.status_code == 401 and response.json["error"] == "unauthorized"


def test_every_group_the_diagrams_offer_tasks_to_has_a_name() -> None:
    """A group without a name would show as its key (petition_office) on every task list."""
    workflows = Path(__file__).resolve().parent.parent / "workflows"
    offered = set()
    for diagram in workflows.glob("*.bpmn"):
        for attribute in re.findall(r'candidateGroups="([^"]*)"', diagram.read_text(encoding="utf-8")):
            text = html.unescape(attribute)
            if text.startswith("${"):
                # Quoted words of an expression: groups, or the positions and kinds of unit roles, which the
                # pages name from the vocabulary's positions and units.
                offered |= set(re.findall(r"'([A-Za-z_]+)'", text)) - set(POSITIONS) - set(KINDS)
            else:
                offered |= {group.strip() for group in text.split(",")}
    assert offered and offered <= set(GROUP_LABELS), sorted(offered - set(GROUP_LABELS))


def test_the_vocabulary_names_units_and_positions(operated: Api, settings: Settings) -> None:
    office = Engine(settings)
    load_fixture_org(office)
    words = operated.as_("handler").ok("GET", "/api/vocabulary")
    assert words["units"]["county.zjw"] == "区住房城乡建委"
    assert words["positions"]["head"] == "负责人"
    office.db.dispose()


def test_every_petition_status_has_its_chinese_word_for_papers_exports_and_the_public_pages() -> None:
    assert set(STATUSES) <= set(STATUS_LABELS), set(STATUSES) - set(STATUS_LABELS)
