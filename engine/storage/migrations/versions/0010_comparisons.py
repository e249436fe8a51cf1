"""Fair comparisons (``compare``): the models tuned with one budget, their best runs and the verdict.

Revision ID: 0010
Revises: 0009
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "comparisons",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dataset_id", sa.Integer(), sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("metric", sa.String(40), nullable=False),
        sa.Column("budget", sa.JSON(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("verdict", sa.Text(), nullable=True),
        sa.Column("best_runs", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('running', 'finished', 'failed', 'cancelled')", name="ck_comparisons_status"),
    )
    op.create_index("ix_comparisons_dataset_id", "comparisons", ["dataset_id"])


def downgrade() -> None:
    op.drop_index("ix_comparisons_dataset_id", table_name="comparisons")
    op.drop_table("comparisons")
