"""Readable item names attached to a log.

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "item_names",
        sa.Column("log_id", sa.Integer(), sa.ForeignKey("logs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("original_id", sa.String(400), primary_key=True),
        sa.Column("name", sa.String(1000), nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("item_names")
