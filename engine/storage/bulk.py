"""Bulk writing and reading of per-event tables through the DBAPI (ORM objects are far too slow
for millions of rows). Works on SQLite and on servers (PostgreSQL)."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sqlalchemy import Table, select
from sqlalchemy.engine import Connection

CHUNK_ROWS = 200_000


def insert_columns(connection: Connection, table: Table, columns: dict[str, np.ndarray | int],
                   on_chunk: Callable[[float], None] | None = None) -> None:
    """Insert rows given column-wise (numpy arrays of equal length, or a scalar for a constant
    column) in chunks; ``on_chunk(fraction_done)`` is called after each chunk (it may raise to
    abort: the caller's transaction then rolls back)."""
    names = list(columns)
    lengths = {len(v) for v in columns.values() if isinstance(v, np.ndarray)}
    if len(lengths) != 1:
        raise ValueError(f"columns of unequal or unknown length: {lengths}")
    n_rows = lengths.pop()
    dialect = connection.dialect
    positional = dialect.paramstyle in ("qmark", "format", "numeric")
    statement = str(table.insert().compile(dialect=dialect, column_keys=names))
    for start in range(0, n_rows, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n_rows)
        lists = [value[start:stop].tolist() if isinstance(value, np.ndarray) else [value] * (stop - start)
                 for value in columns.values()]
        rows: Sequence = list(zip(*lists)) if positional else [dict(zip(names, row)) for row in zip(*lists)]
        connection.exec_driver_sql(statement, rows)
        if on_chunk is not None:
            on_chunk(stop / n_rows)


def read_columns(connection: Connection, table: Table, columns: Sequence[str], where, order_by,
                 dtypes: dict[str, type]) -> dict[str, np.ndarray]:
    """Read some columns of the rows matching ``where`` in ``order_by`` order, as numpy arrays.
    Rows are fetched in chunks, so memory stays at the arrays' size plus one chunk of tuples and
    other threads get the interpreter between chunks."""
    query = select(*(table.c[name] for name in columns)).where(where).order_by(order_by)
    result = connection.execution_options(stream_results=True).execute(query)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in columns}
    while rows := result.fetchmany(CHUNK_ROWS):
        for name, values in zip(columns, zip(*rows)):
            parts[name].append(np.asarray(values, dtype=dtypes[name]))
    return {name: np.concatenate(chunks) if chunks else np.zeros(0, dtype=dtypes[name])
            for name, chunks in parts.items()}
