"""The officials' inbox (站内通知): new tasks, deadline warnings and supervisions (督办), with optional e-mail.

An entry is addressed to a login or a group (a county-wide group or a unit role ``unit:<code>:<position>``) and
is written in the transaction of what it announces, as the petitioners' outbox is (engine/notifier.py): the
command that opens tasks adds one row per addressee in one INSERT, the escalation ladder adds its warnings and
supervisions where it records them. Each member of a group reads an entry for themselves (``NotificationRead``).

E-mail is the operator's choice (``PETITIONFLOW_SMTP_HOST`` …, docs/production.md): :class:`Mailer` runs in the
scheduler after the commits, sends each pending entry once to the addresses its readers chose and marks it
``sent``, ``failed`` (kept for the next run) or ``none`` (nobody asked for mail). Without SMTP nothing is sent and
the inbox is all there is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import smtplib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Protocol

from sqlalchemy import and_, delete, func, insert, select
from sqlalchemy.orm import Session

from .db import Database
from .errors import InvalidInput, NotFound
from .models import Notification, NotificationEmail, NotificationRead, Task, TaskCandidate, UnitMember, User
from .organisation import parse_unit_group

# The clock and the reader as this module needs them (engine/ports.py and engine/accounts.py import the unit of
# work, which writes the inbox rows of new tasks: naming them here would close a circle).
Now = Callable[[], datetime]


class Principal(Protocol):
    """Who reads the inbox: engine.accounts.Principal."""

    @property
    def username(self) -> str: ...

    @property
    def groups(self) -> tuple[str, ...]: ...


log = logging.getLogger(__name__)

KINDS = ("task", "warning", "supervision")
TITLE_LIMIT = 300
# An address of the usual shape; the SMTP server is the judge of the rest.
EMAIL = re.compile(r"^[^@\s<>,;]{1,64}@[^@\s<>,;]{1,189}$")
# Mail goes out for entries of the last day only: an operator who turns SMTP on is not sending last year's news.
MAIL_WINDOW = timedelta(days=1)


def _title(text: str) -> str:
    return text if len(text) <= TITLE_LIMIT else text[: TITLE_LIMIT - 1] + "…"


def task_addressees(row: dict[str, Any]) -> list[str]:
    """Who a new task is offered to: its assignee, else its candidate users and groups."""
    if row.get("assignee"):
        return [row["assignee"]]
    return list(dict.fromkeys([*(row.get("candidate_users") or []), *(row.get("candidate_groups") or [])]))


def task_notices(rows: Sequence[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The inbox rows announcing the open-task rows ``rows`` (written with them, in one statement)."""
    notices = []
    for row in rows:
        case = f"（{row['business_key']}）" if row.get("business_key") else ""
        title = _title(f"新待办：{row.get('name') or row['element_id']}{case}")
        for addressee in task_addressees(row):
            notices.append(
                {
                    "kind": "task",
                    "addressee": addressee,
                    "title": title,
                    "business_key": row.get("business_key"),
                    "instance_id": row["instance_id"],
                    "task_id": row["id"],
                    "created_at": now,
                    "email_status": "pending",
                }
            )
    return notices


def announce(
    session: Session,
    kind: str,
    addressees: Iterable[str],
    title: str,
    now: datetime,
    *,
    business_key: str | None = None,
    instance_id: str | None = None,
) -> int:
    """Add one inbox entry per addressee in the caller's transaction; returns how many."""
    rows = [
        {
            "kind": kind,
            "addressee": addressee,
            "title": _title(title),
            "business_key": business_key,
            "instance_id": instance_id,
            "task_id": None,
            "created_at": now,
            "email_status": "pending",
        }
        for addressee in dict.fromkeys(a for a in addressees if a)
    ]
    if rows:
        session.execute(insert(Notification.__table__), rows)
    return len(rows)


def open_task_addressees(session: Session, instance_id: str) -> list[str]:
    """Whoever has the instance's open steps: their assignees, else their candidate users and groups."""
    tasks = session.execute(select(Task.id, Task.assignee).where(Task.instance_id == instance_id)).all()
    assigned = [assignee for _, assignee in tasks if assignee]
    waiting = [task_id for task_id, assignee in tasks if not assignee]
    offered: list[str] = []
    if waiting:
        offered = list(
            session.scalars(
                select(TaskCandidate.name)
                .where(TaskCandidate.task_id.in_(waiting))
                .order_by(TaskCandidate.name)
            )
        )
    return list(dict.fromkeys([*assigned, *offered]))


