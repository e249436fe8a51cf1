"""Ids are never given twice: the tables whose ids other records, studies or the user refer to
(logs, datasets, runs, evaluations, comparisons) become AUTOINCREMENT tables on SQLite, so that
a deleted run's id is never a new run's (a study's "best trial: run 2" would point at another
model). SQLite declares AUTOINCREMENT only when a table is created: each is rebuilt, its rows
and ids kept (the highest id ever used is then the highest left; ids deleted before this upgrade
cannot be known). PostgreSQL's sequences never reuse an id: nothing to rebuild there.

Comparisons also get a heartbeat (a comparison whose process died is marked interrupted), the
status 'interrupted', and the key of their request (running the same comparison again resumes
it).

Revision ID: 0012
Revises: 0011
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

#: Parents before children (each rebuild copies a table whole; foreign keys are off meanwhile).
REBUILT = ("logs", "datasets", "runs", "evaluations", "comparisons")
OLD_STATUSES = "status IN ('running', 'finished', 'failed', 'cancelled')"
NEW_STATUSES = "status IN ('running', 'finished', 'failed', 'cancelled', 'interrupted')"


def _rebuild(name: str, autoincrement: bool) -> Any:
    """A batch of changes to table ``name`` that rebuilds it on SQLite with or without AUTOINCREMENT."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:  # left over by an upgrade killed before its transaction began
        op.execute(sa.text(f"DROP TABLE IF EXISTS _alembic_tmp_{name}"))
    return op.batch_alter_table(name, recreate="always" if sqlite else "auto",
                                table_kwargs={"sqlite_autoincrement": autoincrement})


def upgrade() -> None:
    for name in REBUILT:
        with _rebuild(name, True) as batch:
            if name == "comparisons":
                batch.add_column(sa.Column("heartbeat_at", sa.DateTime(), nullable=True))
                batch.add_column(sa.Column("request_key", sa.String(2000), nullable=True))
                batch.drop_constraint("ck_comparisons_status", type_="check")
                batch.create_check_constraint("ck_comparisons_status", NEW_STATUSES)
                batch.create_index("ix_comparisons_request_key", ["request_key"])


def downgrade() -> None:
    op.execute(sa.text("UPDATE comparisons SET status = 'failed' WHERE status = 'interrupted'"))
    for name in reversed(REBUILT):
        with _rebuild(name, False) as batch:
            if name == "comparisons":
                batch.drop_index("ix_comparisons_request_key")
                batch.drop_constraint("ck_comparisons_status", type_="check")
                batch.create_check_constraint("ck_comparisons_status", OLD_STATUSES)
                batch.drop_column("request_key")
                batch.drop_column("heartbeat_at")
