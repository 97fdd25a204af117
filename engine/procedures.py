"""Acts a registrar records on the petitioner's behalf (and the petitioner's own pages will call): asking for
复查 or 复核, and withdrawing the petition (撤回).

A request for review is a message to the petition's running procedure, delivered only while the statutory
window is open: 30 days from the service of the written reply (复查, Art. 35) or of the review opinion (复核,
Art. 36). The window is the deadline record the procedure started when it began to wait (``review_request`` /
``recheck_request``), so the rule the timers keep and the rule checked here are one. A withdrawal ends the
procedure where it stands and leaves the petition with the status 已撤回.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .calendar import StatutoryCalendar
from .db import Database
from .errors import Conflict, InvalidInput, InvalidState
from .models import Deadline, Petition
from .ports import InstanceCommands, Now

if TYPE_CHECKING:
    from .deadlines import DeadlineKeeper
    from .petitions import PetitionRegistry
    from .unit_of_work import CommandResult

OPEN_STATUSES = ("registered", "in_progress")
WITHDRAWN = "withdrawn"
REQUEST_MAX, TEXT_MAX, REASON_MAX = 2000, 5000, 2000


@dataclass(frozen=True)
class ReviewKind:
    """One kind of request: the message the procedure waits for, its window and what the request is called."""

    message: str
    window: str  # the deadline record of the petitioner's window
    anchor: str  # the variable the decision period runs from
    prefix: str  # the request's variables: reviewRequest, reviewFacts, ...
    title: str
    served: str  # what was served to open the window


KINDS = {
    "review": ReviewKind(
        "review_requested", "review_request", "reviewRequestedAt", "review", "复查", "书面答复意见"
    ),
    "recheck": ReviewKind(
        "recheck_requested", "recheck_request", "recheckRequestedAt", "recheck", "复核", "复查意见"
    ),
}


def _text(fields: Mapping[str, Any], key: str, limit: int, *, required: bool) -> str | None:
    value = fields.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput(f"缺少“{key}”", {"fields": {key: ["必填"]}})
        return None
    if not isinstance(value, str) or len(value.strip()) > limit:
        raise InvalidInput(f"“{key}”应为不超过 {limit} 字的文字", {"fields": {key: [f"1 至 {limit} 字"]}})
    return value.strip()


class PetitionActs:
    """Review and recheck requests and withdrawals, each checked against the petition's state first."""

    def __init__(
        self,
        *,
        db: Database,
        now: Now,
        calendar: StatutoryCalendar,
        deadlines: DeadlineKeeper,
        commands: InstanceCommands,
        registry: PetitionRegistry,
    ) -> None:
        self.db = db
        self.now = now
        self.calendar = calendar
        self.deadlines = deadlines
        self.commands = commands
        self.registry = registry

    def today(self) -> date:
        return self.now().astimezone(self.calendar.tz).date()

    def _window(self, number: str, name: str) -> Deadline | None:
        with self.db.reading() as session:
            return session.scalars(
                select(Deadline)
                .where(Deadline.business_key == number, Deadline.name == name)
                .order_by(Deadline.id.desc())
                .limit(1)
            ).first()

    def _requested_on(self, fields: Mapping[str, Any], window: Deadline) -> date:
        raw = fields.get("requestedAt")
        if raw is None or raw == "":
            return self.today()
        try:
            day = date.fromisoformat(str(raw)[:10])
        except ValueError:
            raise InvalidInput(
                "“requestedAt”应为日期（如 2026-11-02）", {"fields": {"requestedAt": ["日期格式 YYYY-MM-DD"]}}
            ) from None
        if day > self.today():
            raise InvalidInput("请求日期不能晚于今天", {"fields": {"requestedAt": ["不能晚于今天"]}})
        if day < window.anchor:
            raise InvalidInput(
                f"请求日期不能早于送达日期 {window.anchor.isoformat()}",
                {"fields": {"requestedAt": [f"不能早于 {window.anchor.isoformat()}"]}},
            )
        return day

    def request_review(
        self, number: str, kind: str, fields: Mapping[str, Any], *, actor: str | None
    ) -> CommandResult:
        """Deliver a 复查 (``kind="review"``) or 复核 (``"recheck"``) request to the petition's procedure."""
        spec = KINDS.get(kind)
        if spec is None:
            raise InvalidInput(
                "请求种类应为 review（复查）或 recheck（复核）", {"fields": {"kind": ["review 或 recheck"]}}
            )
        if not isinstance(fields, Mapping):
            raise InvalidInput("请求内容应为字段与值的对象", {"fields": {}})
        request = _text(fields, "request", REQUEST_MAX, required=True)
        facts = _text(fields, "facts", TEXT_MAX, required=False)
        reasons = _text(fields, "reasons", TEXT_MAX, required=False)
        petition = self.registry.get(number)
        window = self._window(number, spec.window)
        if petition.instance_id is None or window is None:
            raise InvalidState(
                f"该信访事项尚未送达{spec.served}，不能请求{spec.title}",
                {"petition": number, "kind": kind, "reason": "not_served"},
            )
        if window.outcome == "on_time":
            raise Conflict(
                f"该信访事项已请求过{spec.title}",
                {"petition": number, "kind": kind, "reason": "already_requested"},
            )
        requested = self._requested_on(fields, window)
        due = self.deadlines.effective_due(window)
        # The window is met by anything before midnight ending its last day.
        last_day = (due.astimezone(self.calendar.tz) - timedelta(microseconds=1)).date()
        if window.outcome == "overdue" or requested > last_day:
            raise InvalidState(
                f"{spec.title}请求期限已过：{spec.served}于 {window.anchor.isoformat()} 送达，"
                f"应在 {last_day.isoformat()} 前提出（《信访工作条例》第{35 if kind == 'review' else 36}条）",
                {
                    "petition": number,
                    "kind": kind,
                    "reason": "window_lapsed",
                    "lastDay": last_day.isoformat(),
                },
            )
        payload = {
            spec.anchor: requested.isoformat(),
            f"{spec.prefix}Request": request,
            f"{spec.prefix}Facts": facts or "",
            f"{spec.prefix}Reasons": reasons or "",
        }
        try:
            return self.commands.deliver_message(
                spec.message, instance_id=petition.instance_id, payload=payload, actor=actor
            )
        except (Conflict, InvalidState) as error:
            raise InvalidState(
                f"该信访事项当前不在等待{spec.title}请求的阶段",
                {"petition": number, "kind": kind, "reason": "not_waiting", **error.details},
            ) from error

    def withdraw(self, number: str, reason: Any, *, actor: str | None) -> CommandResult:
        """The petitioner withdraws the petition (撤回): its procedure ends where it stands, status 已撤回."""
        text = _text({"reason": reason}, "reason", REASON_MAX, required=True)
        petition: Petition = self.registry.get(number)
        if petition.status not in OPEN_STATUSES or petition.instance_id is None:
            raise InvalidState(
                "该信访事项已办结、终结或撤回，不能再撤回",
                {"petition": number, "status": petition.status},
            )
        return self.commands.cancel(
            petition.instance_id, actor=actor, reason=f"信访人撤回：{text}", outcome=WITHDRAWN
        )
