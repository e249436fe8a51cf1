"""Reading readable item names (titles) from a separate file of items (e.g. MovieLens ``u.item``),
so that inspection can show "1 · Toy Story" instead of "1" (storing them:
:mod:`engine.storage.item_names`)."""
from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from engine.data.column_mapping import normalized_name
from engine.data.reading import read_table, sniff_format
from engine.errors import InputError

_ID_NAMES = ("itemid", "item", "movieid", "aid", "id", "productid", "trackid", "songid", "articleid", "venueid",
             "poiid", "categoryid")
_NAME_NAMES = ("name", "title", "movietitle", "itemname", "productname", "trackname", "songname", "label")
#: Settings of the refusals below (the columns to name by hand).
ID_SETTING, NAME_SETTING = "id_column", "name_column"


def _pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...], role: str, path: Path) -> str:
    setting = ID_SETTING if role == "id" else NAME_SETTING
    if wanted is not None:
        if wanted not in columns:
            raise InputError(f"{path}: no column named {wanted!r} (the file has {', '.join(columns)})", setting=setting)
        return wanted
    by_name = {normalized_name(column): column for column in columns}
    for candidate in candidates:
        if candidate in by_name:
            return by_name[candidate]
    raise InputError(f"{path}: cannot tell which column holds the item {role} (columns: {', '.join(columns)}); "
                     "name that column by hand", setting=setting)


def _read_items(path: Path) -> pd.DataFrame:
    """Every column of the file as text; a delimited file may be UTF-8 or a legacy 8-bit encoding
    (MovieLens' ``u.item`` is Latin-1). Columns of a file without a header are numbered 0, 1..."""
    file_format = sniff_format(path)
    if file_format.kind != "delimited" or file_format.compression != "none" or file_format.delimiter is None:
        return read_table(path, file_format)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return pd.read_csv(io.StringIO(text), sep=file_format.delimiter, header=0 if file_format.has_header else None,
                       dtype=str, keep_default_na=False, engine="python" if len(file_format.delimiter) > 1 else "c")


def read_item_names(path: Path, id_column: str | None = None, name_column: str | None = None) -> pd.DataFrame:
    """Columns ``original_id`` and ``name`` (text) of a CSV/TSV/Parquet/JSON-lines file of items. A
    file without a header row (``u.item``: id|title|date|...) has the id first and the name second."""
    path = Path(path)
    frame = _read_items(path)
    headerless = all(isinstance(column, int) for column in frame.columns)
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    if headerless and id_column is None and name_column is None and len(columns) >= 2:
        id_name, title_name = columns[0], columns[1]
    else:
        id_name = _pick(columns, id_column, _ID_NAMES, "id", path)
        title_name = _pick(columns, name_column, _NAME_NAMES, "name", path)
    names = pd.DataFrame({"original_id": frame[id_name].astype(str).str.strip(),
                          "name": frame[title_name].astype(str).str.strip()})
    return names[frame[id_name].notna() & frame[title_name].notna() & (names["name"] != "")].drop_duplicates(
        "original_id")
