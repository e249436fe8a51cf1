"""What the engine's helper processes share (tuning workers, a comparison's run executors): their
environment, and how they are stopped."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import engine

log = logging.getLogger(__name__)

#: Seconds the processes may take to stop after SIGTERM (each cancels its trial or run) before they are killed.
STOP_TIMEOUT_S = 30.0


def child_environment(workers: int) -> dict[str, str]:
    """This process's environment for one of ``workers`` child processes: OpenMP waits passively,
    each child gets its share of the cores, and ``engine`` is importable wherever the child starts."""
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))  # evaluation's threads
    root = str(Path(engine.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return env


def stop_processes(processes: Sequence[subprocess.Popen], what: str) -> None:
    """Ask the processes still running to stop (SIGTERM), then wait for them all; one that does not
    stop within :data:`STOP_TIMEOUT_S` is killed. ``what`` names them in the log ("worker process")."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for process in processes:
        try:
            process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            log.warning("%s %d did not stop in time: killed", what, process.pid)
            process.kill()
            process.wait()