def addresses_of(principal: Principal) -> list[str]:
    """The addressees whose entries ``principal`` reads: their login and every group they belong to."""
    return [principal.username, *principal.groups]


@dataclass(frozen=True)
class InboxEntry:
    id: int
    kind: str
    title: str
    business_key: str | None
    instance_id: str | None
    task_id: str | None
    created_at: datetime
    read: bool


class Inbox:
    """Each official's entries, unread first in the count, newest first in the list."""

    def __init__(self, db: Database, now: Now) -> None:
        self.db = db
        self.now = now

    def _mine(self, principal: Principal) -> Any:
        read = select(NotificationRead.notification_id).where(
            NotificationRead.notification_id == Notification.id, NotificationRead.login == principal.username
        )
        return Notification.addressee.in_(addresses_of(principal)), read.exists()

    def unread(self, principal: Principal) -> int:
        mine, read = self._mine(principal)
        with self.db.reading() as session:
            return session.scalar(select(func.count()).select_from(Notification).where(mine, ~read)) or 0

    def entries(
        self, principal: Principal, *, unread_only: bool = False, limit: int = 50, offset: int = 0
    ) -> list[InboxEntry]:
        mine, read = self._mine(principal)
        query = select(Notification, read.label("read")).where(mine)
        if unread_only:
            query = query.where(~read)
        query = query.order_by(Notification.id.desc()).limit(limit).offset(offset)
        with self.db.reading() as session:
            return [
                InboxEntry(
                    n.id, n.kind, n.title, n.business_key, n.instance_id, n.task_id, n.created_at, bool(r)
                )
                for n, r in session.execute(query)
            ]

    def mark_read(self, principal: Principal, ids: Sequence[int] | None) -> int:
        """Mark the given entries (all of the principal's unread ones when ``ids`` is None) read; returns how
        many were newly read. An id that is not one of the principal's entries is refused, naming it."""
        mine, read = self._mine(principal)
        with self.db.transaction() as session:
            query = select(Notification.id).where(mine, ~read)
            if ids is not None:
                known = set(session.scalars(select(Notification.id).where(mine, Notification.id.in_(ids))))
                missing = sorted(set(ids) - known)
                if missing:
                    raise NotFound(f"no inbox entry {missing[0]}", {"notification": missing[0]})
                query = query.where(Notification.id.in_(ids))
            fresh = list(session.scalars(query))
            if fresh:
                now = self.now()
                session.execute(
                    insert(NotificationRead.__table__),
                    [{"notification_id": i, "login": principal.username, "read_at": now} for i in fresh],
                )
            return len(fresh)

    def email(self, principal: Principal) -> str | None:
        with self.db.reading() as session:
            return session.scalar(
                select(NotificationEmail.address).where(NotificationEmail.login == principal.username)
            )

    def set_email(self, principal: Principal, address: str | None) -> str | None:
        """The principal's own address for e-mail copies (None or empty: no e-mail)."""
        address = (address or "").strip() or None
        if address is not None and not EMAIL.match(address):
            raise InvalidInput("电子邮箱地址格式不正确", {"fields": {"email": ["电子邮箱地址格式不正确"]}})
        with self.db.transaction() as session:
            session.execute(delete(NotificationEmail).where(NotificationEmail.login == principal.username))
            if address is not None:
                session.add(
                    NotificationEmail(login=principal.username, address=address, updated_at=self.now())
                )
        return address


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    sender: str = "信访事项办理系统 <noreply@localhost>"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    base_url: str = ""  # the address of the pages, for a link in the mail

    @classmethod
    def from_env(cls) -> SmtpSettings | None:
        """The operator's SMTP server, or None when ``PETITIONFLOW_SMTP_HOST`` is not set (no e-mail)."""
        host = os.environ.get("PETITIONFLOW_SMTP_HOST", "").strip()
        if not host:
            return None
        try:
            port = int(os.environ.get("PETITIONFLOW_SMTP_PORT", "25"))
        except ValueError as error:
            raise InvalidInput(f"PETITIONFLOW_SMTP_PORT: {error}") from error
        return cls(
            host=host,
            port=port,
            sender=os.environ.get("PETITIONFLOW_SMTP_FROM", "").strip() or cls.sender,
            username=os.environ.get("PETITIONFLOW_SMTP_USER") or None,
            password=os.environ.get("PETITIONFLOW_SMTP_PASSWORD") or None,
            starttls=os.environ.get("PETITIONFLOW_SMTP_STARTTLS", "").lower() in ("1", "true", "yes", "on"),
            base_url=os.environ.get("PETITIONFLOW_BASE_URL", "").rstrip("/"),
        )


