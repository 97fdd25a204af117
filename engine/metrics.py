"""The statutory metrics of domain.md §11, per unit and month, from the registry and deadline records.

- 化解率 resolution rate: packaged cases resolved ÷ cases packaged to a leader.
- 按期办结率 on-time rate: handling deadlines met ÷ handling deadlines closed (met or lapsed; an approved
  extension counts, as Art. 34 allows it).
- 及时受理率 timely acceptance: acceptance deadlines met ÷ acceptance deadlines closed.
- 群众满意率 satisfaction: (satisfied + basically satisfied) ÷ evaluations received.
- 参评率 participation: evaluations received ÷ items eligible for evaluation (the written reply served).
The two evaluation rates count the unit evaluated (the one that first handled the item, MYD14 Arts. 4-5) in
the month its reply was served; the others the unit the petition named, in the month of registration or of
the deadline's close.
Denominators marked GK in domain.md are standard practice; each figure comes with its numerator and
denominator so a reader can check it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Date, and_, case, cast, func, select
from sqlalchemy.orm import Session

from .models import Deadline, Evaluation, Petition

UNKNOWN_UNIT = "(未指定)"


@dataclass(frozen=True)
class MetricQuery:
    since: date | None = None
    until: date | None = None  # inclusive
    by_unit: bool = True
    by_month: bool = True
    unit: str | None = None


def _month(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def compute(session: Session, q: MetricQuery) -> list[dict[str, Any]]:
    """One row per (unit, month) with every metric, its numerator and denominator."""
    rows: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    unit_col = func.coalesce(Petition.involved_unit, UNKNOWN_UNIT)

    def window(column: Any, unit: Any = Petition.involved_unit) -> list[Any]:
        conditions = []
        if q.since:
            conditions.append(cast(column, Date) >= q.since)
        if q.until:
            conditions.append(cast(column, Date) <= q.until)
        if q.unit:
            conditions.append(unit == q.unit)
        return conditions

    def group(query: Any, month: Any) -> Any:
        groups = ([unit_col] if q.by_unit else []) + ([month] if q.by_month else [])
        return query.group_by(*groups) if groups else query

    reg_month = _month(session, Petition.registered_at)
    petition_query = select(
        unit_col.label("unit") if q.by_unit else func.min(unit_col).label("unit"),
        reg_month.label("month") if q.by_month else func.min(reg_month).label("month"),
        func.sum(case((Petition.packaged, 1), else_=0)),
        func.sum(case((and_(Petition.packaged, Petition.resolved), 1), else_=0)),
        func.count(),
    ).where(*window(Petition.registered_at))
    for unit, month, packaged, resolved, registered in session.execute(group(petition_query, reg_month)):
        row = rows[(unit if q.by_unit else "all", month if q.by_month else "all")]
        row.update(packaged=packaged or 0, resolved=resolved or 0, registered=registered)

    served_month = _month(session, Evaluation.eligible_at)
    evaluation_query = select(
        Evaluation.unit if q.by_unit else func.min(Evaluation.unit),
        served_month if q.by_month else func.min(served_month),
        func.count(),
        func.sum(case((Evaluation.rating.is_not(None), 1), else_=0)),
        func.sum(case((Evaluation.rating.in_(("satisfied", "basically_satisfied")), 1), else_=0)),
    ).where(*window(Evaluation.eligible_at, Evaluation.unit))
    evaluation_groups = ([Evaluation.unit] if q.by_unit else []) + ([served_month] if q.by_month else [])
    if evaluation_groups:
        evaluation_query = evaluation_query.group_by(*evaluation_groups)
    for unit, month, eligible, rated, satisfied in session.execute(evaluation_query):
        if not eligible:
            continue
        row = rows[(unit if q.by_unit else "all", month if q.by_month else "all")]
        row.update(eligible=eligible, rated=rated or 0, satisfied=satisfied or 0)

    closed_month = _month(session, Deadline.closed_at)
    deadline_query = (
        select(
            unit_col.label("unit") if q.by_unit else func.min(unit_col).label("unit"),
            closed_month.label("month") if q.by_month else func.min(closed_month).label("month"),
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
    groups = ([unit_col] if q.by_unit else []) + ([closed_month] if q.by_month else []) + [Deadline.name]
    for unit, month, name, met, closed in session.execute(deadline_query.group_by(*groups)):
        row = rows[(unit if q.by_unit else "all", month if q.by_month else "all")]
        row[f"{name}_met"] += met or 0
        row[f"{name}_closed"] += closed or 0

    result = []
    for (unit, month), r in sorted(rows.items()):
        result.append(
            {
                "unit": unit,
                "month": month,
                "registered": r["registered"],
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
