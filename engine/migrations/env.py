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
    if connection.dialect.name == "postgresql":
        # Two processes starting together on an empty database must not both create the tables.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7391)")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
