"""The statutory metrics of domain.md §11, per responsible unit (the unit complained about as a second
dimension) and month, from the registry and deadline records.

- 化解率 resolution rate: packaged cases resolved ÷ cases packaged to a leader.
- 按期办结率 on-time rate: handling deadlines met ÷ handling deadlines closed (met or lapsed; an approved
  extension counts, as Art. 34 allows it).
- 及时受理率 timely acceptance: acceptance deadlines met ÷ acceptance deadlines closed.
- 群众满意率 satisfaction: (satisfied + basically satisfied) ÷ evaluations received.
- 参评率 participation: evaluations received ÷ items eligible for evaluation (the written reply served).
- overdue now: petitions with an open step past its due time (engine/urgency.py), by registration month.
The two evaluation rates count, as the responsible unit, the unit evaluated (the one that first handled the
item, MYD14 Arts. 4-5) in the month its reply was served; the others the petition's responsible unit, in the
month of registration or of the deadline's close.
Denominators marked GK in domain.md are standard practice; each figure comes with its numerator and
denominator so a reader can check it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Date, and_, case, cast, func, literal, select
from sqlalchemy.orm import Session

from .models import Deadline, Evaluation, Petition, Task
from .urgency import has_overdue_step

UNKNOWN_UNIT = "(未指定)"


@dataclass(frozen=True)
class MetricQuery:
    """``unit`` and ``by_unit`` are the responsible unit's (the one answering for the item); the unit
    complained about (``involved_unit``, ``by_involved``) is a second dimension. ``units``: only the items
    whose responsible unit is among them (a principal's jurisdiction; None: the whole county)."""

    since: date | None = None
    until: date | None = None  # inclusive
    by_unit: bool = True
    by_month: bool = True
    unit: str | None = None
    by_involved: bool = False
    involved_unit: str | None = None
    units: frozenset[str] | None = None
    # The engine's clock: cases overdue now are counted by the one definition (engine/urgency.py).
    now: datetime | None = None


def _month(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def compute(session: Session, q: MetricQuery) -> list[dict[str, Any]]:
    """One row per (responsible unit, involved unit, month) asked for, with every metric, its numerator and
    denominator; a dimension not asked for reads "all"."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    dimensions = (
        (q.by_unit, func.coalesce(Petition.responsible_unit, UNKNOWN_UNIT)),
        (q.by_involved, func.coalesce(Petition.involved_unit, UNKNOWN_UNIT)),
    )

    def window(column: Any, unit: Any = Petition.responsible_unit) -> list[Any]:
        """The period, the unit asked for and the jurisdiction; ``unit``: the column answering for the item."""
        conditions = []
        if q.since:
            conditions.append(cast(column, Date) >= q.since)
        if q.until:
            conditions.append(cast(column, Date) <= q.until)
        if q.unit:
            conditions.append(unit == q.unit)
        if q.involved_unit:
            conditions.append(Petition.involved_unit == q.involved_unit)
        if q.units is not None:
            conditions.append(unit.in_(sorted(q.units)))
        return conditions

    def columns(month: Any) -> list[Any]:
        """The three dimensions' columns: grouped when asked for, else a constant."""
        return [column if wanted else literal("all") for wanted, column in (*dimensions, (q.by_month, month))]

    def grouping(month: Any) -> list[Any]:
        return [column for wanted, column in (*dimensions, (q.by_month, month)) if wanted]

    reg_month = _month(session, Petition.registered_at)
    petition_query = select(
        *columns(reg_month),
        func.sum(case((Petition.packaged, 1), else_=0)),
        func.sum(case((and_(Petition.packaged, Petition.resolved), 1), else_=0)),
        func.count(),
        func.sum(
            case(
                (has_overdue_step(Task.business_key == Petition.number, q.now or datetime.now(UTC)), 1),
                else_=0,
            )
        ),
    ).where(*window(Petition.registered_at))
    for unit, involved, month, packaged, resolved, registered, late in session.execute(
        petition_query.group_by(*grouping(reg_month))
    ):
        rows[(unit, involved, month)].update(
            packaged=packaged or 0, resolved=resolved or 0, registered=registered, overdue=late or 0
        )

    # The evaluations: the unit evaluated stands in the responsible unit's column, the month is the reply's.
    served_month = _month(session, Evaluation.eligible_at)
    evaluated = (
        (q.by_unit, Evaluation.unit),
        (q.by_involved, func.coalesce(Petition.involved_unit, UNKNOWN_UNIT)),
        (q.by_month, served_month),
    )
    evaluation_query = (
        select(
            *[column if wanted else literal("all") for wanted, column in evaluated],
            func.count(),
            func.sum(case((Evaluation.rating.is_not(None), 1), else_=0)),
            func.sum(case((Evaluation.rating.in_(("satisfied", "basically_satisfied")), 1), else_=0)),
        )
        .join(Petition, Petition.number == Evaluation.business_key)
        .where(*window(Evaluation.eligible_at, Evaluation.unit))
        .group_by(*[column for wanted, column in evaluated if wanted])
    )
    for unit, involved, month, eligible, rated, satisfied in session.execute(evaluation_query):
        if not eligible:
            continue
        rows[(unit, involved, month)].update(eligible=eligible, rated=rated or 0, satisfied=satisfied or 0)

    closed_month = _month(session, Deadline.closed_at)
    deadline_query = (
        select(
            *columns(closed_month),
            Deadline.name,
            func.sum(case((Deadline.outcome == "on_time", 1), else_=0)),
            func.count(),
        )
        .join(Petition, Petition.number == Deadline.business_key)
        .where(
            Deadline.name.in_(("handling", "acceptance")),
            Deadline.outcome.is_not(None),
            *window(Deadline.closed_at),
        )
    )
    for unit, involved, month, name, met, closed in session.execute(
        deadline_query.group_by(*grouping(closed_month), Deadline.name)
    ):
        row = rows[(unit, involved, month)]
        row[f"{name}_met"] += met or 0
        row[f"{name}_closed"] += closed or 0

    result = []
    for (unit, involved, month), r in sorted(rows.items()):
        result.append(
            {
                "unit": unit,
                "involvedUnit": involved,
                "month": month,
                "registered": r["registered"],
                "overdueNow": r["overdue"],
                "resolutionRate": _ratio(r["resolved"], r["packaged"]),
                "resolved": r["resolved"],
                "packaged": r["packaged"],
                "onTimeRate": _ratio(r["handling_met"], r["handling_closed"]),
                "handledOnTime": r["handling_met"],
                "handlingClosed": r["handling_closed"],
                "timelyAcceptanceRate": _ratio(r["acceptance_met"], r["acceptance_closed"]),
                "acceptedOnTime": r["acceptance_met"],
                "acceptanceClosed": r["acceptance_closed"],
                "satisfactionRate": _ratio(r["satisfied"], r["rated"]),
                "satisfied": r["satisfied"],
                "evaluations": r["rated"],
                "evaluationRate": _ratio(r["rated"], r["eligible"]),
                "eligible": r["eligible"],
            }
        )
    return result
