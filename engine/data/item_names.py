"""Readable item names (titles) from a separate file, attached to an imported log so that the
inspection can show "1 · Toy Story" instead of "1"."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import delete, select

from engine.data.reading import read_table, sniff_format
from engine.errors import InputError
from engine.storage import catalog
from engine.storage.bulk import insert_columns
from engine.storage.schema import Dataset, ItemName, LogItem
from engine.storage.workspace import Workspace

_ID_NAMES = ("item_id", "itemid", "item", "movie_id", "movieid", "aid", "id", "product_id", "track_id", "category_id")
_NAME_NAMES = ("name", "title", "movie_title", "item_name", "product_name", "track_name", "label")


def _pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...], role: str, path: Path) -> str:
    if wanted is not None:
        if wanted not in columns:
            raise InputError(f"{path}: no column named {wanted!r} (the file has {', '.join(columns)})")
        return wanted
    by_name = {column.split(":")[0].strip().lower(): column for column in columns}
    for candidate in candidates:
        if candidate in by_name:
            return by_name[candidate]
    raise InputError(f"{path}: cannot tell which column holds the item {role} (columns: {', '.join(columns)}); "
                     f"name it with --{role}-column")


def read_item_names(path: Path, id_column: str | None = None, name_column: str | None = None) -> pd.DataFrame:
    """Columns ``original_id`` and ``name`` (text) of a CSV/TSV/Parquet/JSON-lines file of items."""
    path = Path(path)
    file_format = sniff_format(path)
    frame = read_table(path, file_format)
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    id_name = _pick(columns, id_column, _ID_NAMES, "id", path)
    title_name = _pick(columns, name_column, _NAME_NAMES, "name", path)
    names = pd.DataFrame({"original_id": frame[id_name].astype(str).str.strip(),
                          "name": frame[title_name].astype(str).str.strip()})
    return names[frame[id_name].notna() & frame[title_name].notna()].drop_duplicates("original_id")


def attach_item_names(workspace: Workspace, dataset: str | int, path: Path, id_column: str | None = None,
                      name_column: str | None = None) -> tuple[int, int]:
    """Store the names of the dataset's log items found in ``path`` (replacing earlier ones);
    returns (items named, items of the log). Refuses a file that names none of them."""
    names = read_item_names(path, id_column, name_column)
    with workspace.session() as session:
        log_id = catalog.find_dataset(session, dataset).log_id
    with workspace.engine.connect() as connection:
        log_ids = catalog.original_ids(connection, LogItem.__table__, log_id)
    known = names[names["original_id"].isin(set(log_ids))]
    if known.empty:
        raise InputError(f"{path}: none of its {len(names):,} item ids occurs in the dataset's log (ids look like "
                         f"{', '.join(map(str, log_ids[:3]))}); check the id column")
    with workspace.engine.begin() as connection:
        connection.execute(delete(ItemName).where(ItemName.log_id == log_id))
        insert_columns(connection, ItemName.__table__, {
            "log_id": log_id, "original_id": known["original_id"].to_numpy(dtype=object),
            "name": known["name"].to_numpy(dtype=object)})
    return len(known), len(log_ids)


def item_labels(workspace: Workspace, dataset_id: int, item_ids: np.ndarray) -> np.ndarray:
    """Display labels for ``item_ids`` (original ids): "id · name" where a name is attached, else the id."""
    with workspace.session() as session:
        log_id = session.get(Dataset, dataset_id).log_id
        names = dict(session.execute(select(ItemName.original_id, ItemName.name).where(ItemName.log_id == log_id)).all())
    return np.array([f"{item} · {names[item]}" if item in names else str(item) for item in item_ids], dtype=object)
