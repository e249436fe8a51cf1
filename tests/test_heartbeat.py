"""The one heartbeat of runs, trials and comparisons: it beats while its block runs, outlives a
failing beat, and stops with the block."""
from __future__ import annotations

import logging
import threading
import time

import pytest

from engine.heartbeat import Heartbeat


def test_beats_while_the_block_runs_and_stops_after() -> None:
    beats: list[float] = []
    with Heartbeat(lambda: beats.append(time.perf_counter()), 0.01, "run 7") as heartbeat:
        assert heartbeat._thread.name == "heartbeat-run-7"
        deadline = time.perf_counter() + 5
        while len(beats) < 3 and time.perf_counter() < deadline:
            time.sleep(0.01)
    counted = len(beats)
    assert counted >= 3
    time.sleep(0.05)
    assert len(beats) == counted
    assert not any(thread.name == "heartbeat-run-7" for thread in threading.enumerate())


def test_a_failing_beat_is_logged_and_the_next_one_tried(caplog: pytest.LogCaptureFixture) -> None:
    calls = [0]

    def beat() -> None:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("database is locked")

    with caplog.at_level(logging.WARNING, logger="engine.heartbeat"), Heartbeat(beat, 0.01, "comparison 2"):
        deadline = time.perf_counter() + 5
        while calls[0] < 2 and time.perf_counter() < deadline:
            time.sleep(0.01)
    assert calls[0] >= 2
    assert "heartbeat of comparison 2 failed" in caplog.text
