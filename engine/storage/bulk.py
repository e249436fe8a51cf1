"""Bulk writing and reading of per-event tables through the DBAPI (ORM objects are far too slow
for millions of rows). Works on SQLite and on servers (PostgreSQL)."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Select, Table, select
from sqlalchemy.engine import Connection

CHUNK_ROWS = 200_000


def insert_row(connection: Connection, table: Table, values: dict[str, Any]) -> int:
    """Insert one row and return its integer primary key."""
    key = connection.execute(table.insert().values(**values)).inserted_primary_key
    assert key is not None
    return int(key[0])


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
        rows: Sequence = (list(zip(*lists, strict=True)) if positional
                          else [dict(zip(names, row, strict=True)) for row in zip(*lists, strict=True)])
        connection.exec_driver_sql(statement, rows)
        if on_chunk is not None:
            on_chunk(stop / n_rows)


def read_columns(connection: Connection, table: Table, columns: Sequence[str], where: ColumnElement[bool],
                 order_by: ColumnElement[Any],
                 dtypes: dict[str, type]) -> dict[str, np.ndarray]:
    """Read some columns of the rows matching ``where`` in ``order_by`` order, as numpy arrays
    (NULL reads as NaN in a float column). Rows are fetched in chunks, so memory stays at the
    arrays' size plus one chunk of tuples and other threads get the interpreter between chunks.
    On SQLite the driver's cursor is read directly, and each chunk becomes one structured array in
    C: about 2.5 times faster than through SQLAlchemy's rows (22M events: tens of seconds)."""
    query = select(*(table.c[name] for name in columns)).where(where).order_by(order_by)
    record = np.dtype([(name, dtypes[name]) for name in columns])
    chunks = [np.array(rows, dtype=record) for rows in _row_chunks(connection, query)]
    merged = np.concatenate(chunks) if chunks else np.zeros(0, dtype=record)
    return {name: np.ascontiguousarray(merged[name]) for name in columns}


def _row_chunks(connection: Connection, query: Select) -> Iterator[list[tuple]]:
    """The query's rows as lists of at most CHUNK_ROWS plain tuples."""
    if connection.dialect.name == "sqlite":
        compiled = query.compile(dialect=connection.dialect)
        params = [compiled.params[name] for name in compiled.positiontup or ()]
        cursor = connection.connection.cursor()
        try:
            cursor.execute(str(compiled), params)
            while rows := cursor.fetchmany(CHUNK_ROWS):
                yield list(rows)
        finally:
            cursor.close()
        return
    result = connection.execution_options(stream_results=True).execute(query)  # a server-side cursor
    while rows := result.fetchmany(CHUNK_ROWS):
        yield [tuple(row) for row in rows]
