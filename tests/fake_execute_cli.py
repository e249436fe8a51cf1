"""A stand-in for ``python main.py execute RUN... --workspace W --jsonl`` used by the desktop
tests: it records the runs in the workspace like the real command and prints its JSON lines
protocol (the typed run messages). FAKE_EXECUTE_MODE: ok (default), slow (for cancelling), fail, crash."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.runs.records import cancel_run, fail_run, finish_run, record_metric, start_run
from engine.storage.workspace import Workspace
from engine.workbench.run_messages import RunEpoch, RunFinished, RunMessage, RunProgress, RunStarted, encode

EPOCHS = 3


def say(message: RunMessage) -> None:
    print(encode(message), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.add_argument("runs", nargs="+", type=int)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--jsonl", action="store_true")
    args = parser.parse_args()
    mode = os.environ.get("FAKE_EXECUTE_MODE", "ok")
    step_s = 0.5 if mode == "slow" else 0.02
    current: dict[str, int] = {}

    with Workspace(args.workspace) as workspace:
        def on_term(_signum: int, _frame: object) -> None:
            if "run" in current:
                cancel_run(workspace, current["run"])
                say(RunFinished(current["run"], "cancelled", "cancelled by the user"))
            sys.exit(130)

        signal.signal(signal.SIGTERM, on_term)
        for run_id in args.runs:
            current["run"] = run_id
            start_run(workspace, run_id, "cpu")
            say(RunStarted(run_id, "cpu"))
            if mode == "crash":
                print("Segmentation fault (simulated)", file=sys.stderr, flush=True)
                os._exit(3)
            if mode == "fail":
                fail_run(workspace, run_id, "training diverged: the loss became NaN at epoch 1")
                say(RunFinished(run_id, "failed", "training diverged: the loss became NaN at epoch 1"))
                continue
            for epoch in range(1, EPOCHS + 1):
                for step in range(4):
                    fraction = ((epoch - 1) * 4 + step) / (EPOCHS * 4)
                    say(RunProgress(run_id, fraction, f"epoch {epoch}/{EPOCHS}", (1 - fraction) * EPOCHS * 4 * step_s))
                    time.sleep(step_s)
                loss = 1.0 / epoch
                record_metric(workspace, run_id, "train_loss", epoch, loss)
                say(RunEpoch(run_id, epoch, loss, 4 * step_s))
            finish_run(workspace, run_id, None)
            say(RunFinished(run_id, "finished"))
            del current["run"]
    return 0


if __name__ == "__main__":
    sys.exit(main())
