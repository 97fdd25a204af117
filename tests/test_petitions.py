"""The petition registry over the shipped intake procedure: numbering, flags, validation, status."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.errors import ValidationFailed
from engine.models import Instance, Petition
from engine.petitions import petition_status
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


def test_same_person_and_matter_is_a_repeat_and_first_turned_repeat_once(deployed: Engine) -> None:
    deployed.petitions.register(REGISTRATION)
    # Width, spacing and punctuation do not make another matter.
    again, result = deployed.petitions.register({**REGISTRATION, "subject": "小区 夜间施工噪声扰民！"})
    assert (again.is_repeat, again.first_turned_repeat, again.same_matter_pending) == (True, True, True)
    assert again.previous_number == "XF2026-000001"
    assert '"isRepeat":true' in instance(deployed, result.instance_id).state_json
    third, _ = deployed.petitions.register(REGISTRATION)
    assert (third.is_repeat, third.first_turned_repeat) == (True, False)
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
    ],
)
def test_status_follows_how_the_procedure_ended(state, data, expected) -> None:
    assert petition_status(state, data) == expected
