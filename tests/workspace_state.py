"""A snapshot of everything stored in a workspace, to check that a failed operation changed nothing."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect, text


def snapshot(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table (sorted), read through a fresh connection."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
            return {name: sorted(tuple(row) for row in connection.execute(text(f'SELECT * FROM "{name}"')))
                    for name in tables}
    finally:
        engine.dispose()
