"""Reading interaction logs: CSV/TSV (delimiter sniffed), Parquet, JSON lines, optionally gzip or
zip compressed; a zip archive of several files that share one format and header is read as one
log, its files one after the other in name order (others are refused, naming what differs).
:func:`read_table` gives a DataFrame of every column (previews); :func:`iter_columns` streams
only the columns an import needs, in chunks of rows, so that reading takes one chunk of memory
beyond what the caller keeps; :func:`check_memory` refuses up front a log whose import would not
fit the memory budget. Headers and lines are bounded (:mod:`engine.data.sources`): a header of
too many columns or of repeated names is refused before any parser sees it. Every failure is an
:class:`~engine.errors.InputError` naming the file (and line where it applies)."""
from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import logging
import math
import os
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

import pandas as pd
import pyarrow
import pyarrow.parquet as pq

from engine.data.column_mapping import FORMAT_PRESETS, FormatPreset, known_column_name, missing_columns_error
from engine.data.json_lines import jsonl_chunks, read_jsonl, records_frame
from engine.data.sources import (
    ENCODING_NAMES,
    bom_encoding,
    compression_of,
    looks_like_utf16,
    member_sizes,
    open_compressed,
    open_text,
    source_label,
    zip_members,
)
from engine.errors import InputError
from engine.files import check_readable
from engine.memory import budget_advice, format_bytes, import_bytes, memory_budget
from engine.text import elide, name_list, shorten

__all__ = ["CHUNK_ROWS", "FileFormat", "SizeEstimate", "check_memory", "check_readable", "describe_delimiter",
           "estimate_size", "iter_columns", "missing_columns_error", "preset_for_structure", "read_table",
           "sniff_format"]

log = logging.getLogger(__name__)

SNIFF_BYTES = 64 * 1024
CHUNK_ROWS = 1_000_000  # rows of a delimited or Parquet file read at once
JSON_CHUNK_LINES = 50_000  # lines of a JSON lines file parsed at once (a dict per line until framed)
_SCAN_BYTES = 1 << 20  # block size when looking for the first undecodable byte
MAX_COLUMNS = 20_000  # of a log's header (pandas takes seconds per 10,000 columns, minutes for repeated names)
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
    encoding: str = "utf-8"  # "utf-8-sig", "utf-16-le" or "utf-16-be" when a byte-order mark says so
    members: tuple[str, ...] = ()  # the files of a zip archive read one after the other, in this order

    def to_json(self) -> dict[str, object]:
        return {"compression": self.compression, "kind": self.kind, "delimiter": self.delimiter,
                "has_header": self.has_header, "column_names": list(self.column_names or []),
                "encoding": self.encoding, "members": list(self.members)}

    @property
    def encoding_name(self) -> str:
        """The text encoding in words ("UTF-16 LE")."""
        return ENCODING_NAMES.get(self.encoding, self.encoding)

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


def _read_head(path: Path, compression: str, member: str | None) -> bytes:
    """The first :data:`SNIFF_BYTES` of the decompressed data, as stored (before decoding)."""
    try:
        with open_compressed(path, compression, member) as handle:
            return handle.read(SNIFF_BYTES)
    except (EOFError, OSError, zlib.error, zipfile.BadZipFile) as exc:
        raise InputError(f"{source_label(path, member)}: the compressed data is damaged or truncated "
                         f"({_first_line(exc)}); download or copy it again") from exc


def _text_head(path: Path, compression: str, member: str | None) -> tuple[bytes, str]:
    """The head as UTF-8 bytes (decoded from UTF-16, without a byte-order mark) and its encoding."""
    head = _read_head(path, compression, member)
    if head[:4] == b"PAR1":
        return head, "utf-8"
    encoding = bom_encoding(head)
    if encoding == "utf-8":
        if looks_like_utf16(head):
            raise InputError(f"{source_label(path, member)} is UTF-16 text without a byte-order mark; save it as "
                             "UTF-8 (or as UTF-16 with a byte-order mark)")
        return head, encoding
    with _reading_errors(source_label(path, member), path, compression, member), \
            open_text(path, compression, member, "jsonl") as handle:
        return handle.read(SNIFF_BYTES), encoding


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
    """Detect compression, file kind, delimiter and header of ``path`` (a preset's reading hints
    win); of every file of a zip archive, which must agree."""
    check_readable(path)
    compression = compression_of(path)
    if compression != "zip":
        return _sniff(path, compression, None, preset)
    members = zip_members(path)
    if len(members) == 1:
        return replace(_sniff(path, compression, members[0], preset), members=members)
    formats: dict[str, FileFormat | InputError] = {}
    for member in members:
        try:
            formats[member] = _sniff(path, compression, member, preset)
        except InputError as exc:
            formats[member] = exc
    _check_alike(path, members, formats)
    first = formats[members[0]]
    assert isinstance(first, FileFormat)
    return replace(first, members=members)


