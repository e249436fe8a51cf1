"""Multi-fidelity tuning against the median rule (issue 22, item 2): one study of RNN per pruner on
the same seeded synthetic log, the same TPE seed and budget, and what each spent: trials pruned,
epochs trained (a trial pruned at Hyperband's rung r trained 3^r epochs), wall time, and the best
validation score it found.

Usage: ``python bench/bench_pruners.py [--users 300] [--trials 17] [--epochs 10]
[--validation-users 200] [--seed 7]``. Works in a temporary folder. 17 trials are one
allotment of Optuna's Hyperband brackets for 10 epochs (9 + 5 + 3). The best scores come from one
search each: a single draw, not a verdict on the pruners' quality. Figures are ratios within one
run: the machine is shared.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from engine.data.preparation import PrepareSettings
from engine.data.synthetic import SYNTHETIC_MAPPING, SyntheticConfig, generate_log
from engine.storage.workspace import Workspace
from engine.workbench.importing import ImportRequest, import_log
from engine.workbench.tuning import TuningRequest, prepare_study, run_study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--trials", type=int, default=17)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--validation-users", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7, help="the TPE sampler's seed (the same for both)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        log_path = Path(folder) / "log.parquet"
        generate_log(SyntheticConfig(n_users=args.users, n_items=args.users, n_topics=6, seed=3)).to_parquet(log_path)
        with Workspace(Path(folder) / "ws.sqlite", create=True) as workspace:
            dataset_id = import_log(workspace, ImportRequest(log_path, mapping=SYNTHETIC_MAPPING,
                                                             settings=PrepareSettings(min_item_support=2),
                                                             name="bench")).dataset_id
            for pruner in ("median", "hyperband"):
                spec = prepare_study(workspace, TuningRequest(
                    dataset_id, "rnn", args.trials, fixed={"epochs": args.epochs}, study=pruner, pruner=pruner,
                    device="cpu", validation_users=args.validation_users))
                started = time.perf_counter()
                run = run_study(workspace, spec.name, seed=args.seed)
                wall = time.perf_counter() - started
                trials, best = run.view.trials, run.view.best
                epochs = sum(trial.epochs or 0 for trial in trials)
                found = f"best recall@5 {best.value:.4f} (trial {best.number})" if best is not None else "no best"
                print(f"{pruner:>9}: {len(trials)} trials, {run.view.count('pruned')} pruned, {epochs} epochs "
                      f"trained, {wall:.1f} s wall; {found}", flush=True)


if __name__ == "__main__":
    main()
