"""Alembic environment: runs against the engine handed in by ``engine.migrations.upgrade``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from engine.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # the alembic command line: DATABASE_URL or the embedded default
    from engine.config import Settings

    engine = create_engine(Settings.from_env().database_url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