class Mailer:
    """Sends the pending inbox entries of the last day to the addresses their readers chose, once each."""

    def __init__(self, db: Database, now: Now, settings: SmtpSettings) -> None:
        self.db = db
        self.now = now
        self.settings = settings

    def _recipients(self, session: Session, addressee: str) -> list[str]:
        """The chosen addresses of the people an entry is addressed to (a login, or a group's members)."""
        unit = parse_unit_group(addressee)
        if unit is not None:
            logins = select(UnitMember.login).where(
                and_(UnitMember.unit_code == unit[0], UnitMember.position == unit[1])
            )
            people = set(session.scalars(logins))
        else:
            people = {addressee}
            for login, groups in session.execute(select(User.username, User.groups).where(User.active)):
                if addressee in (groups or []):
                    people.add(login)
        return sorted(
            set(
                session.scalars(
                    select(NotificationEmail.address).where(NotificationEmail.login.in_(sorted(people)))
                )
            )
        )

    def _message(self, entry: Notification) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = entry.title
        message["From"] = self.settings.sender
        # The readers are the envelope's recipients only: no one learns who else was told.
        message["To"] = "undisclosed-recipients:;"
        link = f"\n\n查看：{self.settings.base_url}/inbox" if self.settings.base_url else ""
        message.set_content(f"{entry.title}\n\n请登录信访事项办理系统查看和办理。{link}\n")
        return message

    def deliver(self, limit: int = 100) -> dict[str, int]:
        """One run: send what is pending; returns how many entries were sent, failed or had nobody to mail."""
        counts = {"sent": 0, "failed": 0, "none": 0}
        since = self.now() - MAIL_WINDOW
        with self.db.transaction() as session:
            pending = list(
                session.scalars(
                    select(Notification)
                    .where(
                        Notification.email_status.in_(("pending", "failed")), Notification.created_at >= since
                    )
                    .order_by(Notification.id)
                    .limit(limit)
                )
            )
            work = [(entry, self._recipients(session, entry.addressee)) for entry in pending]
        outcome: dict[int, str] = {}
        connection: smtplib.SMTP | None = None
        try:
            for entry, recipients in work:
                if not recipients:
                    outcome[entry.id] = "none"
                    continue
                try:
                    if connection is None:
                        connection = self._connect()
                    connection.send_message(self._message(entry), to_addrs=recipients)
                    outcome[entry.id] = "sent"
                except (OSError, smtplib.SMTPException) as error:
                    # Kept as failed: the next run tries again while the entry is inside the mail window.
                    log.warning("e-mail for inbox entry %s failed: %s", entry.id, type(error).__name__)
                    outcome[entry.id] = "failed"
                    connection = None
        finally:
            if connection is not None:
                with contextlib.suppress(OSError, smtplib.SMTPException):
                    connection.quit()
        with self.db.transaction() as session:
            for status in counts:
                ids = [i for i, s in outcome.items() if s == status]
                counts[status] = len(ids)
                if ids:
                    session.execute(
                        Notification.__table__.update()
                        .where(Notification.__table__.c.id.in_(ids))
                        .values(email_status=status)
                    )
        return counts

    def _connect(self) -> smtplib.SMTP:
        connection = smtplib.SMTP(self.settings.host, self.settings.port, timeout=30)
        if self.settings.starttls:
            connection.starttls()
        if self.settings.username:
            connection.login(self.settings.username, self.settings.password or "")
        return connection
