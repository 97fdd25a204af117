"""calendar years in the database, read by every process, and the generation the deadlines follow

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-07 05:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_year",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("region", sa.String(length=20), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("saved_at", engine.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("saved_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("year"),
    )
    op.create_index("ix_calendar_year_generation", "calendar_year", ["generation"], unique=False)
    op.create_table(
        "calendar_applied",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("applied_at", engine.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("calendar_applied")
    op.drop_index("ix_calendar_year_generation", table_name="calendar_year")
    op.drop_table("calendar_year")
