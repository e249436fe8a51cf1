"""How late the GUI thread answers: a timer that fires every 10 ms on the GUI thread and records how
late each tick is (milliseconds). A late tick is a stall of the window. Used by
bench/bench_gui_latency.py (figures in BENCHMARKS.md) and by the tests' stall bounds."""
from __future__ import annotations

import time

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer, Slot

PROBE_INTERVAL_MS = 10


class LatencyProbe(QObject):
    """``start()``, run the event loop, ``stop()`` returns each tick's lateness in milliseconds.
    ``last_tick`` (monotonic seconds) and ``running`` let another thread see a stall while it lasts."""

    def __init__(self) -> None:
        super().__init__()
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(PROBE_INTERVAL_MS)
        self._timer.timeout.connect(self._tick)
        self._clock = QElapsedTimer()
        self.lateness_ms: list[float] = []
        self.last_tick = time.monotonic()
        self.running = False

    def start(self) -> None:
        self.lateness_ms = []
        self._clock.start()
        self.last_tick = time.monotonic()
        self.running = True
        self._timer.start()

    def stop(self) -> list[float]:
        self._timer.stop()
        self.running = False
        return self.lateness_ms

    @Slot()
    def _tick(self) -> None:
        elapsed = self._clock.nsecsElapsed() / 1e6
        self._clock.restart()
        self.last_tick = time.monotonic()
        self.lateness_ms.append(max(0.0, elapsed - PROBE_INTERVAL_MS))
