"""Reading interaction logs: CSV/TSV (delimiter sniffed), Parquet, JSON lines, optionally gzip or
zip compressed. Produces a pandas DataFrame of the file's columns; every failure is an
:class:`~engine.errors.InputError` naming the file (and line where it applies)."""
from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pandas as pd

from engine.data.column_mapping import PRESETS, FormatPreset
from engine.errors import InputError

log = logging.getLogger(__name__)

SNIFF_BYTES = 64 * 1024
_DELIMITERS = ",\t;| "


@dataclass(frozen=True)
class FileFormat:
    """What a log file is: compression ("none", "gzip", "zip"), kind ("delimited", "jsonl",
    "parquet"), the delimiter and whether the first row is a header (delimited files)."""

    compression: str
    kind: str
    delimiter: str | None = None
    has_header: bool = True
    column_names: tuple[str, ...] | None = None  # given names for header-less files

    def to_json(self) -> dict[str, object]:
        return {"compression": self.compression, "kind": self.kind, "delimiter": self.delimiter,
                "has_header": self.has_header, "column_names": list(self.column_names or [])}


def check_readable(path: Path) -> None:
    """Raise InputError unless ``path`` is an existing, readable, non-empty regular file."""
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise InputError(f"{path} is a directory; choose a log file inside it")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied; make the file readable")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes); export the log again")


def _compression(path: Path) -> str:
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic[:2] == b"\x1f\x8b":
        return "gzip"
    if magic == b"PK\x03\x04":
        return "zip"
    return "none"


def _zip_member(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [info.filename for info in archive.infolist() if not info.is_dir()
                       and not info.filename.startswith("__MACOSX/")]
    except zipfile.BadZipFile as exc:
        raise InputError(f"{path}: damaged zip archive ({exc}); re-create the archive") from exc
    if not members:
        raise InputError(f"{path}: the zip archive holds no file")
    if len(members) > 1:
        log.info("%s holds %d files; reading the largest", path, len(members))
        with zipfile.ZipFile(path) as archive:
            members.sort(key=lambda name: archive.getinfo(name).file_size, reverse=True)
    return members[0]


def open_binary(path: Path, compression: str) -> IO[bytes]:
    """The decompressed byte stream of the file."""
    if compression == "gzip":
        return gzip.open(path, "rb")
    if compression == "zip":
        archive = zipfile.ZipFile(path)
        return archive.open(_zip_member(path))
    return path.open("rb")


def _read_head(path: Path, compression: str) -> bytes:
    try:
        with open_binary(path, compression) as handle:
            return handle.read(SNIFF_BYTES)
    except (EOFError, OSError, zlib.error, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: the compressed data is damaged or truncated ({exc}); download or copy it again") from exc


def _decode_head(path: Path, head: bytes) -> str:
    if b"\x00" in head:
        _raise_binary(path, head.index(b"\x00"))
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if len(head) == SNIFF_BYTES and exc.start >= len(head) - 4:  # a character cut by the head's end
            return head[: exc.start].decode("utf-8")
        if _mostly_printable(head):
            return head.decode("latin-1")
        _raise_binary(path, exc.start)
    raise AssertionError("unreachable")


def _mostly_printable(head: bytes) -> bool:
    printable = sum(32 <= byte < 127 or byte in (9, 10, 13) for byte in head)
    return printable >= 0.95 * len(head)


def _raise_binary(path: Path, offset: int) -> None:
    raise InputError(f"{path} is not a text log (binary content at byte {offset}); "
                     "expected CSV/TSV, JSON lines or Parquet")


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def sniff_format(path: Path, preset: FormatPreset | None = None) -> FileFormat:
    """Detect compression, file kind, delimiter and header of ``path`` (a preset's reading hints win)."""
    check_readable(path)
    compression = _compression(path)
    head = _read_head(path, compression)
    if head[:4] == b"PAR1":
        return FileFormat(compression, "parquet")
    if not head.strip():
        raise InputError(f"{path} holds no data (only whitespace)")
    text = _decode_head(path, head)
    first_line = text.lstrip().split("\n", 1)[0].strip()
    if (preset is not None and preset.file_kind == "jsonl") or first_line.startswith("{"):
        return FileFormat(compression, "jsonl")
    all_lines = text.splitlines()
    if len(head) == SNIFF_BYTES and len(all_lines) > 1:
        all_lines = all_lines[:-1]  # the head may end inside a line
    lines = [line for line in all_lines if line.strip()][:200]
    if preset is not None and preset.delimiter is not None:
        delimiter = preset.delimiter
    elif all("::" in line for line in lines[:20]):
        delimiter = "::"
    else:
        try:
            delimiter = csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=_DELIMITERS).delimiter
        except csv.Error:
            delimiter = max(_DELIMITERS, key=lambda d: min(line.count(d) for line in lines[:50]))
            if not any(delimiter in line for line in lines[:50]):
                raise InputError(f"{path}: cannot find the column delimiter (tried , tab ; | space); "
                                 "is this an interaction log with user, item and time columns?") from None
    if preset is not None and preset.column_names is not None:
        return FileFormat(compression, "delimited", delimiter, False, preset.column_names)
    first_fields = _split(lines[0], delimiter)
    has_header = not any(_looks_numeric(value) for value in first_fields if value)
    if has_header and len(lines) > 1:
        # A header's names do not look like the data below them: ids that are text in every row
        # (e.g. Last.fm's "user_000001") make a first row of text that is still data.
        second = _split(lines[1], delimiter)
        has_header = any(_looks_numeric(v) for v in second) or any(
            a.split(":")[0].strip().lower() in _KNOWN_NAMES for a in first_fields)
    return FileFormat(compression, "delimited", delimiter, has_header)


_KNOWN_NAMES = {"user_id", "item_id", "userid", "itemid", "user", "item", "timestamp", "time", "ts",
                "session", "sessionid", "session_id", "created_at", "interaction_type"}


def _split(line: str, delimiter: str) -> list[str]:
    if delimiter == "::":
        return line.split("::")
    return next(csv.reader([line], delimiter=delimiter))


def read_table(path: Path, file_format: FileFormat, nrows: int | None = None) -> pd.DataFrame:
    """Read the whole file (or its first ``nrows`` rows) into a DataFrame of its columns."""
    try:
        if file_format.kind == "parquet":
            frame = _read_parquet(path, file_format)
            return frame.head(nrows) if nrows is not None else frame
        with open_binary(path, file_format.compression) as handle:
            if file_format.kind == "jsonl":
                return _read_jsonl(path, handle, nrows)
            return _read_delimited(path, handle, file_format, nrows)
    except InputError:
        raise
    except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: the compressed data is damaged or truncated ({exc}); download or copy it again") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: undecodable bytes near byte {exc.start} of the data; save the file as UTF-8") from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{path} holds no rows") from exc
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise InputError(f"{path}: cannot parse the file ({_first_line(exc)})") from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _read_parquet(path: Path, file_format: FileFormat) -> pd.DataFrame:
    if file_format.compression == "none":
        return pd.read_parquet(path)
    with open_binary(path, file_format.compression) as handle:
        return pd.read_parquet(io.BytesIO(handle.read()))


