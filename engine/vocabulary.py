"""The words and numbers the pages show for the engine's own keys: deadline titles, candidate group names
and the escalation ladder's warning window.

The server owns them (an operator may retitle or lengthen a deadline in deadlines.json and move the warning
window in escalation.json), so the pages read them from GET /api/vocabulary instead of keeping copies that
drift from what the ladder actually does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from .deadlines import DeadlineRule
from .escalation import MANUAL_REASONS, LadderSettings
from .organisation import KIND_NAMES, LEVEL_NAMES, POSITION_NAMES, Unit

# The candidate groups the shipped diagrams offer tasks to, as the offices call themselves.
GROUP_LABELS: dict[str, str] = {
    "registrar": "登记组",
    "petition_office": "信访局",
    "handling_unit": "责任单位",
    "joint_conference": "联席会议办",
    "county_committee": "县委",
    "leader": "包案领导",
    "hearing_officer": "听证员",
    "reviewer": "复查复核",
    "supervisor": "督查督办",
}


def vocabulary(
    rules: Mapping[str, DeadlineRule], ladder: LadderSettings, units: Iterable[Unit] = ()
) -> dict[str, Any]:
    """Deadline name -> title, length and unit; group -> name; the warning window in days; the organisation's
    unit names and positions, so a page names a unit group (unit:county.zjw:handler) 县住建委承办人."""
    return {
        "units": {unit.code: unit.name for unit in units},
        "positions": dict(POSITION_NAMES),
        "levels": dict(LEVEL_NAMES),
        "kinds": dict(KIND_NAMES),
        "deadlines": {
            name: {"title": rule.label, "length": rule.length, "unit": rule.unit}
            for name, rule in sorted(rules.items())
        },
        "groups": dict(GROUP_LABELS),
        "supervisionReasons": dict(MANUAL_REASONS),
        "warnBeforeDays": ladder.warn_before / timedelta(days=1),
    }
