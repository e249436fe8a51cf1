"""The bytes of a log file: its compression (gzip, zip), the files a zip archive holds, the text
encoding a byte-order mark announces (UTF-16 is decoded to UTF-8, a UTF-8 mark dropped) and lines
of bounded length, so that no reader holds more than a bounded line in memory. Every refusal is
an :class:`~engine.errors.InputError` naming the file (``archive.zip/member`` for a member)."""
from __future__ import annotations

import codecs
import gzip
import io
import logging
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, cast

from engine.errors import InputError
from engine.text import name_list

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 1 << 20  # of a delimited log: a row is an event, a few dozen bytes
MAX_JSON_LINE_BYTES = 16 << 20  # of a JSON lines log: a line may hold a whole session's events
MAX_MEMBERS = 1000  # files of a zip archive read as one log
_BLOCK = 1 << 16  # bytes decoded at once
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with a byte-order mark", "utf-16-le": "UTF-16 LE",
                  "utf-16-be": "UTF-16 BE"}
_JUNK_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}


def compression_of(path: Path) -> str:
    """"gzip", "zip" or "none", from the file's first bytes."""
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic[:2] == b"\x1f\x8b":
        return "gzip"
    if magic == b"PK\x03\x04":
        return "zip"
    return "none"


def source_label(path: Path, member: str | None) -> Path:
    """How messages name a file, or a member of a zip archive (``logs.zip/jan.csv``)."""
    return path if member is None else Path(f"{path}/{member}")


def _is_junk(info: zipfile.ZipInfo) -> bool:
    """Folders and what operating systems leave in archives (macOS metadata, folder settings)."""
    parts = PurePosixPath(info.filename).parts
    return (info.is_dir() or not parts or parts[0] == "__MACOSX" or parts[-1] in _JUNK_NAMES
            or parts[-1].startswith("._"))


