"""Queued runs executed by several processes at once: this one and ``workers - 1`` child processes
(``python -m engine.cli.main execute --jsonl``), each on a fixed share of the runs, so that a
comparison's final trainings use every worker its tuning used. A child's run messages are passed
on as if this process had sent them."""
from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from engine.errors import NotFoundError
from engine.progress import CancelToken
from engine.runs import records
from engine.storage.workspace import Workspace
from engine.workbench.child_processes import child_environment, stop_processes
from engine.workbench.run_messages import ProtocolError, RunMessage, decode
from engine.workbench.training import MessageSink, execute_runs

log = logging.getLogger(__name__)


def shares(run_ids: Sequence[int], workers: int) -> list[list[int]]:
    """The runs dealt to ``workers`` processes in turn (run i to process i mod workers), so that
    each process gets some of every model's seeds; empty shares are left out."""
    dealt = [list(run_ids[index::workers]) for index in range(max(1, workers))]
    return [share for share in dealt if share]


def execute_command(url: str, run_ids: Sequence[int]) -> list[str]:
    """The command line of a child process executing ``run_ids``."""
    return [sys.executable, "-m", "engine.cli.main", "execute", *map(str, run_ids), "--jsonl", "--workspace", url]


class _Child:
    """A child process whose JSON lines are decoded and passed on by a reader thread."""

    def __init__(self, url: str, run_ids: Sequence[int], send: MessageSink, workers: int) -> None:
        self.run_ids = list(run_ids)
        self.process = subprocess.Popen(execute_command(url, run_ids), env=child_environment(workers),
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.errors: list[str] = []
        self.readers = [threading.Thread(target=self._read_messages, args=(send,), daemon=True),
                        threading.Thread(target=self._read_errors, daemon=True)]
        for reader in self.readers:
            reader.start()

    def _read_messages(self, send: MessageSink) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                message = decode(line)
            except ProtocolError as exc:
                log.debug("child %d: %s", self.process.pid, exc)
                continue
            if message is not None:
                send(message)

    def _read_errors(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            if line.strip():
                self.errors = [*self.errors[-19:], line.rstrip()]

    def join_readers(self) -> None:
        for reader in self.readers:
            reader.join(5.0)


def execute_runs_in_parallel(workspace: Workspace, run_ids: Sequence[int], workers: int, send: MessageSink,
                             cancel: CancelToken | None = None) -> list[records.RunSummary]:
    """Execute (and evaluate) the queued runs with ``workers`` processes: this one takes the first
    share, a child process each other share. Returns the runs as they ended (a run a child could
    not finish keeps the status it left; a child that died is named in the log). ``cancel`` stops
    them all; their cancelled runs can be queued again. With one worker, or one run: in this
    process alone."""
    cancel = cancel or CancelToken()
    dealt = shares(run_ids, workers)
    if len(dealt) <= 1:
        return execute_runs(workspace, run_ids, send, cancel)
    lock = threading.Lock()

    def locked_send(message: RunMessage) -> None:
        with lock:
            send(message)

    children = [_Child(workspace.url, share, locked_send, len(dealt)) for share in dealt[1:]]
    try:
        execute_runs(workspace, dealt[0], locked_send, cancel)
        while not cancel.cancelled and any(child.process.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        stop_processes([child.process for child in children], "run process")
        for child in children:
            child.join_readers()
    for child in children:
        if child.process.returncode not in (0, 130, -signal.SIGTERM):
            log.warning("run process %d (runs %s) ended with %s: %s", child.process.pid, child.run_ids,
                        child.process.returncode, child.errors[-1] if child.errors else "no message")
    ended = []
    for run_id in run_ids:
        try:
            ended.append(records.get_run(workspace, run_id))
        except NotFoundError:  # deleted meanwhile: not among the runs returned
            continue
    return ended
