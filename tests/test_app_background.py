"""Background machinery: engine work in a child process (result, engine error, cancel), jobs
delivering to the GUI thread, and log records from worker threads in the log panel."""
from __future__ import annotations

import logging
import threading
import time

import pytest

from app.jobs import JobManager
from app.log_panel import LogPanel
from app.process_runner import run_in_child
from engine.errors import Cancelled, InputError
from engine.progress import CancelToken, ProgressCallback


def square_after_progress(value: int, progress: ProgressCallback, cancel: CancelToken) -> int:
    progress(1.0, "done")
    return value * value


def refuse(value: int, progress: ProgressCallback, cancel: CancelToken) -> int:
    raise InputError(f"{value} is not acceptable; try another value")


def wait_for_cancel(seconds: float, progress: ProgressCallback, cancel: CancelToken) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        cancel.raise_if_cancelled()
        time.sleep(0.01)


def test_a_child_process_returns_the_result_and_the_progress() -> None:
    reports: list[tuple[float, str]] = []
    assert run_in_child(square_after_progress, (7,), lambda f, m: reports.append((f, m)), CancelToken()) == 49
    assert reports == [(1.0, "done")]


def test_a_child_process_raises_the_engine_error_here() -> None:
    with pytest.raises(InputError, match="3 is not acceptable"):
        run_in_child(refuse, (3,), lambda f, m: None, CancelToken())


def test_a_child_process_can_be_cancelled() -> None:
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    began = time.monotonic()
    with pytest.raises(Cancelled):
        run_in_child(wait_for_cancel, (120.0,), lambda f, m: None, token)
    assert time.monotonic() - began < 60  # long before the work's 120 s (a loaded machine starts children slowly)


def test_jobs_deliver_results_and_errors_in_the_gui_thread(qtbot) -> None:
    manager = JobManager()
    gui_thread = threading.current_thread()
    seen: list[tuple[str, object, bool]] = []
    done = manager.submit("square", lambda progress, cancel: 6 * 7)
    done.succeeded.connect(lambda value: seen.append(("ok", value, threading.current_thread() is gui_thread)))
    failing = manager.submit("refuse", lambda progress, cancel: refuse(1, progress, cancel))
    failing.failed.connect(lambda error: seen.append(("failed", str(error), threading.current_thread() is gui_thread)))
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=5_000)
    assert ("ok", 42, True) in seen
    assert ("failed", "1 is not acceptable; try another value", True) in seen
    assert manager.shutdown(5_000)


def test_log_records_from_worker_threads_reach_the_panel(qtbot) -> None:
    panel = LogPanel()
    qtbot.addWidget(panel)
    panel.attach()
    logger = logging.getLogger("tests.worker")
    logger.setLevel(logging.INFO)
    try:
        worker = threading.Thread(target=lambda: logger.warning("from a worker thread"))
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: "from a worker thread" in panel.text(), timeout=5_000)
        panel.set_minimum_level("Error")
        logger.warning("filtered out")
        qtbot.wait(50)
        assert "filtered out" not in panel.text()
    finally:
        panel.detach()