def zip_members(path: Path) -> tuple[str, ...]:
    """The files of the zip archive that may hold the log, in name order: without folders, macOS
    metadata and empty files; refuses an archive with none, or with more than :data:`MAX_MEMBERS`."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [info for info in archive.infolist() if not _is_junk(info)]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(f"{path}: damaged zip archive ({exc}); re-create the archive") from exc
    empty = sorted(info.filename for info in infos if info.file_size == 0)
    members = sorted(info.filename for info in infos if info.file_size > 0)
    if empty:
        log.info("%s: leaving out its empty files %s", path, ", ".join(empty))
    if not members:
        held = f"only empty files ({name_list(empty, limit=5)}), folders or macOS metadata" if empty else \
            "only folders or macOS metadata"
        raise InputError(f"{path}: the zip archive holds no log: {held}; archive the log file itself")
    if len(members) > MAX_MEMBERS:
        raise InputError(f"{path}: the zip archive holds {len(members):,} files, more than the {MAX_MEMBERS:,} read "
                         "as one log; extract the files to import and archive them in fewer, larger files")
    return tuple(members)


def member_sizes(path: Path, members: tuple[str, ...]) -> int:
    """Bytes of the members once decompressed (from the archive's directory)."""
    with zipfile.ZipFile(path) as archive:
        return sum(archive.getinfo(member).file_size for member in members)


def open_compressed(path: Path, compression: str, member: str | None = None) -> IO[bytes]:
    """The decompressed bytes of the file (of ``member``, or the only file, of a zip archive)."""
    if compression == "gzip":
        return cast(IO[bytes], gzip.open(path, "rb"))  # a GzipFile: binary IO, not typed as IO[bytes]
    if compression == "zip":
        archive = zipfile.ZipFile(path)
        return archive.open(member if member is not None else zip_members(path)[0])
    return path.open("rb")


def bom_encoding(head: bytes) -> str:
    """The encoding a byte-order mark at the start of ``head`` announces ("utf-8" without one)."""
    return next((encoding for bom, encoding in _BOMS if head.startswith(bom)), "utf-8")


def looks_like_utf16(head: bytes) -> bool:
    """UTF-16 text without a byte-order mark: mostly zero bytes at every other position."""
    sample = head[:4096]
    if len(sample) < 16:
        return False
    odd, even = sample[1::2], sample[0::2]
    return max(odd.count(0) / len(odd), even.count(0) / len(even)) > 0.8 and min(odd.count(0), even.count(0)) == 0


def open_text(path: Path, compression: str, member: str | None, kind: str) -> IO[bytes]:
    """The text of a delimited or JSON lines (``kind`` "jsonl") file as UTF-8 bytes (a byte-order
    mark dropped, UTF-16 decoded), whose reading refuses a line longer than :data:`MAX_LINE_BYTES`
    (:data:`MAX_JSON_LINE_BYTES`), naming its number."""
    raw = open_compressed(path, compression, member)
    label = source_label(path, member)
    encoding = bom_encoding(raw.read(3))
    raw.seek(len(next((bom for bom, name in _BOMS if name == encoding), b"")))
    stream = raw if encoding in ("utf-8", "utf-8-sig") else \
        io.BufferedReader(_Utf8FromUtf16(raw, encoding, label), _BLOCK)
    if kind == "jsonl":
        bounded = _BoundedLines(stream, MAX_JSON_LINE_BYTES, label, "a JSON lines log (one record per line)")
    else:
        bounded = _BoundedLines(stream, MAX_LINE_BYTES, label, "an interaction log (one event per line)")
    return io.BufferedReader(bounded, _BLOCK * 4)


class _Utf8FromUtf16(io.RawIOBase):
    """UTF-16 bytes (after the byte-order mark) read as UTF-8 bytes."""

    def __init__(self, raw: IO[bytes], encoding: str, label: Path) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder(encoding)()
        self._label = label
        self._pending = b""
        self._offset = 2  # of the next block in the file (after the byte-order mark)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        while not self._pending:
            block = self._raw.read(_BLOCK)
            try:
                text = self._decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                if not block:
                    raise InputError(f"{self._label}: the UTF-16 text ends inside a character (a truncated "
                                     "file?); export it again, or save it as UTF-8") from exc
                raise InputError(f"{self._label}: invalid UTF-16 near byte {self._offset + exc.start:,} (an "
                                 "unpaired surrogate); save the file as UTF-8") from exc
            self._offset += len(block)
            if not block and not text:
                return 0
            self._pending = text.encode("utf-8")
        view = memoryview(buffer).cast("B")
        size = min(len(view), len(self._pending))
        view[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def close(self) -> None:
        self._raw.close()
        super().close()


def _human(size: int) -> str:
    """A power-of-two size in words ("1 MiB", "16 MiB", "4 KiB")."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} bytes"


class _BoundedLines(io.RawIOBase):
    """Passes bytes through, refusing a line longer than ``limit`` bytes (CR or LF end a line;
    LFs count the lines)."""

    def __init__(self, raw: IO[bytes], limit: int, label: Path, expected: str) -> None:
        self._raw = raw
        self._limit = limit
        self._label = label
        self._expected = expected
        self._line = 1
        self._length = 0  # bytes of the current line so far

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self._raw.read(min(len(view), self._limit))
        if not data:
            return 0
        view[: len(data)] = data
        last = data.rfind(b"\n")
        if last < 0:  # no LF: a CR may still end lines (old Mac files)
            last = data.rfind(b"\r")
        if last < 0:
            self._length += len(data)
        else:
            first = data.find(b"\n")
            first = data.find(b"\r") if first < 0 else first
            self._check(self._length + first)
            self._line += data.count(b"\n")
            self._length = len(data) - last - 1
        self._check(self._length)
        return len(data)

    def _check(self, length: int) -> None:
        if length > self._limit:
            raise InputError(f"{self._label}, line {self._line}: a line longer than {_human(self._limit)} (more than "
                             f"{self._limit:,} bytes without a line break); is this {self._expected}?")

    def close(self) -> None:
        self._raw.close()
        super().close()
