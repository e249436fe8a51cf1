"""Reading interaction logs: CSV/TSV (delimiter sniffed), Parquet, JSON lines, optionally gzip or
zip compressed. :func:`read_table` gives a DataFrame of every column (previews);
:func:`iter_columns` streams only the columns an import needs, in chunks of rows, so that reading
takes one chunk of memory beyond what the caller keeps; :func:`check_memory` refuses up front a log
whose import would not fit the memory budget. Every failure is an :class:`~engine.errors.InputError`
naming the file (and line where it applies)."""
from __future__ import annotations

import codecs
import csv
import errno
import gzip
import io
import json
import logging
import math
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

import pandas as pd
import pyarrow
import pyarrow.parquet as pq

from engine.data.column_mapping import FORMAT_PRESETS, FormatPreset, known_column_name
from engine.errors import InputError
from engine.memory import budget_advice, format_bytes, import_bytes, memory_budget
from engine.text import elide, name_list, shorten

log = logging.getLogger(__name__)

SNIFF_BYTES = 64 * 1024
CHUNK_ROWS = 1_000_000  # rows of a delimited or Parquet file read at once
JSON_CHUNK_LINES = 50_000  # lines of a JSON lines file parsed at once (a dict per line until framed)
_SCAN_BYTES = 1 << 20  # block size when looking for the first undecodable byte
_DELIMITERS = ",\t;| "
_DELIMITER_NAMES = {",": "comma (,)", "\t": "tab", ";": "semicolon (;)", "|": "pipe (|)", " ": "space",
                    "::": "double colon (::)"}


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

    @property
    def first_line(self) -> int | None:
        """Line number of the first data row (None for Parquet, whose rows are not lines)."""
        if self.kind == "parquet":
            return None
        return 2 if self.kind == "delimited" and self.has_header else 1


@dataclass(frozen=True)
class SizeEstimate:
    """About ``events`` events in ``data_bytes`` bytes of (decompressed) data."""

    events: int
    data_bytes: int


