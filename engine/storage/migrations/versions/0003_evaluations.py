"""Evaluations with per-event ranks and per-session metrics.

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("settings_key", sa.String(1000), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("n_events", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("run_id", "settings_key", name="uq_evaluations_run_settings"),
    )
    op.create_index("ix_evaluations_run_id", "evaluations", ["run_id"])
    op.create_table(
        "event_ranks",
        sa.Column("evaluation_id", sa.Integer(), sa.ForeignKey("evaluations.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("idx", sa.Integer(), primary_key=True),
        sa.Column("user", sa.Integer(), nullable=False),
        sa.Column("session", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("session_length", sa.Integer(), nullable=False),
        sa.Column("history_length", sa.Integer(), nullable=False),
        sa.Column("item", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Float(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "session_metrics",
        sa.Column("evaluation_id", sa.Integer(), sa.ForeignKey("evaluations.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("session", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(40), primary_key=True),
        sa.Column("user", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    for name in ("session_metrics", "event_ranks", "evaluations"):
        op.drop_table(name)
