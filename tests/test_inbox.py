"""The officials' inbox: new tasks for the people and groups they are offered to, deadline warnings for whoever
has the case, supervisions for the unit's head and the bureau; each reader marks their own entries read; e-mail
through the operator's SMTP server (a real aiosmtpd server on a local port)."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import event

from engine.accounts import Principal
from engine.errors import InvalidInput, NotFound
from engine.inbox import Mailer, SmtpSettings
from engine.runtime import Engine
from tests.api_helpers import Api, assert_error
from tests.helpers import only_task
from tests.test_escalation import register_to_acceptance
from tests.test_petitions import REGISTRATION

pytest_plugins = ("tests.api_helpers",)


def reader(username: str, *groups: str) -> Principal:
    return Principal(username, username, frozenset({"handler"}), groups)


REGISTRAR = reader("registrar", "registrar")
OTHER_REGISTRAR = reader("registrar2", "registrar")
OFFICE = reader("office", "petition_office")


def registered(engine: Engine) -> str:
    _, result = engine.petitions.register(REGISTRATION, actor="registrar")
    return result.instance_id


def test_a_new_task_reaches_each_reader_it_is_offered_to_who_reads_it_for_themselves(
    deployed: Engine,
) -> None:
    inbox = deployed.inbox
    instance_id = registered(deployed)
    check = only_task(deployed, instance_id, "register_check")
    [entry] = inbox.entries(REGISTRAR)
    assert (entry.kind, entry.task_id, entry.instance_id, entry.read) == (
        "task",
        check.id,
        instance_id,
        False,
    )
    assert entry.title.startswith("新待办：登记核对") and entry.business_key in entry.title
    assert inbox.unread(REGISTRAR) == inbox.unread(OTHER_REGISTRAR) == 1
    assert inbox.entries(OFFICE) == [] and inbox.unread(OFFICE) == 0

    assert inbox.mark_read(REGISTRAR, [entry.id]) == 1
    assert inbox.mark_read(REGISTRAR, [entry.id]) == 0  # once
    assert inbox.unread(REGISTRAR) == 0 and inbox.entries(REGISTRAR)[0].read
    # A colleague in the same group still has it unread: each reads for themselves.
    assert inbox.unread(OTHER_REGISTRAR) == 1
    assert inbox.entries(OTHER_REGISTRAR, unread_only=True)[0].id == entry.id
    # Another's entry is not the office's to mark: refused by its id, nothing marked.
    with pytest.raises(NotFound) as refused:
        inbox.mark_read(OFFICE, [entry.id])
    assert refused.value.to_dict()["message"] == f"没有通知 {entry.id}"
    assert inbox.unread(OTHER_REGISTRAR) == 1


def test_completing_a_step_writes_the_next_steps_entries_in_one_insert(deployed: Engine) -> None:
    instance_id = registered(deployed)
    check = only_task(deployed, instance_id, "register_check")
    deployed.claim(check.id, "registrar", actor="registrar")
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO NOTIFICATION"):
            statements.append(statement)

    event.listen(deployed.db.engine, "before_cursor_execute", seen)
    try:
        deployed.complete(check.id, {"checkResult": "confirmed"}, actor="registrar", require_claim=True)
    finally:
        event.remove(deployed.db.engine, "before_cursor_execute", seen)
    assert len(statements) == 1
    review = only_task(deployed, instance_id, "acceptance_review")
    [entry] = deployed.inbox.entries(OFFICE)
    assert entry.task_id == review.id and entry.title.startswith("新待办：受理审查")
    assert deployed.inbox.mark_read(OFFICE, None) == 1 and deployed.inbox.unread(OFFICE) == 0


def test_warnings_reach_whoever_has_the_case_and_supervisions_the_head_and_the_bureau(
    deployed: Engine, clock: Any
) -> None:
    register_to_acceptance(deployed, "区住房城乡建委", 0, "county.zjw")
    head = reader("zjw_head", "unit:county.zjw:head")
    supervisor = reader("supervisor", "supervisor")
    office_before = {e.id for e in deployed.inbox.entries(OFFICE)}
    clock.advance(days=14)
    deployed.escalations.run()
    warnings = [e for e in deployed.inbox.entries(OFFICE) if e.id not in office_before]
    assert [e.kind for e in warnings] == ["warning"]
    assert warnings[0].title.startswith("临期预警：受理期限将于 2026-11-17 24:00 届满")
    deployed.escalations.run()  # the ladder writes a step once, and so its entries
    assert len(deployed.inbox.entries(OFFICE)) == len(office_before) + 1

    clock.advance(days=2)
    deployed.escalations.run()
    for who in (head, supervisor):
        kinds = [e.kind for e in deployed.inbox.entries(who)]
        assert "supervision" in kinds, (who.username, kinds)
    [told] = [e for e in deployed.inbox.entries(head) if e.kind == "supervision"]
    assert told.title.startswith("督办：受理期限已于 2026-11-17 24:00 届满")


class Sink:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, SmtpSettings]]:
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield sink, SmtpSettings(host="127.0.0.1", port=controller.port, base_url="https://xf.example.cn")
    finally:
        controller.stop()


def test_entries_are_mailed_once_to_the_addresses_their_readers_chose(
    deployed: Engine, smtp: tuple[Sink, SmtpSettings]
) -> None:
    sink, settings = smtp
    deployed.accounts.seed_demo()
    deployed.inbox.set_email(REGISTRAR, "wangmin@xf.example.cn")
    with pytest.raises(InvalidInput) as refused:
        deployed.inbox.set_email(OFFICE, "not an address")
    assert refused.value.details == {"fields": {"email": ["电子邮箱地址格式不正确"]}}
    assert deployed.inbox.email(OFFICE) is None
    mailer = Mailer(deployed.db, deployed.now, settings)

    registered(deployed)
    assert mailer.deliver() == {"sent": 1, "failed": 0, "none": 0}
    [envelope] = sink.envelopes
    assert envelope.rcpt_tos == ["wangmin@xf.example.cn"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Subject"].startswith("新待办：登记核对")
    assert "wangmin" not in str(message["To"])  # the readers are the envelope's, not the header's
    body = message.get_content()
    assert "请登录信访事项办理系统" in body and "https://xf.example.cn/inbox" in body
    assert mailer.deliver() == {"sent": 0, "failed": 0, "none": 0}  # once
    assert len(sink.envelopes) == 1


def test_an_unreachable_server_keeps_the_entry_for_the_next_run(deployed: Engine) -> None:
    deployed.accounts.seed_demo()
    deployed.inbox.set_email(REGISTRAR, "wangmin@xf.example.cn")
    registered(deployed)
    down = Mailer(deployed.db, deployed.now, SmtpSettings(host="127.0.0.1", port=free_port()))
    assert down.deliver() == {"sent": 0, "failed": 1, "none": 0}
    assert down.deliver()["failed"] == 1  # tried again, nothing lost
    assert deployed.inbox.unread(REGISTRAR) == 1  # the inbox has it whatever the mail does


def test_the_inbox_over_the_api_is_each_callers_own(api: Api) -> None:
    registrar, office = api.as_("registrar"), api.as_("office")
    number = api.register()["number"]
    page = registrar.ok("GET", "/api/notifications")
    [entry] = page["items"]
    assert page["unread"] == 1 and entry["kind"] == "task" and entry["businessKey"] == number
    assert registrar.ok("GET", "/api/notifications/count") == {"unread": 1}
    assert office.ok("GET", "/api/notifications") == {"items": [], "unread": 0}
    # The office cannot mark the registrars' entry: 404 in Chinese, naming it, and nothing changes.
    refused = assert_error(
        office.post("/api/notifications/read", json={"ids": [entry["id"]]}), 404, "not_found"
    )
    assert refused["message"] == f"没有通知 {entry['id']}"
    assert registrar.ok("POST", "/api/notifications/read", json={"ids": [entry["id"]]}) == {
        "marked": 1,
        "unread": 0,
    }
    assert registrar.ok("GET", "/api/notifications", query_string={"unread": "true"})["items"] == []
    assert registrar.ok("GET", "/api/notifications")["items"][0]["read"] is True

    assert registrar.ok("GET", "/api/notifications/email") == {"email": None, "available": False}
    bad = assert_error(
        registrar.put("/api/notifications/email", json={"email": "王敏"}), 422, "unprocessable_entity"
    )
    assert bad["details"] == {"fields": {"email": ["电子邮箱地址格式不正确"]}}
    chosen = registrar.ok("PUT", "/api/notifications/email", json={"email": "wangmin@xf.example.cn"})
    assert chosen["email"] == "wangmin@xf.example.cn"
    assert registrar.ok("PUT", "/api/notifications/email", json={"email": None})["email"] is None
    assert_error(api.anonymous.get("/api/notifications"), 401)