def check_readable(path: Path) -> None:
    """Raise InputError unless ``path`` is an existing, readable, non-empty regular file (a named
    pipe or a device is refused without being opened)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise InputError(f"{path} is a broken symbolic link: it points to {os.readlink(path)}, which does "
                             "not exist; fix the link or give the log's real path") from None
        raise InputError(f"{path}: no such file; check the path") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{path} is a symbolic link loop (it leads back to itself through links); give "
                             "the log's real path") from None
        if exc.errno == errno.EACCES:
            raise InputError(f"{path}: permission denied; make the file and its folders readable") from None
        raise InputError(f"{path}: cannot access the file ({exc.strerror}); check the path") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{path} is a directory; choose a log file inside it")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path} is not a regular file (a named pipe, socket or device); save the log to a "
                         "file first and import that file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied; make the file readable")
    if info.st_size == 0:
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
        return cast(IO[bytes], gzip.open(path, "rb"))  # a GzipFile: binary IO, not typed as IO[bytes]
    if compression == "zip":
        archive = zipfile.ZipFile(path)
        return archive.open(_zip_member(path))
    return path.open("rb")


def _read_head(path: Path, compression: str) -> bytes:
    try:
        with open_binary(path, compression) as handle:
            return handle.read(SNIFF_BYTES)
    except (EOFError, OSError, zlib.error, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: the compressed data is damaged or truncated ({_first_line(exc)}); download or "
                         "copy it again") from exc


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
    raise InputError(f"{path} is not a text log (binary content at byte {offset:,}); "
                     "expected CSV/TSV, JSON lines or Parquet")


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def describe_delimiter(delimiter: str) -> str:
    """A delimiter in words ("tab", "comma (,)")."""
    return _DELIMITER_NAMES.get(delimiter, repr(delimiter))


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
    numbered = [(number, line) for number, line in enumerate(all_lines, start=1) if line.strip()][:200]
    lines = [line for _, line in numbered]
    if preset is not None and preset.delimiter is not None:
        delimiter = preset.delimiter
    elif all("::" in line for line in lines[:20]):
        delimiter = "::"
    elif (steady := _steady_delimiters(lines[:50])):
        delimiter = steady[0]  # the first in _DELIMITERS: a space, the likeliest inside a value, comes last
    else:
        try:
            delimiter = csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=_DELIMITERS).delimiter
        except csv.Error:
            delimiter = max(_DELIMITERS, key=lambda d: min(line.count(d) for line in lines[:50]))
            if not any(delimiter in line for line in lines[:50]):
                raise InputError(f"{path}: cannot find the column delimiter (tried , tab ; | space); "
                                 "is this an interaction log with user, item and time columns?") from None
    if delimiter != "::":
        _check_one_delimiter(path, numbered, delimiter, preset.column_names if preset is not None else None)
    if preset is not None and preset.column_names is not None:
        return FileFormat(compression, "delimited", delimiter, False, preset.column_names)
    first_fields = _split(lines[0], delimiter)
    has_header = not any(_looks_numeric(value) for value in first_fields if value)
    if has_header and len(lines) > 1:
        # A header's names do not look like the data below them: ids that are text in every row
        # (e.g. Last.fm's "user_000001") make a first row of text that is still data.
        second = _split(lines[1], delimiter)
        has_header = any(_looks_numeric(v) for v in second) or any(
            known_column_name(a) for a in first_fields)
    return FileFormat(compression, "delimited", delimiter, has_header)


def _split(line: str, delimiter: str) -> list[str]:
    if delimiter == "::":
        return line.split("::")
    return next(csv.reader([line], delimiter=delimiter))


def _steady_delimiters(lines: list[str]) -> list[str]:
    """The candidate delimiters found the same number of times (at least once) on every line."""
    steady = []
    for delimiter in _DELIMITERS:
        counts = {line.count(delimiter) for line in lines}
        if len(counts) == 1 and counts.pop() > 0:
            steady.append(delimiter)
    return steady


def _check_one_delimiter(path: Path, numbered: list[tuple[int, str]], delimiter: str,
                         names: tuple[str, ...] | None) -> None:
    """Refuse a head whose lines split into the first line's columns only with different delimiters
    (e.g. a comma-separated header above tab-separated rows, or rows mixing ';' and ',').
    ``names``: the columns a preset expects (header-less files)."""
    first_number, first = numbered[0]
    header = list(names) if names is not None else _split(first, delimiter)
    width = len(header)
    if names is not None or not any(_looks_numeric(value) for value in header if value):
        expected = f"{width} columns expected: {name_list(header)}"
    else:
        expected = f"{width} columns expected, as on line {first_number}"
    for number, line in numbered if names is not None else numbered[1:]:
        count = len(_split(line, delimiter))
        if count == width:
            continue
        for other in _DELIMITERS.replace(delimiter, ""):
            if width > 1 and len(_split(line, other)) == width:
                raise InputError(
                    f"{path}, line {number}: the row splits into its columns with {describe_delimiter(other)}, not "
                    f"with {describe_delimiter(delimiter)} like the other lines ({expected}): the file mixes "
                    "delimiters; save it with one delimiter")
            if names is None and count > 1 and len(_split(first, other)) == count:
                raise InputError(
                    f"{path}, line {first_number}: the header splits into {count} columns with "
                    f"{describe_delimiter(other)} but line {number} with {describe_delimiter(delimiter)}: the file "
                    "mixes delimiters; save it with one delimiter")


def read_table(path: Path, file_format: FileFormat, nrows: int | None = None) -> pd.DataFrame:
    """Read the whole file (or its first ``nrows`` rows) into a DataFrame of its columns (for
    previews; an import reads only the columns it needs with :func:`iter_columns`)."""
    with _reading_errors(path, file_format.compression):
        if file_format.kind == "parquet":
            frame = _read_parquet(path, file_format)
            frame = frame.head(nrows) if nrows is not None else frame
        else:
            with open_binary(path, file_format.compression) as handle:
                frame = (_read_jsonl(path, handle, nrows) if file_format.kind == "jsonl"
                         else _read_delimited(path, handle, file_format, nrows))
    return frame


def iter_columns(path: Path, file_format: FileFormat, columns: Sequence[str],
                 chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The file's ``columns`` (and no other), in consecutive chunks of rows in file order; refuses
    a missing column up front, naming the file's columns."""
    wanted = list(dict.fromkeys(columns))
    with _reading_errors(path, file_format.compression):
        if file_format.kind == "parquet":
            yield from _parquet_chunks(path, file_format, wanted, chunk_rows)
        elif file_format.kind == "jsonl":
            yield from _jsonl_chunks(path, file_format, wanted, min(chunk_rows, JSON_CHUNK_LINES))
        else:
            yield from _delimited_chunks(path, file_format, wanted, chunk_rows)


def missing_columns_error(path: Path, missing: Sequence[str], available: Sequence[object]) -> InputError:
    """The refusal of a mapping that names columns the file lacks."""
    named = name_list((elide(name, 30) for name in missing), limit=5, width=40)
    return InputError(f"{path}: no column named {named} (the file has {name_list(available)}); choose a preset or "
                      "map the columns")