def _check_alike(path: Path, members: tuple[str, ...], formats: dict[str, FileFormat | InputError]) -> None:
    """Refuse members that do not share one format and header, naming the first two that differ."""
    descriptions = {member: _describe(path, member, formats[member]) for member in members}
    first = members[0]
    other = next((member for member in members[1:] if descriptions[member] != descriptions[first]), None)
    if other is None and not isinstance(formats[first], InputError):
        return
    if other is None:  # every member unreadable alike
        other = members[1]
    raise members_differ(path, len(members), (first, descriptions[first]), (other, descriptions[other]))


def members_differ(path: Path, count: int, first: tuple[str, str], other: tuple[str, str]) -> InputError:
    """The refusal of an archive whose files differ: the first and the first that differs from it."""
    return InputError(f"{path}: its {count:,} files differ: {first[0]} is {first[1]}, {other[0]} is {other[1]}; "
                      "extract the file to import, or save the files with one format and header")


def _describe(path: Path, member: str, found: FileFormat | InputError) -> str:
    """A member's format in words, to compare and to show."""
    if isinstance(found, InputError):
        reason = str(found).removeprefix(str(source_label(path, member))).lstrip(":, ")
        return f"not a log ({shorten(reason, 160)})"
    if found.kind == "parquet":
        return "Parquet"
    if found.kind == "jsonl":
        return "JSON lines"
    assert found.delimiter is not None
    if found.column_names is not None:
        header = f"the columns {name_list(found.column_names)}"
    elif found.has_header:
        header = f"the header {name_list(_header_of(path, member, found), limit=10)}"
    else:
        header = f"no header ({len(_header_of(path, member, found))} columns)"
    return f"delimited by {describe_delimiter(found.delimiter)} with {header}"


def _header_of(path: Path, member: str | None, file_format: FileFormat) -> list[str]:
    """The fields of the first line (a header, or the first row of a file without one)."""
    with _reading_errors(source_label(path, member), path, file_format.compression, member), \
            open_text(path, file_format.compression, member, file_format.kind) as handle:
        line = handle.readline().decode("utf-8", errors="replace").rstrip("\r\n")
    return _split(line, file_format.delimiter or ",") if line else []


def _check_header(path: Path, member: str | None, file_format: FileFormat) -> None:
    """Refuse a first line of more than :data:`MAX_COLUMNS` columns, and a header that repeats
    names (parsers rename repeats in quadratic time, and a mapping would take the first)."""
    label = source_label(path, member)
    fields = _header_of(path, member, file_format)
    size = len((file_format.delimiter or ",").join(fields).encode())
    if len(fields) > MAX_COLUMNS:
        first = "header" if file_format.has_header and file_format.column_names is None else "first line"
        raise InputError(f"{label}, line 1: the {first} has {len(fields):,} columns ({size:,} bytes), more than the "
                         f"{MAX_COLUMNS:,} a log may have; is this an interaction log (a few columns: user, item, "
                         "time...)?")
    if not file_format.has_header or file_format.column_names is not None:
        return
    counts = Counter(name for name in _header_names(fields, file_format.delimiter or ",") if name)
    repeated = sorted(((count, name) for name, count in counts.items() if count > 1), key=lambda c: (-c[0], c[1]))
    if repeated:
        shown = name_list((f"{elide(name, 30)} {count:,} times" for count, name in repeated), limit=5, width=60)
        raise InputError(f"{label}, line 1: the header repeats column names ({shown}) among its {len(fields):,} "
                         "columns; give each column its own name")


