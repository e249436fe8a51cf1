"""Running GIL-heavy engine work (reading a stored log, importing, preparing) in a spawned child
process, so that the GUI thread never waits for the GIL: the calling (pool) thread only polls a
pipe. Progress comes back through the pipe, cancellation goes through an event, the result or the
engine's error is returned or raised as if the function had run here. No Qt in this module (the
child imports it)."""
from __future__ import annotations

import logging
import multiprocessing
import pickle
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from engine.errors import Cancelled, WorkbenchError
from engine.progress import CancelToken, ProgressCallback

log = logging.getLogger(__name__)

POLL_S = 0.05
PROGRESS_INTERVAL_S = 0.05
JOIN_TIMEOUT_S = 5.0


class BackgroundProcessError(WorkbenchError):
    """The child process failed unexpectedly (not an engine error)."""


def run_in_child(function: Callable[..., Any], args: tuple, progress: ProgressCallback, cancel: CancelToken) -> Any:
    """``function(*args, progress, cancel)`` in a spawned process; its result, or its error raised here.
    ``function`` must be importable at module level and ``args`` picklable."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    stop = context.Event()
    process = context.Process(target=_child_main, args=(sender, stop, function, args), daemon=True,
                              name=f"hrnn-{function.__name__}")
    process.start()
    sender.close()
    try:
        while True:
            if cancel.cancelled:
                stop.set()
            if receiver.poll(POLL_S):
                try:
                    kind, payload = receiver.recv()
                except EOFError:
                    process.join(JOIN_TIMEOUT_S)
                    raise BackgroundProcessError(f"the background process stopped unexpectedly (exit code "
                                                 f"{process.exitcode}); see the log") from None
                if kind == "progress":
                    progress(*payload)
                elif kind == "result":
                    return payload
                elif kind == "cancelled":
                    raise Cancelled("cancelled by the user")
                else:
                    raise payload
    finally:
        receiver.close()
        process.join(JOIN_TIMEOUT_S)
        if process.is_alive():
            process.terminate()
            process.join(JOIN_TIMEOUT_S)


def _child_main(sender: Connection, stop: Any, function: Callable[..., Any], args: tuple) -> None:
    token = CancelToken()

    def cancel_when_asked() -> None:
        stop.wait()
        token.cancel()

    threading.Thread(target=cancel_when_asked, daemon=True).start()
    last_report = [0.0]

    def progress(fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - last_report[0] >= PROGRESS_INTERVAL_S or fraction >= 1.0:
            last_report[0] = now
            sender.send(("progress", (float(fraction), str(message))))

    try:
        result = function(*args, progress, token)
    except Cancelled:
        sender.send(("cancelled", None))
    except Exception as exc:  # noqa: BLE001 - every error goes back to the parent
        sender.send(("error", _picklable(exc)))
    else:
        sender.send(("result", result))
    finally:
        sender.close()


def _picklable(exc: Exception) -> Exception:
    if isinstance(exc, WorkbenchError):
        try:
            pickle.dumps(exc)
            return exc
        except Exception:  # noqa: BLE001 - an exception type that cannot travel: keep its message
            return WorkbenchError(str(exc))
    log.exception("unexpected error in a background process")
    return BackgroundProcessError(f"unexpected error: {type(exc).__name__}: {exc}")
