"""Messages to petitioners (the query code now; notices later), through a notifier the operator chooses.

The default :class:`OutboxNotifier` sends nothing itself: it writes each message to the ``outbox`` table in the
transaction that produced it, an administrator sees the queue on the outbox page, and the operator's SMS
gateway (any program reading ``GET /api/admin/outbox?status=pending`` and marking rows sent) delivers it. A
notifier that talks to a gateway directly is a class with the same ``queue`` method, named in
``PETITIONFLOW_NOTIFIER=package.module:factory``; the factory gets the database and the clock.

``queue`` answers truthfully whether the message went out, and the pages repeat that answer word for word.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .db import Database
from .errors import InvalidInput, NotFound
from .models import OutboxMessage
from .ports import Now

OUTBOX_STATUSES = ("pending", "sent", "failed")


@dataclass(frozen=True)
class Message:
    recipient: str  # a phone number
    kind: str  # query_code
    text: str
    business_key: str | None = None
    channel: str = "sms"


@dataclass(frozen=True)
class Delivery:
    """What became of a message: ``sent`` only when it has actually left the service."""

    sent: bool
    note: str  # Chinese, shown to the petitioner as it is


class Notifier(Protocol):
    def queue(self, session: Session, message: Message) -> Delivery: ...


class OutboxNotifier:
    """Stores the message for the operator's gateway; nothing is sent from here."""

    def __init__(self, db: Database, now: Now) -> None:
        self.db = db
        self.now = now

    def queue(self, session: Session, message: Message) -> Delivery:
        session.add(
            OutboxMessage(
                channel=message.channel,
                recipient=message.recipient,
                kind=message.kind,
                business_key=message.business_key,
                text=message.text,
                status="pending",
                created_at=self.now(),
            )
        )
        return Delivery(False, "短信尚未发出：已进入待发送队列，由信访部门发送到您填写的手机号码。")


def load_notifier(spec: str | None, db: Database, now: Now) -> Notifier:
    """The operator's notifier (``module:factory``), or the outbox."""
    if not spec:
        return OutboxNotifier(db, now)
    module, _, name = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module), name or "notifier")
    except (ImportError, AttributeError) as error:
        raise InvalidInput(f"PETITIONFLOW_NOTIFIER={spec}: {error}") from error
    return factory(db, now)


class Outbox:
    """The administrators' view of the queue and the gateway's way to mark what it delivered."""

    def __init__(self, db: Database, now: Now) -> None:
        self.db = db
        self.now = now

    def list(self, status: str | None = None, limit: int = 100, offset: int = 0) -> list[OutboxMessage]:
        query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit).offset(offset)
        if status:
            query = query.where(OutboxMessage.status == status)
        with self.db.reading() as session:
            return list(session.scalars(query))

    def mark(self, message_id: int, status: str) -> OutboxMessage:
        if status not in OUTBOX_STATUSES[1:]:
            raise InvalidInput("status must be sent or failed", {"fields": {"status": ["sent, failed"]}})
        with self.db.transaction() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .values(status=status, sent_at=self.now() if status == "sent" else None)
            )
            row = session.get(OutboxMessage, message_id)
            if row is None:
                raise NotFound(f"no outbox message {message_id}", {"message": message_id})
            return row