def _header_names(fields: list[str], delimiter: str) -> list[str]:
    """Column names as read from a header (a RecBole ':type' suffix dropped)."""
    return [name.split(":")[0].strip() if ":" in name and delimiter != "::" else name.strip() for name in fields]


def _sniff(path: Path, compression: str, member: str | None, preset: FormatPreset | None) -> FileFormat:
    """The format of one file (or one member of a zip archive)."""
    label = source_label(path, member)
    head, encoding = _text_head(path, compression, member)
    if head[:4] == b"PAR1":
        return FileFormat(compression, "parquet")
    if not head.strip():
        raise InputError(f"{label} holds no data (only whitespace)")
    text = _decode_head(label, head)
    first_line = text.lstrip().split("\n", 1)[0].strip()
    if (preset is not None and preset.file_kind == "jsonl") or first_line.startswith(("{", "[")):
        return FileFormat(compression, "jsonl", encoding=encoding)
    file_format = _sniff_delimited(label, text, len(head) == SNIFF_BYTES, compression, preset)
    file_format = replace(file_format, encoding=encoding)
    _check_header(path, member, file_format)
    return file_format


def _sniff_delimited(path: Path, text: str, cut: bool, compression: str, preset: FormatPreset | None) -> FileFormat:
    """Delimiter and header of delimited text from its head (``cut``: the head may end inside a line)."""
    all_lines = text.splitlines()
    if cut and len(all_lines) > 1:
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
    frames: list[pd.DataFrame] = []
    first_columns: tuple[str, list[str]] | None = None
    for member in _files(file_format):
        label = source_label(path, member)
        wanted = None if nrows is None else nrows - sum(len(frame) for frame in frames)
        with _reading_errors(label, path, file_format.compression, member):
            if file_format.kind == "parquet":
                frame = _read_parquet(path, file_format, member)
                frame = frame.head(wanted) if wanted is not None else frame
            else:
                with open_text(path, file_format.compression, member, file_format.kind) as handle:
                    frame = (read_jsonl(label, handle, wanted) if file_format.kind == "jsonl"
                             else _read_delimited(label, handle, file_format, wanted))
        if file_format.kind != "jsonl":
            first_columns = _same_columns(path, file_format, member, list(map(str, frame.columns)), first_columns)
        frames.append(frame)
        if wanted is not None and len(frame) >= wanted:
            break
    table = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if table.empty and file_format.kind == "delimited":
        raise InputError(f"{path} has a header but no data rows")
    return table


def _same_columns(path: Path, file_format: FileFormat, member: str | None, columns: Sequence[str],
                  first: tuple[str, list[str]] | None) -> tuple[str, list[str]] | None:
    """The first member's columns; refuses a later member whose columns differ (Parquet members are
    compared here, not when sniffing: their schema lies at their end)."""
    if member is None or len(file_format.members) < 2:
        return None
    if first is None:
        return member, list(columns)
    if list(columns) != first[1]:
        kind = "Parquet" if file_format.kind == "parquet" else \
            f"delimited by {describe_delimiter(file_format.delimiter or ',')}"
        raise members_differ(path, len(file_format.members), (first[0], f"{kind} with the columns "
                                                              f"{name_list(first[1])}"),
                             (member, f"{kind} with the columns {name_list(columns)}"))
    return first


def iter_columns(path: Path, file_format: FileFormat, columns: Sequence[str],
                 chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The file's ``columns`` (and no other), in consecutive chunks of rows in file order (the
    files of an archive one after the other: each chunk of a multi-file archive names its file in
    ``chunk.attrs["source"]``); refuses a missing column up front, naming the file's columns."""
    wanted = list(dict.fromkeys(columns))
    first_columns: tuple[str, list[str]] | None = None
    for member in _files(file_format):
        label = source_label(path, member)
        with _reading_errors(label, path, file_format.compression, member):
            if file_format.kind == "parquet":
                parquet = _parquet_file(path, file_format, member)
                first_columns = _same_columns(path, file_format, member, parquet.schema_arrow.names, first_columns)
                chunks = _parquet_chunks(label, parquet, wanted, chunk_rows)
            elif file_format.kind == "jsonl":
                chunks = _jsonl_member_chunks(label, path, file_format, member, wanted, chunk_rows)
            else:
                names = _delimited_names(label, path, file_format, member)
                first_columns = _same_columns(path, file_format, member, names, first_columns)
                chunks = _delimited_chunks(label, path, file_format, member, names, wanted, chunk_rows)
            for chunk in chunks:
                if len(file_format.members) > 1:
                    chunk.attrs["source"] = str(label)
                yield chunk


