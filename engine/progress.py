"""Progress reporting and cooperative cancellation for long engine operations.

Every long operation takes ``progress: ProgressCallback`` and ``cancel: CancelToken``; it calls
``progress(fraction, message)`` from time to time and ``cancel.raise_if_cancelled()`` between steps.
Neither knows anything about a GUI.
"""
from __future__ import annotations

import threading
from typing import Protocol

from engine.errors import Cancelled


class ProgressCallback(Protocol):
    def __call__(self, fraction: float, message: str) -> None:
        """Report ``fraction`` in [0, 1] of the work done and a short human-readable message."""


def no_progress(fraction: float, message: str) -> None:
    """A progress callback that ignores every report."""


class CancelToken:
    """A thread-safe flag; the operation polls it and raises :class:`Cancelled` once it is set."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


def scaled(progress: ProgressCallback, start: float, stop: float) -> ProgressCallback:
    """Map a sub-task's progress in [0, 1] onto [start, stop] of the parent's progress."""

    def report(fraction: float, message: str) -> None:
        progress(start + (stop - start) * min(max(fraction, 0.0), 1.0), message)

    return report
