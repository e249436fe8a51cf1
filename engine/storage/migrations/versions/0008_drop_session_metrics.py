"""Drop the per-session metrics table: written by every evaluation, read by nothing (per-session
and per-user figures are computed from the stored per-event ranks).

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("session_metrics")


def downgrade() -> None:
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
