"""Executing queued runs in a child process (``python main.py execute RUN --workspace W --jsonl``),
one process per run, one run at a time: crash isolation, clean cancel (SIGTERM), no GIL contention
with the GUI. The child writes its JSON lines into a file that the queue follows (not into a pipe:
a child whose window closed keeps working, and can be left to finish in the background); they
become Qt signals. A child that dies without a word is reported with its exit status."""
from __future__ import annotations

import functools
import logging
import math
import os
import shutil
import sys
import tempfile
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal, Slot

from app.jobs import JobManager
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
from engine.workbench.training import record_run_end_at

log = logging.getLogger(__name__)
child_log = logging.getLogger(f"{__name__}.child")

MAIN_SCRIPT = Path(__file__).resolve().parents[1] / "main.py"
KILL_AFTER_MS = 10_000  # a child that ignores SIGTERM this long is killed
FOLLOW_MS = 100  # how often the child's output files are read
STDERR_TAIL_LINES = 20


def execute_command() -> list[str]:
    """The command prefix that executes runs headless (the run ids and options follow)."""
    return [sys.executable, str(MAIN_SCRIPT), "execute"]


def unexpected_end(exit_code: int, crashed: bool, stderr_tail: list[str]) -> str:
    """Why a run ended when its process said nothing: the signal that ended it, or its exit code
    with the last lines it wrote on stderr."""
    if crashed:
        return f"the training process ended unexpectedly (signal {exit_code})"
    tail = " / ".join(stderr_tail[-3:]) or "no message"
    return f"the training process exited with code {exit_code}: {tail}"


