"""The scale bar end to end: a synthetic log of N events (default 33M, the paper's largest) is
imported and prepared, then HRNN Init and RNN (small, one epoch) and Pop are trained and
evaluated among the N most popular items plus the target (default 50,000, the paper's choice for
its largest dataset), through the same engine functions the app and the CLI use (runs, ranks and
metrics are stored in the workspace). Prints the wall time and peak RSS of every phase.

    python bench/bench_scale.py [--events 33000000] [--candidates 50000] [--threads 2] [--folder DIR]
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from engine.data import synthetic
from engine.data.preparation import PrepareSettings
from engine.data.synthetic import SYNTHETIC_MAPPING
from engine.evaluation.evaluator import EvaluationSettings
from engine.runs.evaluate_run import evaluate_run
from engine.runs.execute import execute_run
from engine.runs.models import model_entry
from engine.runs.planning import plan_runs
from engine.storage.catalog import load_prepared
from engine.storage.workspace import Workspace
from engine.workbench.generating import write_log
from engine.workbench.importing import ImportRequest, import_log


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


class Phases:
    """Prints each phase's wall time and the peak RSS so far."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []

    def run(self, name: str, work):
        started = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - started
        self.rows.append((name, seconds, peak_rss_gib()))
        print(f"{seconds:9.1f} s  peak RSS {peak_rss_gib():5.1f} GiB  {name}", flush=True)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=33_000_000)
    parser.add_argument("--candidates", type=int, default=50_000)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--models", nargs="+", default=["pop", "rnn", "hrnn-init"])
    parser.add_argument("--folder", type=Path, default=None, help="where to write the log and workspace")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {args.threads} thread(s); folder {folder}", flush=True)
    phases = Phases()
    log_path = folder / "log.parquet"

    def generate() -> int:
        frame = synthetic.generate_log(synthetic.scaled_config(args.events, seed=0))
        write_log(frame, log_path)
        return len(frame)

    n_events = phases.run("generate and write the log (not the product's work)", generate)
    workspace = Workspace(folder / "workspace.sqlite")
    outcome = phases.run(f"import + prepare {n_events:,} events", lambda: import_log(
        workspace, ImportRequest(log_path, mapping=SYNTHETIC_MAPPING, settings=PrepareSettings(min_item_support=5))))
    stats = outcome.statistics
    print(f"           prepared: {stats['events']:,} events, {stats['users']:,} users, {stats['items']:,} items",
          flush=True)
    prepared = phases.run("load the prepared dataset", lambda: load_prepared(workspace, outcome.dataset_id))
    print(f"           train {prepared.train.n_events:,} events; test {prepared.test.n_events:,} events in "
          f"{prepared.test.n_sessions:,} sessions", flush=True)
    settings = EvaluationSettings(ks=(5, 10, 20), n_candidates=args.candidates)
    for model in args.models:
        overrides = {"epochs": 1, "device": "cpu"} if model_entry(model).neural else {}
        (run_id,) = plan_runs(workspace, outcome.dataset_id, model, [0], overrides=overrides)
        run = phases.run(f"train {model}" + (" (1 epoch)" if overrides else ""),
                         lambda run_id=run_id: execute_run(workspace, run_id, prepared=prepared))
        if run.status != "finished":
            print(f"           run {run_id} {run.status}: {run.error}")
            continue
        evaluation = phases.run(f"evaluate {model} among {args.candidates:,} candidates (ranks stored)",
                                lambda run_id=run_id: evaluate_run(workspace, run_id, settings, prepared=prepared,
                                                                   device="cpu"))
        metrics = evaluation.metrics["event"]
        print(f"           {evaluation.n_events:,} predictions ({settings.tie_mode} ties); "
              f"recall@20 {metrics['recall@20']:.4f}, "
              f"mrr@20 {metrics['mrr@20']:.4f}", flush=True)
    workspace.close()
    size = (folder / "workspace.sqlite").stat().st_size / 2**30
    print(f"workspace file: {size:.2f} GiB; total {sum(s for _, s, _ in phases.rows) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
