"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from engine.models import Base
from engine.runtime import Engine


def built_on(index: Any, dialect: str) -> bool:
    """Whether the models build ``index`` on ``dialect`` (the search indexes are PostgreSQL's alone)."""
    condition = getattr(index, "_ddl_if", None)
    return condition is None or condition.dialect in (None, dialect)


def _of_dialect(dialect: str) -> Any:
    def include(obj: Any, name: str | None, kind: str, reflected: bool, compare_to: Any) -> bool:
        return reflected or kind != "index" or built_on(obj, dialect)

    return include


# SQLite's reflection cannot compare expression indexes (ix_task_list_order); the next test checks them by name.
@pytest.mark.filterwarnings("ignore:.*expression-based index:UserWarning")
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.db.engine.connect() as connection:
        opts = {"compare_type": True, "include_object": _of_dialect(connection.dialect.name)}
        context = MigrationContext.configure(connection, opts=opts)
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_migrate_twice_is_harmless(engine: Engine) -> None:
    engine.migrate()
    assert engine.db.is_initialised()


def test_every_index_of_the_models_exists(engine: Engine) -> None:
    if engine.db.is_sqlite:
        query = "SELECT name FROM sqlite_master WHERE type = 'index'"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
    with engine.db.engine.connect() as connection:
        present = set(connection.execute(text(query)).scalars())
    dialect = engine.db.engine.dialect.name
    declared = {
        index.name
        for table in Base.metadata.tables.values()
        for index in table.indexes
        if built_on(index, dialect)
    }
    assert declared - present == set()
