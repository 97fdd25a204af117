"""attachments, written notices (文书) and the files they store

Revision ID: 0008
Revises: 0003
Create Date: 2026-12-07 05:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = engine.models.UtcDateTime(timezone=True)
    op.create_table(
        "stored_file",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("petition_number", sa.String(length=30), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("element_id", sa.String(length=100), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=True),
        sa.Column("uploaded_at", utc, nullable=False),
        sa.ForeignKeyConstraint(["sha256"], ["stored_file.sha256"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_attachment_petition", "attachment", ["petition_number", "id"], unique=False)
    op.create_table(
        "document",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("petition_number", sa.String(length=30), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("organ", sa.String(length=100), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("serial", sa.Integer(), nullable=False),
        sa.Column("doc_number", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=True),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("element_id", sa.String(length=100), nullable=True),
        sa.Column("issued_by", sa.String(length=100), nullable=True),
        sa.Column("issued_at", utc, nullable=False),
        sa.Column("served_on", sa.Date(), nullable=True),
        sa.Column("service_method", sa.String(length=20), nullable=True),
        sa.Column("receiver", sa.String(length=100), nullable=True),
        sa.Column("receipt_id", sa.Integer(), nullable=True),
        sa.Column("service_recorded_by", sa.String(length=100), nullable=True),
        sa.Column("service_recorded_at", utc, nullable=True),
        sa.ForeignKeyConstraint(["receipt_id"], ["attachment.id"]),
        sa.ForeignKeyConstraint(["sha256"], ["stored_file.sha256"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("doc_number"),
        sa.UniqueConstraint("organ", "year", "serial"),
    )
    op.create_index("ix_document_petition", "document", ["petition_number", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_document_petition", table_name="document")
    op.drop_table("document")
    op.drop_index("ix_attachment_petition", table_name="attachment")
    op.drop_table("attachment")
    op.drop_table("stored_file")
