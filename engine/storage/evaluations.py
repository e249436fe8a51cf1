"""The store of evaluations: each evaluation of a run under recorded settings (its averages) and
its per-event ranks, written and read in bulk, as plain records and arrays."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select

from engine.storage.bulk import insert_columns, insert_row, read_columns
from engine.storage.schema import Evaluation, EventRank, table
from engine.storage.workspace import Workspace


@dataclass(frozen=True)
class EvaluationRecord:
    """A stored evaluation: the settings it ranked under (``settings_key``: what makes ranks
    differ), its averages per level and its tie statistics (``metrics``), the events it ranked
    and the wall seconds it took."""

    id: int
    run_id: int
    settings_key: str
    settings: dict[str, Any]
    metrics: dict[str, Any]
    n_events: int
    seconds: float
    created_at: datetime


def _record(row: Evaluation) -> EvaluationRecord:
    return EvaluationRecord(row.id, row.run_id, row.settings_key, dict(row.settings), dict(row.metrics), row.n_events,
                            row.seconds, row.created_at)


def find_evaluation(workspace: Workspace, run_id: int, settings_key: str | None = None) -> EvaluationRecord | None:
    """The run's newest evaluation stored under ``settings_key`` (None: under any), or None."""
    query = select(Evaluation).where(Evaluation.run_id == run_id)
    if settings_key is not None:
        query = query.where(Evaluation.settings_key == settings_key)
    with workspace.session() as session:
        row = session.scalars(query.order_by(Evaluation.id.desc())).first()
        return None if row is None else _record(row)


def add_evaluation(workspace: Workspace, evaluation: dict[str, Any], ranks: dict[str, np.ndarray]) -> int:
    """Store an evaluation (its fields but the id) and its per-event ranks (columns of
    ``event_ranks`` but the evaluation's id, equal lengths) in one transaction; returns its id."""
    with workspace.engine.begin() as connection:
        evaluation_id = insert_row(connection, table(Evaluation), evaluation)
        insert_columns(connection, table(EventRank), {"evaluation_id": evaluation_id, **ranks})
    return evaluation_id


def read_event_ranks(workspace: Workspace, evaluation_id: int, columns: Sequence[str],
                     dtypes: dict[str, type]) -> dict[str, np.ndarray]:
    """Some columns of an evaluation's per-event ranks, in event order (NULL reads as NaN in a
    float column)."""
    ranks_table = table(EventRank)
    with workspace.engine.connect() as connection:
        return read_columns(connection, ranks_table, columns, ranks_table.c.evaluation_id == evaluation_id,
                            ranks_table.c.idx, dtypes)
