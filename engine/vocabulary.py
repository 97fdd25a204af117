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

# What printed papers and exports (the case file, .xlsx and .csv) write for the engine's keys; the pages keep
# their own copies of these in common.js, beside the words they show around them.
STATUS_LABELS = {
    "registered": "已登记",
    "in_progress": "办理中",
    "closed": "已办结",
    "not_accepted": "不予受理",
    "terminated": "已终结",
    "cancelled": "已撤销",
    "withdrawn": "已撤回",
    "channelled": "已导入法定途径",
    "merged": "已合并办理",
}
CHANNEL_LABELS = {"letter": "书信", "visit": "走访", "web": "网上信访", "phone": "电话"}
CATEGORY_LABELS = {"suggestion": "建议意见类", "accusation": "检举控告类", "complaint": "申诉求决类"}
EVENT_LABELS = {
    "instance.started": "流程启动",
    "instance.completed": "流程结束",
    "instance.suspended": "流程挂起",
    "instance.resumed": "流程恢复",
    "instance.cancelled": "流程撤销",
    "task.created": "生成待办",
    "task.claimed": "认领",
    "task.unclaimed": "释放",
    "task.assigned": "指派",
    "task.completed": "办结",
    "task.comment": "批注",
    "task.cancelled": "待办取消",
    "activity.completed": "环节完成",
    "timer.fired": "定时触发",
    "message.delivered": "消息送达",
    "deadline.started": "期限起算",
    "deadline.paused": "期限中止",
    "deadline.resumed": "期限恢复",
    "deadline.extended": "期限延长",
    "deadline.lapsed": "期限届满",
    "deadline.closed": "期限结束",
    "attachment.added": "上传附件",
    "document.issued": "出具文书",
    "document.served": "登记送达",
    "file.downloaded": "下载材料",
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