class _FollowedFile:
    """New complete lines of a file another process appends to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def new_lines(self) -> list[str]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except OSError:
            return []
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        return [line.decode("utf-8", errors="replace").strip() for line in lines]

    def rest(self) -> list[str]:
        lines = self.new_lines()
        if self._partial:
            lines.append(self._partial.decode("utf-8", errors="replace").strip())
            self._partial = b""
        return lines


class RunProcessQueue(QObject):
    """A queue of run ids executed one by one in child processes; signals carry the run id."""

    run_started = Signal(int, str)  # run, device
    run_progress = Signal(int, float, str, float)  # run, fraction, message, ETA in seconds (-1: unknown)
    run_epoch = Signal(int, int, float, float)  # run, epoch, loss, seconds
    run_finished = Signal(int, str, str)  # run, status, error ("" when none)
    queue_changed = Signal()

    def __init__(self, jobs: JobManager, command: list[str] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs = jobs
        self._command = command or execute_command()
        self._url: str | None = None
        self._location = ""
        self._pending: deque[int] = deque()
        self._process: RunProcess | None = None
        self.current_run: int | None = None
        self._reported_finish = False
        self._cancelling = False
        self._folder = Path(tempfile.mkdtemp(prefix="hrnn-runs-"))
        self._left_running = False  # runs were left to finish in the background
        self._stdout: _FollowedFile | None = None
        self._stderr: _FollowedFile | None = None
        self._stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._follow = QTimer(self)
        self._follow.setInterval(FOLLOW_MS)
        self._follow.timeout.connect(self._read_output)
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.setInterval(KILL_AFTER_MS)
        self._kill_timer.timeout.connect(self._kill)

    def set_workspace(self, url: str, location: str) -> None:
        """Runs to come are executed in the workspace at ``url`` (``location``: its path or URL
        as the command line takes it)."""
        self._url, self._location = url, location

    @property
    def pending_runs(self) -> list[int]:
        return list(self._pending)

    def busy(self) -> bool:
        return self._process is not None or bool(self._pending)

    def enqueue(self, run_ids: list[int]) -> None:
        self._pending.extend(run_id for run_id in run_ids if run_id not in self._pending)
        self.queue_changed.emit()
        if self._process is None:
            self._start_next()

    def forget(self, run_ids: list[int]) -> None:
        """Take queued runs off the queue (e.g. before they are deleted); a running one stays."""
        self._pending = deque(run_id for run_id in self._pending if run_id not in run_ids)
        self.queue_changed.emit()

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
        if process is not None:
            self._on_finished(process.exitCode(), process.exitStatus())

    def dispose(self) -> None:
        """Remove the children's output files (unless runs were left to finish in the background:
        their processes still write there)."""
        if not self._left_running:
            shutil.rmtree(self._folder, ignore_errors=True)

    def leave_to_finish(self) -> list[int]:
        """Let the runs finish without this window: the running child is left running on its own
        (it records everything itself; its output goes to files, not to this process), and the
        queued runs go to one more headless executor started on its own. Returns the runs left."""
        left: list[int] = []
        self._left_running = True
        if self._process is not None and self.current_run is not None:
            self._follow.stop()
            self._kill_timer.stop()
            self._process.finished.disconnect(self._on_finished)
            self._process.errorOccurred.disconnect(self._on_error)
            self._process.release()
            self._process.setParent(None)
            left.append(self.current_run)
            self._process, self.current_run = None, None
        if self._pending:
            arguments = [*self._command[1:], *map(str, self._pending), "--workspace", self._location]
            background = QProcess()
            background.setProgram(self._command[0])
            background.setArguments(arguments)
            background.setWorkingDirectory(str(MAIN_SCRIPT.parent))
            background.setProcessEnvironment(_environment())
            background.setStandardOutputFile(str(self._folder / "background.out"))
            background.setStandardErrorFile(str(self._folder / "background.err"))
            outcome = background.startDetached()  # PySide6 returns a bool here (older ones: bool, pid)
            started, pid = outcome if isinstance(outcome, tuple) else (outcome, background.processId())
            if started:
                log.info("queued runs %s left to a background executor (process %s)", list(self._pending), pid)
                left += list(self._pending)
            else:
                log.error("could not start the background executor: %s", background.errorString())
            self._pending.clear()
        self.queue_changed.emit()
        return left

    def _start_next(self) -> None:
        if not self._pending or self._url is None:
            self.queue_changed.emit()
            return
        run_id = self._pending.popleft()
        self.current_run = run_id
        self._reported_finish = False
        self._cancelling = False
        self._stderr_tail.clear()
        stdout, stderr = self._folder / f"run-{run_id}.jsonl", self._folder / f"run-{run_id}.err"
        for path in (stdout, stderr):
            path.unlink(missing_ok=True)
        self._stdout, self._stderr = _FollowedFile(stdout), _FollowedFile(stderr)
        process = RunProcess(self)
        process.setProcessEnvironment(_environment())
        process.setWorkingDirectory(str(MAIN_SCRIPT.parent))
        process.setStandardOutputFile(str(stdout))
        process.setStandardErrorFile(str(stderr))
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        arguments = self._command[1:] + [str(run_id), "--workspace", self._location, "--jsonl"]
        log.info("starting run %d: %s %s", run_id, self._command[0], " ".join(arguments))
        self._process = process
        self.queue_changed.emit()
        process.start(self._command[0], arguments)
        self._follow.start()

    @Slot()
    def _read_output(self) -> None:
        if self._stdout is not None:
            for line in self._stdout.new_lines():
                self._handle_line(line)
        if self._stderr is not None:
            for line in self._stderr.new_lines():
                self._note_stderr(line)

    def _note_stderr(self, line: str) -> None:
        if line:
            self._stderr_tail.append(line)
            child_log.info("%s", line)

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

    @Slot(QProcess.ProcessError)
    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._process is not None:
            self._stderr_tail.append(f"could not start {self._command[0]}: {self._process.errorString()}")
            self._on_finished(-1, QProcess.ExitStatus.NormalExit)

    @Slot(int, QProcess.ExitStatus)
    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        process, run_id = self._process, self.current_run
        if process is None or run_id is None:
            return
        self._follow.stop()
        self._kill_timer.stop()
        for line in self._stdout.rest() if self._stdout is not None else []:
            self._handle_line(line)
        for line in self._stderr.rest() if self._stderr is not None else []:
            self._note_stderr(line)
        if not self._reported_finish:
            if self._cancelling:
                status, error = "cancelled", "cancelled by the user"
            else:
                crashed = exit_status == QProcess.ExitStatus.CrashExit
                status, error = "failed", unexpected_end(exit_code, crashed, list(self._stderr_tail))
            self._mark(run_id, status, error)
            self.run_finished.emit(run_id, status, error)
        self._process, self.current_run = None, None
        process.deleteLater()
        self._start_next()

    def _mark(self, run_id: int, status: str, error: str) -> None:
        """Record, in the background, a final status for a run the child could not record (it
        never started, or died); a run already ended is left as it is."""
        if self._url is None:
            return
        job = self._jobs.submit(f"Recording the end of run {run_id}",
                                functools.partial(record_run_end_at, self._url, run_id, status, error), visible=False,
                                essential=True)
        job.failed.connect(self._on_mark_failed)

    @Slot(object)
    def _on_mark_failed(self, error: Exception) -> None:
        log.warning("cannot record the end of a run: %s", error)

    @Slot()
    def _kill(self) -> None:
        if self._process is not None:
            log.warning("run %s did not stop after SIGTERM; killing its process", self.current_run)
            self._process.kill()


def _environment() -> QProcessEnvironment:
    environment = QProcessEnvironment.systemEnvironment()
    environment.insert("PYTHONUNBUFFERED", "1")
    environment.insert("OMP_WAIT_POLICY", os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    return environment


class RunProcess(QProcess):
    """The child process of one run, which can stop owning it (a QProcess kills a running child
    when it is destroyed)."""

    def release(self) -> None:
        """Leave the child running after this object and this program are gone."""
        self.setProcessState(QProcess.ProcessState.NotRunning)