def _read_delimited(path: Path, handle: IO[bytes], file_format: FileFormat, nrows: int | None) -> pd.DataFrame:
    delimiter = file_format.delimiter or ","
    header = 0 if file_format.has_header else None
    if delimiter == "::":
        # "a::b::c" read with ':' gives empty columns between the values: keep every other one.
        frame = pd.read_csv(handle, sep=":", header=header, nrows=nrows, engine="c", dtype_backend="numpy_nullable")
        frame = frame.iloc[:, ::2]
    else:
        frame = pd.read_csv(handle, sep=delimiter, header=header, nrows=nrows, engine="c",
                            skipinitialspace=delimiter == " ")
    if file_format.column_names is not None:
        names = list(file_format.column_names)
        if frame.shape[1] != len(names):
            raise InputError(f"{path}: expected {len(names)} columns ({', '.join(names)}) but found "
                             f"{frame.shape[1]}; choose another format preset or map the columns by hand")
        frame.columns = names
    elif header is None:
        frame.columns = [f"column{index + 1}" for index in range(frame.shape[1])]
    else:
        frame.columns = [str(name).split(":")[0].strip() if ":" in str(name) and delimiter != "::" else str(name).strip()
                         for name in frame.columns]
    if frame.empty:
        raise InputError(f"{path} has a header but no data rows")
    return frame


def _read_jsonl(path: Path, handle: IO[bytes], nrows: int | None) -> pd.DataFrame:
    records = []
    for line_number, raw in enumerate(handle, start=1):
        if not raw.strip():
            continue
        try:
            records.append(json.loads(raw))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}, line {line_number}: invalid JSON ({exc.msg}); "
                             "each line must be one JSON object") from exc
        if nrows is not None and len(records) >= nrows:
            break
    if not records:
        raise InputError(f"{path} holds no JSON records")
    if not all(isinstance(record, dict) for record in records):
        raise InputError(f"{path}: each line must be a JSON object with named fields")
    frame = pd.DataFrame.from_records(records)
    nested = [name for name in frame.columns if frame[name].map(lambda v: isinstance(v, list)).all()]
    if len(nested) == 1:
        # e.g. OTTO: {"session": 1, "events": [{"aid": .., "ts": .., "type": ..}, ...]}: one row per event.
        name = nested[0]
        frame = frame.explode(name, ignore_index=True).dropna(subset=[name])
        events = pd.json_normalize(frame[name].tolist())
        frame = pd.concat([frame.drop(columns=[name]).reset_index(drop=True), events], axis=1)
    return frame


def preset_for_structure(frame: pd.DataFrame, file_format: FileFormat) -> FormatPreset | None:
    """Recognise a public format from a read table's structure (for files without telling names)."""
    columns = set(frame.columns)
    if file_format.kind == "jsonl" and {"session", "aid", "ts"} <= columns:
        return PRESETS["otto"]
    if file_format.kind == "delimited" and not file_format.has_header and file_format.column_names is None:
        width = frame.shape[1]
        sample = frame.head(200)
        if width == 5 and set(sample.iloc[:, 3].astype(str)) <= {"pv", "cart", "fav", "buy"}:
            return PRESETS["taobao"]
        if width == 4 and file_format.delimiter == "::":
            return PRESETS["movielens-dat"]
        if width == 4 and file_format.delimiter == "\t":
            return PRESETS["movielens-udata"]
        if width == 6 and file_format.delimiter == "\t":
            return PRESETS["lastfm-1k"]
    return None
