"""Files dropped from a file manager, handled once: the main window (a log dropped anywhere imports
it) and the workspace browser (an item-names file dropped onto a dataset names its items) hand
their drag events to a :class:`FileDrops`, which accepts drags that carry local files and passes
the files dropped, with where they were dropped, to its callback."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QPoint
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent


def dropped_paths(event: QDragEnterEvent | QDragMoveEvent | QDropEvent) -> list[Path]:
    """The local files a drag carries (none: not a drop of files)."""
    mime = event.mimeData()
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()] if mime.hasUrls() else []


def is_item_names_file(path: Path) -> bool:
    """Whether ``path`` looks like a file of item names (MovieLens ``u.item``, RecBole ``.item``)."""
    return path.suffix.lower() == ".item" or path.name.lower().startswith("u.item")


class FileDrops:
    """Accepts drags of local files; a drop calls ``on_drop(paths, position)`` (the position in the
    widget that received it)."""

    def __init__(self, on_drop: Callable[[list[Path], QPoint], None]) -> None:
        self._on_drop = on_drop

    def enter(self, event: QDragEnterEvent) -> None:
        if dropped_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def move(self, event: QDragMoveEvent) -> None:
        if dropped_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def drop(self, event: QDropEvent) -> None:
        paths = dropped_paths(event)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self._on_drop(paths, event.position().toPoint())
