"""Executing queued runs in a child process (``python main.py execute RUN --workspace W --jsonl``),
one process per run, one run at a time: crash isolation, clean cancel (SIGTERM), no GIL contention
with the GUI. The child's JSON lines on stdout become Qt signals."""
from __future__ import annotations

import logging
import math
import os
import sys
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal, Slot

from engine.errors import WorkbenchError
from engine.workbench.run_messages import (
    ProtocolError,
    RunEpoch,
    RunEvaluated,
    RunEvaluationFailed,
    RunFinished,
    RunMessage,
    RunProgress,
    RunStarted,
    decode,
)
from engine.workbench.training import record_run_end
from engine.workbench.workspaces import Workspace

log = logging.getLogger(__name__)
child_log = logging.getLogger(f"{__name__}.child")

MAIN_SCRIPT = Path(__file__).resolve().parents[1] / "main.py"
KILL_AFTER_MS = 10_000  # a child that ignores SIGTERM this long is killed
STDERR_TAIL_LINES = 20


def execute_command() -> list[str]:
    """The command prefix that executes runs headless (the run ids and options follow)."""
    return [sys.executable, str(MAIN_SCRIPT), "execute"]


class RunProcessQueue(QObject):
    """A queue of run ids executed one by one in child processes; signals carry the run id."""

    run_started = Signal(int, str)  # run, device
    run_progress = Signal(int, float, str, float)  # run, fraction, message, ETA in seconds (-1: unknown)
    run_epoch = Signal(int, int, float, float)  # run, epoch, loss, seconds
    run_finished = Signal(int, str, str)  # run, status, error ("" when none)
    queue_changed = Signal()

    def __init__(self, workspace: Workspace, command: list[str] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._workspace = workspace
        self._command = command or execute_command()
        self._pending: deque[int] = deque()
        self._process: QProcess | None = None
        self.current_run: int | None = None
        self._reported_finish = False
        self._cancelling = False
        self._stdout_buffer = b""
        self._stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.setInterval(KILL_AFTER_MS)
        self._kill_timer.timeout.connect(self._kill)

    def set_workspace(self, workspace: Workspace) -> None:
        self._workspace = workspace

    @property
    def pending_runs(self) -> list[int]:
        return list(self._pending)

    def busy(self) -> bool:
        return self._process is not None or bool(self._pending)

    def enqueue(self, run_ids: list[int]) -> None:
        self._pending.extend(run_ids)
        self.queue_changed.emit()
        if self._process is None:
            self._start_next()

    def cancel_current(self) -> None:
        """Cancel the running run (the child marks it cancelled and exits); the queue goes on."""
        if self._process is not None and not self._cancelling:
            self._cancelling = True
            log.info("cancelling run %s", self.current_run)
            self._process.terminate()
            self._kill_timer.start()

    def cancel_all(self) -> None:
        """Cancel the running run and every queued one."""
        for run_id in self._pending:
            self._mark(run_id, "cancelled", "cancelled by the user")
            self.run_finished.emit(run_id, "cancelled", "cancelled by the user")
        self._pending.clear()
        self.queue_changed.emit()
        self.cancel_current()

    def shutdown(self, timeout_ms: int = 15_000) -> None:
        """Cancel everything and wait for the child to exit (killing it after ``timeout_ms``)."""
        self.cancel_all()
        process = self._process
        if process is not None and not process.waitForFinished(timeout_ms):
            process.kill()
            process.waitForFinished(2000)

    def _start_next(self) -> None:
        if not self._pending:
            self.queue_changed.emit()
            return
        run_id = self._pending.popleft()
        self.current_run = run_id
        self._reported_finish = False
        self._cancelling = False
        self._stdout_buffer = b""
        self._stderr_tail.clear()
        process = QProcess(self)
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert("PYTHONUNBUFFERED", "1")
        environment.insert("OMP_WAIT_POLICY", os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
        process.setProcessEnvironment(environment)
        process.setWorkingDirectory(str(MAIN_SCRIPT.parent))
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        arguments = self._command[1:] + [str(run_id), "--workspace", self._workspace_location(), "--jsonl"]
        log.info("starting run %d: %s %s", run_id, self._command[0], " ".join(arguments))
        self._process = process
        self.queue_changed.emit()
        process.start(self._command[0], arguments)

    def _workspace_location(self) -> str:
        url = self._workspace.url
        return url[len("sqlite:///"):] if url.startswith("sqlite:///") else url

    @Slot()
    def _read_stdout(self) -> None:
        if self._process is None:
            return
        self._stdout_buffer += bytes(self._process.readAllStandardOutput().data())
        *lines, self._stdout_buffer = self._stdout_buffer.split(b"\n")
        for line in lines:
            self._handle_line(line.decode("utf-8", errors="replace").strip())

    def _handle_line(self, line: str) -> None:
        if not line:
            return
        try:
            message = decode(line)
        except ProtocolError as exc:
            log.warning("unreadable message from the training process (%s): %s", exc, line)
            return
        if message is None:
            child_log.info("%s", line)
            return
        self._dispatch(message)

    def _dispatch(self, message: RunMessage) -> None:
        run_id = message.run
        if isinstance(message, RunStarted):
            self.run_started.emit(run_id, message.device)
        elif isinstance(message, RunProgress):
            self.run_progress.emit(run_id, message.fraction, message.message,
                                   message.eta_s if message.eta_s is not None else -1.0)
        elif isinstance(message, RunEpoch):
            self.run_epoch.emit(run_id, message.epoch, message.loss if message.loss is not None else math.nan,
                                message.seconds)
        elif isinstance(message, RunFinished):
            if run_id == self.current_run:
                self._reported_finish = True
            self.run_finished.emit(run_id, message.status, message.error or "")
        elif isinstance(message, RunEvaluated):
            log.info("run %d evaluated: %s", run_id, message.metrics)
        elif isinstance(message, RunEvaluationFailed):
            log.warning("run %d could not be evaluated: %s", run_id, message.error)

    @Slot()
    def _read_stderr(self) -> None:
        if self._process is None:
            return
        text = bytes(self._process.readAllStandardError().data()).decode("utf-8", errors="replace")
        for line in text.splitlines():
            if line.strip():
                self._stderr_tail.append(line)
                child_log.info("%s", line)

    @Slot(QProcess.ProcessError)
    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._process is not None:
            self._stderr_tail.append(f"could not start {self._command[0]}: {self._process.errorString()}")
            self._on_finished(-1, QProcess.ExitStatus.CrashExit)

    @Slot(int, QProcess.ExitStatus)
    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        process, run_id = self._process, self.current_run
        if process is None or run_id is None:
            return
        self._read_stdout()
        self._read_stderr()
        self._kill_timer.stop()
        if not self._reported_finish:
            if self._cancelling:
                status, error = "cancelled", "cancelled by the user"
            else:
                tail = " / ".join(list(self._stderr_tail)[-3:]) or "no message"
                how = "crashed" if exit_status == QProcess.ExitStatus.CrashExit else f"exited with code {exit_code}"
                status, error = "failed", f"the training process {how}: {tail}"
            self._mark(run_id, status, error)
            self.run_finished.emit(run_id, status, error)
        self._process, self.current_run = None, None
        process.deleteLater()
        self._start_next()

    def _mark(self, run_id: int, status: str, error: str) -> None:
        """Record a final status for a run the child could not record (it never started or died)."""
        try:
            record_run_end(self._workspace, run_id, status, error)
        except WorkbenchError as exc:
            log.warning("cannot record the end of run %d: %s", run_id, exc)

    @Slot()
    def _kill(self) -> None:
        if self._process is not None:
            log.warning("run %s did not stop after SIGTERM; killing its process", self.current_run)
            self._process.kill()
