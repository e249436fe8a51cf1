"""Panels that are pages of the main window's tabs: one hidden behind another tab leaves its reading
and drawing until it is shown, so that a dataset switch or a new run costs the window only the
work of the page in view."""
from __future__ import annotations

from PySide6.QtWidgets import QWidget


def behind_another_tab(widget: QWidget) -> bool:
    """Whether ``widget`` is a page its tab widget hides (another tab is shown). A panel without a
    parent (a window of its own, as in the tests) is never behind a tab."""
    return widget.parentWidget() is not None and widget.isHidden()
