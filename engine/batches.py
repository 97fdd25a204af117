"""Migration in the background (Camunda 7's ``executeAsync``): a batch records the plan, the chosen cases, why
and by whom; the scheduler works it off a slice of cases per tick, each case in a transaction of its own, by
the same per-case migration the synchronous mode runs.

Each case is an item: ``pending``, then ``migrated`` (written in the very transaction that migrated the case, so
a restart never migrates it twice and a crash mid-case leaves it pending, to be tried again) or ``failed`` with
its reason in Chinese (the rest go on). A batch is ``running`` until no item is pending, then ``completed``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .errors import Conflict, NotFound
from .models import MigrationBatch, MigrationBatchItem
from .repair import MigrationPlan

BATCH_TYPE = "instance-migration"  # Camunda 7's type of a migration batch
RUNNING, COMPLETED = "running", "completed"
PENDING, MIGRATED, FAILED = "pending", "migrated", "failed"


def record(
    session: Session,
    plan: MigrationPlan,
    cases: Sequence[tuple[str, str | None]],
    *,
    reason: str,
    actor: str | None,
    batch_size: int,
    now: datetime,
) -> str:
    """A running batch of ``cases`` (instance id, business key), in their order; returns its id."""
    batch = MigrationBatch(
        id=str(uuid.uuid4()),
        source_definition_id=plan.source_id,
        target_definition_id=plan.target_id,
        mapping=dict(plan.mapping),
        reason=reason,
        actor=actor,
        batch_size=batch_size,
        state=RUNNING,
        created_at=now,
    )
    session.add(batch)
    session.flush()
    session.add_all(
        MigrationBatchItem(
            batch_id=batch.id, instance_id=instance_id, position=n, business_key=key, state=PENDING
        )
        for n, (instance_id, key) in enumerate(cases)
    )
    return batch.id


def plan_of(batch: MigrationBatch) -> MigrationPlan:
    """The plan the batch was recorded with."""
    return MigrationPlan(batch.source_definition_id, batch.target_definition_id, dict(batch.mapping))


def _item(batch_id: str, instance_id: str) -> Any:
    table = MigrationBatchItem.__table__
    return update(table).where(
        table.c.batch_id == batch_id, table.c.instance_id == instance_id, table.c.state == PENDING
    )


def mark_migrated(session: Session, batch_id: str, instance_id: str, now: datetime) -> None:
    """Inside the transaction that migrates the case: its item is done. An item no longer pending was worked
    off already, and the migration is refused (its transaction rolls back)."""
    done = session.execute(_item(batch_id, instance_id).values(state=MIGRATED, finished_at=now))
    if done.rowcount != 1:
        raise Conflict("该案件已在本批次中处理过，不再重复迁移", {"batch": batch_id, "instance": instance_id})


def mark_failed(session: Session, batch_id: str, instance_id: str, reason: str, now: datetime) -> None:
    """The case could not move: its item says why (the case itself is unchanged)."""
    session.execute(_item(batch_id, instance_id).values(state=FAILED, error=reason, finished_at=now))


def next_slice(session: Session) -> tuple[MigrationBatch, list[str]] | None:
    """The oldest running batch and its next pending cases (at most its slice), or None when none runs."""
    batch = session.scalar(
        select(MigrationBatch)
        .where(MigrationBatch.state == RUNNING)
        .order_by(MigrationBatch.created_at, MigrationBatch.id)
        .limit(1)
    )
    if batch is None:
        return None
    cases = session.scalars(
        select(MigrationBatchItem.instance_id)
        .where(MigrationBatchItem.batch_id == batch.id, MigrationBatchItem.state == PENDING)
        .order_by(MigrationBatchItem.position)
        .limit(batch.batch_size)
    ).all()
    session.expunge(batch)
    return batch, list(cases)


def complete_if_done(session: Session, batch_id: str, now: datetime) -> bool:
    """The batch is completed once none of its cases is pending; returns whether it is."""
    pending = session.scalar(
        select(func.count())
        .select_from(MigrationBatchItem)
        .where(MigrationBatchItem.batch_id == batch_id, MigrationBatchItem.state == PENDING)
    )
    if pending:
        return False
    table = MigrationBatch.__table__
    session.execute(
        update(table)
        .where(table.c.id == batch_id, table.c.state == RUNNING)
        .values(state=COMPLETED, finished_at=now)
    )
    return True


def _counts(session: Session, batch_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    rows = session.execute(
        select(MigrationBatchItem.batch_id, MigrationBatchItem.state, func.count())
        .where(MigrationBatchItem.batch_id.in_(list(batch_ids)))
        .group_by(MigrationBatchItem.batch_id, MigrationBatchItem.state)
    )
    counts: dict[str, dict[str, int]] = {i: {PENDING: 0, MIGRATED: 0, FAILED: 0} for i in batch_ids}
    for batch_id, state, count in rows:
        counts[batch_id][state] = count
    return counts


def _failures(session: Session, batch_id: str) -> list[MigrationBatchItem]:
    return list(
        session.scalars(
            select(MigrationBatchItem)
            .where(MigrationBatchItem.batch_id == batch_id, MigrationBatchItem.state == FAILED)
            .order_by(MigrationBatchItem.position)
        )
    )


def _view(session: Session, batch: MigrationBatch, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "batch": batch,
        "total": sum(counts.values()),
        "migrated": counts[MIGRATED],
        "failed": counts[FAILED],
        "pending": counts[PENDING],
        "failures": _failures(session, batch.id) if counts[FAILED] else [],
    }


def progress(session: Session, batch_id: str) -> dict[str, Any]:
    """One batch with its totals (cases, migrated, failed, pending) and each failed case with its reason."""
    batch = session.get(MigrationBatch, batch_id)
    if batch is None:
        raise NotFound(f"没有迁移批次「{batch_id}」", {"batch": batch_id})
    return _view(session, batch, _counts(session, [batch.id])[batch.id])


def latest(session: Session, limit: int, offset: int) -> list[dict[str, Any]]:
    """The batches, the latest first, each as :func:`progress` shows it."""
    found = list(
        session.scalars(
            select(MigrationBatch)
            .order_by(MigrationBatch.created_at.desc(), MigrationBatch.id)
            .limit(limit)
            .offset(offset)
        )
    )
    counts = _counts(session, [b.id for b in found])
    return [_view(session, batch, counts[batch.id]) for batch in found]
