"""The escalation ladder: warning, supervision, listing and the daily patrol, each written once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from engine.definitions import read_files
from engine.models import Escalation, Instance, Petition
from engine.runtime import Engine
from tests.conftest import ROOT
from tests.helpers import deploy_data, only_task, open_tasks
from tests.test_petitions import REGISTRATION


def steps(engine: Engine, kind: str) -> list[Escalation]:
    with engine.db.reading() as session:
        return list(
            session.scalars(select(Escalation).where(Escalation.kind == kind).order_by(Escalation.id))
        )


MATTERS = ("夜间施工噪声扰民", "物业费收费标准不合理", "小区道路破损未修")


def register_to_acceptance(engine: Engine, unit: str, n: int, responsible: str | None = None) -> str:
    """A registered petition about ``unit`` waiting at the acceptance review, whose 15-day clock runs from
    2026-11-02; ``responsible``: the unit answering for it, as a form naming responsibleUnit records it."""
    # Distinct matters of the one petitioner: not repeats (engine/petitions.py, matter_similarity).
    data = {**REGISTRATION, "involvedUnit": unit, "subject": MATTERS[n]}
    petition, result = engine.petitions.register(data)
    check = only_task(engine, result.instance_id, "register_check")
    engine.complete(check.id, {"checkResult": "confirmed"})
    assert "acceptance_review" in {t.element_id for t in open_tasks(engine, result.instance_id)}
    if responsible:
        with engine.db.transaction() as session:
            session.execute(
                update(Petition)
                .where(Petition.number == petition.number)
                .values(responsible_unit=responsible)
            )
    return petition.number


NOTHING = {"warning": 0, "supervision": 0, "sanction": 0, "accountability": 0, "listing": 0}


def test_warning_then_supervision_then_listing(deployed: Engine, clock) -> None:
    ladder = deployed.escalations
    numbers = [register_to_acceptance(deployed, "区住房城乡建委", n, "county.zjw") for n in range(3)]
    # The acceptance deadline (15 days from 2026-11-02) ends at midnight after 2026-11-17, Beijing time.
    assert ladder.run() == NOTHING
    clock.advance(days=14)
    assert ladder.run()["warning"] == 3
    assert ladder.run()["warning"] == 0  # written once
    warning = steps(deployed, "warning")[0]
    # Recorded under the unit answering for the item; the unit complained about is the second dimension.
    assert warning.unit == "county.zjw" and "《信访工作条例》第22条" in warning.reason
    assert warning.details == {"involvedUnit": "区住房城乡建委"}
    # What a supervisor reads: the deadline's title and its end in office time, not a code and UTC.
    assert warning.reason.startswith("受理期限将于 2026-11-17 24:00 届满"), warning.reason
    clock.advance(days=2)
    counts = ladder.run()
    assert (counts["supervision"], counts["listing"]) == (3, 1)
    [listing] = steps(deployed, "listing")
    assert listing.unit == "county.zjw" and listing.details == {"period": "2026H2", "supervised": 3}
    # Each supervision is addressed to the responsible unit's head, with a copy to the petition bureau.
    supervision = steps(deployed, "supervision")[0]
    assert supervision.details == {
        "involvedUnit": "区住房城乡建委",
        "to": "unit:county.zjw:head",
        "copyTo": "supervisor",
    }
    assert listing.reason.startswith("2026年下半年超期督办 3 件"), listing.reason
    assert sorted(s.business_key for s in steps(deployed, "supervision")) == sorted(numbers)
    # Nobody fired the diagram's own timer, so the supervisors had no task: the ladder started one each.
    with deployed.db.reading() as session:
        started = session.scalars(
            select(Instance.business_key).where(Instance.definition_key == "supervision")
        )
        assert sorted(started) == sorted(numbers)
        told = session.scalars(select(Instance).where(Instance.definition_key == "supervision")).first()
    assert told is not None and deployed.variables(told.id)["responsibleUnit"] == "county.zjw"
    assert ladder.run() == NOTHING


def test_no_supervision_procedure_when_the_diagram_already_gave_supervisors_a_task(
    deployed: Engine, clock
) -> None:
    number = register_to_acceptance(deployed, "区城管局", 0)
    clock.advance(days=16)
    with deployed.db.reading() as session:
        instance_id = session.scalars(select(Instance.id).where(Instance.business_key == number)).one()
    deployed.fire_timers(instance_id)  # the diagram's own 督办 task for the supervisors
    assert "supervise_overdue_acceptance" in {t.element_id for t in open_tasks(deployed, instance_id)}
    assert deployed.escalations.run()["supervision"] == 1
    with deployed.db.reading() as session:
        assert session.scalars(select(Instance).where(Instance.definition_key == "supervision")).all() == []


def test_patrol_records_each_overdue_case_once_a_day(engine: Engine, clock) -> None:
    deploy_data(engine, "deadlines.bpmn")
    engine.deploy(
        read_files([ROOT / "workflows" / "supervision.bpmn", *ROOT.glob("forms/supervision_*.form")])
    )
    instance_id = engine.start(
        "handling_demo", business_key="XF2026-000009", variables={"acceptedAt": "2026-10-15"}
    ).instance_id
    assert engine.escalations.patrol() == 0
    clock.advance(days=44)  # past 2026-12-14, the 60th day
    assert engine.escalations.patrol() == 1
    assert engine.escalations.patrol() == 0
    clock.advance(days=1)
    assert engine.escalations.patrol() == 1
    findings = steps(engine, "patrol")
    assert [f.instance_id for f in findings] == [instance_id, instance_id]
    assert findings[0].deadline_name == "handling" and "第34条" in findings[0].reason
    assert findings[0].due_at < clock.now() - timedelta(days=1)
    # The first finding opened a supervision for the case; the second found it supervised already.
    with engine.db.reading() as session:
        supervised = session.scalars(
            select(Instance.business_key).where(Instance.definition_key == "supervision")
        )
        assert list(supervised) == ["XF2026-000009"]