def _files(file_format: FileFormat) -> tuple[str | None, ...]:
    """The members of an archive to read, or None for the file itself."""
    return file_format.members or (None,)


def _jsonl_member_chunks(label: Path, path: Path, file_format: FileFormat, member: str | None, columns: list[str],
                         chunk_rows: int) -> Iterator[pd.DataFrame]:
    with open_text(path, file_format.compression, member, "jsonl") as handle:
        yield from jsonl_chunks(label, handle, columns, min(chunk_rows, JSON_CHUNK_LINES))


@contextmanager
def _reading_errors(label: Path, path: Path, compression: str, member: str | None) -> Iterator[None]:
    """Turn what the parsers raise into InputErrors naming the file."""
    try:
        yield
    except InputError:
        raise
    except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile) as exc:
        raise InputError(f"{label}: the compressed data is damaged or truncated ({_first_line(exc)}); download or "
                         "copy it again") from exc
    except UnicodeDecodeError as exc:
        raise _undecodable_error(label, path, compression, member) from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{label} holds no rows") from exc
    except (pd.errors.ParserError, ValueError, OSError, pyarrow.ArrowException) as exc:
        raise InputError(f"{label}: cannot parse the file ({_first_line(exc)})") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return shorten(text.splitlines()[0], 200) if text else type(exc).__name__


