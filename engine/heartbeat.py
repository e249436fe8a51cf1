"""A heartbeat: proof of life that a long job writes every few seconds while it works (a run, a
study's trial, a comparison), so that another process can tell a job whose process died from one
that is still working (see the ``STALE_AFTER_S`` of each)."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Heartbeat:
    """Calls ``beat()`` every ``interval_s`` seconds from a daemon thread for the length of a
    ``with`` block (the first beat one interval after it starts). A beat that fails is logged as
    "heartbeat of ``what`` failed" and the next one is tried: a busy database never stops the job."""

    def __init__(self, beat: Callable[[], None], interval_s: float, what: str) -> None:
        self._beat = beat
        self._interval_s = interval_s
        self._what = what
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"heartbeat-{what.replace(' ', '-')}")

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._beat()
            except Exception:
                log.warning("heartbeat of %s failed", self._what, exc_info=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
