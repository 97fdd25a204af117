"""the organisation: units, their members, the unit of each open task and the petition's responsible unit

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_code", sa.String(length=100), nullable=True),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("review_organ_code", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index("ix_units_parent_code", "units", ["parent_code"], unique=False)
    op.create_table(
        "unit_members",
        sa.Column("login", sa.String(length=100), nullable=False),
        sa.Column("unit_code", sa.String(length=100), nullable=False),
        sa.Column("position", sa.String(length=20), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("login", "unit_code", "position"),
    )
    op.create_index("ix_unit_members_unit_position", "unit_members", ["unit_code", "position"], unique=False)
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unit_code", sa.String(length=100), nullable=True))
        batch_op.create_index("ix_task_unit_code", ["unit_code"], unique=False)
    with op.batch_alter_table("petition", schema=None) as batch_op:
        batch_op.add_column(sa.Column("responsible_unit", sa.String(length=100), nullable=True))
        batch_op.create_index("ix_petition_responsible_unit", ["responsible_unit"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("petition", schema=None) as batch_op:
        batch_op.drop_index("ix_petition_responsible_unit")
        batch_op.drop_column("responsible_unit")
    with op.batch_alter_table("task", schema=None) as batch_op:
        batch_op.drop_index("ix_task_unit_code")
        batch_op.drop_column("unit_code")
    op.drop_index("ix_unit_members_unit_position", table_name="unit_members")
    op.drop_table("unit_members")
    op.drop_index("ix_units_parent_code", table_name="units")
    op.drop_table("units")
