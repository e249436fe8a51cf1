"""Reading readable item names (titles) from a separate file of items (e.g. MovieLens ``u.item``),
so that inspection can show "1 · Toy Story" instead of "1" (storing them:
:mod:`engine.storage.item_names`)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from engine.data.reading import read_table, sniff_format
from engine.errors import InputError

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
