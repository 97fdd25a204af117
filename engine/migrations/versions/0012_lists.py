"""lists: saved filters per user; petition search and order indexes (trigrams of subject and content on PostgreSQL)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.models

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _trigram_ops() -> str:
    """pg_trgm's operator class, qualified by the schema the extension lives in (created in public when
    missing), so that a database whose search path leaves that schema out still builds the index."""
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
    schema = op.get_bind().scalar(
        sa.text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'")
    )
    return f"{schema}.gin_trgm_ops"


def upgrade() -> None:
    op.create_table(
        "saved_filter",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("list_name", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("created_at", engine.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username", "list_name", "name"),
    )
    op.create_index("ix_petition_id_number", "petition", ["id_number"], unique=False)
    op.create_index("ix_petition_received_at", "petition", ["received_at"], unique=False)
    if op.get_bind().dialect.name != "postgresql":
        return
    ops = _trigram_ops()
    for column in ("subject", "content"):
        op.execute(f"CREATE INDEX ix_petition_{column}_trgm ON petition USING gin ({column} {ops})")
    for column in ("petitioner_name", "phone"):
        op.execute(f"CREATE INDEX ix_petition_{column}_prefix ON petition ({column} varchar_pattern_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in ("subject_trgm", "content_trgm", "petitioner_name_prefix", "phone_prefix"):
            op.drop_index(f"ix_petition_{name}", table_name="petition")
    op.drop_index("ix_petition_received_at", table_name="petition")
    op.drop_index("ix_petition_id_number", table_name="petition")
    op.drop_table("saved_filter")
