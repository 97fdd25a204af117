"""server-side web sessions, API token expiry, login failures

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 02:30:00
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

import engine.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Tokens issued before expiry existed get the default lifetime from the day of this upgrade.
LEGACY_TOKEN_LIFETIME = timedelta(days=90)


def upgrade() -> None:
    op.create_table(
        "web_session",
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", engine.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", engine.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("key_hash"),
    )
    op.create_index("ix_web_session_user_id", "web_session", ["user_id"], unique=False)
    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", engine.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_failure_key_at", "login_failure", ["key", "at"], unique=False)

    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", engine.models.UtcDateTime(timezone=True), nullable=True))
    token = sa.table("api_token", sa.column("expires_at", engine.models.UtcDateTime(timezone=True)))
    op.execute(token.update().values(expires_at=datetime.now(UTC) + LEGACY_TOKEN_LIFETIME))
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.alter_column(
            "expires_at", existing_type=engine.models.UtcDateTime(timezone=True), nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
    op.drop_index("ix_login_failure_key_at", table_name="login_failure")
    op.drop_table("login_failure")
    op.drop_index("ix_web_session_user_id", table_name="web_session")
    op.drop_table("web_session")
