"""Small file utilities shared by the engine: content digests and atomic copies."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

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
