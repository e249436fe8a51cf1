"""How much HRNN Init gains from the users' history: recall@20 with the full training history fed
before each test session, with only its last k sessions, and with none (the test session starts
from the zero state, as a user's first session does), after 1 and after E epochs, for TOP1 (the
paper's loss) and cross-entropy.

    python bench/history_effect.py [--events 200000] [--epochs 1 5] [--threads 2]

The log is the project's synthetic generator at the given size (scaled_config), imported with
the product's preparation into a temporary workspace.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from engine.data import synthetic
from engine.data.preparation import PrepareSettings
from engine.data.session_log import SessionLog
from engine.data.synthetic import SYNTHETIC_MAPPING
from engine.evaluation.evaluator import EvaluationSettings, evaluate
from engine.models.stream_scorers import RecurrentStreamScorer
from engine.storage.catalog import load_prepared
from engine.storage.workspace import Workspace
from engine.training.loop import train
from engine.training.presets import preset
from engine.workbench.importing import ImportRequest, import_log

HISTORIES = (0, 1, 2, 5, None)  # last k training sessions fed; None: all


def last_sessions(train_log: SessionLog, k: int) -> SessionLog:
    """Each user's last ``k`` training sessions."""
    users = train_log.session_user
    last = np.r_[np.flatnonzero(users[1:] != users[:-1]), train_log.n_sessions - 1]  # per user
    from_end = last[users] - np.arange(train_log.n_sessions)
    return train_log.select_sessions(from_end < k)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = Path(tempfile.mkdtemp(prefix="history-effect-"))
    log_path = folder / "log.parquet"
    synthetic.generate_log(synthetic.scaled_config(args.events, seed=0)).to_parquet(log_path)
    with Workspace(folder / "ws.sqlite") as workspace:
        outcome = import_log(workspace, ImportRequest(log_path, mapping=SYNTHETIC_MAPPING,
                                                      settings=PrepareSettings(min_item_support=5)))
        data = load_prepared(workspace, outcome.dataset_id)
    print(f"{data.train.n_events:,} training events, {data.train.n_users:,} users, "
          f"{data.train.sessions_per_user.mean():.1f} training sessions per user")
    settings = EvaluationSettings(ks=(20,))
    header = " ".join(f"{'all' if k is None else f'last {k}':>7}" for k in HISTORIES)
    print(f"{'loss':<14} {'epochs':>6}  recall@20 (conservative ties) with history: {header}")
    for loss in ("top1", "cross-entropy"):
        for epochs in args.epochs:
            network = train(preset("hrnn-init-small", loss=loss, epochs=epochs, device="cpu"), data.train).network
            row = []
            for k in HISTORIES:
                history = data.train if k is None else last_sessions(data.train, k)
                scorer = RecurrentStreamScorer(network, "hrnn-init")
                row.append(evaluate(scorer, history, data.test, settings).metrics["recall@20"])
            print(f"{loss:<14} {epochs:>6}  {'':24}" + " ".join(f"{value:7.4f}" for value in row), flush=True)


if __name__ == "__main__":
    main()
