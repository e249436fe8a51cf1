"""Item names attached to an imported log (e.g. movie titles), and the labels inspection shows."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import delete, select

from engine.data.item_names import read_item_names
from engine.errors import InputError
from engine.storage import catalog
from engine.storage.bulk import insert_columns
from engine.storage.schema import ItemName, LogItem, table
from engine.storage.workspace import Workspace


def attach_item_names(workspace: Workspace, dataset: str | int, path: Path, id_column: str | None = None,
                      name_column: str | None = None) -> tuple[int, int]:
    """Store the names of the dataset's log items found in ``path`` (replacing earlier ones);
    returns (items named, items of the log). Refuses a file that names none of them."""
    names = read_item_names(path, id_column, name_column)
    with workspace.session() as session:
        log_id = catalog.find_dataset(session, dataset).log_id
    with workspace.engine.connect() as connection:
        log_ids = catalog.original_ids(connection, table(LogItem), log_id)
    known = names[names["original_id"].isin({str(item) for item in log_ids})]  # ids may be stored as numbers
    if known.empty:
        raise InputError(f"{path}: none of its {len(names):,} item ids occurs in the dataset's log (ids look like "
                         f"{', '.join(map(str, log_ids[:3]))}); check the id column")
    with workspace.engine.begin() as connection:
        connection.execute(delete(ItemName).where(ItemName.log_id == log_id))
        insert_columns(connection, table(ItemName), {
            "log_id": log_id, "original_id": known["original_id"].to_numpy(dtype=object),
            "name": known["name"].to_numpy(dtype=object)})
    return len(known), len(log_ids)


def item_labels(workspace: Workspace, dataset_id: int, item_ids: np.ndarray) -> np.ndarray:
    """Display labels for ``item_ids`` (original ids): "id · name" where a name is attached, else the id."""
    with workspace.session() as session:
        log_id = catalog.find_dataset(session, dataset_id).log_id
        names = dict(session.execute(select(ItemName.original_id, ItemName.name)
                                     .where(ItemName.log_id == log_id)).all())
    labels = [f"{item} · {names[str(item)]}" if str(item) in names else str(item) for item in item_ids]
    return np.array(labels, dtype=object)