@contextmanager
def _reading_errors(path: Path, compression: str) -> Iterator[None]:
    """Turn what the parsers raise into InputErrors naming the file."""
    try:
        yield
    except InputError:
        raise
    except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: the compressed data is damaged or truncated ({_first_line(exc)}); download or "
                         "copy it again") from exc
    except UnicodeDecodeError as exc:
        raise _undecodable_error(path, compression) from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{path} holds no rows") from exc
    except (pd.errors.ParserError, ValueError, OSError, pyarrow.ArrowException) as exc:
        raise InputError(f"{path}: cannot parse the file ({_first_line(exc)})") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return shorten(text.splitlines()[0], 200) if text else type(exc).__name__


def _undecodable_error(path: Path, compression: str) -> InputError:
    """Where the first byte that is not UTF-8 lies (offset in the decompressed data, and line)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, line = 0, 1
    data = "the data" if compression == "none" else "the decompressed data"
    try:
        with open_binary(path, compression) as handle:
            while block := handle.read(_SCAN_BYTES):
                pending = len(decoder.getstate()[0])  # bytes of a character cut by the previous block
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    position = exc.start - pending
                    line += block[: max(position, 0)].count(b"\n")
                    return InputError(f"{path}, line {line}: undecodable bytes at byte {offset + position:,} of "
                                      f"{data} (not UTF-8: latin-1 or another legacy encoding?); save the file "
                                      "as UTF-8")
                offset += len(block)
                line += block.count(b"\n")
    except (EOFError, OSError, zlib.error, zipfile.BadZipFile):
        pass
    return InputError(f"{path}: undecodable bytes at the end of {data} (a character cut short); save the file "
                      "as UTF-8")


def _read_parquet(path: Path, file_format: FileFormat) -> pd.DataFrame:
    if file_format.compression == "none":
        return pd.read_parquet(path)
    with open_binary(path, file_format.compression) as handle:
        return pd.read_parquet(io.BytesIO(handle.read()))


def _parquet_chunks(path: Path, file_format: FileFormat, columns: list[str],
                    chunk_rows: int) -> Iterator[pd.DataFrame]:
    if file_format.compression == "none":
        parquet = pq.ParquetFile(path)
    else:
        with open_binary(path, file_format.compression) as handle:
            parquet = pq.ParquetFile(io.BytesIO(handle.read()))
    names = parquet.schema_arrow.names
    missing = [name for name in columns if name not in names]
    if missing:
        raise missing_columns_error(path, missing, names)
    for batch in parquet.iter_batches(batch_size=chunk_rows, columns=columns):
        yield batch.to_pandas()


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
            raise InputError(f"{path}: expected {len(names)} columns ({name_list(names)}) but found "
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


def _delimited_chunks(path: Path, file_format: FileFormat, columns: list[str],
                      chunk_rows: int) -> Iterator[pd.DataFrame]:
    with open_binary(path, file_format.compression) as handle:
        names = list(_read_delimited(path, handle, file_format, nrows=1).columns)
    missing = [name for name in columns if name not in names]
    if missing:
        raise missing_columns_error(path, missing, names)
    positions = sorted({names.index(name) for name in columns})  # the first of equal names
    labels = [names[position] for position in positions]
    delimiter = file_format.delimiter or ","
    with open_binary(path, file_format.compression) as handle:
        chunks = pd.read_csv(
            handle, sep=":" if delimiter == "::" else delimiter, header=0 if file_format.has_header else None,
            usecols=[2 * p for p in positions] if delimiter == "::" else positions, chunksize=chunk_rows,
            engine="c", skipinitialspace=delimiter == " ")
        for chunk in chunks:
            chunk.columns = labels
            yield chunk


def _read_jsonl(path: Path, handle: IO[bytes], nrows: int | None) -> pd.DataFrame:
    records = []
    for line_number, raw in enumerate(handle, start=1):
        if not raw.strip():
            continue
        records.append(_json_record(path, line_number, raw))
        if nrows is not None and len(records) >= nrows:
            break
    if not records:
        raise InputError(f"{path} holds no JSON records")
    return _records_frame(path, records)


def _jsonl_chunks(path: Path, file_format: FileFormat, columns: list[str],
                  chunk_lines: int) -> Iterator[pd.DataFrame]:
    records: list[dict] = []
    first = True
    with open_binary(path, file_format.compression) as handle:
        for line_number, raw in enumerate(handle, start=1):
            if raw.strip():
                records.append(_json_record(path, line_number, raw))
            if len(records) >= chunk_lines:
                yield _json_columns(path, _records_frame(path, records), columns, first)
                records, first = [], False
    if records:
        yield _json_columns(path, _records_frame(path, records), columns, first)
    elif first:
        raise InputError(f"{path} holds no JSON records")


def _json_record(path: Path, line_number: int, raw: bytes) -> dict:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}, line {line_number}: invalid JSON ({exc.msg}); "
                         "each line must be one JSON object") from exc


def _json_columns(path: Path, frame: pd.DataFrame, columns: list[str], first: bool) -> pd.DataFrame:
    """The wanted columns of one chunk of records (a field absent from a later chunk reads as empty)."""
    missing = [name for name in columns if name not in frame.columns]
    if missing and first:
        raise missing_columns_error(path, missing, list(frame.columns))
    return frame.reindex(columns=columns)


def _records_frame(path: Path, records: list) -> pd.DataFrame:
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


def gzip_data_bytes(isize: int, compressed_bytes: int) -> int:
    """Decompressed size of a gzip file from its trailer's ISIZE (the size modulo 2^32): a file
    of 4 GiB or more compressed holds at least as much decompressed, so whole multiples of 2^32 are
    added up to its compressed size. (A concatenated gzip's trailer tells only its last member:
    :func:`iter_columns`' callers count rows as they read.)"""
    if compressed_bytes < 2**32:
        return isize
    return isize + math.ceil(max(0, compressed_bytes - isize) / 2**32) * 2**32


def _data_bytes(path: Path, compression: str) -> int:
    size = path.stat().st_size
    if compression == "gzip":
        with path.open("rb") as handle:
            handle.seek(-4, os.SEEK_END)
            return gzip_data_bytes(int.from_bytes(handle.read(4), "little"), size)
    if compression == "zip":
        with zipfile.ZipFile(path) as archive:
            return archive.getinfo(_zip_member(path)).file_size
    return size


def estimate_size(path: Path, file_format: FileFormat) -> SizeEstimate:
    """About how many events ``path`` holds, without reading it: the rows in a Parquet footer, else
    the decompressed size (gzip trailer, zip directory, file size) times the events per byte of
    the sniffed head."""
    data_bytes = _data_bytes(path, file_format.compression)
    if file_format.kind == "parquet":
        # Parquet inside gzip or zip (rare) has no footer to read without decompressing it all: the
        # rows are counted while reading instead.
        with _reading_errors(path, file_format.compression):
            rows = pq.ParquetFile(path).metadata.num_rows if file_format.compression == "none" else 0
        return SizeEstimate(rows, data_bytes)
    head = _read_head(path, file_format.compression)
    if len(head) == SNIFF_BYTES and b"\n" in head:
        head = head[: head.rfind(b"\n") + 1]  # whole lines only
    lines = [line for line in head.split(b"\n") if line.strip()]
    if file_format.kind == "jsonl":
        try:
            events = len(_records_frame(path, [json.loads(line) for line in lines]))
        except (ValueError, InputError):  # not valid JSON: one event per line
            events = len(lines)
    else:
        events = len(lines) - (1 if file_format.has_header else 0)
    return SizeEstimate(math.ceil(data_bytes * max(events, 1) / max(len(head), 1)), data_bytes)


def check_memory(path: Path, file_format: FileFormat) -> None:
    """Refuse at once a log whose import would need more memory than the budget (see
    :mod:`engine.memory`), by its estimated number of events."""
    budget = memory_budget()
    if budget is None:
        return
    estimate = estimate_size(path, file_format)
    needed = import_bytes(estimate.events)
    if needed > budget:
        size = format_bytes(estimate.data_bytes) + ("" if file_format.compression == "none" else " decompressed")
        raise InputError(f"{path}: about {estimate.events:,} events ({size}) would need about "
                         f"{format_bytes(needed)} of memory to import; {budget_advice(budget)}")


def preset_for_structure(frame: pd.DataFrame, file_format: FileFormat) -> FormatPreset | None:
    """Recognise a public format from a read table's structure (for files without telling names)."""
    columns = set(frame.columns)
    if file_format.kind == "jsonl" and {"session", "aid", "ts"} <= columns:
        return FORMAT_PRESETS["otto"]
    if file_format.kind == "delimited" and not file_format.has_header and file_format.column_names is None:
        width = frame.shape[1]
        sample = frame.head(200)
        if width == 5 and set(sample.iloc[:, 3].astype(str)) <= {"pv", "cart", "fav", "buy"}:
            return FORMAT_PRESETS["taobao"]
        if width == 4 and file_format.delimiter == "::":
            return FORMAT_PRESETS["movielens-dat"]
        if width == 4 and file_format.delimiter == "\t":
            return FORMAT_PRESETS["movielens-udata"]
        if width == 6 and file_format.delimiter == "\t":
            return FORMAT_PRESETS["lastfm-1k"]
    return None
