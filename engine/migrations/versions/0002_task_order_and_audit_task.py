"""task list order index; audit events by task

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The task lists' order, so a page of a group's list reads one page of the index (bench/volume.py).
    op.create_index(
        "ix_task_list_order",
        "task",
        [sa.text("(due_at IS NULL)"), "due_at", "created_at", "id"],
        unique=False,
    )
    # Commands on a task that is no longer open look it up in the audit log (409 rather than 404).
    op.create_index("ix_audit_task", "audit_event", ["task_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_task", table_name="audit_event")
    op.drop_index("ix_task_list_order", table_name="task")
