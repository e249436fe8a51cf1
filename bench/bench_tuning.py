"""Tuning speed at XING scale: trials per hour of HRNN Init small with 1 and 2 worker processes, and
what a trial spends besides training (the per-epoch validation scoring that pruning needs, and the
rest: planning, checkpoint, Optuna's bookkeeping).

Usage: ``python bench/bench_tuning.py [--trials 4] [--epochs 3] [--validation-users 500]
[--workspace PATH]``. Generates the synthetic XING-scale log (``generate --preset xing_scale``)
and imports it into a fresh workspace (or reuses ``--workspace``), then runs two studies of
``--trials`` trials each through worker processes (``tune-worker``), one worker and then two.
Every trial is HRNN Init with the paper's small preset for XING (batch 50, 100 + 100 units, TOP1,
no extra negatives), ``--epochs`` epochs, no pruning and no early stop; only the learning rate and
the momentum are searched, which leaves the speed of a trial alone. Figures are ratios within this
one run: the machine is shared.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from engine.data import synthetic
from engine.data.preparation import PrepareSettings
from engine.storage.workspace import Workspace
from engine.workbench.importing import ImportRequest, import_log
from engine.workbench.tuning import (
    DEFAULT_VALIDATION_USERS,
    StudyView,
    TuningRequest,
    prepare_study,
    run_study,
    search_space_text,
)

#: HRNN Init small, the paper's XING preset, for every setting but the two searched ones.
FIXED = {"batch_size": 50, "session_units": 100, "dropout_user": 0.0, "dropout_session": 0.1, "dropout_init": 0.0,
         "loss": "top1", "n_extra_negatives": 0, "sample_alpha": 0.0, "constrained_embedding": False,
         "dropout_embedding": 0.0}


def xing_scale_dataset(workspace: Workspace, folder: Path) -> int:
    """The synthetic XING-scale log imported with its preset's filters; returns the dataset id."""
    path = folder / "xing-scale.parquet"
    if not path.exists():
        synthetic.generate_log(synthetic.xing_scale_config(0)).to_parquet(path, index=False)
    settings = PrepareSettings(min_item_support=synthetic.XING_SCALE_MIN_ITEM_SUPPORT)
    outcome = import_log(workspace, ImportRequest(path, mapping=synthetic.SYNTHETIC_MAPPING, settings=settings,
                                                  name="xing scale (synthetic)"))
    return outcome.dataset_id


def study(workspace: Workspace, dataset_id: int, name: str, trials: int, epochs: int, users: int,
          workers: int) -> dict:
    """Run one study with ``workers`` worker processes; its figures."""
    fixed = {**FIXED, "epochs": epochs}
    spec = prepare_study(workspace, TuningRequest(dataset_id, "hrnn-init", trials, fixed=fixed, study=name,
                                                  pruner="none", patience=0, device="cpu", validation_users=users))
    print(f"{name}: {workers} worker(s), {trials} trials; searched: {search_space_text('hrnn-init', fixed)}",
          file=sys.stderr)
    started = time.perf_counter()
    run = run_study(workspace, spec.name, workers=workers, in_process=False)
    wall = time.perf_counter() - started
    return figures(run.view, wall, workers)


def figures(view: StudyView, wall: float, workers: int) -> dict:
    """Throughput and where a trial's time goes (means over the complete trials)."""
    trials = [t for t in view.trials if t.state == "complete"]
    total = sum(t.seconds or 0.0 for t in trials)
    training = sum(t.train_seconds or 0.0 for t in trials)
    scoring = sum(t.scoring_seconds or 0.0 for t in trials)
    count = max(len(trials), 1)
    # from the first trial's start to the last one's end: without the workers' start-up
    busy = max(t.ended_at or 0.0 for t in trials) - min(t.started_at or 0.0 for t in trials) if trials else wall
    return {"workers": workers, "trials": len(trials), "wall_s": round(wall, 1),
            "trials_per_hour": round(3600 * len(trials) / wall, 1),
            "trials_per_hour_after_start_up": round(3600 * len(trials) / max(busy, 1e-9), 1),
            "trial_s_mean": round(total / count, 1), "train_s_mean": round(training / count, 1),
            "scoring_s_mean": round(scoring / count, 1),
            "scoring_share_of_training": round(scoring / max(training, 1e-9), 3),
            "not_training_share_of_trial": round(1 - training / max(total, 1e-9), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4, help="trials per study (default 4)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per trial (default 3)")
    parser.add_argument("--validation-users", type=int, default=DEFAULT_VALIDATION_USERS)
    parser.add_argument("--workspace", type=Path, help="a workspace to reuse (default: a fresh temporary one)")
    parser.add_argument("--output", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-tuning-"))
    location = args.workspace or folder / "ws.sqlite"
    results = {}
    with Workspace(location) as workspace:
        started = time.perf_counter()
        dataset_id = xing_scale_dataset(workspace, location.parent)
        print(f"dataset ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        stamp = time.strftime("%H%M%S")
        for workers in (1, 2):
            results[f"{workers}_workers"] = study(workspace, dataset_id, f"bench-{stamp}-{workers}w", args.trials,
                                                  args.epochs, args.validation_users, workers)
            print(json.dumps(results[f"{workers}_workers"]), file=sys.stderr)
    one, two = results["1_workers"], results["2_workers"]
    results["speed_up_2_workers"] = round(two["trials_per_hour"] / one["trials_per_hour"], 2)
    results["speed_up_2_workers_after_start_up"] = round(
        two["trials_per_hour_after_start_up"] / one["trials_per_hour_after_start_up"], 2)
    print(json.dumps(results, indent=2))
    if args.output:
        args.output.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
