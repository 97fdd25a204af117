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
from .deadlines import DeadlineKeeper
from .errors import Conflict, InvalidInput, InvalidState, ValidationFailed
from .models import Deadline, Petition
from .petitions import PetitionRegistry, normal_text
from .ports import InstanceCommands, Now

if TYPE_CHECKING:
    from .unit_of_work import CommandResult

OPEN_STATUSES = ("registered", "in_progress")
WITHDRAWN, MERGED = "withdrawn", "merged"
REQUEST_MAX, TEXT_MAX, REASON_MAX = 2000, 5000, 2000
HANDLING, EXTENSION_MESSAGE = "handling", "extension_requested"


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


@dataclass(kw_only=True)
class PetitionActs:
    """Review and recheck requests, extensions, withdrawals, merges and splits, each checked against the
    petition's state first; built by the composition root with what it needs."""

    db: Database
    now: Now
    calendar: StatutoryCalendar
    deadlines: DeadlineKeeper
    commands: InstanceCommands
    registry: PetitionRegistry

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

    def request_extension(
        self, number: str, fields: Mapping[str, Any], *, actor: str | None
    ) -> CommandResult:
        """Ask for the one extension of the handling period (Art. 34): within the period, at most 30 days."""
        if not isinstance(fields, Mapping):
            raise InvalidInput("请求内容应为字段与值的对象", {"fields": {}})
        reason = _text(fields, "reason", REASON_MAX, required=True)
        days = fields.get("days")
        rule = self.deadlines.rule(HANDLING)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= rule.max_extension_days:
            raise InvalidInput(
                f"延长天数应为 1 至 {rule.max_extension_days} 的整数",
                {"fields": {"days": [f"1 至 {rule.max_extension_days} 日"]}},
            )
        petition = self.registry.get(number)
        period = self._window(number, HANDLING)
        if petition.instance_id is None or period is None:
            raise InvalidState(
                "该信访事项尚未进入普通程序办理，不能申请延期", {"petition": number, "reason": "not_handling"}
            )
        if period.extension_days or period.outcome == "on_time":
            raise Conflict(
                "办理期限只能延长一次，本事项已经延长或已办结",
                {"petition": number, "reason": "already_extended" if period.extension_days else "handled"},
            )
        if period.outcome == "overdue" or self.now() >= self.deadlines.effective_due(period):
            raise InvalidState(
                "办理期限已届满，延期应在期限内申请（《信访工作条例》第34条）",
                {"petition": number, "reason": "period_lapsed"},
            )
        payload = {
            "extensionReason": reason,
            "requestedDays": days,
            "extensionRequestedAt": self.today().isoformat(),
        }
        try:
            return self.commands.deliver_message(
                EXTENSION_MESSAGE, instance_id=petition.instance_id, payload=payload, actor=actor
            )
        except (Conflict, InvalidState) as error:
            raise Conflict(
                "本事项已有延期申请在审批中", {"petition": number, "reason": "pending", **error.details}
            ) from error

    def merge(self, number: str, into: str, reason: Any, *, actor: str | None) -> CommandResult:
        """合并办理: a related petition is handled together with one received no later; its own procedure ends
        (status 已合并办理) and the surviving petition's deadlines, which run from the earlier receipt, bind
        the answer to both. The decision and its reason are in both petitions' audit."""
        text = _text({"reason": reason}, "reason", REASON_MAX, required=True)
        petition, target = self.registry.get(number), self.registry.get(into)
        for item in (petition, target):
            if item.status not in OPEN_STATUSES or item.instance_id is None:
                raise InvalidState(
                    f"{item.number} 已办结、终结或撤回，不能合并办理",
                    {"petition": item.number, "status": item.status},
                )
        if number == into or target.received_at > petition.received_at:
            raise InvalidInput(
                "合并办理应并入另一件先收到（或同日收到）的信访事项，以便按较早的期限办理",
                {"fields": {"into": [f"应为收到日期不晚于 {petition.received_at.isoformat()} 的另一事项"]}},
            )
        assert petition.instance_id is not None
        result = self.commands.cancel(
            petition.instance_id, actor=actor, reason=f"并入 {into} 合并办理：{text}", outcome=MERGED
        )
        self.registry.record(target.number, "petition.merged", actor, {"merged": number, "reason": text})
        self.registry.record(number, "petition.merged", actor, {"into": into, "reason": text})
        return result

    def split(self, number: str, fields: Mapping[str, Any], *, actor: str | None) -> Petition:
        """拆分办理: one matter of a petition that raised several is registered on its own, with the original
        receipt date, so its acceptance and handling periods run from when the petitioner raised it."""
        if not isinstance(fields, Mapping):
            raise InvalidInput("请求内容应为字段与值的对象", {"fields": {}})
        reason = _text(fields, "reason", REASON_MAX, required=True)
        original = self.registry.get(number)
        if original.status not in OPEN_STATUSES:
            raise InvalidState("该信访事项已办结、终结或撤回，不能拆分", {"petition": number})
        matter = {k: fields.get(k) for k in ("subject", "request", "facts", "reasons") if fields.get(k)}
        data = {
            **self.registry.registration_of(original),
            **matter,
            "unlinkedNumbers": [number],
            "linkReason": f"自 {number} 拆分办理：{reason}",
        }
        part, _ = self.registry.register(data, actor=actor)
        self.registry.record(number, "petition.split", actor, {"part": part.number, "reason": reason})
        self.registry.record(part.number, "petition.split", actor, {"from": number, "reason": reason})
        return part

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


def refuse_repeated_opinion(rule: str | None, clean: Mapping[str, Any], earlier: Mapping[str, Any]) -> None:
    """A redo (责令重新办理) may not repeat the opinion it redoes. ``rule`` is a user task's ``differsFrom``
    property, ``field:variable,variable,...``: the submitted ``field`` may equal none of the earlier opinions
    held in those variables, compared without case, width, spaces or punctuation."""
    if not rule:
        return
    field, _, sources = rule.partition(":")
    new = normal_text(clean.get(field.strip()))
    if not new:
        return
    for name in sources.split(","):
        if name.strip() and normal_text(str(earlier.get(name.strip()) or "")) == new:
            raise ValidationFailed(
                "重新办理意见与原处理意见相同：责令重新办理的，不得作出相同的处理意见",
                {"fields": {field.strip(): ["不得与原处理意见相同"]}},
            )