def _undecodable_error(label: Path, path: Path, compression: str, member: str | None) -> InputError:
    """Where the first byte that is not UTF-8 lies (offset in the decompressed data, and line)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, line = 0, 1
    data = "the data" if compression == "none" else "the decompressed data"
    try:
        with open_compressed(path, compression, member) as handle:
            while block := handle.read(_SCAN_BYTES):
                pending = len(decoder.getstate()[0])  # bytes of a character cut by the previous block
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    position = exc.start - pending
                    line += block[: max(position, 0)].count(b"\n")
                    return InputError(f"{label}, line {line}: undecodable bytes at byte {offset + position:,} of "
                                      f"{data} (not UTF-8: latin-1 or another legacy encoding?); save the file "
                                      "as UTF-8")
                offset += len(block)
                line += block.count(b"\n")
    except (EOFError, OSError, zlib.error, zipfile.BadZipFile):
        pass
    return InputError(f"{label}: undecodable bytes at the end of {data} (a character cut short); save the file "
                      "as UTF-8")


def _parquet_file(path: Path, file_format: FileFormat, member: str | None) -> pq.ParquetFile:
    if file_format.compression == "none":
        return pq.ParquetFile(path)
    with open_compressed(path, file_format.compression, member) as handle:
        return pq.ParquetFile(io.BytesIO(handle.read()))


def _read_parquet(path: Path, file_format: FileFormat, member: str | None) -> pd.DataFrame:
    return _parquet_file(path, file_format, member).read().to_pandas()


def _parquet_chunks(label: Path, parquet: pq.ParquetFile, columns: list[str],
                    chunk_rows: int) -> Iterator[pd.DataFrame]:
    schema = parquet.schema_arrow
    missing = [name for name in columns if name not in schema.names]
    if missing:
        raise missing_columns_error(label, missing, schema.names)
    for name in columns:
        column_type = schema.field(name).type
        if pyarrow.types.is_nested(column_type):
            raise InputError(f"{label}: column '{name}' is of type {column_type}, not an id or a time (a number or "
                             "text); map another column")
    for batch in parquet.iter_batches(batch_size=chunk_rows, columns=columns):
        yield batch.to_pandas()


def _read_delimited(label: Path, handle: IO[bytes], file_format: FileFormat, nrows: int | None) -> pd.DataFrame:
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
            raise InputError(f"{label}: expected {len(names)} columns ({name_list(names)}) but found "
                             f"{frame.shape[1]}; choose another format preset or map the columns by hand")
        frame.columns = names
    elif header is None:
        frame.columns = [f"column{index + 1}" for index in range(frame.shape[1])]
    else:
        frame.columns = _header_names([str(name) for name in frame.columns], delimiter)
    return frame


def _delimited_names(label: Path, path: Path, file_format: FileFormat, member: str | None) -> list[str]:
    with open_text(path, file_format.compression, member, "delimited") as handle:
        return list(_read_delimited(label, handle, file_format, nrows=1).columns)


def _delimited_chunks(label: Path, path: Path, file_format: FileFormat, member: str | None, names: list[str],
                      columns: list[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
    missing = [name for name in columns if name not in names]
    if missing:
        raise missing_columns_error(label, missing, names)
    positions = sorted({names.index(name) for name in columns})
    labels = [names[position] for position in positions]
    delimiter = file_format.delimiter or ","
    with open_text(path, file_format.compression, member, "delimited") as handle:
        chunks = pd.read_csv(
            handle, sep=":" if delimiter == "::" else delimiter, header=0 if file_format.has_header else None,
            usecols=[2 * p for p in positions] if delimiter == "::" else positions, chunksize=chunk_rows,
            engine="c", skipinitialspace=delimiter == " ")
        for chunk in chunks:
            chunk.columns = labels
            yield chunk


def gzip_data_bytes(isize: int, compressed_bytes: int) -> int:
    """Decompressed size of a gzip file from its trailer's ISIZE (the size modulo 2^32): a file
    of 4 GiB or more compressed holds at least as much decompressed, so whole multiples of 2^32 are
    added up to its compressed size. (A concatenated gzip's trailer tells only its last member:
    :func:`iter_columns`' callers count rows as they read.)"""
    if compressed_bytes < 2**32:
        return isize
    return isize + math.ceil(max(0, compressed_bytes - isize) / 2**32) * 2**32


def _data_bytes(path: Path, file_format: FileFormat) -> int:
    size = path.stat().st_size
    if file_format.compression == "gzip":
        with path.open("rb") as handle:
            handle.seek(-4, os.SEEK_END)
            return gzip_data_bytes(int.from_bytes(handle.read(4), "little"), size)
    if file_format.compression == "zip":
        return member_sizes(path, file_format.members or zip_members(path))
    return size


def estimate_size(path: Path, file_format: FileFormat) -> SizeEstimate:
    """About how many events ``path`` holds, without reading it: the rows in a Parquet footer, else
    the decompressed size (gzip trailer, zip directory, file size) times the events per byte of
    the sniffed head (of the first file of an archive)."""
    data_bytes = _data_bytes(path, file_format)
    member = file_format.members[0] if file_format.members else None
    if file_format.kind == "parquet":
        # Parquet inside gzip or zip (rare) has no footer to read without decompressing it all: the
        # rows are counted while reading instead.
        with _reading_errors(path, path, file_format.compression, member):
            rows = pq.ParquetFile(path).metadata.num_rows if file_format.compression == "none" else 0
        return SizeEstimate(rows, data_bytes)
    stored = _read_head(path, file_format.compression, member)
    head, stored_per_byte = stored, 1.0
    if file_format.encoding.startswith("utf-16"):  # count in the decoded head, scale to stored bytes
        head = stored[2:].decode(file_format.encoding, errors="ignore").encode("utf-8")
        stored_per_byte = len(stored) / max(len(head), 1)
    if len(stored) == SNIFF_BYTES and b"\n" in head:
        head = head[: head.rfind(b"\n") + 1]  # whole lines only
    lines = [line for line in head.split(b"\n") if line.strip()]
    if file_format.kind == "jsonl":
        try:
            events = len(records_frame([json.loads(line) for line in lines]))
        except (ValueError, TypeError, RecursionError):  # not valid JSON objects: one event per line
            events = len(lines)
    else:
        events = len(lines) - (1 if file_format.has_header else 0)
    covered = max(len(head) * stored_per_byte, 1.0)  # stored bytes of the lines counted
    return SizeEstimate(math.ceil(data_bytes * max(events, 1) / covered), data_bytes)


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
