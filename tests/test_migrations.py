"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from engine.models import Base
from engine.runtime import Engine


# SQLite's reflection cannot compare expression indexes (ix_task_list_order); the next test checks them by name.
@pytest.mark.filterwarnings("ignore:.*expression-based index:UserWarning")
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
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
    declared = {index.name for table in Base.metadata.tables.values() for index in table.indexes}
    assert declared - present == set()
