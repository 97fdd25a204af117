"""Gap-free numbering: petition numbers per year, document numbers (文号) per organ and year.

A number is taken inside the transaction that stores what it numbers, under the counter row's lock: a
rolled-back registration or notice gives its number back, and two at once never get the same one.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .models import Counter


def next_value(session: Session, name: str, *, is_sqlite: bool) -> int:
    """The counter ``name`` moved on by one, inside the caller's transaction."""
    # Create the counter if missing without racing another transaction (a plain SELECT ... FOR UPDATE locks
    # nothing while the row does not exist yet).
    dialect_insert = sqlite_insert if is_sqlite else pg_insert
    session.execute(
        dialect_insert(Counter).values(name=name, value=0).on_conflict_do_nothing(index_elements=["name"])
    )
    query = select(Counter).where(Counter.name == name)
    if not is_sqlite:
        query = query.with_for_update()
    counter = session.scalars(query).one()
    counter.value += 1
    session.flush()
    return counter.value
