"""Small file utilities shared by the engine: content digests, atomic copies, and the check that a
path is a readable file (before any reader opens it)."""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
from pathlib import Path

from engine.errors import InputError
from engine.progress import CancelToken

_BLOCK_BYTES = 4 * 1024 * 1024


def file_digest(path: Path, cancel: CancelToken | None = None) -> str:
    """sha256 of the file's bytes (hex), read in blocks of 4 MiB; ``cancel`` is polled per block."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(_BLOCK_BYTES):
            digest.update(block)
            if cancel is not None:
                cancel.raise_if_cancelled()
    return digest.hexdigest()


def copy_atomically(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` through a temporary file beside it, synced to disk and then
    renamed: ``target`` is either absent, its old self, or the whole copy, whenever the process
    is killed."""
    temporary = target.with_name(target.name + ".tmp")
    shutil.copyfile(source, temporary)
    with temporary.open("rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, target)


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
