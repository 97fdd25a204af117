"""The petition registry over the shipped intake procedure: numbering, flags, validation, status."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.errors import ValidationFailed
from engine.models import AuditEvent, Instance, Petition
from engine.petitions import petition_status, same_person
from engine.runtime import Engine
from tests.helpers import instance, only_task

REGISTRATION = {
    "petitionerName": "张三",
    "idType": "resident_id",
    "idNumber": "500107199001011238",
    "phone": "13800138000",
    "address": "重庆市九龙坡区杨家坪正街1号",
    "channel": "visit",
    "receivedAt": "2026-11-02",
    "subject": "小区夜间施工噪声扰民",
    "request": "请求责令施工单位停止夜间施工",
    "facts": "十月以来每晚施工至凌晨",
    "involvedUnit": "区住房城乡建委",
    "place": "杨家坪街道",
    "peopleCount": 1,
}


def count(engine: Engine, model) -> int:
    with engine.db.reading() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_registration_numbers_the_petition_and_starts_intake_with_its_data(deployed: Engine) -> None:
    petition, result = deployed.petitions.register(REGISTRATION, actor="reg1")
    assert petition.number == "XF2026-000001"
    assert (petition.status, petition.is_repeat, petition.registered_by) == ("in_progress", False, "reg1")
    assert petition.content.startswith("请求：请求责令")
    row = instance(deployed, result.instance_id)
    assert (row.business_key, row.definition_key) == ("XF2026-000001", "petition_intake")
    assert '"petitionerName":"张三"' in row.state_json
    assert only_task(deployed, result.instance_id, "register_check").business_key == "XF2026-000001"
    second, _ = deployed.petitions.register({**REGISTRATION, "receivedAt": "2026-11-01"})
    assert second.number == "XF2026-000002"


def test_same_person_and_matter_is_a_repeat_and_stays_first_turned_repeat(deployed: Engine) -> None:
    deployed.petitions.register(REGISTRATION)
    # Width, spacing and punctuation do not make another matter.
    again, result = deployed.petitions.register({**REGISTRATION, "subject": "小区 夜间施工噪声扰民！"})
    assert (again.is_repeat, again.first_turned_repeat, again.same_matter_pending) == (True, True, True)
    assert again.previous_number == "XF2026-000001"
    assert '"isRepeat":true' in instance(deployed, result.instance_id).state_json
    third, _ = deployed.petitions.register(REGISTRATION)
    # A third petition on the matter is still 初转重: the joint conference keeps it (not the first tier).
    assert (third.is_repeat, third.first_turned_repeat, third.previous_number) == (True, True, again.number)
    other, _ = deployed.petitions.register({**REGISTRATION, "subject": "物业费收费标准不合理"})
    assert other.is_repeat is False


def test_invalid_registration_reports_every_field_and_stores_nothing(deployed: Engine) -> None:
    bad = {**REGISTRATION, "petitionerName": "", "phone": "12345", "channel": "pigeon", "category": "gossip"}
    with pytest.raises(ValidationFailed) as caught:
        deployed.petitions.register(bad)
    assert set(caught.value.details["fields"]) == {"petitionerName", "phone", "channel", "category"}
    assert count(deployed, Petition) == 0 and count(deployed, Instance) == 0


def test_a_receipt_date_in_the_future_is_refused(deployed: Engine) -> None:
    with pytest.raises(ValidationFailed) as caught:
        deployed.petitions.register({**REGISTRATION, "receivedAt": "2026-12-01"})
    assert list(caught.value.details["fields"]) == ["receivedAt"]


def test_cancelling_the_procedure_cancels_the_petition(deployed: Engine) -> None:
    petition, result = deployed.petitions.register(REGISTRATION)
    deployed.cancel(result.instance_id, reason="registered twice")
    assert deployed.petitions.get(petition.number).status == "cancelled"


@pytest.mark.parametrize(
    ("state", "data", "expected"),
    [
        ("completed", {"terminated": True}, ("terminated", "terminated")),
        ("completed", {"acceptanceDecision": "skip_level"}, ("not_accepted", "skip_level")),
        (
            "completed",
            {"acceptanceDecision": "accept", "resolved": True, "caseClosed": True},
            ("closed", "resolved"),
        ),
        ("completed", {"acceptanceDecision": "accept", "handlingDecision": "support"}, ("closed", "support")),
        ("cancelled", {"terminated": True}, ("cancelled", None)),
        ("completed", {"acceptanceDecision": "other_channel"}, ("channelled", "other_channel")),
        (
            "completed",
            {"acceptanceDecision": "accept", "statutoryRoute": "arbitration"},
            ("channelled", "arbitration"),
        ),
    ],
)
def test_status_follows_how_the_procedure_ended(state, data, expected) -> None:
    assert petition_status(state, data) == expected


WAGES = {
    **REGISTRATION,
    "subject": "讨要工资",
    "request": "请求责令某建筑公司支付拖欠的三个月工资",
    "facts": "在某建筑公司工地务工，今年六月至八月工资未发放",
    "involvedUnit": "区人力社保局",
}


def test_a_similar_matter_of_the_same_person_is_proposed_as_a_repeat(deployed: Engine) -> None:
    first, _ = deployed.petitions.register(WAGES)
    # Another subject for the same wages; the ID number is the same person even with a new phone.
    reworded = {
        **WAGES,
        "subject": "拖欠工资",
        "request": "请求督促某建筑公司支付拖欠的工资",
        "phone": "13900139000",
    }
    seen = deployed.petitions.check(reworded)
    assert seen.is_repeat and [n for n, _ in seen.proposals] == [first.number]
    assert 0.5 <= seen.proposals[0][1] < 1
    second, _ = deployed.petitions.register(reworded)
    assert (second.is_repeat, second.previous_number, second.matter_key) == (
        True,
        first.number,
        first.matter_key,
    )
    # The same person's other matter, and the same matter of another person, are not repeats.
    assert not deployed.petitions.check(REGISTRATION).is_repeat
    other_person = {**reworded, "idNumber": "11010119900307109x", "phone": "13700137000"}
    assert not deployed.petitions.check(other_person).is_repeat


def test_without_an_id_number_the_phone_then_name_and_address_say_who_it_is(deployed: Engine) -> None:
    no_id = {**WAGES, "idType": "none"}
    first, _ = deployed.petitions.register(no_id)
    assert deployed.petitions.check({**no_id, "address": "另一个地址"}).is_repeat  # the same phone
    assert not deployed.petitions.check({**no_id, "phone": "13700137000"}).is_repeat  # another phone
    # Earlier records without a phone (a letter) fall back on name and address.
    letter = Petition(
        petitioner_name=first.petitioner_name, address=first.address, phone=None, id_number=None
    )
    assert same_person(no_id, letter)
    assert not same_person({**no_id, "address": "另一个地址"}, letter)


def test_the_registrar_links_and_unlinks_with_a_reason_kept_in_the_audit(deployed: Engine) -> None:
    first, _ = deployed.petitions.register(WAGES)
    unrelated = {**WAGES, "subject": "工伤认定", "request": "请求认定工伤", "facts": "在工地受伤"}
    second, _ = deployed.petitions.register(unrelated)
    assert second.is_repeat is False
    with pytest.raises(ValidationFailed) as no_reason:
        deployed.petitions.link(second.number, first.number, " ", linked=True, actor="registrar")
    assert "reason" in no_reason.value.details["fields"]
    linked = deployed.petitions.link(
        second.number, first.number, "同一工程欠薪引发", linked=True, actor="registrar"
    )
    assert (linked.is_repeat, linked.previous_number) == (True, first.number)
    third, _ = deployed.petitions.register(unrelated)
    assert third.previous_number == second.number and third.matter_key == first.matter_key
    unlinked = deployed.petitions.link(
        second.number, first.number, "核实后属不同事项", linked=False, actor="registrar"
    )
    assert (unlinked.is_repeat, unlinked.previous_number) == (False, None)
    with deployed.db.reading() as session:
        events = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.business_key == second.number, AuditEvent.kind.like("petition.%"))
                .order_by(AuditEvent.id)
            )
        )
    assert [(e.kind, e.actor, e.data["reason"]) for e in events] == [
        ("petition.linked", "registrar", "同一工程欠薪引发"),
        ("petition.unlinked", "registrar", "核实后属不同事项"),
    ]


def test_a_proposal_refused_at_registration_is_not_counted_and_the_refusal_is_audited(
    deployed: Engine,
) -> None:
    first, _ = deployed.petitions.register(WAGES)
    data = {**WAGES, "subject": "拖欠工资", "unlinkedNumbers": [first.number]}
    with pytest.raises(ValidationFailed) as no_reason:
        deployed.petitions.register(data)
    assert set(no_reason.value.details["fields"]) == {"linkReason"}
    second, result = deployed.petitions.register({**data, "linkReason": "另一工地的欠薪"})
    assert second.is_repeat is False
    with deployed.db.reading() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.kind == "petition.matter")).one()
    assert event.instance_id == result.instance_id
    assert event.data["unlinked"] == [first.number] and event.data["proposed"][0]["number"] == first.number


def test_an_anonymous_letter_is_registered_without_name_phone_or_address(deployed: Engine) -> None:
    letter = {
        k: v
        for k, v in REGISTRATION.items()
        if k not in ("petitionerName", "idType", "idNumber", "phone", "address")
    }
    with pytest.raises(ValidationFailed) as named:
        deployed.petitions.register({**letter, "channel": "letter"})
    assert {"petitionerName", "phone", "address"} <= set(named.value.details["fields"])
    petition, result = deployed.petitions.register({**letter, "channel": "letter", "identityUnclear": True})
    assert (petition.petitioner_name, petition.phone, petition.is_repeat) == ("匿名", None, False)
    again, _ = deployed.petitions.register({**letter, "channel": "letter", "identityUnclear": True})
    assert again.is_repeat is False  # nobody can tell who wrote it
    assert '"noticeWaived":true' in instance(deployed, result.instance_id).state_json
