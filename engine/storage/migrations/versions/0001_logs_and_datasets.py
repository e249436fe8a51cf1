"""Imported logs and prepared datasets.

Revision ID: 0001
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "logs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("source_path", sa.String(4000), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("mapping_key", sa.String(2000), nullable=False),
        sa.Column("file_format", sa.JSON(), nullable=False),
        sa.Column("column_mapping", sa.JSON(), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("n_events", sa.BigInteger(), nullable=False),
        sa.Column("n_users", sa.Integer(), nullable=False),
        sa.Column("n_items", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("digest", "mapping_key", name="uq_logs_digest_mapping"),
    )
    op.create_index("ix_logs_digest", "logs", ["digest"])
    for name in ("log_users", "log_items"):
        op.create_table(
            name,
            sa.Column("log_id", sa.Integer(), sa.ForeignKey("logs.id", ondelete="CASCADE"), primary_key=True),
            sa.Column("code", sa.Integer(), primary_key=True),
            sa.Column("original_id", sa.String(400), nullable=False),
            sqlite_with_rowid=False,
        )
    op.create_table(
        "log_events",
        sa.Column("log_id", sa.Integer(), sa.ForeignKey("logs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.BigInteger(), primary_key=True),
        sa.Column("user", sa.Integer(), nullable=False),
        sa.Column("item", sa.Integer(), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("event_type", sa.SmallInteger(), nullable=False),
        sa.Column("session_key", sa.BigInteger(), nullable=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("log_id", sa.Integer(), sa.ForeignKey("logs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("settings_key", sa.String(2000), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("statistics", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("log_id", "settings_key", name="uq_datasets_log_settings"),
    )
    op.create_index("ix_datasets_log_id", "datasets", ["log_id"])
    op.create_table(
        "dataset_events",
        sa.Column("dataset_id", sa.Integer(), sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.BigInteger(), primary_key=True),
        sa.Column("user", sa.Integer(), nullable=False),
        sa.Column("session", sa.Integer(), nullable=False),
        sa.Column("item", sa.Integer(), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.Column("split", sa.SmallInteger(), nullable=False),
        sa.Column("valid_split", sa.SmallInteger(), nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    for name in ("dataset_events", "datasets", "log_events", "log_items", "log_users", "logs"):
        op.drop_table(name)
