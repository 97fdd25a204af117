"""the officials' inbox: notifications of new tasks, warnings and supervisions, who read them, e-mail addresses

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.models

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = engine.models.UtcDateTime(timezone=True)
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("addressee", sa.String(length=150), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("business_key", sa.String(length=100), nullable=True),
        sa.Column("instance_id", sa.String(length=36), nullable=True),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", utc, nullable=False),
        sa.Column("email_status", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notification_addressee_id", "notification", ["addressee", "id"], unique=False)
    op.create_index("ix_notification_email_status_id", "notification", ["email_status", "id"], unique=False)
    op.create_table(
        "notification_read",
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=100), nullable=False),
        sa.Column("read_at", utc, nullable=False),
        sa.ForeignKeyConstraint(["notification_id"], ["notification.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("notification_id", "login"),
    )
    op.create_table(
        "notification_email",
        sa.Column("login", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("updated_at", utc, nullable=False),
        sa.PrimaryKeyConstraint("login"),
    )


def downgrade() -> None:
    op.drop_table("notification_email")
    op.drop_table("notification_read")
    op.drop_index("ix_notification_email_status_id", table_name="notification")
    op.drop_index("ix_notification_addressee_id", table_name="notification")
    op.drop_table("notification")
