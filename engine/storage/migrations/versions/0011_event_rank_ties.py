"""Ties of each ranked target: how many competing items the model scored exactly like it, and
whether it sat at the very bottom of the list (the model gave it nothing). NULL in evaluations
stored before: their ranks hold only the tie mode they were computed under.

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN (no table copy): event_ranks may hold millions of rows
    op.add_column("event_ranks", sa.Column("tied", sa.Integer(), nullable=True))
    op.add_column("event_ranks", sa.Column("floor", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("event_ranks") as batch:
        batch.drop_column("floor")
        batch.drop_column("tied")
