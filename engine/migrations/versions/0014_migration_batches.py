"""migrations in the background: a batch (plan, reason, who, state) and its cases, each pending, migrated or
failed with its reason

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.models

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = engine.models.UtcDateTime(timezone=True)
    op.create_table(
        "migration_batch",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("source_definition_id", sa.String(length=120), nullable=False),
        sa.Column("target_definition_id", sa.String(length=120), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.Column("finished_at", utc, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_migration_batch_state", "migration_batch", ["state"], unique=False)
    op.create_table(
        "migration_batch_item",
        sa.Column("batch_id", sa.String(length=36), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("business_key", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", utc, nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["migration_batch.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("batch_id", "instance_id"),
    )
    op.create_index(
        "ix_migration_batch_item_state",
        "migration_batch_item",
        ["batch_id", "state", "position"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_migration_batch_item_state", table_name="migration_batch_item")
    op.drop_table("migration_batch_item")
    op.drop_index("ix_migration_batch_state", table_name="migration_batch")
    op.drop_table("migration_batch")
