"""open tasks carry their stage's statutory deadline: its name and warning moment

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-07 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.models

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Tasks already open keep no deadline name: they get one when their stage's deadline next moves or
    # when they are replaced by the next step; their due time, where a diagram set one, stays.
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deadline_name", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("warn_at", engine.models.UtcDateTime(timezone=True), nullable=True))
    op.create_index("ix_task_warn_at", "task", ["warn_at"], unique=False)
    op.create_index("ix_task_instance_deadline", "task", ["instance_id", "deadline_name"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_task_instance_deadline", table_name="task")
    op.drop_index("ix_task_warn_at", table_name="task")
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_column("warn_at")
        batch_op.drop_column("deadline_name")
