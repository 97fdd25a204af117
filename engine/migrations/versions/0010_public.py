"""the petitioner's side: query codes, the message outbox, shared rate limits, satisfaction evaluations

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.models

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = engine.models.UtcDateTime(timezone=True)
    op.create_table(
        "query_code",
        sa.Column("number", sa.String(length=30), nullable=False),
        sa.Column("code_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.PrimaryKeyConstraint("number"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("recipient", sa.String(length=30), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("business_key", sa.String(length=30), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.Column("sent_at", utc, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outbox_status_id", "outbox", ["status", "id"], unique=False)
    op.create_index("ix_outbox_business_key", "outbox", ["business_key"], unique=False)
    op.create_table(
        "rate_limit",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires_at", utc, nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_rate_limit_expires_at", "rate_limit", ["expires_at"], unique=False)
    op.create_table(
        "evaluation",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("business_key", sa.String(length=30), nullable=False),
        sa.Column("unit", sa.String(length=100), nullable=False),
        sa.Column("eligible_at", utc, nullable=False),
        sa.Column("rating", sa.String(length=30), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(length=10), nullable=True),
        sa.Column("rated_at", utc, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("business_key"),
    )
    op.create_index("ix_evaluation_unit", "evaluation", ["unit"], unique=False)
    op.create_index("ix_evaluation_eligible_at", "evaluation", ["eligible_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_evaluation_eligible_at", table_name="evaluation")
    op.drop_index("ix_evaluation_unit", table_name="evaluation")
    op.drop_table("evaluation")
    op.drop_index("ix_rate_limit_expires_at", table_name="rate_limit")
    op.drop_table("rate_limit")
    op.drop_index("ix_outbox_business_key", table_name="outbox")
    op.drop_index("ix_outbox_status_id", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("query_code")
